"""Upload throughput over loopback: our tus client vs tuspy vs tus-js-client, in one run.

    .venv/bin/python bench/upload_throughput.py [--size-mib 1024]

1. our client (httpx requests on aiohttp connections, streamed, checksummed PATCHes) → our
   server (``toolbox-uploader serve`` in a subprocess);
2. tuspy with 8 MiB chunks → our server;
3. tus-js-client (Node) → ``@tus/server`` + ``@tus/file-store``.

Each client runs in its own process; the parent samples that process's RSS with psutil.
Prints MB/s (10^6 bytes/s) per client, the ratios, our client's peak RSS, and for each run
against our server the CPU seconds per GiB of client and server with the rate at which that
pair would fill this machine's CPUs. Figures, not assertions: the machine may be busy.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.tus_node import INTEROP_DIR, tus_node_server  # noqa: E402

MIB = 1024 * 1024
GIB = 1024 * MIB
JS_UPLOADER = INTEROP_DIR / "tus_js_bench_upload.mjs"
CATEGORY = "temporary"  # random bytes are plain data; this category takes them up to 1 GiB


# -- the clients, each run as ``upload_throughput.py --child NAME ...`` ----------------------


async def _ours(endpoint: str, token: str, source: Path, checksums: bool = True) -> None:
    from toolbox_uploader.core.hashing import HashState
    from toolbox_uploader.core.toolbox_api import ToolboxApi, upload_id
    from toolbox_uploader.core.tus_client import TusClient

    size = source.stat().st_size
    base = endpoint.split("/api/")[0]
    started, cpu_started = time.perf_counter(), time.process_time()
    async with TusClient(endpoint, token=token, use_checksums=checksums) as client, \
            ToolboxApi(base, token) as api:
        hasher = HashState()
        url, offset = await client.create(
            length=size, metadata={"filename": source.name, "category": CATEGORY}
        )
        await client.upload_file(
            url, source, offset=offset, length=size, hasher=hasher, on_progress=lambda _: None
        )
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
        await api.verify(upload_id(url), sha256=hasher.hexdigest(), size=size)
    print(json.dumps({"seconds": seconds, "bytes": size, "cpu": cpu}))


def _tuspy(endpoint: str, token: str, source: Path) -> None:
    from tusclient import client as tus_client

    started, cpu_started = time.perf_counter(), time.process_time()
    client = tus_client.TusClient(endpoint, headers={"Authorization": f"Bearer {token}"})
    uploader = client.uploader(
        str(source), chunk_size=8 * MIB,
        metadata={"filename": source.name, "category": CATEGORY},
    )
    uploader.upload()
    print(json.dumps({"seconds": time.perf_counter() - started, "bytes": source.stat().st_size,
                      "cpu": time.process_time() - cpu_started}))


def child_main(argv: list[str]) -> None:
    name, endpoint, token, source = argv
    if name in ("ours", "ours-nocheck"):
        asyncio.run(_ours(endpoint, token, Path(source), checksums=name == "ours"))
    else:
        _tuspy(endpoint, token, Path(source))


# -- the parent ----------------------------------------------------------------------------


def run_measured(command: list[str], cwd: Path | None = None) -> tuple[dict, int]:
    """Run a client; return its JSON line (with ``cpu``, its CPU seconds while uploading,
    where the client reports it) and its peak RSS in bytes (sampled every 20 ms)."""
    process = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    watched = psutil.Process(process.pid)
    peak = 0
    while process.poll() is None:
        try:
            peak = max(peak, watched.memory_info().rss)
        except psutil.Error:
            break
        time.sleep(0.02)
    out, err = process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"{command[:3]} failed: {err.strip()[-2000:]}")
    return json.loads(out.strip().splitlines()[-1]), peak


def make_source(path: Path, size: int) -> None:
    """Random bytes behind a neutral header (random leading bytes can look like a program)."""
    with open(path, "wb") as handle:
        header = b"\x00toolbox upload benchmark\x00" * 4
        handle.write(header[:size])
        remaining = size - min(size, len(header))
        while remaining:
            piece = min(4 * MIB, remaining)
            handle.write(os.urandom(piece))
            remaining -= piece


class OurServer:
    """``toolbox-uploader serve --port 0`` in a subprocess."""

    def __init__(self, data_dir: Path) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "toolbox_uploader", "serve", "--port", "0",
             "--data-dir", str(data_dir), "--max-size", "4G"],
            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )
        assert self.process.stdout is not None
        found: dict[str, str] = {}
        while len(found) < 2:
            line = self.process.stdout.readline()
            if not line:
                raise RuntimeError(f"server did not start: {self.process.stderr.read()}")
            match = re.match(r"(url|token): (\S+)", line.strip())
            if match:
                found[match.group(1)] = match.group(2)
        self.url, self.token = found["url"], found["token"]

    def cpu_seconds(self) -> float:
        times = psutil.Process(self.process.pid).cpu_times()
        return times.user + times.system

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--repeat", type=int, default=1,
                        help="runs per client, interleaved; the best is shown (busy machines)")
    parser.add_argument("--js-chunk-mib", type=int, default=50,
                        help="tus-js-client chunk size (it buffers a chunk from a stream)")
    args = parser.parse_args()
    size = args.size_mib * MIB
    with tempfile.TemporaryDirectory(prefix="upload-bench-") as tmp:
        work = Path(tmp)
        source = work / "source.bin"
        make_source(source, size)
        results: dict[str, float] = {}

        def keep(name: str, data: dict, peak: int, server_cpu: float = 0.0) -> None:
            results[name] = max(results.get(name, 0.0), data["bytes"] / data["seconds"] / 1e6)
            results[f"{name}_rss"] = max(results.get(f"{name}_rss", 0.0), peak / MIB)
            for part, seconds in (("client", data.get("cpu", 0.0)), ("server", server_cpu)):
                key = f"{name}_cpu_{part}"
                results[key] = min(results.get(key, float("inf")), seconds * GIB / data["bytes"])

        for _ in range(max(1, args.repeat)):
            server = OurServer(work / "server")
            try:
                endpoint = server.url + "/api/v1/storage/tus/"
                for name in ("ours", "tuspy", "ours-nocheck"):
                    server_before = server.cpu_seconds()
                    measured = run_measured(
                        [sys.executable, __file__, "--child", name, endpoint, server.token,
                         str(source)]
                    )
                    keep(name, *measured, server_cpu=server.cpu_seconds() - server_before)
            finally:
                server.stop()
            with tus_node_server(work / "node-store") as node_endpoint:
                keep("tus-js", *run_measured(
                    ["node", str(JS_UPLOADER), str(source), node_endpoint,
                     str(args.js_chunk_mib * MIB)], cwd=INTEROP_DIR,
                ))
    print(f"file: {args.size_mib} MiB over loopback, best of {args.repeat}, "
          f"{os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"ours (sha256 checksummed PATCHes)       -> our server : {results['ours']:8.1f} MB/s"
          f"   peak RSS {results['ours_rss']:.0f} MiB")
    print(f"ours without Upload-Checksum            -> our server : "
          f"{results['ours-nocheck']:8.1f} MB/s   peak RSS {results['ours-nocheck_rss']:.0f} MiB")
    print(f"tuspy 8 MiB chunks                      -> our server : {results['tuspy']:8.1f} MB/s"
          f"   peak RSS {results['tuspy_rss']:.0f} MiB")
    print(f"tus-js-client {args.js_chunk_mib} MiB chunks             -> @tus/server: "
          f"{results['tus-js']:8.1f} MB/s   peak RSS {results['tus-js_rss']:.0f} MiB")
    print(f"ratio ours/tuspy  : {results['ours'] / results['tuspy']:.2f}  (goal >= 1.6)")
    print(f"ratio ours/tus-js : {results['ours'] / results['tus-js']:.2f}  (goal >= 2.5)")
    print(f"our client's peak RSS: {results['ours_rss']:.0f} MiB  (goal <= 120)")
    # What each byte costs in CPU, client and server together: with both on this machine's
    # CPUs, that cost bounds the rate whatever the protocol does.
    cpus = os.cpu_count() or 1
    print(f"CPU seconds per GiB (client + server; {cpus} CPUs cap a pair at {cpus} / that):")
    for name in ("ours", "ours-nocheck", "tuspy"):
        client, server = results[f"{name}_cpu_client"], results[f"{name}_cpu_server"]
        print(f"  {name:13s} {client:5.2f} + {server:5.2f} = {client + server:5.2f}"
              f"  -> at most {_bound(cpus, client + server)} MB/s")
    # The server's share alone bounds any client that sends checksummed PATCHes to it.
    print(f"even a client that cost nothing: at most {_bound(cpus, results['ours_cpu_server'])}"
          f" MB/s into this server; 1.6 x tuspy would be {1.6 * results['tuspy']:.0f} MB/s")


def _bound(cpus: int, seconds_per_gib: float) -> str:
    """The rate at which ``cpus`` CPUs are full; a run too short to measure says so."""
    if seconds_per_gib <= 0:
        return "   n/a"
    return f"{cpus / seconds_per_gib * GIB / 1e6:6.0f}"


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child_main(sys.argv[2:])
    else:
        main()
