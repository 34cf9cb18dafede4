"""Settings of one server instance; built by ``serve``, the embedded starter or a test."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765
DEFAULT_MAX_SIZE = 8 * 1024**3  # largest single upload (Tus-Max-Size)
DEFAULT_QUOTA = 20 * 1024**3
DEFAULT_EXPIRATION = 24 * 3600.0  # an unfinished upload lives this long after its last write
#: Unfinished uploads one account may hold at once. The app keeps a handful (one per upload
#: running or paused); a client creating uploads it never finishes would otherwise fill the
#: database and the disk's inodes with empty ones for a day each.
DEFAULT_MAX_UNFINISHED = 1000


@dataclass(slots=True)
class ServerConfig:
    data_dir: Path
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    #: Token of the default account; ``None`` creates one on first start and keeps it.
    token: str | None = None
    default_account: str = "teacher"
    max_size: int = DEFAULT_MAX_SIZE
    default_quota: int | None = DEFAULT_QUOTA
    upload_expiration: float = DEFAULT_EXPIRATION
    max_unfinished_uploads: int = DEFAULT_MAX_UNFINISHED
    cleanup_interval: float = 600.0
    #: Checks a completed file before it is stored; see ``toolbox_uploader.server.finalize``.
    #: ``None`` uses the project's validation (``core.validation``) when it is importable.
    validator: Callable[..., Any] | None = None
    #: Extra knobs for tests and benchmarks (e.g. ``{"progress_interval": 0.05}``).
    options: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.data_dir = Path(self.data_dir)
