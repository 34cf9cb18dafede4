"""The same folder added again (the app's drop, or ``upload DIR`` run a second time): what
the walk refused stays refused for the same reason, not retried into an OS error."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import text_file
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.server.embedded import ServerHandle

S = ItemState


def _verdicts(engine: Engine) -> dict[str, tuple[ItemState, str | None]]:
    return {s.relative_path: (s.state, s.reason.code if s.reason else None)
            for s in engine.snapshot()}


def test_refused_by_the_walk_twice_is_refused_the_same_way(
        make_engine: Callable[..., Engine], live_server: ServerHandle, tmp_path: Path) -> None:
    folder = tmp_path / "unit"
    text_file(folder / "plan.txt", 2000)
    os.symlink(folder / "b", folder / "a")  # a → b → a: a loop, never a file
    os.symlink(folder / "a", folder / "b")
    (folder.joinpath(os.fsdecode(b"caf\xe9.txt"))).write_text("menu\n")  # not UTF-8
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    engine.add_paths([folder])
    assert engine.wait_idle(30)
    first = _verdicts(engine)
    refused = {path: v for path, v in first.items() if v[0] is S.REJECTED}
    assert len(refused) == 3 and first["unit/plan.txt"][0] is S.DONE, first

    engine.add_paths([folder])  # again
    assert engine.wait_idle(30)
    assert _verdicts(engine) == first
