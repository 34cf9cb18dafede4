"""Every file location of the app and the embedded server, in one place.

``TOOLBOX_UPLOADER_HOME`` (read on every call, so tests can point it at a temporary
directory) puts config, data, cache and logs under one folder; otherwise the platform's
conventional folders from platformdirs are used.
"""

from __future__ import annotations

import os
from pathlib import Path

from platformdirs import PlatformDirs

from toolbox_uploader import APP_NAME

HOME_ENV = "TOOLBOX_UPLOADER_HOME"


def _dirs() -> PlatformDirs:
    return PlatformDirs(APP_NAME, appauthor=False)


def _home() -> Path | None:
    value = os.environ.get(HOME_ENV, "").strip()
    return Path(value).expanduser().resolve() if value else None


def _ensure(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def app_folders(*, platform: bool = False) -> tuple[Path, Path, Path, Path]:
    """Config, data, cache and log folders, not created (they may not exist yet).

    ``platform``: the platform's own folders, whatever ``TOOLBOX_UPLOADER_HOME`` says."""
    home = None if platform else _home()
    if home is not None:
        return home / "config", home / "data", home / "cache", home / "logs"
    dirs = _dirs()
    return (Path(dirs.user_config_dir), Path(dirs.user_data_dir), Path(dirs.user_cache_dir),
            Path(dirs.user_log_dir))


def config_dir() -> Path:
    return _ensure(app_folders()[0])


def data_dir() -> Path:
    return _ensure(app_folders()[1])


def cache_dir() -> Path:
    return _ensure(app_folders()[2])


def log_dir() -> Path:
    return _ensure(app_folders()[3])


def server_data_dir() -> Path:
    """Default storage of the embedded reference server (uploads, files, its database)."""
    return _ensure(data_dir() / "server")


def local_server_port_path() -> Path:
    """The embedded server's last port: kept so links to its files survive a restart."""
    return server_data_dir() / "last-port.json"


def session_db_path() -> Path:
    """The desktop app's and CLI's upload queue (SQLite)."""
    return data_dir() / "sessions.sqlite3"


def settings_path() -> Path:
    return config_dir() / "settings.json"


def optimized_cache_dir() -> Path:
    """Where optimized copies of images are written; originals are never touched."""
    return _ensure(cache_dir() / "optimized")
