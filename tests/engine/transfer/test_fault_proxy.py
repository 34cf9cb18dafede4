"""The fault proxy itself: it passes traffic through, and injects only the faults asked for."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.fault_proxy import FaultProxy, ThreadedFaultProxy
from toolbox_uploader.server.embedded import ServerHandle


def test_clean_pass_through_and_bounded_resets(live_server: ServerHandle) -> None:
    with ThreadedFaultProxy("127.0.0.1", live_server.port, reset=1.0, max_faults=2,
                            seed=5) as proxy:
        failures = 0
        for _ in range(5):
            try:
                response = httpx.get(proxy.url + "/healthz", timeout=5)
                assert response.status_code == 200
            except httpx.TransportError:
                failures += 1
        assert failures == 2 == proxy.stats.resets
        assert proxy.stats.requests == 5


def test_disabled_proxy_injects_nothing(live_server: ServerHandle) -> None:
    with ThreadedFaultProxy("127.0.0.1", live_server.port, truncate=1.0) as proxy:
        proxy.set_enabled(False)
        deadline = time.monotonic() + 5
        while proxy.proxy is not None and proxy.proxy.enabled and time.monotonic() < deadline:
            time.sleep(0.01)
        for _ in range(3):
            assert httpx.get(proxy.url + "/healthz", timeout=5).status_code == 200
        assert proxy.stats.faults == 0


async def test_stall_delays_without_failing(live_server: ServerHandle) -> None:
    async with FaultProxy("127.0.0.1", live_server.port, stall=1.0, stall_seconds=0.3,
                          max_faults=1) as proxy, httpx.AsyncClient(timeout=5) as client:
        started = time.monotonic()
        response = await client.get(proxy.url + "/healthz")
        assert time.monotonic() - started >= 0.3
        assert response.status_code == 200
        assert proxy.stats.stalls == 1


async def test_a_late_answer_comes_whole_after_the_wait(live_server: ServerHandle) -> None:
    async with FaultProxy("127.0.0.1", live_server.port, late_answer=1.0, stall_seconds=0.3,
                          max_faults=1) as proxy, httpx.AsyncClient(timeout=5) as client:
        started = time.monotonic()
        first = await client.get(proxy.url + "/healthz")
        assert time.monotonic() - started >= 0.3
        again = time.monotonic()
        second = await client.get(proxy.url + "/healthz")  # same connection, not held
        assert time.monotonic() - again < 0.3
        assert first.status_code == second.status_code == 200
        assert proxy.stats.late_responses == 1 and proxy.stats.connections == 1


def test_shares_must_add_up() -> None:
    with pytest.raises(ValueError):
        FaultProxy("127.0.0.1", 1, reset=0.6, truncate=0.6)
