"""tus-js-client under Node uploads a file, is aborted midway, and resumes it."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.support.fault_proxy import ThreadedFaultProxy
from tests.support.payloads import blob
from toolbox_uploader.server.storage import Storage

pytestmark = pytest.mark.interop

HERE = Path(__file__).parent
SCRIPT = HERE / "tus_js_upload.mjs"
MiB = 1024 * 1024
# A slow link between Node and the server. tus-js-client reports progress at most every
# 100 ms; at loopback speed the whole PATCH could be sent before its abort.
LINK_RATE = 20 * MiB


@pytest.fixture
def node() -> str:
    node = shutil.which("node")
    if node is None:
        print("SKIP reason: `node` is not installed")
        pytest.skip("node is not installed")
    if not (HERE / "node_modules" / "tus-js-client").is_dir():
        print("SKIP reason: tests/interop/node_modules is missing (npm ci in tests/interop)")
        pytest.skip("tests/interop/node_modules is missing")
    return node


def run(node: str, *args: str) -> dict[str, object]:
    done = subprocess.run(
        [node, str(SCRIPT), *args], cwd=HERE, capture_output=True, text=True, timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    ("abort", "chunk", "override"),
    [
        ("abort-mid", 64 * MiB, ""),  # one PATCH for the whole file, cut in the middle
        ("abort-chunk", MiB, "override"),  # between chunks, with X-HTTP-Method-Override
    ],
    ids=["cut-mid-patch", "between-chunks-method-override"],
)
def test_tus_js_client_aborts_and_resumes(
    node: str, live_server, server_config, tmp_path: Path, abort: str, chunk: int,
    override: str,
) -> None:
    # Two seconds over the slow link: the single PATCH is still being sent when aborted.
    payload = blob((40 if abort == "abort-mid" else 6) * MiB + 321)
    source = tmp_path / "lesson-video.bin"
    source.write_bytes(payload)
    storage = tmp_path / "tus-urls.json"
    link = ThreadedFaultProxy("127.0.0.1", live_server.port, rate=LINK_RATE)
    with link:
        endpoint = f"{link.url}/api/v1/storage/tus/"
        common = (str(source), endpoint, live_server.token, str(storage))

        aborted = run(node, *common, f"{abort}:{2 * MiB}", str(chunk), override)
        assert aborted["event"] == "aborted"
        url = str(aborted["url"])
        assert url.startswith(link.url)  # the next run resumes over the same link
        head = httpx.head(url, headers={"Tus-Resumable": "1.0.0",
                                        "Authorization": f"Bearer {live_server.token}"})
        assert head.status_code == 200
        offset = int(head.headers["Upload-Offset"])
        assert offset < len(payload)
        if abort == "abort-chunk":
            assert offset >= 2 * MiB

        resumed = run(node, *common, "resume", str(chunk), override)
    assert resumed["event"] == "success"
    assert resumed["url"] == url  # the same upload was continued, not a new one
    assert int(str(resumed["firstProgress"])) >= min(offset, 2 * MiB) - chunk
    file_id = url.rstrip("/").rsplit("/", 1)[-1]
    assert Storage(server_config.data_dir).file_path(file_id).read_bytes() == payload
