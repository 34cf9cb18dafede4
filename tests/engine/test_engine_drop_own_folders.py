"""A drop that meets the app's own folders (its queue, settings, the local server's files)
says that it skipped them: the walk passes over them, and the window's line used to call a
drop of the app's home "only hidden or system files", or say nothing at all."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from tests.engine.engine_support import text_file
from tests.engine.test_engine_drop_finished import Heard
from toolbox_uploader import paths
from toolbox_uploader.core.drop_notice import drop_notice
from toolbox_uploader.core.engine import Engine
from toolbox_uploader.server.embedded import ServerHandle


def test_a_drop_of_only_the_apps_own_folders_names_them(
        make_engine: Callable[..., Engine], live_server: ServerHandle, app_home: Path) -> None:
    for made in (paths.config_dir, paths.data_dir, paths.cache_dir, paths.log_dir):
        made()
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    heard = Heard(engine)
    drop = heard.next_drop(engine, [app_home])
    assert sorted(Path(p).name for p in drop.own_folders) == ["cache", "config", "data", "logs"]
    text = drop_notice(drop)
    assert text is not None and "hidden or system" not in text, text
    assert text.startswith(f"Nothing to add from “{app_home.name}”.")
    assert "belongs to ToolBox Uploader itself" in text and str(paths.data_dir()) in text


def test_a_drop_that_also_adds_files_still_names_them(
        make_engine: Callable[..., Engine], live_server: ServerHandle, app_home: Path) -> None:
    paths.config_dir()
    text_file(app_home / "Lessons" / "week1.txt", 500)
    engine = make_engine(server_url=live_server.url, token=live_server.token)
    heard = Heard(engine)
    drop = heard.next_drop(engine, [app_home])
    assert drop.added == 1 and [Path(p).name for p in drop.own_folders] == ["config"]
    text = drop_notice(drop)  # all new otherwise: the rows say that, the line says the rest
    assert text is not None and text.startswith("Skipped what belongs to ToolBox Uploader")
