"""The settings file: round trip, validation, and damaged files that must not stop the app."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest

from toolbox_uploader import paths
from toolbox_uploader import settings as settings_io
from toolbox_uploader.settings import Settings, SettingsError, check_server_url


def test_defaults_when_no_file() -> None:
    loaded = settings_io.load()
    assert loaded == Settings()
    assert loaded.uses_local_server and loaded.strip_location and loaded.auto_resume
    assert loaded.warnings == ()


def test_round_trip_is_readable_json(app_home: Path) -> None:
    chosen = Settings(server_url="https://files.school.example/", default_category="assessment",
                      concurrency=5, optimize_images=False, max_image_edge=1920,
                      image_quality=80, strip_location=False, bandwidth_limit_kib=512,
                      auto_resume=False, keep_running_in_tray=False, notifications=False)
    settings_io.save(chosen)
    path = paths.settings_path()
    assert path.is_relative_to(app_home)
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["server_url"] == "https://files.school.example"  # trailing slash dropped
    assert data["bandwidth_limit_kib"] == 512 and "warnings" not in data
    loaded = settings_io.load()
    assert loaded == replace(chosen, server_url="https://files.school.example")
    assert loaded.bandwidth_limit == 512 * 1024


def test_corrupt_file_gives_defaults_and_a_warning() -> None:
    paths.settings_path().write_text("{ this is not json", encoding="utf-8")
    loaded = settings_io.load()
    assert loaded == Settings()
    assert loaded.warnings and "damaged" in loaded.warnings[0]


def test_bad_fields_fall_back_one_by_one() -> None:
    paths.settings_path().write_text(json.dumps({
        "concurrency": 99, "default_category": "nonsense", "server_url": "ftp://x",
        "notifications": "yes", "max_image_edge": 1600, "colour": "blue",
    }), encoding="utf-8")
    loaded = settings_io.load()
    assert loaded.max_image_edge == 1600  # the good field survives
    assert loaded.concurrency == Settings().concurrency
    assert loaded.default_category == Settings().default_category
    assert loaded.server_url == "" and loaded.notifications is True
    assert len(loaded.warnings) == 5
    assert any("colour" in w for w in loaded.warnings)


def test_not_an_object() -> None:
    paths.settings_path().write_text("[1, 2]", encoding="utf-8")
    assert settings_io.load().warnings == ("the settings file does not hold an object",)


def test_save_refuses_invalid_values() -> None:
    with pytest.raises(SettingsError, match="between 1 and 8"):
        settings_io.save(Settings(concurrency=0))
    with pytest.raises(SettingsError, match="not a server address"):
        settings_io.save(Settings(server_url="files.school"))
    assert not paths.settings_path().exists()


@pytest.mark.parametrize(("pasted", "server"), [
    ("http://127.0.0.1:8765/api/v1/storage/tus/", "http://127.0.0.1:8765"),
    ("https://files.school.org/toolbox/api/v1/files/abc", "https://files.school.org/toolbox"),
    ("https://files.school.org/api/v1", "https://files.school.org"),
    ("https://files.school.org/apiv1/", "https://files.school.org/apiv1"),
])
def test_a_link_into_the_servers_api_names_the_server(pasted: str, server: str) -> None:
    """The tus endpoint from a tus tool, or a file's link, pasted as the server address."""
    assert check_server_url(pasted) == server
