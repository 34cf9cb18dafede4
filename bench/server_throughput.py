"""Throughput of one big tus upload into our server, next to a raw aiohttp disk sink.

    python bench/server_throughput.py [--size-mib 1024] [--with-validation]

Uploads of the same generated file over loopback, each server in its own process
so that its memory can be sampled with psutil:

* ``raw sink``: a minimal aiohttp app that writes ``request.content`` to a file — the
  ceiling for "aiohttp receiving bytes onto this disk";
* ``raw sink + SHA-256``: the same, hashing inline, since our server must hash every
  byte (the whole-file SHA-256 is part of the contract);
* ``ours, one PATCH``: creation, then the whole file as ONE streamed PATCH (httpx);
* ``ours, tuspy 8 MiB``: tuspy with 8 MiB chunks (one PATCH per chunk).

Prints MiB/s for each, the ratio ours/raw, and each server's peak RSS. The issue's goal:
one streamed PATCH reaches at least 80% of the raw sink and the server stays under
150 MB RSS. By default the server's post-upload validation is replaced by an accept-all
validator so that the figures measure the transfer (a 1 GiB scan says nothing about
it); ``--with-validation`` keeps the real one. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

MiB = 1024 * 1024
BLOCK = MiB

OUR_SERVER = textwrap.dedent("""
    import sys, threading
    from toolbox_uploader.server.config import ServerConfig
    from toolbox_uploader.server.embedded import EmbeddedServer
    from toolbox_uploader.server.validation_hook import ValidationOutcome

    def accept(path, category, filename):
        return ValidationOutcome(True, "application/octet-stream")

    config = ServerConfig(data_dir=sys.argv[1], port=0, max_size=64 * 1024**3,
                          default_quota=None)
    if sys.argv[2] == "accept":
        config.validator = accept
    handle = EmbeddedServer(config).start()
    print("url:", handle.url, flush=True)
    print("token:", handle.token, flush=True)
    sys.stdin.read()
""")

RAW_SINK = textwrap.dedent("""
    import sys
    from aiohttp import web

    import hashlib

    async def sink(request):
        hasher = hashlib.sha256() if sys.argv[2] == "hash" else None
        with open(sys.argv[1], "wb") as out:
            async for chunk in request.content.iter_any():
                out.write(chunk)
                if hasher is not None:
                    hasher.update(chunk)
        return web.Response(status=204)

    async def main():
        app = web.Application()
        app.router.add_route("*", "/upload", sink)
        runner = web.AppRunner(app)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        print("url:", f"http://127.0.0.1:{runner.addresses[0][1]}", flush=True)
        print("token: -", flush=True)
        import asyncio
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)

    import asyncio
    asyncio.run(main())
