"""HashState, strategy choice, adaptive chunk size and the bandwidth limiter."""

from __future__ import annotations

import asyncio
import hashlib
import os
import time
from pathlib import Path

import pytest

from toolbox_uploader.core.hashing import HashState, file_sha256
from toolbox_uploader.core.rate_limit import RateLimiter
from toolbox_uploader.core.source_files import open_source
from toolbox_uploader.core.strategy import (
    MIB,
    ChunkSizer,
    Strategy,
    choose_strategy,
    plan_parallel_parts,
)
from toolbox_uploader.core.tus_client import ServerInfo


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "source.bin"
    path.write_bytes(os.urandom(3 * MIB + 17))
    return path


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_hash_state_follows_updates(source: Path) -> None:
    data = source.read_bytes()
    state = HashState()
    for start in range(0, len(data), 100_000):
        state.update(data[start:start + 100_000])
    assert state.offset == len(data)
    assert state.hexdigest() == sha(data) == file_sha256(source)
    assert state.prefix_digest() == state.hexdigest()


def test_rollback_to_a_server_offset_inside_the_chunk(source: Path, monkeypatch) -> None:
    data = source.read_bytes()
    state = HashState()
    state.update(data[:MIB])
    state.checkpoint()
    state.update(data[MIB:2 * MIB])  # a PATCH that the server only partly kept
    reads: list[int] = []

    def counting_open(path, *args, **kwargs):  # count the bytes re-read from the source
        handle = open_source(path, *args, **kwargs)
        original = handle.read

        def read(size=-1):
            chunk = original(size)
            reads.append(len(chunk))
            return chunk

        handle.read = read
        return handle

    monkeypatch.setattr("toolbox_uploader.core.hashing.open_source", counting_open)
    state.rollback(MIB + 1234, source)
    assert state.offset == MIB + 1234
    assert state.prefix_digest() == sha(data[:MIB + 1234])
    assert sum(reads) == 1234  # only [checkpoint, server offset) was read again


def test_rollback_forward_and_before_checkpoint(source: Path) -> None:
    data = source.read_bytes()
    state = HashState()
    state.update(data[:1000])
    state.checkpoint()
    state.rollback(5000, source)  # the server is ahead (creation-with-upload answered later)
    assert state.prefix_digest() == sha(data[:5000])
    state.checkpoint()
    state.rollback(10, source)  # before the checkpoint: re-read from the start
    assert (state.offset, state.prefix_digest()) == (10, sha(data[:10]))


def test_from_prefix_and_copy(source: Path) -> None:
    data = source.read_bytes()
    state = HashState.from_prefix(source, 2 * MIB + 5)
    assert state.offset == 2 * MIB + 5
    twin = state.copy()
    state.update(data[2 * MIB + 5:])
    assert state.hexdigest() == sha(data)
    assert twin.prefix_digest() == sha(data[:2 * MIB + 5])
    with pytest.raises(EOFError):
        HashState.from_prefix(source, len(data) + 1)


@pytest.mark.parametrize(
    ("size", "strategy"),
    [
        (None, Strategy.STREAMING), (0, Strategy.DIRECT), (10 * MIB - 1, Strategy.DIRECT),
        (10 * MIB, Strategy.CHUNKED), (100 * MIB - 1, Strategy.CHUNKED),
        (100 * MIB, Strategy.RESUMABLE), (4 * 1024 * MIB, Strategy.RESUMABLE),
    ],
)
def test_choose_strategy(size: int | None, strategy: Strategy) -> None:
    assert choose_strategy(size) is strategy


def test_chunk_sizer_aims_for_a_few_seconds_within_bounds() -> None:
    sizer = ChunkSizer(initial=8 * MIB, target_seconds=3.0, smoothing=1.0)
    sizer.record(8 * MIB, 8.0)  # 1 MiB/s → 3 MiB chunks
    assert sizer.next_size() == 3 * MIB
    sizer.record(3 * MIB, 30.0)  # very slow: floor at 1 MiB
    assert sizer.next_size() == MIB
    sizer.record(MIB, 0.001)  # loopback-fast: ceiling at 50 MiB
    assert sizer.next_size() == 50 * MIB


def test_chunk_sizer_smooths_one_slow_chunk() -> None:
    sizer = ChunkSizer(initial=8 * MIB, target_seconds=2.0, smoothing=0.5)
    for _ in range(5):
        sizer.record(sizer.next_size(), sizer.next_size() / (10 * MIB))  # steady 10 MiB/s
    steady = sizer.next_size()
    sizer.record(steady, 20.0)  # one stall
    assert sizer.next_size() >= steady // 2 - MIB
    sizer.record(100, 10.0)  # a tiny tail chunk says nothing about the link
    assert sizer.next_size() >= steady // 2 - MIB


def test_chunk_sizer_rejects_bad_bounds() -> None:
    with pytest.raises(ValueError):
        ChunkSizer(initial=100 * MIB)


def test_parallel_parts_only_when_it_can_help() -> None:
    concat = ServerInfo("1.0.0", frozenset({"creation", "concatenation"}), None, ())
    plain = ServerInfo("1.0.0", frozenset({"creation"}), None, ())
    gib = 1024 * MIB
    assert plan_parallel_parts(gib, concat) == 1  # nothing measured yet
    assert plan_parallel_parts(gib, concat, measured_rate=500 * MIB) == 1  # loopback-class
    assert plan_parallel_parts(gib, plain, measured_rate=2 * MIB) == 1  # no extension
    assert plan_parallel_parts(150 * MIB, concat, measured_rate=2 * MIB) == 1  # too small
    assert plan_parallel_parts(gib, concat, measured_rate=2 * MIB) == 4


async def test_rate_limiter_holds_the_rate() -> None:
    limiter = RateLimiter(400_000)
    started = time.monotonic()
    sent = 0
    while time.monotonic() - started < 0.6:
        await limiter.acquire(20_000)
        sent += 20_000
    elapsed = time.monotonic() - started
    # burst (0.25 s worth) plus the rate over the elapsed time, with slack for scheduling
    assert sent <= 400_000 * (elapsed + 0.25) + 20_000
    assert sent >= 400_000 * elapsed * 0.7


async def test_rate_limiter_is_shared_and_changeable() -> None:
    limiter = RateLimiter(200_000)
    totals = [0, 0]

    async def worker(index: int, deadline: float) -> None:
        while time.monotonic() < deadline:
            await limiter.acquire(10_000)
            totals[index] += 10_000

    deadline = time.monotonic() + 0.5
    await asyncio.gather(worker(0, deadline), worker(1, deadline))
    assert sum(totals) <= 200_000 * 0.75 + 20_000  # both together, not each
    assert min(totals) > 0
    limiter.set_rate(None)
    started = time.monotonic()
    await limiter.acquire(10**9)
    assert time.monotonic() - started < 0.1
    assert limiter.piece_size(1 << 20) == 1 << 20
    limiter.set_rate(80_000)
    assert limiter.piece_size(1 << 20) == 10_000
    with pytest.raises(ValueError):
        limiter.set_rate(0)
