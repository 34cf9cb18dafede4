"""The upload queue as a Qt table model: one row per ``ItemSnapshot`` from the engine.

The engine is the truth; this model only mirrors its snapshots. Updates arrive in batches
from ``EngineBridge`` (at most 10 a second) and each batch emits one ``dataChanged`` per
run of adjacent changed rows, so 1,000 uploading rows cost a handful of signals, not 1,000.
Rows are kept in arrival order; sorting and filtering are the proxy's job
(``filter_model.QueueFilterModel``).
"""

from __future__ import annotations

import dataclasses
import math
from collections import Counter
from collections.abc import Iterable, Sequence
from enum import IntEnum, StrEnum
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import QColor, QIcon, QPalette
from PySide6.QtWidgets import QApplication, QStyleOptionViewItem

from toolbox_uploader.core.categories import CATEGORIES
from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.core.natural_order import natural_key
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui import paint_cache

ModelIndex = QModelIndex | QPersistentModelIndex


class Column(IntEnum):
    NAME = 0
    CATEGORY = 1
    SIZE = 2
    STATUS = 3
    PROGRESS = 4
    SPEED = 5
    ETA = 6
    ACTIONS = 7


HEADERS: dict[Column, str] = {
    Column.NAME: "Name",
    Column.CATEGORY: "Category",
    Column.SIZE: "Size",
    Column.STATUS: "Status",
    Column.PROGRESS: "Progress",
    Column.SPEED: "Speed",
    Column.ETA: "Time left",
    Column.ACTIONS: "Actions",
}

_USER = int(Qt.ItemDataRole.UserRole)
ItemRole = _USER + 1  # the ItemSnapshot
ProgressRole = _USER + 2  # float 0..1
StateRole = _USER + 3  # ItemState
SortRole = _USER + 4  # a comparable key for the column
ActionsRole = _USER + 5  # tuple[RowAction, ...] the row offers now
ItemIdRole = _USER + 6  # int
FolderRole = _USER + 7  # the relative folder of the file ("" for single files)
ResumedFromRole = _USER + 8  # ``ItemSnapshot.resumed_from``: where the upload carried on
StateNameRole = _USER + 9  # str, ``state_name``: what the filter proxy matches


_COLUMNS = len(Column)
_FLAGS = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
_EDITABLE_FLAGS = _FLAGS | Qt.ItemFlag.ItemIsEditable
_RIGHT_ALIGNED = frozenset({Column.SIZE, Column.SPEED, Column.ETA})
_ALIGN_RIGHT = Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
_ALIGN_LEFT = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter


class RowAction(StrEnum):
    PAUSE = "pause"
    RESUME = "resume"
    RETRY = "retry"
    WHY = "why"
    COPY_LINK = "copy_link"
    OPEN = "open"
    REMOVE = "remove"


ACTION_LABELS: dict[RowAction, str] = {
    RowAction.PAUSE: "Pause",
    RowAction.RESUME: "Resume",
    RowAction.RETRY: "Retry",
    RowAction.WHY: "Why?",
    RowAction.COPY_LINK: "Copy link",
    RowAction.OPEN: "Show on server",
    RowAction.REMOVE: "Remove",
}

_RUNNING = (ItemState.QUEUED, ItemState.VALIDATING, ItemState.OPTIMIZING, ItemState.READY,
            ItemState.UPLOADING, ItemState.VERIFYING)
#: The category may change until bytes start to flow.
_CATEGORY_EDITABLE = frozenset({ItemState.QUEUED, ItemState.READY, ItemState.PAUSED,
                                ItemState.REJECTED, ItemState.FAILED, ItemState.CANCELLED})
_STATE_ORDER = {state: n for n, state in enumerate((
    ItemState.UPLOADING, ItemState.VERIFYING, ItemState.OPTIMIZING, ItemState.VALIDATING,
    ItemState.READY, ItemState.QUEUED, ItemState.PAUSED, ItemState.FAILED, ItemState.REJECTED,
    ItemState.CANCELLED, ItemState.DONE,
))}


