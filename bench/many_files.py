"""Many small files: the engine (validate + upload) against tuspy (upload only, sequential).

Both send the same number of 100 KB files to the same reference server, started as a
subprocess (``python -m toolbox_uploader serve``) so that it does not share the client's
interpreter. Prints files/s for each and the ratio; it asserts nothing about time.

A third line is a ceiling, not a peer: a bare client (aiohttp, one tus creation-with-upload
request per file, as many in flight as the engine, nothing checked or recorded) shows how
many files a second the server itself takes on this machine while sharing its CPUs with a
client that costs next to nothing. Last, each run's CPU per file (this process's threads
and the server's) and the rate at which that pair would fill this machine's CPUs.

    .venv/bin/python bench/many_files.py              # 1,000 files of 100 KB
    .venv/bin/python bench/many_files.py --files 200  # while developing
"""

from __future__ import annotations

import argparse
import os
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

WORDS = ("lesson", "worksheet", "fractions", "photosynthesis", "river", "algebra", "poem",
         "history", "map", "quiz", "answer", "chapter", "exercise", "reading", "notes")


def make_files(folder: Path, count: int, size: int, seed: int) -> list[Path]:
    """Plain-text worksheets (text/plain passes educational_content), each one different."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = []
    for number in range(count):
        words: list[str] = []
        length = 0
        while length < size:
            word = rng.choice(WORDS)
            words.append(word)
            length += len(word) + 1
        text = f"sheet {number}\n" + " ".join(words)
        path = folder / f"sheet-{number:04d}.txt"
        path.write_text(text[:size])
        files.append(path)
    return files


def start_server(data_dir: Path) -> tuple[subprocess.Popen[str], str, str]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "toolbox_uploader", "serve", "--port", "0",
         "--data-dir", str(data_dir)],
        stdout=subprocess.PIPE, text=True,
    )
    url = token = ""
    deadline = time.monotonic() + 60
    assert proc.stdout is not None
    while time.monotonic() < deadline and not (url and token):
        line = proc.stdout.readline()
        if not line:
            break
        if match := re.match(r"url:\s*(\S+)", line):
            url = match.group(1)
        if match := re.match(r"token:\s*(\S+)", line):
            token = match.group(1)
    if not (url and token):
        proc.kill()
        raise SystemExit("the server did not start")
    return proc, url, token


def run_engine(folder: Path, url: str, token: str, concurrency: int, home: Path) -> float:
    os.environ["TOOLBOX_UPLOADER_HOME"] = str(home)
    from toolbox_uploader.core.engine import Engine, EngineConfig
    from toolbox_uploader.core.states import ItemState

    engine = Engine(EngineConfig(store_path=home / "bench.sqlite3", server_url=url,
                                 token=token, concurrency=concurrency))
    engine.start()
    started = time.perf_counter()
    engine.add_paths([folder])
    if not engine.wait_idle(600):
        raise SystemExit("the engine did not finish within 10 minutes")
    elapsed = time.perf_counter() - started
    states = [s.state for s in engine.snapshot()]
    engine.stop()
    done = sum(1 for s in states if s is ItemState.DONE)
    if done != len(states):
        raise SystemExit(f"only {done} of {len(states)} files were uploaded by the engine")
    return elapsed


def run_tuspy(files: list[Path], url: str, token: str) -> float:
    from tusclient import client as tus_client

    tus = tus_client.TusClient(url + "/api/v1/storage/tus/",
                               headers={"Authorization": f"Bearer {token}"})
    started = time.perf_counter()
    for path in files:
        uploader = tus.uploader(str(path), chunk_size=8 * 1024 * 1024, metadata={
            "filename": path.name, "relativePath": f"tuspy/{path.name}",
            "category": "educational_content", "filetype": "text/plain"})
        uploader.upload()
    return time.perf_counter() - started


def run_bare(files: list[Path], url: str, token: str, concurrency: int) -> float:
    import asyncio
    import base64

    import aiohttp

    def b64(text: str) -> str:
        return base64.b64encode(text.encode()).decode()

    async def send_all() -> float:
        endpoint = url + "/api/v1/storage/tus/"
        slots = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession() as http:
            async def send(path: Path) -> None:
                body = path.read_bytes()
                metadata = (f"filename {b64(path.name)},relativePath {b64('bare/' + path.name)},"
                            f"category {b64('educational_content')}")
                headers = {"Tus-Resumable": "1.0.0", "Authorization": f"Bearer {token}",
                           "Upload-Length": str(len(body)), "Upload-Metadata": metadata,
                           "Content-Type": "application/offset+octet-stream"}
                async with slots, http.post(endpoint, data=body, headers=headers) as response:
                    if response.status != 201:
                        raise SystemExit(f"bare client: {response.status} {await response.text()}")

            started = time.perf_counter()
            await asyncio.gather(*(send(path) for path in files))
            return time.perf_counter() - started

    return asyncio.run(send_all())


class CpuMeter:
    """CPU seconds of this process (all its threads) and of the server, over one run."""

    def __init__(self, server: subprocess.Popen[str]) -> None:
        import psutil

        self._server = psutil.Process(server.pid)
        self.client = self.server = 0.0

    def _server_seconds(self) -> float:
        times = self._server.cpu_times()
        return times.user + times.system

    def __enter__(self) -> CpuMeter:
        self._start = (time.process_time(), self._server_seconds())
        return self

    def __exit__(self, *exc: object) -> None:
        self.client = time.process_time() - self._start[0]
        self.server = self._server_seconds() - self._start[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--concurrency", type=int, default=3)
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="toolbox-bench-") as tmp:
        root = Path(tmp)
        engine_files = make_files(root / "engine" / "class-7b", args.files, args.size, args.seed)
        tuspy_files = make_files(root / "tuspy", args.files, args.size, args.seed + 1)
        bare_files = make_files(root / "bare", args.files, args.size, args.seed + 2)
        server, url, token = start_server(root / "server")
        try:
            with CpuMeter(server) as engine_cpu:
                engine_s = run_engine(engine_files[0].parent, url, token, args.concurrency,
                                      root / "home")
            with CpuMeter(server) as tuspy_cpu:
                tuspy_s = run_tuspy(tuspy_files, url, token)
            with CpuMeter(server) as bare_cpu:
                bare_s = run_bare(bare_files, url, token, args.concurrency)
        finally:
            server.terminate()
            server.wait(30)
    engine_rate = args.files / engine_s
    tuspy_rate = args.files / tuspy_s
    print(f"files: {args.files} x {args.size} bytes, server: subprocess on loopback, "
          f"cpus: {os.cpu_count()}, load avg: {os.getloadavg()[0]:.2f}")
    print(f"engine (validate + upload, concurrency {args.concurrency}): "
          f"{engine_s:.2f} s = {engine_rate:.0f} files/s")
    print(f"tuspy (upload only, sequential):              {tuspy_s:.2f} s = "
          f"{tuspy_rate:.0f} files/s")
    print(f"ratio engine/tuspy: {engine_rate / tuspy_rate:.2f}x  (goal: >= 500 files/s)")
    print(f"ceiling, bare client (no validation, no store, {args.concurrency} in flight): "
          f"{bare_s:.2f} s = {args.files / bare_s:.0f} files/s")
    cpus = os.cpu_count() or 1
    print(f"CPU ms per file (client + server; {cpus} CPUs cap a pair at {cpus} / that):")
    for name, meter in (("engine", engine_cpu), ("tuspy", tuspy_cpu), ("bare", bare_cpu)):
        client, served = meter.client / args.files * 1000, meter.server / args.files * 1000
        bound = f"{cpus * 1000 / (client + served):4.0f}" if client + served > 0 else " n/a"
        print(f"  {name:6s} {client:4.2f} + {served:4.2f} = {client + served:4.2f}"
              f"  -> at most {bound} files/s")


if __name__ == "__main__":
    main()
