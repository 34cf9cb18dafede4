"""What reaches the server from a phone photo: without its location whenever "remove location
data" is on, whether the photo is small, large, or optimization is off. Real engine, real
server, the bytes fetched back."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from PIL import Image

from tests.core import corpus
from tests.engine.engine_support import sha256, wait_for
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

GPS = 0x8825


def _sent_bytes(engine: Engine, server: ServerHandle, name: str) -> bytes:
    done = wait_for(lambda: next((s for s in engine.snapshot() if s.display_name == name
                                  and s.state in (ItemState.DONE, ItemState.REJECTED,
                                                  ItemState.FAILED)), None),
                    30, describe=engine.snapshot)
    assert done.state is ItemState.DONE, done
    response = httpx.get(f"{done.file_url}/content",
                         headers={"Authorization": f"Bearer {server.token}"}, timeout=10)
    response.raise_for_status()
    return response.content


def _location(data: bytes) -> dict:
    with Image.open(io.BytesIO(data)) as image:
        return dict(image.getexif().get_ifd(GPS))


@pytest.mark.parametrize(("optimize", "strip", "location_kept"), [
    (True, True, False),    # the default
    (False, True, False),   # optimization off: still no location
    (True, False, True),    # the teacher wants the location kept
])
def test_a_small_photo_reaches_the_server_without_its_location(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path,
        optimize: bool, strip: bool, location_kept: bool) -> None:
    photo = corpus.make_jpeg_gps_rotated(tmp_path)  # 640×480, well under 1 MB
    assert _location(photo.read_bytes())
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         optimize_images=optimize, strip_location=strip)
    engine.add_paths([photo], category="media_resource")
    sent = _sent_bytes(engine, live_server, photo.name)
    assert bool(_location(sent)) is location_kept
    with Image.open(photo) as original, Image.open(io.BytesIO(sent)) as copy:
        assert copy.size == original.size  # small: never resized
        assert copy.tobytes() == original.tobytes()  # the pixels are the original's


def test_optimization_off_sends_a_photo_with_nothing_to_remove_as_it_is(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    plain = tmp_path / "board.jpg"
    corpus.photo(640, 480).save(plain, "JPEG", quality=90)  # no metadata to remove
    engine = make_engine(server_url=live_server.url, token=live_server.token,
                         optimize_images=False)
    engine.add_paths([plain], category="media_resource")
    sent = _sent_bytes(engine, live_server, plain.name)
    assert len(sent) == plain.stat().st_size
    assert sha256(plain) == hashlib.sha256(sent).hexdigest()
