"""Name rules need no byte of the file: an upload whose name is refused is refused as it
starts (422, as completion would answer), before a 4 GB video named ``lesson.exe`` is sent."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pytest

from toolbox_uploader.server import keys

if TYPE_CHECKING:
    from tests.server.tus.conftest import Tus

# Over 255 bytes in two-byte and in one-byte characters: refused alike, never shortened.
BAD_NAMES = [("lesson.exe", "executable_extension"), ("é" * 130 + ".txt", "name_too_long"),
             ("a" * 1000 + ".txt", "name_too_long")]


@pytest.mark.parametrize(("name", "code"), BAD_NAMES)
async def test_a_tus_creation_with_a_refused_name(tus: Tus, name: str, code: str) -> None:
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Length": str(4 * 1024**3 // 1024),
        "Upload-Metadata": tus.metadata({"filename": name, "category": "temporary"})}))
    assert resp.status == 422, await resp.text()
    assert (await resp.json())["error"] == code
    quota = await (await tus.client.get("/api/v1/quota", headers=tus.headers())).json()
    assert quota["reserved"] == 0  # nothing was created


async def test_a_final_upload_with_a_refused_name(tus: Tus) -> None:
    part = await tus.create(10, {}, Upload_Concat="partial")
    resp = await tus.client.post(tus.TUS, headers=tus.headers({
        "Upload-Concat": f"final;{part}",
        "Upload-Metadata": tus.metadata({"filename": "run.bat", "category": "temporary"})}))
    assert resp.status == 422 and (await resp.json())["error"] == "executable_extension"


async def test_a_form_upload_with_a_refused_name_is_refused_before_its_body(tus: Tus) -> None:
    body = (b"--Z\r\nContent-Disposition: form-data; name=\"file\"; filename=\"setup.exe\"\r\n\r\n"
            + b"x" * 2_000_000 + b"\r\n--Z--\r\n")
    resp = await tus.client.post("/api/v1/files/upload", data=body, headers=tus.headers(
        {"Content-Type": "multipart/form-data; boundary=Z"}))
    assert resp.status == 422 and (await resp.json())["error"] == "executable_extension"
    assert list(tus.client.app[keys.STORAGE].tmp_dir.iterdir()) == []


async def test_a_server_with_its_own_validator_keeps_its_own_name_rules(tus: Tus) -> None:
    from toolbox_uploader.server.validation_hook import ValidationOutcome

    tus.client.app[keys.CONFIG].validator = lambda path, category, name: ValidationOutcome(
        True, "application/octet-stream")
    url = await tus.create(4, {"filename": "tool.exe", "category": "temporary"})
    await tus.patch(url, 0, b"abcd")
