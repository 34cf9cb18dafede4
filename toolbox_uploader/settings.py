"""The desktop app's settings: one readable JSON file under ``paths.settings_path()``.

Qt-free on purpose (the CLI and tests read it without a display). Every field is checked on
load; a value that is missing, of the wrong type or out of range falls back to its default
with a warning, and a file that is not JSON at all gives the defaults, so a hand edit gone
wrong never stops the app from opening. The sign-in token is NOT a setting: it lives in the
system keyring (``core.credentials``).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from toolbox_uploader import paths
from toolbox_uploader.core.categories import CATEGORIES, DEFAULT_CATEGORY

log = logging.getLogger(__name__)

#: Bumped when a field changes meaning; older files are read field by field regardless.
SETTINGS_VERSION = 1

CONCURRENCY_RANGE = (1, 8)
MAX_EDGE_RANGE = (320, 10000)
QUALITY_RANGE = (30, 100)


class SettingsError(ValueError):
    """A value that cannot be used; the message is meant for the teacher."""


#: Where a toolbox server's API starts; a pasted link into it (the tus endpoint, a file's
#: page) names the server before it.
API_ROOT = "/api/v1"


def check_server_url(url: str) -> str:
    """The URL without surrounding blanks or trailing slash; ``""`` means the local server.

    A link into the server's API pasted in its place (``…/api/v1/storage/tus/`` from a
    tus tool, a file's link) is taken back to the server's own address."""
    url = url.strip().rstrip("/")
    if not url:
        return ""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SettingsError(
            f"{url!r} is not a server address; it should look like https://files.myschool.org"
        )
    at = parts.path.find(f"{API_ROOT}/")
    if at < 0 and parts.path.endswith(API_ROOT):
        at = len(parts.path) - len(API_ROOT)
    if at >= 0:
        url = parts._replace(path=parts.path[:at], query="", fragment="").geturl()
    return url


@dataclass(frozen=True, slots=True)
class Settings:
    server_url: str = ""  # empty: the embedded local server
    default_category: str = DEFAULT_CATEGORY
    concurrency: int = 3
    optimize_images: bool = True
    max_image_edge: int = 2560
    image_quality: int | None = None  # None: the engine's quality ladder
    strip_location: bool = True
    bandwidth_limit_kib: int | None = None  # KiB/s for all uploads together; None = unlimited
    auto_resume: bool = True
    keep_running_in_tray: bool = True
    notifications: bool = True
    warnings: tuple[str, ...] = field(default=(), compare=False)  # problems found on load

    @property
    def bandwidth_limit(self) -> int | None:
        """Bytes per second, as the engine wants it."""
        return self.bandwidth_limit_kib * 1024 if self.bandwidth_limit_kib else None

    @property
    def uses_local_server(self) -> bool:
        return not self.server_url

    def validated(self) -> Settings:
        """This object with every field checked; raises ``SettingsError`` on the first bad one."""
        for f in fields(self):
            if f.name != "warnings":
                _check_field(f.name, getattr(self, f.name))
        return replace(self, server_url=check_server_url(self.server_url))

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("warnings")
        return {"version": SETTINGS_VERSION, **data}


_DEFAULTS = Settings()


def _int_in(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise SettingsError(f"{name} must be a whole number")
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high}")


def _check_field(name: str, value: Any) -> None:
    default = getattr(_DEFAULTS, name)
    if name == "server_url":
        if not isinstance(value, str):
            raise SettingsError("server_url must be text")
        check_server_url(value)
    elif name == "default_category":
        if value not in CATEGORIES:
            raise SettingsError(f"default_category {value!r} is not a known category")
    elif name == "concurrency":
        _int_in(name, value, *CONCURRENCY_RANGE)
    elif name == "max_image_edge":
        _int_in(name, value, *MAX_EDGE_RANGE)
    elif name == "image_quality":
        if value is not None:
            _int_in(name, value, *QUALITY_RANGE)
    elif name == "bandwidth_limit_kib":
        if value is not None:
            _int_in(name, value, 1, 10**7)
    elif isinstance(default, bool) and not isinstance(value, bool):
        raise SettingsError(f"{name} must be true or false")


def from_json(data: Any) -> Settings:
    """Settings from parsed JSON: bad or unknown fields are dropped with a warning each."""
    if not isinstance(data, dict):
        return replace(_DEFAULTS, warnings=("the settings file does not hold an object",))
    values: dict[str, Any] = {}
    problems: list[str] = []
    known = {f.name for f in fields(Settings)} - {"warnings"}
    for key, value in data.items():
        if key == "version":
            continue
        if key not in known:
            problems.append(f"unknown setting {key!r} ignored")
            continue
        try:
            _check_field(key, value)
        except SettingsError as exc:
            problems.append(f"{exc}; using the default")
            continue
        values[key] = check_server_url(value) if key == "server_url" else value
    return replace(_DEFAULTS, **values, warnings=tuple(problems))


def load(path: Path | None = None) -> Settings:
    """The saved settings, or the defaults (with ``warnings`` saying why) when unreadable."""
    path = path or paths.settings_path()
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return _DEFAULTS
    except OSError as exc:
        log.warning("cannot read settings %s: %s", path, exc)
        return replace(_DEFAULTS, warnings=(f"cannot read {path}: {exc.strerror or exc}",))
    try:
        data = json.loads(text)
    except ValueError as exc:
        log.warning("settings file %s is not valid JSON (%s); using defaults", path, exc)
        return replace(_DEFAULTS, warnings=(f"{path.name} is damaged ({exc}); defaults used",))
    settings = from_json(data)
    for problem in settings.warnings:
        log.warning("settings: %s", problem)
    return settings


def save(settings: Settings, path: Path | None = None) -> None:
    """Write atomically (temp file + rename) so a crash never leaves half a file."""
    path = path or paths.settings_path()
    settings = settings.validated()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(settings.to_json(), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
