"""Optimizer cases found by probing: what a photo looks like must survive the privacy strip."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

import pytest
from PIL import Image, ImageOps

from tests.core import corpus
from toolbox_uploader.core.optimize import OptimizeSettings, optimize_image

GPS = 0x8825


def _upright(path: Path) -> tuple[tuple[int, int], bytes]:
    """The pixels as a viewer that honours EXIF orientation shows them."""
    with Image.open(path) as image:
        shown = ImageOps.exif_transpose(image)
        return shown.size, shown.convert("RGB").tobytes()


@pytest.mark.parametrize("fmt", ["PNG", "WEBP"])
@pytest.mark.parametrize("shrink", [True, False])
def test_stripped_png_and_webp_keep_their_orientation(fmt: str, shrink: bool,
                                                       tmp_path: Path) -> None:
    """A small (or not-to-be-shrunk) picture is stripped losslessly; one stored sideways
    with an Orientation tag must still show upright, as a stripped JPEG does."""
    source = tmp_path / f"board.{fmt.lower()}"
    options = {"lossless": True} if fmt == "WEBP" else {}
    corpus.photo(300, 200).save(source, fmt, exif=corpus.gps_exif(orientation=6), **options)
    before = hashlib.sha256(source.read_bytes()).hexdigest()
    result = optimize_image(source, tmp_path / "out", OptimizeSettings(shrink=shrink))
    assert result.output != source
    assert hashlib.sha256(source.read_bytes()).hexdigest() == before
    with Image.open(result.output) as out:
        out.load()
        assert dict(out.getexif().get_ifd(GPS)) == {}
        assert out.getexif().get(0x010F) is None  # the camera make went with the rest
    assert _upright(result.output) == _upright(source)
    assert _upright(result.output)[0] == (200, 300)


def test_a_big_png_photo_is_optimized_in_seconds_not_tens(tmp_path: Path) -> None:
    """zlib's level 9 on a noisy 2560 px RGBA photo took 16 s (both cores are shared by a
    whole folder); the default level takes about 1.5 s for a few percent more bytes. The
    bound is loose for a busy machine and still far below the old time."""
    source = tmp_path / "scan.png"
    picture = corpus.photo(2800, 1860).convert("RGBA")
    picture.putalpha(Image.linear_gradient("L").resize(picture.size))
    picture.save(source, "PNG", compress_level=1)
    started = time.monotonic()
    result = optimize_image(source, tmp_path / "out")
    assert time.monotonic() - started < 8
    assert not result.used_original
    with Image.open(result.output) as out:
        assert out.mode == "RGBA" and max(out.size) == 2560
