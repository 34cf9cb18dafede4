"""Image optimization: upright, smaller, location-free copies; originals untouched."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from PIL import Image

from tests.core import corpus
from toolbox_uploader.core.optimize import (
    OptimizeError,
    OptimizeSettings,
    optimize_image,
    quality_for,
)
from toolbox_uploader.paths import optimized_cache_dir

GPS = 0x8825


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _big_photo(folder: Path, name: str = "phone.jpg", orientation: int | None = 6,
               size: tuple[int, int] = (3200, 2400)) -> Path:
    path = folder / name
    corpus.photo(*size).save(path, "JPEG", quality=95, exif=corpus.gps_exif(orientation))
    return path


def _gps(path: Path) -> dict:
    with Image.open(path) as image:
        return dict(image.getexif().get_ifd(GPS))


def test_rotated_photo_comes_out_upright_small_and_without_location(tmp_path: Path) -> None:
    source = _big_photo(tmp_path)
    before = _digest(source)
    result = optimize_image(source, optimized_cache_dir())
    assert _digest(source) == before  # the original is never touched
    assert result.output.parent == optimized_cache_dir()
    assert not result.used_original
    assert result.new_size <= 0.9 * result.original_size
    with Image.open(result.output) as out:
        assert out.format == "JPEG"
        assert out.size == (1920, 2560)  # stored 3200×2400 sideways; shown portrait, 2560 edge
        assert out.getexif().get(0x0112) in (None, 1)
        assert not out.getexif()
    assert _gps(result.output) == {}
    assert "rotated upright" in result.actions
    assert "location removed" in result.actions
    assert any(a.startswith("resized to") for a in result.actions)
    # quality ladder: this source is > 5 MB?  The chosen quality is named in the actions.
    assert f"re-encoded as JPEG quality {quality_for(result.original_size, OptimizeSettings())}" \
        in result.actions


def test_small_photo_with_gps_is_stripped_losslessly(tmp_path: Path) -> None:
    source = corpus.make_jpeg_gps_rotated(tmp_path)
    result = optimize_image(source, tmp_path / "out")
    assert result.used_original
    assert result.output != source
    assert _gps(result.output) == {}
    with Image.open(source) as a, Image.open(result.output) as b:
        assert a.tobytes() == b.tobytes()  # same compressed pixels, decoded identically
        assert b.getexif().get(0x0112) == 6  # still shown upright by viewers
    assert "location removed" in result.actions


def test_strip_is_used_when_reencoding_does_not_pay(tmp_path: Path) -> None:
    """A big photo already compressed hard: re-encoding saves < 10%, GPS must go anyway."""
    source = tmp_path / "hard.jpg"
    corpus.photo(2500, 1800).save(source, "JPEG", quality=60, exif=corpus.gps_exif())
    assert source.stat().st_size > 1024 * 1024
    result = optimize_image(source, tmp_path / "out", OptimizeSettings(quality=95))
    assert result.used_original
    assert _gps(result.output) == {}
    assert "location removed" in result.actions


def test_location_kept_when_the_setting_says_so(tmp_path: Path) -> None:
    source = _big_photo(tmp_path, orientation=None)
    result = optimize_image(source, tmp_path / "out", OptimizeSettings(strip_location=False))
    assert _gps(result.output) != {}
    assert "location removed" not in result.actions


def test_png_alpha_survives(tmp_path: Path) -> None:
    source = tmp_path / "overlay.png"
    image = Image.new("RGBA", (3000, 2000), (0, 0, 0, 0))
    image.paste((0, 128, 255, 200), (0, 0, 1500, 1000))
    image.save(source, "PNG")
    Image.open(source).save(source, "PNG", compress_level=0)  # un-optimized, as many apps save
    result = optimize_image(source, tmp_path / "out")
    assert not result.used_original
    with Image.open(result.output) as out:
        assert out.format == "PNG" and out.mode == "RGBA"
        assert out.getpixel((out.width - 1, out.height - 1))[3] == 0  # transparent stays
        red, green, blue, alpha = out.getpixel((10, 10))
        assert (red, blue, alpha) == (0, 255, 200) and abs(green - 128) <= 1
        assert max(out.size) == 2560


def test_small_image_is_left_alone(tmp_path: Path) -> None:
    source = corpus.make_png_alpha(tmp_path)
    result = optimize_image(source, tmp_path / "out")
    assert result.used_original and result.output == source
    assert result.new_size == result.original_size
    assert result.actions == ("already small: left as is",)


def test_animated_gif_is_left_animated(tmp_path: Path) -> None:
    source = corpus.make_gif_animated(tmp_path)
    result = optimize_image(source, tmp_path / "out")
    assert result.output == source
    with Image.open(result.output) as out:
        assert out.n_frames == 4


def test_heic_is_converted_to_jpeg(tmp_path: Path) -> None:
    import pillow_heif

    pillow_heif.register_heif_opener()
    source = tmp_path / "IMG_0001.HEIC"
    Image.new("RGB", (320, 240), (20, 140, 60)).save(source, "HEIF")
    result = optimize_image(source, tmp_path / "out")
    with Image.open(result.output) as out:
        assert out.format == "JPEG" and out.size == (320, 240)
    assert "converted from HEIC to JPEG" in result.actions


def test_webp_gps_is_removed(tmp_path: Path) -> None:
    source = tmp_path / "photo.webp"
    corpus.photo(400, 300).save(source, "WEBP", quality=90, exif=corpus.gps_exif())
    result = optimize_image(source, tmp_path / "out")
    assert _gps(result.output) == {}
    with Image.open(result.output) as out:
        out.load()


def test_gps_gone_from_every_output(tmp_path: Path) -> None:
    sources = [
        _big_photo(tmp_path, "a.jpg"),
        corpus.make_jpeg_gps_rotated(tmp_path, "b.jpg"),
        tmp_path / "c.png",
    ]
    Image.new("RGB", (2600, 100), (1, 2, 3)).save(sources[2], "PNG", exif=corpus.gps_exif())
    for source in sources:
        assert _gps(optimize_image(source, tmp_path / "out").output) == {}, source


def test_not_an_image_raises_optimize_error(tmp_path: Path) -> None:
    with pytest.raises(OptimizeError):
        optimize_image(corpus.make_text(tmp_path), tmp_path / "out")


def test_quality_ladder() -> None:
    settings = OptimizeSettings()
    assert quality_for(1024 * 1024, settings) == 85
    assert quality_for(3 * 1024 * 1024, settings) == 80
    assert quality_for(6 * 1024 * 1024, settings) == 75
    assert quality_for(6 * 1024 * 1024, OptimizeSettings(quality=60)) == 60