def row_actions(item: ItemSnapshot, *, waits_for_server: bool = False,
                link_works: bool = True) -> tuple[RowAction, ...]:
    """The buttons a row shows, most useful first; REMOVE is always last.

    ``waits_for_server``: the row has work ahead for a server other than the chosen one
    (``QueueModel.waits_for_server``). A failed row there is tried again by itself once its
    server is chosen, and a Retry now would change nothing the teacher can see.
    ``link_works``: False for a done row of the built-in server while it is not running
    (``QueueModel.link_works``): its link would open nothing, or be pasted into a message."""
    state = item.state
    if state in _RUNNING:
        return (RowAction.PAUSE, RowAction.REMOVE)
    if state is ItemState.PAUSED:
        return (RowAction.RESUME, RowAction.REMOVE)
    if state is ItemState.FAILED:
        if waits_for_server:
            return (RowAction.WHY, RowAction.REMOVE)
        return (RowAction.RETRY, RowAction.WHY, RowAction.REMOVE)
    if state is ItemState.REJECTED:
        return (RowAction.WHY, RowAction.REMOVE)
    if state is ItemState.CANCELLED:
        return (RowAction.RETRY, RowAction.REMOVE)
    if state is ItemState.DONE and item.file_url and not item.removed_from_server \
            and link_works:
        return (RowAction.COPY_LINK, RowAction.OPEN, RowAction.REMOVE)
    return (RowAction.REMOVE,)


#: States in which the engine works on a row by itself, nobody pressing a button.
WORKING_STATES = frozenset({ItemState.QUEUED, ItemState.VALIDATING, ItemState.OPTIMIZING,
                            ItemState.READY, ItemState.UPLOADING, ItemState.VERIFYING})


#: How often the countdown of rows waiting to retry is repainted.
COUNTDOWN_MS = 500  # twice a second: no number is skipped

#: The server key of the built-in server (``server.embedded.LOCAL_SERVER_KEY``).
LOCAL_SERVER = "local"


def server_name(key: str) -> str:
    return "the built-in server" if key == LOCAL_SERVER else key


def waits_to_retry(item: ItemSnapshot) -> bool:
    """Failed for now, but the engine will try again by itself (offline, server busy)."""
    return item.state is ItemState.FAILED and item.next_attempt_at is not None


#: The filter name of a done row whose file was deleted on the server since (``state_name``).
DELETED_ON_SERVER = "deleted_on_server"


def state_name(item: ItemSnapshot) -> str:
    """What the filter proxy matches: the state's value, except for a done row whose file
    was deleted on the server since. That row is history (a new row sends the file again):
    counted and shown as done, one file would be done twice."""
    return DELETED_ON_SERVER if item.removed_from_server else item.state.value


def folder_of(item: ItemSnapshot) -> str:
    rel = item.relative_path.replace("\\", "/")
    return rel.rpartition("/")[0]


