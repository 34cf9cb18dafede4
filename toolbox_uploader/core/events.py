"""What the engine tells its listeners (the desktop app's bridge, the CLI's progress bars).

Plain frozen dataclasses, safe to hand across threads. Listeners receive *batches*
(``list[EngineEvent]``) at most ``MAX_EVENTS_PER_SECOND`` times a second; within a batch,
``ItemChanged`` carries the latest snapshot of each changed item only once.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from toolbox_uploader.core.states import ItemState

MAX_EVENTS_PER_SECOND = 10


@dataclass(frozen=True, slots=True)
class Reason:
    """A machine-readable code plus a sentence a teacher can read."""

    code: str
    message: str


#: The reason a done item carries once its file was found deleted on the server (it was
#: dropped again, and a new item sends it again).
REMOVED_FROM_SERVER = "removed_from_server"
#: The reason a done item carries when its file was on the server already (found in the
#: queue or by the server's duplicate check): nothing was stored again.
ALREADY_UPLOADED = "already_uploaded"


@dataclass(frozen=True, slots=True)
class ItemSnapshot:
    id: int
    source_path: str
    relative_path: str  # from the dropped folder; the bare file name for single files
    display_name: str
    category: str
    size: int | None  # the file's own size; ``optimized_size`` is what is sent when smaller
    state: ItemState
    bytes_sent: int = 0  # confirmed by the server plus what is in flight
    speed: float = 0.0  # bytes per second, moving average
    eta: float | None = None  # seconds left
    reason: Reason | None = None  # why it failed / was rejected
    warnings: tuple[Reason, ...] = ()
    retryable: bool = False
    next_attempt_at: float | None = None  # epoch seconds of the next automatic retry
    attempts: int = 0
    upload_url: str | None = None
    file_url: str | None = None  # where the finished file lives on the server
    optimized_size: int | None = None
    server: str = ""
    #: Where this run carried on from: the offset the server reported when an upload that
    #: had bytes on it was picked up again (after a restart, a pause or a lost connection).
    resumed_from: int | None = None

    @property
    def upload_size(self) -> int | None:
        """The bytes that go to the server: the optimized copy's when there is one."""
        return self.optimized_size if self.optimized_size is not None else self.size

    @property
    def removed_from_server(self) -> bool:
        """Done once, deleted on the server since: no longer a link to anything."""
        return (self.state is ItemState.DONE and self.reason is not None
                and self.reason.code == REMOVED_FROM_SERVER)

    @property
    def progress(self) -> float:
        """0.0 to 1.0."""
        if self.state is ItemState.DONE:
            return 1.0
        if not self.upload_size:
            return 0.0
        return min(1.0, self.bytes_sent / self.upload_size)


@dataclass(frozen=True, slots=True)
class ItemsAdded:
    items: tuple[ItemSnapshot, ...]


@dataclass(frozen=True, slots=True)
class ItemChanged:
    item: ItemSnapshot


@dataclass(frozen=True, slots=True)
class ItemsRemoved:
    ids: tuple[int, ...]


@dataclass(frozen=True, slots=True)
class BatchProgress:
    files_total: int
    files_done: int
    files_failed: int
    bytes_total: int
    bytes_done: int
    speed: float
    eta: float | None


@dataclass(frozen=True, slots=True)
class ServerStatus:
    """Connection state of the target server, for the status bar."""

    reachable: bool
    message: str = ""
    needs_sign_in: bool = False
    details: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """Whether the session store takes changes. While it does not (a full disk, a queue
    file made read-only), uploads go on from memory, but files cannot be added or removed
    and a restart would go back to what was last saved: the teacher should know."""

    saved: bool
    message: str = ""


@dataclass(frozen=True, slots=True)
class DropFinished:
    """How one ``Engine.add_paths`` ended, once its files are queued: a drop that adds no
    row would otherwise leave the teacher with no sign that it was even read. Sent after
    the drop's ``ItemsAdded``; never merged with another drop's.

    Each file the walk found counts once, in the first of: ``missing`` / ``unreadable``
    (it could not be opened, whether its refused row is new or not), ``added`` (a new
    row, also for a done file changed since), ``picked_up`` (its failed, cancelled or
    paused row set going again), ``already_done`` (left done; it is sent again only if
    its check finds it deleted on the server) or ``already_queued`` (on its way, left as
    it is). ``skipped``: hidden or system files and folders passed over, among them
    ``own_folders``: the app's own folders (its queue, settings, the local server's files),
    never uploaded, named so that the teacher learns why they are not among the rows."""

    paths: tuple[str, ...]  # as dropped
    added: int = 0
    picked_up: int = 0
    already_queued: int = 0
    already_done: int = 0
    skipped: int = 0
    missing: int = 0  # not there (moved or deleted since), or a link to nothing
    unreadable: int = 0  # no permission, or another read error
    problem: str = ""  # why the first file that could not be opened was not, as its row says
    own_folders: tuple[str, ...] = ()  # the app's own folders (or links into them) passed over

    @property
    def new_work(self) -> int:
        """Files this drop set going: new rows and rows picked up again."""
        return self.added + self.picked_up


EngineEvent = (ItemsAdded | ItemChanged | ItemsRemoved | BatchProgress | ServerStatus
               | QueueStatus | DropFinished)
