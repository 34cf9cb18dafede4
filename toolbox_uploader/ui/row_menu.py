"""What a right-click on the queue offers: the clicked row's actions, or, when it is part of
a selection of several rows, the actions for the whole selection ("Pause 3 files").

A right-click on a selected row keeps the selection highlighted, so a menu that then acted
on the clicked row alone would do less than it appears to. Entries carry item ids, never
snapshots: the window acts on each row as it is when the entry is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from toolbox_uploader.core.events import ItemSnapshot
from toolbox_uploader.ui.queue_model import ACTION_LABELS, RowAction, row_actions

#: Actions that make sense for many rows at once, in menu order.
BULK_ACTIONS = (RowAction.PAUSE, RowAction.RESUME, RowAction.RETRY, RowAction.REMOVE)


@dataclass(frozen=True, slots=True)
class MenuEntry:
    text: str
    action: RowAction
    ids: tuple[int, ...]


def menu_entries(clicked: ItemSnapshot, selected: Sequence[ItemSnapshot],
                 actions: Callable[[ItemSnapshot], tuple[RowAction, ...]] = row_actions
                 ) -> list[MenuEntry]:
    """The entries for a right-click on ``clicked`` while ``selected`` rows are selected;
    ``actions`` tells a row's buttons (``QueueModel.actions`` knows the chosen server)."""
    targets = list(selected) if len(selected) > 1 and any(
        item.id == clicked.id for item in selected) else [clicked]
    if len(targets) == 1:
        return [MenuEntry(ACTION_LABELS[a], a, (clicked.id,)) for a in actions(clicked)]
    entries = []
    for action in BULK_ACTIONS:
        ids = tuple(item.id for item in targets if action in actions(item))
        if ids:
            noun = "file" if len(ids) == 1 else "files"
            entries.append(MenuEntry(f"{ACTION_LABELS[action]} {len(ids)} {noun}", action, ids))
    return entries