class QueueModel(QAbstractTableModel):
    """Signals: ``category_change_requested(int item_id, str category)`` when the teacher picks
    another category for a row (the window forwards it to the engine); ``counts_changed()``
    when the number of rows in some state changed (for the filter buttons);
    ``current_server_changed()`` after ``set_current_server`` chose another server (what a
    row waits for and whether its link works changed, with no new snapshot of the row)."""

    category_change_requested = Signal(int, str)
    counts_changed = Signal()
    current_server_changed = Signal()

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[ItemSnapshot] = []
        self._row_of: dict[int, int] = {}
        self._counts: Counter[ItemState] = Counter()
        # Kept like ``_counts``, so that the toolbar and the tray never scan the rows: rows in
        # ``waits_to_retry``, and rows of another server than the chosen one, working or
        # waiting to retry (they wait for their server; see ``set_current_server``).
        self._retrying = 0
        self._away_working = 0
        self._away_retrying = 0
        # Done rows whose file was deleted on the server since: history, not a file on
        # the server (``state_name``, ``count_shown``; the engine's totals leave them out).
        self._deleted = 0
        self._server: str | None = None  # None: not known yet, every row counts as here
        self._colors = _Colors()
        # Rows waiting to retry count down to their next try, second by second.
        self._countdown = QTimer(self)
        self._countdown.setInterval(COUNTDOWN_MS)
        self._countdown.timeout.connect(self._on_countdown)
        self.counts_changed.connect(self._follow_countdowns)

    # ------------------------------------------------------------------ updates from the bridge
    def set_items(self, items: Sequence[ItemSnapshot]) -> None:
        """Replace everything (the engine's first batch after a (re)subscribe)."""
        self.beginResetModel()
        self._items = []
        self._row_of = {}
        for item in items:
            self._row_of[item.id] = len(self._items)
            self._items.append(item)
        self._recount()
        self.endResetModel()
        self.counts_changed.emit()

    def add_items(self, items: Iterable[ItemSnapshot]) -> None:
        """Append new items; ones already present are treated as updates."""
        new: list[ItemSnapshot] = []
        known: list[ItemSnapshot] = []
        seen: set[int] = set()
        for item in items:
            if item.id in self._row_of:
                known.append(item)
            elif item.id not in seen:
                seen.add(item.id)
                new.append(item)
        if new:
            first = len(self._items)
            self.beginInsertRows(QModelIndex(), first, first + len(new) - 1)
            for item in new:
                self._row_of[item.id] = len(self._items)
                self._items.append(item)
                self._tally(item, 1)
            self.endInsertRows()
            self.counts_changed.emit()
        if known:
            self.update_items(known)

    def update_items(self, items: Iterable[ItemSnapshot]) -> None:
        """Take newer snapshots; one ``dataChanged`` per run of adjacent rows."""
        rows: list[int] = []
        recount = False
        for item in items:
            row = self._row_of.get(item.id)
            if row is None:
                continue
            old = self._items[row]
            if (old.state is not item.state or old.next_attempt_at != item.next_attempt_at
                    or old.removed_from_server != item.removed_from_server):
                self._tally(old, -1)
                self._tally(item, 1)
                recount = True
            self._items[row] = item
            rows.append(row)
        last_col = len(Column) - 1
        for first, last in _runs(sorted(set(rows))):
            self.dataChanged.emit(self.index(first, 0), self.index(last, last_col))
        if recount:
            self.counts_changed.emit()

    def remove_ids(self, ids: Iterable[int]) -> None:
        rows = sorted({self._row_of[i] for i in ids if i in self._row_of}, reverse=True)
        if not rows:
            return
        for first, last in reversed(_runs(sorted(rows))):
            self.beginRemoveRows(QModelIndex(), first, last)
            for item in self._items[first:last + 1]:
                self._tally(item, -1)
            del self._items[first:last + 1]
            self.endRemoveRows()
        self._row_of = {item.id: row for row, item in enumerate(self._items)}
        self.counts_changed.emit()

    def set_current_server(self, key: str | None) -> None:
        """The server uploads go to now; unfinished rows of another one wait for it."""
        if key == self._server:
            return
        self._server = key
        self._recount()
        if self._items:  # the status and, for failed rows, the buttons
            self.dataChanged.emit(self.index(0, Column.STATUS),
                                  self.index(len(self._items) - 1, Column.ACTIONS))
        self.counts_changed.emit()
        self.current_server_changed.emit()

    def waits_for_server(self, item: ItemSnapshot) -> bool:
        """Work ahead, but for a server other than the chosen one: nothing moves meanwhile."""
        return (self._server is not None and item.server != self._server
                and (item.state in WORKING_STATES or waits_to_retry(item)))

    def awaited_server(self, item: ItemSnapshot) -> str | None:
        """The name of the server the row waits for (``waits_for_server``), else None."""
        return server_name(item.server) if self.waits_for_server(item) else None

    def link_works(self, item: ItemSnapshot) -> bool:
        """The built-in server runs only while it is the chosen one: its links are dead
        while a school server is. A school server's links work whichever is chosen."""
        return not (item.server == LOCAL_SERVER and self._server is not None
                    and self._server != LOCAL_SERVER)

    def actions(self, item: ItemSnapshot) -> tuple[RowAction, ...]:
        """The row's buttons (``row_actions``) as things stand with the chosen server."""
        return row_actions(item, waits_for_server=self.waits_for_server(item),
                           link_works=self.link_works(item))

    def failed_to_retry(self) -> int:
        """Failed rows a "Retry failed" would change: not those waiting for their server."""
        return self._counts[ItemState.FAILED] - self._away_retrying

    def _tally(self, item: ItemSnapshot, sign: int) -> None:
        self._counts[item.state] += sign
        retrying = waits_to_retry(item)
        self._retrying += sign * retrying
        self._deleted += sign * item.removed_from_server
        if self._server is not None and item.server != self._server:
            self._away_working += sign * (item.state in WORKING_STATES)
            self._away_retrying += sign * retrying

    def _recount(self) -> None:
        self._counts = Counter()
        self._retrying = self._away_working = self._away_retrying = 0
        self._deleted = 0
        for item in self._items:
            self._tally(item, 1)

    # ------------------------------------------------------------------ queries
    def item(self, row: int) -> ItemSnapshot:
        return self._items[row]

    def items(self) -> list[ItemSnapshot]:
        return list(self._items)

    def row_of(self, item_id: int) -> int | None:
        return self._row_of.get(item_id)

    def count(self, states: Iterable[ItemState] | None = None) -> int:
        """Rows in any of ``states`` (all rows for ``None``), without scanning the rows."""
        if states is None:
            return len(self._items)
        return sum(self._counts[state] for state in states)

    def count_shown(self, states: Iterable[ItemState] | None = None) -> int:
        """Rows a filter of ``states`` shows (``filter_model``): as ``count``, but a done
        row whose file was deleted on the server since is not done (``state_name``)."""
        if states is None:
            return len(self._items)
        states = frozenset(states)
        return self.count(states) - (self._deleted if ItemState.DONE in states else 0)

    def waiting_to_retry(self) -> int:
        """Failed rows the engine will try again by itself (see ``waits_to_retry``), for the
        chosen server."""
        return self._retrying - self._away_retrying

    def working(self) -> int:
        """Rows the engine works on now (``WORKING_STATES``), for the chosen server."""
        return self.count(WORKING_STATES) - self._away_working

    def waiting_for_server(self) -> int:
        """Rows with work ahead that wait for another server to be chosen again."""
        return self._away_working + self._away_retrying

    def _follow_countdowns(self) -> None:
        if self._retrying and not self._countdown.isActive():
            self._countdown.start()
        elif not self._retrying:
            self._countdown.stop()

    def _on_countdown(self) -> None:
        """Repaint the time-left cells of rows waiting to retry. Display roles only, so that a
        sorted or filtered proxy passes it on without sorting or filtering again."""
        rows = [row for row, item in enumerate(self._items) if waits_to_retry(item)]
        roles = [Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole]
        for first, last in _runs(rows):
            self.dataChanged.emit(self.index(first, Column.ETA), self.index(last, Column.ETA),
                                  roles)

    def refresh_palette(self) -> None:
        """Pick state colours again after the system switched between light and dark."""
        self._colors = _Colors()
        if self._items:
            self.dataChanged.emit(self.index(0, 0),
                                  self.index(len(self._items) - 1, len(Column) - 1))

    # ------------------------------------------------------------------ Qt model API
    def rowCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(self._items)

    def columnCount(self, parent: ModelIndex = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(Column)

    def index(self, row: int, column: int,
              parent: ModelIndex = QModelIndex()) -> QModelIndex:  # noqa: B008
        """As ``QAbstractTableModel.index``, whose bounds check calls ``rowCount`` and
        ``columnCount`` back in Python: one callback here instead of two (see
        ``cell_delegate``)."""
        if parent.isValid() or not (0 <= row < len(self._items) and 0 <= column < _COLUMNS):
            return QModelIndex()
        return self.createIndex(row, column)

    def headerData(self, section: int, orientation: Qt.Orientation,
                   role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and 0 <= section < len(Column):
            if role == Qt.ItemDataRole.DisplayRole:
                return "" if section == Column.ACTIONS else HEADERS[Column(section)]
            if role == Qt.ItemDataRole.ToolTipRole:
                return f"Sort by {HEADERS[Column(section)].lower()}"
        return None

    def flags(self, index: ModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return self.flags_at(index.row(), index.column())

    def flags_at(self, row: int, column: int) -> Qt.ItemFlag:
        """``flags()`` by position (the filter proxy answers from it without mapping)."""
        if (column == Column.CATEGORY and 0 <= row < len(self._items)
                and self.category_editable(self._items[row])):
            return _EDITABLE_FLAGS
        return _FLAGS

    @staticmethod
    def category_editable(item: ItemSnapshot) -> bool:
        """Whether the row may still change category: no bytes went under the old one."""
        return item.state in _CATEGORY_EDITABLE and not item.bytes_sent and not item.upload_url

    def set_category(self, item_id: int, category: str) -> bool:
        """As picking ``category`` in the row's cell (``setData``); False if it cannot."""
        row = self._row_of.get(item_id)
        return row is not None and self.setData(self.index(row, Column.CATEGORY), category)

    def setData(self, index: ModelIndex, value: Any, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if (not index.isValid() or index.column() != Column.CATEGORY
                or role != Qt.ItemDataRole.EditRole or value not in CATEGORIES):
            return False
        item = self._items[index.row()]
        if not self.category_editable(item) or item.category == value:
            return False
        # Shown at once; the engine's next snapshot confirms (or corrects) it.
        self._items[index.row()] = dataclasses.replace(item, category=value)
        self.dataChanged.emit(index, index)
        self.category_change_requested.emit(item.id, value)
        return True

    def data(self, index: ModelIndex, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        column = Column(index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(item, column)
        if role == Qt.ItemDataRole.EditRole:
            return item.category if column == Column.CATEGORY else self._display(item, column)
        if role == ItemRole:
            return item
        if role == ItemIdRole:
            return item.id
        if role == StateRole:
            return item.state
        if role == StateNameRole:
            return state_name(item)
        if role == ProgressRole:
            return item.progress
        if role == ActionsRole:
            return self.actions(item)
        if role == FolderRole:
            return folder_of(item)
        if role == ResumedFromRole:
            return item.resumed_from
        if role == SortRole:
            return _sort_key(item, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(item, column)
        if role == Qt.ItemDataRole.DecorationRole and column == Column.STATUS:
            return self._status_icon(item)
        if role == Qt.ItemDataRole.ForegroundRole:
            return self.foreground(item, column)
        if role == Qt.ItemDataRole.BackgroundRole:
            if self._shown_as_error(item):
                return self._colors.error_background
            return None
        if role == Qt.ItemDataRole.TextAlignmentRole:
            return int(_ALIGN_RIGHT if column in _RIGHT_ALIGNED else _ALIGN_LEFT)
        if role == Qt.ItemDataRole.AccessibleTextRole:
            return self._accessible(item, column)
        return None

    def fill_option(self, option: QStyleOptionViewItem, item: ItemSnapshot,
                    column: Column) -> None:
        """What ``QStyledItemDelegate.initStyleOption`` would read from seven roles, in one go.

        The delegates call this instead of asking the roles one by one: each role asked by
        Qt is a call from C++ back into Python that must take the GIL again, and while the
        engine and the local server are busy each take can wait a whole switch interval
        (see ``cell_delegate``). Keep it in step with ``data()``.
        """
        option.text = self._display(item, column)
        option.features |= QStyleOptionViewItem.ViewItemFeature.HasDisplay
        option.displayAlignment = _ALIGN_RIGHT if column in _RIGHT_ALIGNED else _ALIGN_LEFT
        foreground = self.foreground(item, column)
        if foreground is not None:
            # In place, with a kept brush: no temporary Qt values (see ``paint_cache``).
            option.palette.setBrush(QPalette.ColorRole.Text, paint_cache.brush(foreground))
        if column == Column.STATUS:
            option.icon = self._status_icon(item)
            option.features |= QStyleOptionViewItem.ViewItemFeature.HasDecoration
        if self._shown_as_error(item):
            option.backgroundBrush = paint_cache.brush(self._colors.error_background)

    def _status_icon(self, item: ItemSnapshot) -> QIcon:
        from toolbox_uploader.ui import icons

        if self.waits_for_server(item):
            return icons.icon("status-queued")
        return icons.status_icon(item)

    def _shown_as_error(self, item: ItemSnapshot) -> bool:
        return (item.state in (ItemState.REJECTED, ItemState.FAILED)
                and not self.waits_for_server(item))

    def _display(self, item: ItemSnapshot, column: Column) -> str:
        if column == Column.NAME:
            return item.display_name
        if column == Column.CATEGORY:
            return fmt.category_label(item.category)
        if column == Column.SIZE:
            before = fmt.human_size(item.size)
            if item.optimized_size is not None and item.size and item.optimized_size < item.size:
                after = fmt.human_size(item.optimized_size)
                if after != before:  # "208 kB → 208 kB" (location removed) says nothing
                    return f"{before} → {after}"
            return before
        if column == Column.STATUS:
            if self.waits_for_server(item):
                return "Waiting for its server"
            return fmt.status_text(item)
        if column == Column.PROGRESS:
            return f"{item.progress:.0%}"
        if column == Column.SPEED:
            return fmt.human_speed(item.speed) if item.state is ItemState.UPLOADING else ""
        if column == Column.ETA:
            if waits_to_retry(item) and not self.waits_for_server(item):
                assert item.next_attempt_at is not None
                return fmt.next_try_text(item.next_attempt_at)
            return fmt.human_duration(item.eta) if item.state is ItemState.UPLOADING else ""
        return ""

    def _tooltip(self, item: ItemSnapshot, column: Column) -> str | None:
        if column == Column.NAME:
            return item.source_path
        if column == Column.CATEGORY and self.category_editable(item):
            return "Double-click to choose another category"
        if column in (Column.STATUS, Column.PROGRESS):
            lines = []
            away = self.awaited_server(item)
            if item.reason is not None and away is None:  # its countdown stopped meanwhile
                lines.append(fmt.reason_text(item))
            lines.extend(f"Note: {w.message}" for w in fmt.notes(item))
            if away is not None:
                lines.append(f"It is sent to {away} when that server is chosen again in "
                             "Settings.")
            elif waits_to_retry(item):
                lines.append("It will be tried again automatically.")
            return "\n".join(lines) or None
        if column == Column.ACTIONS:
            return ", ".join(ACTION_LABELS[a] for a in self.actions(item))
        return None

    def foreground(self, item: ItemSnapshot, column: Column) -> QColor | None:
        """The text colour of a cell (errors red, warnings amber, done green), or None."""
        if self._shown_as_error(item):
            return self._colors.error if column in (Column.NAME, Column.STATUS) else None
        if fmt.notes(item) and column in (Column.STATUS, Column.SIZE):
            return self._colors.warning
        if column == Column.STATUS and item.state is ItemState.DONE:
            return None if item.removed_from_server else self._colors.success
        return None

    def _accessible(self, item: ItemSnapshot, column: Column) -> str:
        text = self._display(item, column)
        if column == Column.STATUS and item.reason is not None:
            reason = fmt.reason_text(item)
            # Not "Waiting for network: Waiting for network. Next try at …"
            text = reason if reason.startswith(text) else f"{text}: {reason}"
        if column == Column.ACTIONS:
            text = ", ".join(ACTION_LABELS[a] for a in self.actions(item))
        return text


class _Colors:
    """State colours readable on the current palette (light or dark)."""

    def __init__(self) -> None:
        app = QApplication.instance()
        dark = False
        if isinstance(app, QApplication):
            dark = app.palette().color(QPalette.ColorRole.Base).lightness() < 128
        self.error = QColor("#ef6b6b" if dark else "#b3261e")
        self.warning = QColor("#f0b44c" if dark else "#8a5300")
        self.success = QColor("#6fcf86" if dark else "#1e7b34")
        self.error_background = QColor(239, 83, 80, 40 if dark else 26)


def _sort_key(item: ItemSnapshot, column: Column) -> str | int | float:
    if column == Column.NAME:
        # Plain strings and numbers only: the proxy then compares them natively (fast).
        return f"{natural_key(item.display_name)}\x00{natural_key(item.relative_path)}"
    if column == Column.CATEGORY:
        return fmt.category_label(item.category)
    if column == Column.SIZE:
        return item.size if item.size is not None else -1
    if column in (Column.STATUS, Column.ACTIONS):
        return _STATE_ORDER.get(item.state, 99)
    if column == Column.PROGRESS:
        return item.progress
    if column == Column.SPEED:
        return item.speed if item.state is ItemState.UPLOADING else 0.0
    if column == Column.ETA:
        return item.eta if item.eta is not None and item.state is ItemState.UPLOADING else math.inf
    return item.id


def _runs(rows: Sequence[int]) -> list[tuple[int, int]]:
    """Sorted rows grouped into (first, last) runs of consecutive numbers."""
    runs: list[tuple[int, int]] = []
    for row in rows:
        if runs and row == runs[-1][1] + 1:
            runs[-1] = (runs[-1][0], row)
        else:
            runs.append((row, row))
    return runs
