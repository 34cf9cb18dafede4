"""What a right-click on the queue offers: the clicked row's actions, or, when it is part of
a selection of several rows, the actions for the whole selection ("Pause 3 files"), and a
category for all of them at once (a folder dropped as "Teaching material" whose lesson
videos that category refuses: one choice, not a double-click per row).

A right-click on a selected row keeps the selection highlighted, so a menu that then acted
on the clicked row alone would do less than it appears to. Entries carry item ids, never
snapshots: the window acts on each row as it is when the entry is chosen.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from toolbox_uploader.core.categories import CATEGORIES
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
    targets = menu_targets(clicked, selected)
    if len(targets) == 1:
        return [MenuEntry(ACTION_LABELS[a], a, (clicked.id,)) for a in actions(clicked)]
    entries = []
    for action in BULK_ACTIONS:
        ids = tuple(item.id for item in targets if action in actions(item))
        if ids:
            entries.append(MenuEntry(f"{ACTION_LABELS[action]} {_files(len(ids))}", action, ids))
    return entries


@dataclass(frozen=True, slots=True)
class CategoryEntry:
    """``ids``: the rows this category would change (none: the entry is shown disabled)."""

    text: str
    category: str
    ids: tuple[int, ...]
    current: bool  # every row that can still change is in this category


def category_entries(clicked: ItemSnapshot, selected: Sequence[ItemSnapshot],
                     editable: Callable[[ItemSnapshot], bool]) -> list[CategoryEntry]:
    """The "Category" submenu for the same rows as ``menu_entries``; empty when none of them
    can change category any more (``editable``: bytes already went under the old one)."""
    targets = menu_targets(clicked, selected)
    changeable = [item for item in targets if editable(item)]
    if not changeable:
        return []
    entries = []
    for name, category in CATEGORIES.items():
        ids = tuple(item.id for item in changeable if item.category != name)
        text = category.label if len(targets) == 1 or not ids else \
            f"{category.label} ({_files(len(ids))})"
        entries.append(CategoryEntry(text, name, ids, current=not ids))
    return entries


def menu_targets(clicked: ItemSnapshot,
                 selected: Sequence[ItemSnapshot]) -> list[ItemSnapshot]:
    """The selection when the clicked row is part of it, else the clicked row alone."""
    if len(selected) > 1 and any(item.id == clicked.id for item in selected):
        return list(selected)
    return [clicked]


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"
