"""Show all / to do / not sent / done rows, sorted by any column.

"To do" is every row with work ahead, paused ones included; "Not sent" every row that
ended without reaching the server: failed, refused or cancelled.

Sorting uses ``SortRole``, whose values are plain strings and numbers, so Qt compares them in
C++ (a Python ``lessThan`` would cost seconds on 10,000 rows); filtering is a C++ match on
the state's name.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Any

from PySide6.QtCore import (
    QModelIndex,
    QPersistentModelIndex,
    QRegularExpression,
    QSortFilterProxyModel,
    Qt,
)

from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.queue_model import QueueModel, SortRole, StateNameRole


class QueueFilter(StrEnum):
    ALL = "all"
    ACTIVE = "active"
    FAILED = "failed"
    DONE = "done"


FILTER_LABELS: dict[QueueFilter, str] = {
    QueueFilter.ALL: "All",
    QueueFilter.ACTIVE: "To do",
    QueueFilter.FAILED: "Not sent",
    QueueFilter.DONE: "Done",
}

FILTER_STATES: dict[QueueFilter, frozenset[ItemState] | None] = {
    QueueFilter.ALL: None,
    QueueFilter.ACTIVE: frozenset({
        ItemState.QUEUED, ItemState.VALIDATING, ItemState.OPTIMIZING, ItemState.READY,
        ItemState.UPLOADING, ItemState.VERIFYING, ItemState.PAUSED,
    }),
    QueueFilter.FAILED: frozenset({ItemState.FAILED, ItemState.REJECTED,
                                   ItemState.CANCELLED}),
    QueueFilter.DONE: frozenset({ItemState.DONE}),
}


class QueueFilterModel(QSortFilterProxyModel):
    """Filters in C++ on ``StateRole`` names: "all" is an empty pattern, which Qt accepts
    without asking the model anything.

    Why not a Python ``filterAcceptsRow``: Qt calls it from C++ for every added or changed
    row, and each call must take the GIL back from the busy engine and server threads; on
    a drop of 10,000 files that stalled the GUI thread (issue 5).
    """

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._filter = QueueFilter.ALL
        self._held = False
        self.setSortRole(SortRole)
        self.setFilterRole(StateNameRole)
        self.setFilterKeyColumn(0)
        self.setDynamicSortFilter(True)

    @property
    def queue_filter(self) -> QueueFilter:
        return self._filter

    @property
    def is_identity(self) -> bool:
        """Whether row N here is row N of the source (all rows shown, in arrival order)."""
        return self._filter is QueueFilter.ALL and self.sortColumn() < 0

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        """Asked for every painted cell: without a sort or filter, answered without the C++
        mapping, which would call back into Python twice (see ``cell_delegate``)."""
        source = self.sourceModel()
        if index.isValid() and self.is_identity and isinstance(source, QueueModel):
            return source.flags_at(index.row(), index.column())
        return super().flags(index)

    @property
    def order_held(self) -> bool:
        return self._held

    def hold_order(self, held: bool) -> None:
        """While held (the pointer is over the table), rows stay where they are.

        Sorted by Progress, Speed or Time left, rows moved up to 10 times a second: a
        Pause aimed at one file landed on the next one to take its place, and a click that
        started on one row and ended on another did nothing. Held, changed rows keep their
        places (and stay in a filter they no longer match); a header click or filter
        button still sorts and filters at once. Released, every row takes its place."""
        if held == self._held:
            return
        self._held = held
        if held:
            self.setDynamicSortFilter(False)
            return
        if self._filter is not QueueFilter.ALL:
            self.invalidate()  # re-filters (and re-sorts) what changed meanwhile
        self.setDynamicSortFilter(True)  # re-sorts, and keeps sorting as rows change

    def set_queue_filter(self, which: QueueFilter) -> None:
        if which != self._filter:
            self._filter = which
            self.setFilterRegularExpression(_pattern(FILTER_STATES[which]))


def _pattern(states: frozenset[ItemState] | None) -> QRegularExpression:
    if states is None:
        return QRegularExpression()
    names = "|".join(sorted(re.escape(state.value) for state in states))
    return QRegularExpression(f"^(?:{names})$")
