"""The project's ground rules: paths, the category table, the CLI shell, the Qt-free wall."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from toolbox_uploader import paths
from toolbox_uploader.cli import main
from toolbox_uploader.core.categories import (
    CATEGORIES,
    UnknownCategoryError,
    canonical_mime,
    get_category,
)

ROOT = Path(__file__).resolve().parents[1]


def test_home_override_puts_every_path_under_it(app_home: Path) -> None:
    for path in (
        paths.config_dir(), paths.data_dir(), paths.cache_dir(), paths.log_dir(),
        paths.server_data_dir(), paths.session_db_path(), paths.settings_path(),
    ):
        assert path.is_relative_to(app_home), path


def test_without_override_paths_are_platform_dirs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TOOLBOX_UPLOADER_HOME")
    monkeypatch.setenv("XDG_CONFIG_HOME", "/tmp/toolbox-xdg-config")
    assert paths.config_dir() == Path("/tmp/toolbox-xdg-config/toolbox-uploader")


def test_seed_categories_and_limits() -> None:
    assert set(CATEGORIES) == {
        "educational_content", "student_submission", "assessment", "media_resource",
        "avatar", "administrative", "temporary", "report",
    }
    assert get_category("avatar").max_size == 10 * 1024 * 1024
    assert get_category("temporary").max_size == 1024**3
    assert get_category("media_resource").allows("audio/mpeg")  # libmagic's name for MP3
    assert get_category("media_resource").allows("audio/x-wav")
    assert not get_category("avatar").allows("application/pdf")
    assert canonical_mime("Image/JPG; charset=binary") == "image/jpeg"
    with pytest.raises(UnknownCategoryError):
        get_category("homework")


def test_cli_version_and_unknown_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        main(["no-such-command"])
    assert exit_info.value.code == 2


def test_engine_and_server_do_not_import_qt() -> None:
    """The import-linter contract from pyproject.toml, run as a test too."""
    lint = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(lint)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_embedded_server_starts_on_a_free_port(live_server) -> None:
    response = httpx.get(f"{live_server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json()["status"] == "ok"
    assert live_server.port > 0 and live_server.token
