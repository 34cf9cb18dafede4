"""An account at the server's cap of unfinished uploads gets 429
``too_many_unfinished_uploads`` + ``Retry-After: 60`` on a creation. That is a wait, not a
failure: the file waits with the server's own reason (not a bare "the server is busy"),
and the cap of tries for a busy server does not turn a long wait into a failure."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.engine.engine_support import item, random_file, wait_for
from toolbox_uploader.core.scheduler import (
    MAX_TRANSIENT_ATTEMPTS,
    Action,
    decide,
    without_countdown,
)
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.core.transfer_errors import ErrorKind, TransferError
from toolbox_uploader.server.config import ServerConfig
from toolbox_uploader.server.embedded import ServerHandle

MIB = 1024 * 1024


@pytest.fixture
def server_config(server_config: ServerConfig) -> ServerConfig:
    server_config.max_unfinished_uploads = 1
    return server_config


def _hold_the_only_room(server: ServerHandle) -> None:
    """One unfinished upload, as a run killed mid-file leaves: the account is at its cap."""
    response = httpx.post(f"{server.url}/api/v1/storage/tus/", headers={
        "Tus-Resumable": "1.0.0", "Authorization": f"Bearer {server.token}",
        "Upload-Length": "100", "Upload-Metadata": "filename eC50eHQ="}, timeout=10)
    assert response.status_code == 201, response.text


def test_a_file_waits_with_the_servers_reason(live_server: ServerHandle, tmp_path: Path,
                                              make_engine) -> None:
    _hold_the_only_room(live_server)
    path = random_file(tmp_path / "assembly.bin", 12 * MIB)  # created, then PATCHed
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([path], category="temporary")
    waiting = wait_for(lambda: (s := item(engine, "assembly.bin")) and s.state is ItemState.FAILED
                       and s.next_attempt_at is not None and s, 30)
    assert waiting.retryable and waiting.reason is not None
    assert waiting.reason.code == "too_many_unfinished_uploads"
    assert "already has 1 unfinished uploads" in waiting.reason.message
    assert waiting.reason.message.endswith(" s.")  # its countdown, as for other waits
    assert without_countdown(waiting.reason.message).endswith("then try again.")


def test_the_cap_of_tries_does_not_end_a_wait_the_server_asked_for() -> None:
    full = TransferError(ErrorKind.TRANSIENT, "This account already has 1,000 unfinished "
                         "uploads. Finish or cancel some of them, then try again.",
                         status=429, code="too_many_unfinished_uploads", retry_after=60)
    for attempts in (MAX_TRANSIENT_ATTEMPTS, 10 * MAX_TRANSIENT_ATTEMPTS):
        decision = decide(full, attempts=attempts, restarts=0)
        assert decision.action is Action.RETRY and decision.delay is not None
        assert decision.delay >= 60
    # A server that keeps failing without saying when to come back still ends.
    broken = TransferError(ErrorKind.TRANSIENT, "The server answered 503.", status=503)
    assert decide(broken, attempts=MAX_TRANSIENT_ATTEMPTS, restarts=0).action is Action.FAIL