""")


class ServerProcess:
    """A server in a subprocess; prints ``url:`` and ``token:`` lines when ready."""

    def __init__(self, code: str, *args: str) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", code, *args], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        values: dict[str, str] = {}
        deadline = time.monotonic() + 60
        while len(values) < 2 and time.monotonic() < deadline:
            line = self.proc.stdout.readline()
            if not line:
                raise RuntimeError("the server process exited before it was ready")
            key, _, value = line.partition(":")
            values[key.strip()] = value.strip()
        self.url, self.token = values["url"], values["token"]
        self.ps = psutil.Process(self.proc.pid)
        self.peak_rss = 0
        self.cpu_start = 0.0
        self.notes: list[str] = []
        self._sampling = False
        self._thread: threading.Thread | None = None

    def cpu_seconds(self) -> float:
        times = self.ps.cpu_times()
        return times.user + times.system

    def start_sampling(self) -> None:
        self.peak_rss = self.ps.memory_info().rss
        self.cpu_start = self.cpu_seconds()
        self._sampling = True
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def stop_sampling(self) -> tuple[int, float]:
        """Peak RSS and CPU seconds of the server since ``start_sampling``."""
        self._sampling = False
        if self._thread is not None:
            self._thread.join()
        return self.peak_rss, self.cpu_seconds() - self.cpu_start

    def _sample(self) -> None:
        while self._sampling:
            try:
                self.peak_rss = max(self.peak_rss, self.ps.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    def close(self) -> None:
        assert self.proc.stdin is not None
        self.proc.stdin.close()
        try:
            self.proc.wait(20)
        except subprocess.TimeoutExpired:
            self.proc.terminate()
            self.proc.wait(10)


def file_blocks(path: Path) -> Iterator[bytes]:
    with open(path, "rb") as handle:
        while block := handle.read(BLOCK):
            yield block


def make_file(path: Path, size: int) -> None:
    """Random blocks behind a neutral header (random leading bytes can look like a program)."""
    with open(path, "wb") as out:
        remaining = size
        seed = (b"\x00toolbox server benchmark\x00" * 4 + os.urandom(8 * MiB))[: 8 * MiB]
        while remaining > 0:
            n = min(len(seed), remaining)
            out.write(seed[:n])
            seed = seed[1:] + seed[:1]  # different blocks, cheap to make
            remaining -= n


def stream_put(url: str, path: Path, headers: dict[str, str]) -> httpx.Response:
    size = path.stat().st_size
    headers = {**headers, "Content-Length": str(size)}
    with httpx.Client(timeout=None) as client:
        return client.request("PATCH", url, content=file_blocks(path), headers=headers)


def run_raw(path: Path, out_dir: Path, hash_too: bool = False) -> tuple[float, tuple[int, float]]:
    server = ServerProcess(RAW_SINK, str(out_dir / "raw-sink.bin"), "hash" if hash_too else "-")
    try:
        server.start_sampling()
        started = time.perf_counter()
        resp = stream_put(f"{server.url}/upload", path, {})
        elapsed = time.perf_counter() - started
        assert resp.status_code == 204, resp.text
        return elapsed, server.stop_sampling()
    finally:
        server.close()
        (out_dir / "raw-sink.bin").unlink(missing_ok=True)


def _tus_headers(token: str) -> dict[str, str]:
    return {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}"}


class Pinger:
    """GET /healthz every 50 ms during an upload: shows whether the byte work starves the loop."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.latencies: list[float] = []
        self._running = True
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(timeout=30) as client:
            while self._running:
                started = time.perf_counter()
                client.get(f"{self.url}/healthz")
                self.latencies.append(time.perf_counter() - started)
                time.sleep(0.05)

    def stop(self) -> str:
        self._running = False
        self._thread.join()
        ordered = sorted(self.latencies) or [0.0]
        median = ordered[len(ordered) // 2]
        return f"/healthz during the PATCH: median {median * 1000:.1f} ms, " \
               f"max {ordered[-1] * 1000:.1f} ms over {len(ordered)} requests"


def run_ours_patch(server: ServerProcess, path: Path) -> float:
    size = path.stat().st_size
    headers = _tus_headers(server.token)
    create = httpx.post(f"{server.url}/api/v1/storage/tus/", headers={
        **headers, "Upload-Length": str(size),
        "Upload-Metadata": "filename YmVuY2guYmlu,category dGVtcG9yYXJ5"})
    assert create.status_code == 201, create.text
    pinger = Pinger(server.url)
    started = time.perf_counter()
    resp = stream_put(create.headers["Location"], path, {
        **headers, "Upload-Offset": "0", "Content-Type": "application/offset+octet-stream"})
    elapsed = time.perf_counter() - started
    server.notes.append(pinger.stop())
    assert resp.status_code == 204, resp.text
    return elapsed


def run_ours_tuspy(server: ServerProcess, path: Path) -> float:
    from tusclient import client as tus_client

    client = tus_client.TusClient(
        f"{server.url}/api/v1/storage/tus/",
        headers={"Authorization": f"Bearer {server.token}"},
    )
    uploader = client.uploader(
        str(path), chunk_size=8 * MiB,
        metadata={"filename": "bench.bin", "category": "temporary"},
    )
    started = time.perf_counter()
    uploader.upload()
    return time.perf_counter() - started


def sha256_rate() -> float:
    import hashlib

    block = os.urandom(MiB)
    hasher = hashlib.sha256()
    started = time.perf_counter()
    for _ in range(256):
        hasher.update(block)
    return 256 / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--rounds", type=int, default=3,
                        help="raw and ours alternate this many times; the best of each counts")
    parser.add_argument("--with-validation", action="store_true",
                        help="keep the server's real post-upload validation")
    args = parser.parse_args()
    size = args.size_mib * MiB
    Run = tuple[float, tuple[int, float]]  # seconds, (peak RSS, server CPU seconds)
    notes: list[str] = []
    raw: list[Run] = []
    raw_hash: list[Run] = []
    patch: list[Run] = []
    tuspy: list[Run] = []
    with tempfile.TemporaryDirectory(prefix="tbu-bench-") as tmp:
        tmp_dir = Path(tmp)
        source = tmp_dir / "source.bin"
        make_file(source, size)
        print(f"file: {args.size_mib} MiB, loopback, {os.cpu_count()} CPUs "
              f"(load average {os.getloadavg()[0]:.1f}), {args.rounds} rounds")
        for _ in range(args.rounds):
            raw.append(run_raw(source, tmp_dir))
            raw_hash.append(run_raw(source, tmp_dir, hash_too=True))
            server = ServerProcess(OUR_SERVER, str(tmp_dir / "data"),
                                   "real" if args.with_validation else "accept")
            try:
                server.start_sampling()
                patch.append((run_ours_patch(server, source), server.stop_sampling()))
                server.start_sampling()
                tuspy.append((run_ours_tuspy(server, source), server.stop_sampling()))
            finally:
                server.close()
                notes.extend(server.notes)
            shutil.rmtree(tmp_dir / "data", ignore_errors=True)

    def rate(seconds: float) -> float:
        return args.size_mib / seconds

    rows = [
        ("raw aiohttp sink, one stream", raw),
        ("raw sink + inline SHA-256", raw_hash),
        ("ours, one streamed PATCH", patch),
        ("ours, tuspy 8 MiB chunks", tuspy),
    ]
    for name, runs in rows:
        best = min(seconds for seconds, _ in runs)
        every = ", ".join(f"{rate(seconds):.0f}" for seconds, _ in runs)
        peak = max(rss for _, (rss, _cpu) in runs)
        cpu = min(cpu for _, (_rss, cpu) in runs) * 1000 / args.size_mib
        print(f"{name:30s} best {rate(best):7.1f} MiB/s (runs: {every})  "
              f"peak server RSS {peak / MiB:6.1f} MiB  server CPU {cpu:.2f} ms/MiB")
    for note in notes:
        print(note)
    print(f"SHA-256 alone on this CPU: {sha256_rate():.0f} MiB/s (our server must also hash)")
    best_raw = min(s for s, _ in raw)
    best_patch = min(s for s, _ in patch)
    print(f"ratio ours/raw, best of each: one PATCH {best_raw / best_patch:.2f}, "
          f"tuspy 8 MiB {best_raw / min(s for s, _ in tuspy):.2f}  (goal >= 0.80; RSS < 150 MB)")
    print(f"ratio ours/(raw + SHA-256): one PATCH "
          f"{min(s for s, _ in raw_hash) / best_patch:.2f}")


if __name__ == "__main__":
    main()
