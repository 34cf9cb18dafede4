"""QueueModel and its filter proxy, without a window or an engine."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from PySide6.QtCore import Qt
from pytestqt.modeltest import ModelTester
from pytestqt.qtbot import QtBot

from toolbox_uploader.core.events import ItemSnapshot, Reason
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui.filter_model import QueueFilter, QueueFilterModel
from toolbox_uploader.ui.queue_model import (
    ActionsRole,
    Column,
    FolderRole,
    ItemIdRole,
    ItemRole,
    ProgressRole,
    QueueModel,
    ResumedFromRole,
    RowAction,
)

Make = Callable[..., ItemSnapshot]
S = ItemState


def _queue(make_item: Make) -> list[ItemSnapshot]:
    return [
        make_item(state=S.DONE, size=5000, bytes_sent=5000, file_url="http://x/files/1"),
        make_item(state=S.UPLOADING, size=9000, bytes_sent=4500, speed=1000.0, eta=4.5,
                  resumed_from=4000),
        make_item(state=S.REJECTED, size=10,
                  reason=Reason("executable", "Programs are not allowed.")),
        make_item(state=S.FAILED, size=20, reason=Reason("offline", "No network."),
                  retryable=True),
        make_item(state=S.PAUSED, size=100, bytes_sent=50),
        make_item(state=S.QUEUED, size=None, relative_path="single.txt"),
    ]


def test_model_and_proxy_pass_the_model_tester(qtmodeltester: ModelTester,
                                               make_item: Make) -> None:
    model = QueueModel()
    model.add_items(_queue(make_item))
    qtmodeltester.check(model, force_py=True)
    proxy = QueueFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    proxy.set_queue_filter(QueueFilter.FAILED)
    qtmodeltester.check(proxy, force_py=True)


def test_rows_show_what_a_teacher_needs(make_item: Make) -> None:
    model = QueueModel()
    items = _queue(make_item)
    model.add_items(items)

    def text(row: int, column: Column, role: int = Qt.ItemDataRole.DisplayRole) -> object:
        return model.data(model.index(row, column), role)

    assert text(1, Column.NAME) == items[1].display_name
    assert text(1, Column.NAME, FolderRole) == "Lessons"
    assert text(5, Column.NAME, FolderRole) == ""
    assert text(1, Column.PROGRESS, ProgressRole) == 0.5
    assert text(1, Column.SPEED) == "1.0 kB/s"
    assert text(1, Column.CATEGORY) == "Teaching material"
    assert text(2, Column.STATUS) == "Not accepted"
    assert text(2, Column.STATUS, Qt.ItemDataRole.ToolTipRole) == "Programs are not allowed."
    assert text(2, Column.STATUS, Qt.ItemDataRole.ForegroundRole) is not None
    assert text(2, Column.ACTIONS, ActionsRole) == (RowAction.WHY, RowAction.REMOVE)
    assert text(3, Column.ACTIONS, ActionsRole)[0] is RowAction.RETRY
    assert text(0, Column.ACTIONS, ActionsRole)[:2] == (RowAction.COPY_LINK, RowAction.OPEN)
    assert text(4, Column.ACTIONS, ActionsRole)[0] is RowAction.RESUME
    assert text(4, Column.STATUS) == "Paused at 50%"
    assert text(5, Column.SIZE) == "—"
    # Picked up again with bytes on the server: the row says where it carried on from.
    assert text(1, Column.NAME, ResumedFromRole) == 4000
    assert text(1, Column.STATUS) == "Resumed at 4.0 kB"


def test_one_data_changed_per_run_of_rows(qtbot: QtBot, make_item: Make) -> None:
    model = QueueModel()
    items = [make_item(state=S.UPLOADING, size=100) for _ in range(10)]
    model.add_items(items)
    ranges: list[tuple[int, int]] = []
    model.dataChanged.connect(lambda a, b, _roles=None: ranges.append((a.row(), b.row())))
    model.update_items([replace(items[i], bytes_sent=50) for i in (2, 3, 4, 7, 9, 8)])
    assert ranges == [(2, 4), (7, 9)]
    assert model.item(8).bytes_sent == 50


def test_add_known_and_remove(make_item: Make) -> None:
    model = QueueModel()
    a, b, c, d = (make_item() for _ in range(4))
    model.add_items([a, b, c, d])
    model.add_items([replace(b, state=S.VALIDATING)])  # already known: an update
    assert model.rowCount() == 4 and model.item(1).state is S.VALIDATING
    model.remove_ids([a.id, c.id, 12345])
    assert [i.id for i in model.items()] == [b.id, d.id]
    assert model.row_of(d.id) == 1
    assert model.count() == 2 and model.count([S.VALIDATING]) == 1


def test_category_is_editable_until_the_upload_starts(qtbot: QtBot, make_item: Make) -> None:
    model = QueueModel()
    queued = make_item(state=S.READY)
    uploading = make_item(state=S.UPLOADING, bytes_sent=10)
    model.add_items([queued, uploading])
    editable = Qt.ItemFlag.ItemIsEditable
    assert model.flags(model.index(0, Column.CATEGORY)) & editable
    assert not model.flags(model.index(1, Column.CATEGORY)) & editable
    with qtbot.waitSignal(model.category_change_requested) as blocker:
        assert model.setData(model.index(0, Column.CATEGORY), "assessment")
    assert blocker.args == [queued.id, "assessment"]
    assert model.index(0, Column.CATEGORY).data() == "Test or quiz"
    assert not model.setData(model.index(1, Column.CATEGORY), "assessment")
    assert not model.setData(model.index(0, Column.CATEGORY), "no-such-category")


def test_filter_and_sort(make_item: Make) -> None:
    model = QueueModel()
    model.add_items(_queue(make_item))
    proxy = QueueFilterModel()
    proxy.setSourceModel(model)

    def states() -> list[ItemState]:
        return [proxy.index(r, 0).data(ItemRole).state for r in range(proxy.rowCount())]

    proxy.set_queue_filter(QueueFilter.FAILED)
    assert sorted(states()) == sorted([S.REJECTED, S.FAILED])
    proxy.set_queue_filter(QueueFilter.DONE)
    assert states() == [S.DONE]
    proxy.set_queue_filter(QueueFilter.ACTIVE)
    assert set(states()) == {S.UPLOADING, S.PAUSED, S.QUEUED}
    proxy.set_queue_filter(QueueFilter.ALL)
    proxy.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    sizes = [proxy.index(r, 0).data(ItemRole).size for r in range(proxy.rowCount())]
    assert sizes[0] == 9000 and sizes[-1] is None
    # A live change re-sorts: the paused row grows past everything else.
    paused = next(i for i in model.items() if i.state is S.PAUSED)
    model.update_items([replace(paused, size=10**9)])
    assert proxy.index(0, 0).data(ItemRole).id == paused.id


def test_state_colours_follow_a_dark_palette(qtbot: QtBot, make_item: Make) -> None:
    from PySide6.QtGui import QColor, QPalette
    from PySide6.QtWidgets import QApplication

    from toolbox_uploader.ui.bridge import EngineBridge
    from toolbox_uploader.ui.main_window import MainWindow

    window = MainWindow(EngineBridge())
    qtbot.addWidget(window)
    window.model.add_items([make_item(state=S.REJECTED, reason=Reason("x", "Refused."))])
    index = window.model.index(0, Column.STATUS)
    light = index.data(Qt.ItemDataRole.ForegroundRole)
    original = QApplication.palette()
    dark = QPalette(original)
    dark.setColor(QPalette.ColorRole.Base, QColor("#1e1e1e"))
    dark.setColor(QPalette.ColorRole.Window, QColor("#2b2b2b"))
    dark.setColor(QPalette.ColorRole.Text, QColor("#eeeeee"))
    try:
        QApplication.setPalette(dark)
        qtbot.waitUntil(lambda: index.data(Qt.ItemDataRole.ForegroundRole) != light,
                        timeout=2000)
        assert index.data(Qt.ItemDataRole.ForegroundRole).lightness() > light.lightness()
    finally:
        QApplication.setPalette(original)


def test_identity_shortcut_only_when_the_proxy_really_is_the_identity(make_item: Make) -> None:
    """The proxy answers some calls without mapping; that must agree with Qt's own mapping."""
    model = QueueModel()
    model.add_items(_queue(make_item))
    proxy = QueueFilterModel()
    proxy.setSourceModel(model)

    def mapping() -> list[int]:
        return [proxy.mapToSource(proxy.index(r, 0)).row() for r in range(proxy.rowCount())]

    assert proxy.is_identity and mapping() == list(range(model.rowCount()))
    proxy.sort(Column.SIZE, Qt.SortOrder.DescendingOrder)
    assert not proxy.is_identity and mapping() != list(range(model.rowCount()))
    proxy.sort(-1)
    proxy.set_queue_filter(QueueFilter.FAILED)
    assert not proxy.is_identity and proxy.rowCount() < model.rowCount()
    proxy.set_queue_filter(QueueFilter.ALL)
    model.remove_ids([model.data(model.index(0, 0), ItemIdRole)])
    assert proxy.is_identity and mapping() == list(range(model.rowCount()))
    for row in range(proxy.rowCount()):
        for column in Column:
            assert proxy.flags(proxy.index(row, column)) == model.flags(model.index(row, column))


def test_the_name_column_sorts_numbers_by_value(make_item: Make) -> None:
    model = QueueModel()
    model.add_items([make_item(relative_path=f"Week 3/Worksheet {n}.txt") for n in (10, 2, 1)]
                    + [make_item(relative_path="Week 3/answers.txt")])
    proxy = QueueFilterModel()
    proxy.setSourceModel(model)
    proxy.sort(Column.NAME, Qt.SortOrder.AscendingOrder)
    names = [proxy.index(r, Column.NAME).data() for r in range(proxy.rowCount())]
    assert names == ["answers.txt", "Worksheet 1.txt", "Worksheet 2.txt", "Worksheet 10.txt"]
