"""The main window: drop zone, queue table, toolbar, filter and status bar.

It knows the engine only through its thread-safe command methods (``add_paths``, ``pause`` …)
and learns what happened from ``EngineBridge`` signals. Nothing here reads files: dropped
and pasted paths go to the engine as they are. The window works without an engine too (the
screenshot script feeds the model directly); commands are then ignored.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Callable, Sequence
from enum import StrEnum
from pathlib import Path
from typing import Any, Protocol

from PySide6.QtCore import (
    QEvent,
    QItemSelectionModel,
    QModelIndex,
    QSize,
    Qt,
    QUrl,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QActionGroup,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QKeySequence,
    QShortcut,
)
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMainWindow,
    QMenu,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableView,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from toolbox_uploader import paths
from toolbox_uploader.core.categories import CATEGORIES
from toolbox_uploader.core.drop_notice import drop_notice
from toolbox_uploader.core.events import (
    BatchProgress,
    DropFinished,
    ItemSnapshot,
    QueueStatus,
    ServerStatus,
)
from toolbox_uploader.core.states import ItemState
from toolbox_uploader.ui import formatting as fmt
from toolbox_uploader.ui import icons, paint_cache
from toolbox_uploader.ui.actions_delegate import ActionsDelegate
from toolbox_uploader.ui.bridge import EngineBridge
from toolbox_uploader.ui.category_delegate import CategoryDelegate
from toolbox_uploader.ui.cell_delegate import CellDelegate
from toolbox_uploader.ui.details_dialog import DetailsDialog
from toolbox_uploader.ui.drop_zone import DropZone, pasted_paths
from toolbox_uploader.ui.elided_label import ElidedLabel
from toolbox_uploader.ui.filter_model import (
    FILTER_LABELS,
    FILTER_STATES,
    QueueFilter,
    QueueFilterModel,
)
from toolbox_uploader.ui.progress_delegate import NameDelegate, ProgressDelegate
from toolbox_uploader.ui.queue_model import (
    WORKING_STATES,
    Column,
    ItemRole,
    QueueModel,
    RowAction,
)
from toolbox_uploader.ui.queue_view import (
    COLUMN_WIDTHS,
    ColumnFitter,
    QueueView,
    table_minimum_width,
)
from toolbox_uploader.ui.row_menu import category_entries, menu_entries

log = logging.getLogger(__name__)
#: How long a drop's outcome stays in the status bar: long enough to read a sentence.
DROP_NOTICE_MS = 10_000


class EngineCommands(Protocol):
    """What the window needs from ``core.engine.Engine`` (all thread-safe, return at once)."""

    def add_paths(self, paths: Sequence[Path], category: str | None = None) -> None: ...
    def pause(self, ids: Sequence[int]) -> None: ...
    def resume(self, ids: Sequence[int]) -> None: ...
    def retry(self, ids: Sequence[int]) -> None: ...
    def remove(self, ids: Sequence[int]) -> None: ...
    def set_category(self, item_id: int, category: str) -> None: ...
    def pause_all(self) -> None: ...
    def resume_all(self) -> None: ...
    def retry_failed(self) -> None: ...
    def clear_finished(self) -> None: ...


class CloseChoice(StrEnum):
    TRAY = "tray"
    QUIT = "quit"
    CANCEL = "cancel"


def window_state_path() -> Path:
    return paths.config_dir() / "window.json"


class MainWindow(QMainWindow):
    """Signals: ``settings_requested()``, ``quit_requested()`` (the app stops the engine and
    exits), ``hidden_to_tray()``."""

    settings_requested = Signal()
    quit_requested = Signal()
    hidden_to_tray = Signal()

    def __init__(self, bridge: EngineBridge, engine: EngineCommands | None = None,
                 default_category: str = "educational_content",
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.engine = engine
        self.bridge = bridge
        self.tray_available = False
        self.keep_running_in_tray = True
        #: Decides what closing the window does while uploads run (tests replace it).
        self.ask_on_close: Callable[[], CloseChoice] = self._ask_on_close
        #: Confirms removing several rows of which some are on their way (tests replace it).
        self.ask_remove: Callable[[int, int], bool] = self._ask_remove
        self._progress: BatchProgress | None = None
        self._details: dict[int, DetailsDialog] = {}  # open reports, kept current
        self._problems = {"queue": "", "server": ""}  # shown in the status bar while true
        self._quitting = False
        self.setWindowTitle("ToolBox Uploader")
        self.setWindowIcon(icons.app_icon())
        icons.load_status_icons()
        self.setAcceptDrops(True)
        self.setMinimumSize(QSize(760, 420))

        self.model = QueueModel(self)
        self.proxy = QueueFilterModel(self)
        self.proxy.setSourceModel(self.model)
        self._build_toolbar()
        self._build_central(default_category)
        self._build_status_bar()
        self._connect_bridge()
        self.model.category_change_requested.connect(self._on_category_changed)
        self.model.counts_changed.connect(self._update_filter_counts)
        self.model.counts_changed.connect(self._update_buttons)  # O(1): counts are kept
        self._update_filter_counts()
        self._update_buttons()

    # ------------------------------------------------------------------ building
    def _action(self, text: str, icon: str, slot: Callable[[], None], tip: str,
                shortcut: QKeySequence | QKeySequence.StandardKey | str | None = None) -> QAction:
        action = QAction(icons.icon(icon), text, self)
        action.setToolTip(tip)  # no status tip: the status bar shows the server and totals
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        action.triggered.connect(slot)
        return action

    def _build_toolbar(self) -> None:
        bar = QToolBar("Main", self)
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setIconSize(QSize(20, 20))
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.add_files_action = self._action("Add files…", "action-add-file",
                                             self.on_add_files, "Choose files to upload",
                                             QKeySequence.StandardKey.Open)
        self.add_folder_action = self._action("Add folder…", "action-add-folder",
                                              self.on_add_folder, "Choose a folder to upload",
                                              "Ctrl+Shift+O")
        self.start_all_action = self._action("Start all", "action-start", self.on_start_all,
                                             "Start or resume every paused upload")
        self.pause_all_action = self._action("Pause all", "action-pause-all", self.on_pause_all,
                                             "Pause every upload")
        self.retry_failed_action = self._action("Retry failed", "action-retry-failed",
                                                self.on_retry_failed,
                                                "Try every failed upload again")
        self.clear_action = self._action("Clear finished", "action-clear", self.on_clear_finished,
                                         "Remove finished, refused and cancelled rows")
        self.settings_action = self._action("Settings", "action-settings",
                                            self.settings_requested.emit,
                                            "Server, sign-in and upload settings",
                                            QKeySequence.StandardKey.Preferences)
        for action in (self.add_files_action, self.add_folder_action):
            bar.addAction(action)
        bar.addSeparator()
        for action in (self.start_all_action, self.pause_all_action, self.retry_failed_action,
                       self.clear_action):
            bar.addAction(action)
        spacer = QWidget(bar)
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(self.settings_action)
        for action in bar.actions():
            button = bar.widgetForAction(action)
            if isinstance(button, QToolButton):
                button.setAccessibleName(action.text().rstrip("…"))
                button.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.addToolBar(bar)
        self.toolbar = bar
        self.quit_action = self._action("Quit", "action-remove", self.request_quit,
                                        "Stop uploading and quit", QKeySequence.StandardKey.Quit)
        self.addAction(self.quit_action)

    def _build_central(self, default_category: str) -> None:
        central = QWidget(self)
        layout = QVBoxLayout(central)
        layout.setContentsMargins(10, 10, 10, 6)
        layout.setSpacing(8)

        self.drop_zone = DropZone(central)
        self.drop_zone.paths_dropped.connect(self.add_paths)
        category_label = QLabel("Category for new files:", self.drop_zone)
        self.category_combo = QComboBox(self.drop_zone)
        for name, category in CATEGORIES.items():
            self.category_combo.addItem(category.label, name)
        self.set_default_category(default_category)
        self.category_combo.setAccessibleName("Category for new files")
        category_label.setBuddy(self.category_combo)
        self.drop_zone.add_button(category_label)
        self.drop_zone.add_button(self.category_combo)
        layout.addWidget(self.drop_zone)

        filters = QHBoxLayout()
        filters.setSpacing(4)
        self.filter_group = QButtonGroup(self)
        self.filter_group.setExclusive(True)
        self.filter_buttons: dict[QueueFilter, QPushButton] = {}
        for which in QueueFilter:
            button = QPushButton(FILTER_LABELS[which], central)
            button.setCheckable(True)
            button.setFlat(True)
            button.setAccessibleName(f"Show {FILTER_LABELS[which].lower()} files")
            button.clicked.connect(lambda _=False, w=which: self.set_filter(w))
            self.filter_group.addButton(button)
            self.filter_buttons[which] = button
            filters.addWidget(button)
        self.filter_buttons[QueueFilter.ALL].setChecked(True)
        filters.addStretch(1)
        self.selection_label = QLabel(central)
        filters.addWidget(self.selection_label)
        layout.addLayout(filters)

        view = QueueView(central)
        view.setObjectName("queueView")
        view.setAccessibleName("Upload queue")
        view.setModel(self.proxy)
        # Arrival order until the teacher clicks a header.
        view.horizontalHeader().setSortIndicator(-1, Qt.SortOrder.AscendingOrder)
        view.setSortingEnabled(True)
        view.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        view.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        view.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked
                             | QAbstractItemView.EditTrigger.EditKeyPressed
                             | QAbstractItemView.EditTrigger.SelectedClicked)
        view.setAlternatingRowColors(True)
        view.setShowGrid(False)
        view.setWordWrap(False)
        view.setMouseTracking(True)
        view.setTabKeyNavigation(False)  # Tab leaves the table, as a screen reader user expects
        view.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        view.customContextMenuRequested.connect(self._on_context_menu)
        view.verticalHeader().hide()
        view.verticalHeader().setDefaultSectionSize(34)
        view.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = view.horizontalHeader()
        header.setHighlightSections(False)
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        for column, (width, _) in COLUMN_WIDTHS.items():
            view.setColumnWidth(column, width)
        self.name_delegate = NameDelegate(view)
        self.progress_delegate = ProgressDelegate(view)
        self.category_delegate = CategoryDelegate(view)
        self.actions_delegate = ActionsDelegate(view)
        self.cell_delegate = CellDelegate(view)
        view.setItemDelegate(self.cell_delegate)
        view.setItemDelegateForColumn(Column.NAME, self.name_delegate)
        view.setItemDelegateForColumn(Column.PROGRESS, self.progress_delegate)
        view.setItemDelegateForColumn(Column.CATEGORY, self.category_delegate)
        view.setItemDelegateForColumn(Column.ACTIONS, self.actions_delegate)
        self._fix_section_modes(view)
        self.column_fitter = ColumnFitter(view, self)
        margins = layout.contentsMargins()
        self.setMinimumWidth(max(self.minimumWidth(), margins.left() + margins.right()
                                 + table_minimum_width(view, self.actions_delegate
                                                       .column_width(view))))
        self.actions_delegate.action_triggered.connect(self.on_row_action)
        view.remove_pressed.connect(self.on_remove_selected)
        view.toggle_pressed.connect(self.on_toggle_selected)
        view.details_pressed.connect(self.on_details_current)
        view.doubleClicked.connect(self._on_double_clicked)
        # Rows stay put under the mouse: a click lands on the row it was aimed at.
        view.pointer_over_changed.connect(self.proxy.hold_order)
        view.selectionModel().selectionChanged.connect(self._update_buttons)
        layout.addWidget(view, 1)
        self.view = view
        self.setCentralWidget(central)

        paste = QShortcut(QKeySequence.StandardKey.Paste, self)
        paste.activated.connect(self.on_paste)

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        # Enough of the server's name to tell which one it is, also beside a problem notice.
        self.server_label = ElidedLabel(bar, min_chars=18)
        self.server_label.setAccessibleName("Server")
        self.server_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.batch_label = QLabel(fmt.batch_text(0, 0, 0, 0, None), bar)
        self.batch_label.setAccessibleName("Overall progress")
        self.total_progress = QProgressBar(bar)
        self.total_progress.setAccessibleName("Total progress")
        self.total_progress.setRange(0, 1000)
        self.total_progress.setValue(0)
        self.total_progress.setMinimumWidth(90)  # gives way to a server problem first
        self.total_progress.setMaximumWidth(180)
        self.total_progress.setTextVisible(True)
        self.total_progress.setFormat("%p%")
        bar.addWidget(self.server_label, 1)
        bar.addPermanentWidget(self._build_server_problem(bar))
        bar.addPermanentWidget(self.batch_label)
        bar.addPermanentWidget(self.total_progress)

    def _build_server_problem(self, parent: QWidget) -> QWidget:
        """Where "the server cannot be reached" (or "sign in", or "the queue cannot be
        saved") stays while it is true: a permanent status bar widget, which temporary
        messages ("Adding 3 items…") leave alone, unlike the message area they share with
        the server label."""
        box = QWidget(parent)
        row = QHBoxLayout(box)
        row.setContentsMargins(0, 0, 6, 0)
        row.setSpacing(4)
        icon = QLabel(box)
        icon.setPixmap(icons.icon("status-failed").pixmap(QSize(16, 16),
                                                            self.devicePixelRatioF()))
        # A sentence: its start says what is wrong, so any cut is at the end.
        self.server_problem_label = ElidedLabel(box, mode=Qt.TextElideMode.ElideRight)
        self.server_problem_label.setAccessibleName("Problem")
        row.addWidget(icon)
        row.addWidget(self.server_problem_label, 1)
        box.hide()
        self.server_problem = box
        return box

    def _connect_bridge(self) -> None:
        self.bridge.items_added.connect(self.model.add_items)
        self.bridge.items_changed.connect(self.model.update_items)
        self.bridge.items_removed.connect(self.model.remove_ids)
        self.bridge.batch_progress.connect(self.on_batch_progress)
        self.bridge.server_status.connect(self.on_server_status)
        self.bridge.queue_status.connect(self.on_queue_status)
        self.bridge.drop_finished.connect(self.on_drop_finished)
        self.bridge.flushed.connect(self._update_buttons)
        self.bridge.items_added.connect(self._update_details)
        self.bridge.items_changed.connect(self._update_details)
        self.bridge.items_removed.connect(self._on_items_removed)
        # An open report says whether its link works and what its row waits for: both
        # change with the chosen server, with no new snapshot of the row.
        self.model.current_server_changed.connect(
            lambda: self._update_details([d.item for d in self._details.values()]))

    # ------------------------------------------------------------------ settings and state
    def set_default_category(self, category: str) -> None:
        index = self.category_combo.findData(category)
        if index >= 0:
            self.category_combo.setCurrentIndex(index)

    @property
    def category(self) -> str:
        return str(self.category_combo.currentData())

    def set_server_text(self, text: str, note: str = "") -> None:
        """``text`` names the server; ``note`` follows it ("— not signed in") and is never
        shortened in a narrow window: only the server's address gives way."""
        whole = f"{text}{note}"
        if whole != self.server_label.text():
            # Another server (or sign-in): the old one's problem is no longer news; the
            # engine reports the new one's when it meets it.
            self._show_server_problem("")
        self.server_label.set_text(whole, note)
        self.server_label.setToolTip(whole)

    def _fix_section_modes(self, view: QTableView) -> None:
        """Name stretches and the row buttons keep their width (also over a restored state)."""
        header = view.horizontalHeader()
        header.setSectionResizeMode(Column.NAME, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(Column.ACTIONS, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(Column.ACTIONS, self.actions_delegate.column_width(view))

    def restore_window_state(self) -> None:
        """Geometry and column widths from the last run (missing or damaged: defaults)."""
        header = self.view.horizontalHeader()
        try:
            data = json.loads(window_state_path().read_text(encoding="utf-8"))
            self.restoreGeometry(base64.b64decode(data["geometry"]))
            header.restoreState(base64.b64decode(data["header"]))
            # The widths the teacher chose, which a narrow window may have squeezed.
            for column, width in data.get("columns", {}).items():
                if int(column) in self.column_fitter.preferred:
                    self.column_fitter.preferred[Column(int(column))] = int(width)
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            self.resize(1100, 680)
        self._fix_section_modes(self.view)
        self.column_fitter.fit()

    def save_window_state(self) -> None:
        data = {
            "geometry": base64.b64encode(self.saveGeometry().data()).decode(),
            "header": base64.b64encode(self.view.horizontalHeader().saveState().data()).decode(),
            "columns": {int(c): w for c, w in self.column_fitter.preferred.items()},
        }
        try:
            window_state_path().write_text(json.dumps(data), encoding="utf-8")
        except OSError as exc:
            log.warning("cannot save the window layout: %s", exc)

    # ------------------------------------------------------------------ adding files
    def add_paths(self, found: Sequence[Path], category: str | None = None) -> None:
        if not found or self.engine is None:
            return
        self.engine.add_paths(list(found), category or self.category)
        # A name, not "1 item" for a whole folder (no stat here: this is the GUI thread).
        what = f"“{found[0].name or found[0]}”" if len(found) == 1 else f"{len(found)} items"
        self.statusBar().showMessage(f"Adding {what}…", 3000)

    def on_drop_finished(self, drop: DropFinished) -> None:
        """Say why a drop added nothing (or what else it met): without this line, an empty
        folder or one already uploaded looks like a drop that was never seen."""
        text = drop_notice(drop)
        if text is not None:
            self.statusBar().showMessage(text, DROP_NOTICE_MS)

    def on_add_files(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Add files to upload")
        self.add_paths([Path(f) for f in files])

    def on_add_folder(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder to upload")
        if folder:
            self.add_paths([Path(folder)])

    def on_paste(self) -> None:
        found = pasted_paths(QGuiApplication.clipboard().mimeData())
        if found:
            self.add_paths(found)
        else:
            self.statusBar().showMessage("The clipboard holds no files to add.", 3000)

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        self.drop_zone.dragEnterEvent(event)

    def dragMoveEvent(self, event: Any) -> None:
        self.drop_zone.dragMoveEvent(event)

    def dragLeaveEvent(self, event: Any) -> None:
        self.drop_zone.dragLeaveEvent(event)

    def dropEvent(self, event: QDropEvent) -> None:
        self.drop_zone.dropEvent(event)

    # ------------------------------------------------------------------ toolbar and rows
    def on_start_all(self) -> None:
        if self.engine is not None:
            self.engine.resume_all()

    def on_pause_all(self) -> None:
        if self.engine is not None:
            self.engine.pause_all()

    def on_retry_failed(self) -> None:
        if self.engine is not None:
            self.engine.retry_failed()

    def on_clear_finished(self) -> None:
        if self.engine is not None:
            self.engine.clear_finished()

    def set_filter(self, which: QueueFilter) -> None:
        self.proxy.set_queue_filter(which)
        self.filter_buttons[which].setChecked(True)

    def selected_items(self) -> list[ItemSnapshot]:
        rows = self.view.selectionModel().selectedRows()
        return [index.data(ItemRole) for index in rows]

    def current_item(self) -> ItemSnapshot | None:
        index = self.view.currentIndex()
        return index.data(ItemRole) if index.isValid() else None

    def select_item(self, item_id: int) -> bool:
        """Make the row of ``item_id`` current and selected (keyboard tests, hand-over)."""
        row = self.model.row_of(item_id)
        if row is None:
            return False
        index = self.proxy.mapFromSource(self.model.index(row, 0))
        if not index.isValid():
            return False
        self.view.selectionModel().setCurrentIndex(
            index, QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows)
        return True

    def on_remove_selected(self) -> None:
        ids = [item.id for item in self.selected_items()]
        if ids and self.engine is not None and self._removal_confirmed(ids):
            self.engine.remove(ids)

    def _removal_confirmed(self, ids: Sequence[int]) -> bool:
        """Several rows at once (Ctrl+A, Delete) with uploads among them: ask first, since
        what those sent is thrown away. One row's own ✕ is a clear enough choice."""
        if len(ids) < 2:
            return True
        rows = (self.model.row_of(i) for i in ids)
        items = [self.model.item(row) for row in rows if row is not None]
        sending = sum(1 for i in items if i.state in WORKING_STATES
                      or (i.state is not ItemState.DONE and i.bytes_sent > 0))
        return sending == 0 or self.ask_remove(len(items), sending)

    def _ask_remove(self, count: int, sending: int) -> bool:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Remove files from the queue")
        box.setText(f"Remove {count} files from the queue?")
        box.setInformativeText(
            f"{sending} of them {'is' if sending == 1 else 'are'} not finished: "
            f"{'its' if sending == 1 else 'their'} upload stops and what was sent is thrown "
            "away. Files already on the server stay there, and nothing is deleted from this "
            "computer.")
        remove = box.addButton("Remove", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is remove

    def on_toggle_selected(self) -> None:
        items = self.selected_items()
        if self.engine is None or not items:
            return
        # What each row's own buttons offer, no more: a failed row waiting for another
        # server has no Retry (it would leave "Not sent" and still wait for its server).
        offered = [(i.id, self.model.actions(i)) for i in items]
        pause = [n for n, acts in offered if RowAction.PAUSE in acts]
        resume = [n for n, acts in offered if RowAction.RESUME in acts]
        retry = [n for n, acts in offered if RowAction.RETRY in acts]
        if pause:
            self.engine.pause(pause)
        if resume:
            self.engine.resume(resume)
        if retry:
            self.engine.retry(retry)

    def on_details_current(self) -> None:
        item = self.current_item()
        if item is not None:
            self.show_details(item)

    def _on_double_clicked(self, index: QModelIndex) -> None:
        if index.column() not in (Column.CATEGORY, Column.ACTIONS):
            self.show_details(index.data(ItemRole))

    def show_details(self, item: ItemSnapshot) -> DetailsDialog:
        """Open the row's report, or bring its open one forward; it follows the row."""
        dialog = self._details.get(item.id)
        away = self.model.awaited_server(item)
        works = self.model.link_works(item)
        if dialog is None:
            dialog = DetailsDialog(item, self, away, link_works=works)
            dialog.setObjectName("detailsDialog")
            dialog.finished.connect(lambda _=0, i=item.id: self._details.pop(i, None))
            self._details[item.id] = dialog
        else:
            dialog.set_item(item, away, link_works=works)
        dialog.show()
        dialog.raise_()
        return dialog

    def _update_details(self, items: list[ItemSnapshot]) -> None:
        if not self._details:  # the usual case: no loop over a big batch
            return
        for item in items:
            dialog = self._details.get(item.id)
            if dialog is not None:
                dialog.set_item(item, self.model.awaited_server(item),
                                link_works=self.model.link_works(item))

    def _on_items_removed(self, ids: list[int]) -> None:
        """An open report of a removed row says so (else it reads as a file still queued,
        with Retry advice that no button answers) and follows nothing any more."""
        if not self._details:
            return
        for item_id in ids:
            dialog = self._details.pop(item_id, None)
            if dialog is not None:
                dialog.mark_removed()

    def on_row_action(self, item_id: int, action: str) -> None:
        row = self.model.row_of(item_id)
        if row is None:
            return
        item = self.model.item(row)
        act = RowAction(action)
        if act is RowAction.WHY:
            self.show_details(item)
        elif act is RowAction.COPY_LINK and item.file_url:
            QGuiApplication.clipboard().setText(item.file_url)
            self.statusBar().showMessage("Link copied.", 3000)
        elif act is RowAction.OPEN and item.file_url:
            QDesktopServices.openUrl(QUrl(item.file_url))
        elif self.engine is not None:
            command = {
                RowAction.PAUSE: self.engine.pause,
                RowAction.RESUME: self.engine.resume,
                RowAction.RETRY: self.engine.retry,
                RowAction.REMOVE: self.engine.remove,
            }.get(act)
            if command is not None:
                command([item_id])

    def on_rows_action(self, ids: Sequence[int], action: str) -> None:
        """One command for several rows (the context menu of a selection)."""
        if len(ids) == 1:
            self.on_row_action(ids[0], action)
            return
        if self.engine is None:
            return
        if RowAction(action) is RowAction.REMOVE and not self._removal_confirmed(ids):
            return
        command = {
            RowAction.PAUSE: self.engine.pause,
            RowAction.RESUME: self.engine.resume,
            RowAction.RETRY: self.engine.retry,
            RowAction.REMOVE: self.engine.remove,
        }.get(RowAction(action))
        if command is not None:
            command(list(ids))

    def _show_details_of(self, item_id: int) -> None:
        row = self.model.row_of(item_id)
        if row is not None:  # the row as it is now, not as it was when the menu opened
            self.show_details(self.model.item(row))

    def _on_context_menu(self, pos: Any) -> None:
        index = self.view.indexAt(pos)
        if not index.isValid():
            return
        item: ItemSnapshot = index.data(ItemRole)
        menu = QMenu(self)
        menu.setObjectName("rowMenu")
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)  # one per right-click
        selected = self.selected_items()
        for entry in menu_entries(item, selected, self.model.actions):
            action = menu.addAction(entry.text)
            action.triggered.connect(
                lambda _=False, e=entry: self.on_rows_action(e.ids, e.action))
        categories = category_entries(item, selected, self.model.category_editable)
        if categories:
            submenu = menu.addMenu("Category")
            submenu.setObjectName("categoryMenu")
            group = QActionGroup(submenu)  # one category per row: radio marks
            for choice in categories:
                action = submenu.addAction(choice.text)
                action.setCheckable(True)
                action.setActionGroup(group)
                action.setChecked(choice.current)
                action.setEnabled(bool(choice.ids))
                action.triggered.connect(
                    lambda _=False, c=choice: self._set_categories(c.ids, c.category))
        menu.addSeparator()
        details = menu.addAction("Details…")
        details.triggered.connect(lambda _=False, i=item.id: self._show_details_of(i))
        menu.popup(self.view.viewport().mapToGlobal(pos))

    def _set_categories(self, ids: Sequence[int], category: str) -> None:
        for item_id in ids:  # each as if picked in its cell: rows that started meanwhile stay
            self.model.set_category(item_id, category)

    def _on_category_changed(self, item_id: int, category: str) -> None:
        if self.engine is not None:
            self.engine.set_category(item_id, category)

    # ------------------------------------------------------------------ bridge slots
    def on_batch_progress(self, progress: BatchProgress) -> None:
        self._progress = progress
        share = progress.bytes_done / progress.bytes_total if progress.bytes_total else 0.0
        value = round(share * 1000)
        if progress.bytes_done < progress.bytes_total:
            # Not "100%" while bytes are still to go (a small file waiting to retry
            # behind megabytes sent): a teacher would take it as done and leave.
            value = min(value, 999)
        if progress.files_total and progress.files_done == progress.files_total:
            value = 1000
        self.total_progress.setValue(value)
        # No time left while nothing is worked on (all paused, or waiting for the network).
        eta = progress.eta if self.model.working() else None
        self.batch_label.setText(fmt.batch_text(progress.files_done, progress.files_total,
                                                progress.bytes_done, progress.bytes_total,
                                                eta, progress.files_failed))

    def on_server_status(self, status: ServerStatus) -> None:
        problem = ""
        if status.needs_sign_in:
            problem = status.message or "Sign in to the server (Settings) to carry on."
        elif not status.reachable:
            problem = status.message or "The server cannot be reached."
        self._show_server_problem(problem)

    def on_queue_status(self, status: QueueStatus) -> None:
        self._problems["queue"] = "" if status.saved else status.message
        self._show_problems()

    def _show_server_problem(self, problem: str) -> None:
        self._problems["server"] = problem
        self._show_problems()

    def _show_problems(self) -> None:
        shown = [text for text in self._problems.values() if text]
        self.server_problem_label.setText("  ·  ".join(shown))
        self.server_problem_label.setToolTip("\n".join(shown))
        self.server_problem.setVisible(bool(shown))

    def _update_filter_counts(self) -> None:
        for which, button in self.filter_buttons.items():
            count = self.model.count_shown(FILTER_STATES[which])
            button.setText(f"{FILTER_LABELS[which]} ({count})")
            # The name is fixed ("Show done files"); a screen reader hears the count here.
            button.setAccessibleDescription(f"{count} {'file' if count == 1 else 'files'}")

    def _update_buttons(self) -> None:
        has_failed = self.model.failed_to_retry() > 0
        finished = self.model.count((ItemState.DONE, ItemState.REJECTED, ItemState.CANCELLED))
        paused = self.model.count((ItemState.PAUSED,))
        self.retry_failed_action.setEnabled(has_failed)
        self.clear_action.setEnabled(finished > 0)
        self.pause_all_action.setEnabled(self.unfinished_uploads > 0)
        self.start_all_action.setEnabled(paused > 0)
        selected = len(self.view.selectionModel().selectedRows())
        self.selection_label.setText(f"{selected} selected" if selected > 1 else "")

    @property
    def unfinished_uploads(self) -> int:
        """Rows the engine still works on by itself, counting failed ones whose automatic
        retry is scheduled: closing the window would stop those retries too."""
        return self.model.working() + self.model.waiting_to_retry()

    @property
    def uploads_running(self) -> bool:
        return self.unfinished_uploads > 0

    def changeEvent(self, event: QEvent) -> None:
        # The system switched between light and dark: recolour the state colours, the
        # icons and the drop zone's border.
        if event.type() in (QEvent.Type.PaletteChange, QEvent.Type.ApplicationPaletteChange):
            icons.forget_theme()
            paint_cache.forget()
            self.model.refresh_palette()
            self.drop_zone.refresh_palette()
        super().changeEvent(event)

    # ------------------------------------------------------------------ closing
    def _ask_on_close(self) -> CloseChoice:
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Question)
        count = self.unfinished_uploads
        tray = self.tray_available and self.keep_running_in_tray
        if self._problems["queue"]:  # what the rows say now would not survive a restart
            box.setWindowTitle("The upload queue cannot be saved")
            box.setText("The upload queue cannot be saved right now (is the disk full?).")
            info = ("If you quit, the latest changes are lost: rows may show again as they "
                    "were before (files already on the server are found there when sent "
                    "again).")
        else:
            box.setWindowTitle("Uploads are still running")
            box.setText(f"{count} {'file is' if count == 1 else 'files are'} still being "
                        "uploaded.")
            info = ("If you quit, unfinished uploads carry on the next time you open the "
                    "app.")
        keep = None
        if tray:
            ask = ("Keep uploading in the background? The app stays in the system tray."
                   if count else "Keep the app running? It stays in the system tray.")
            info = f"{ask} {info}"
            keep = box.addButton("Keep running" if not count else "Keep uploading",
                                 QMessageBox.ButtonRole.AcceptRole)
        box.setInformativeText(info)
        quit_ = box.addButton("Quit", QMessageBox.ButtonRole.DestructiveRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(keep or quit_)
        box.exec()
        clicked = box.clickedButton()
        if keep is not None and clicked is keep:
            return CloseChoice.TRAY
        return CloseChoice.QUIT if clicked is quit_ else CloseChoice.CANCEL

    def request_quit(self) -> None:
        self._quitting = True
        self.save_window_state()
        self.quit_requested.emit()

    def closeEvent(self, event: QCloseEvent) -> None:
        if self._quitting:
            event.accept()
            return
        asking = self.uploads_running or bool(self._problems["queue"])
        choice = self.ask_on_close() if asking else CloseChoice.QUIT
        if choice is CloseChoice.CANCEL:
            event.ignore()
            return
        self.save_window_state()
        if choice is CloseChoice.TRAY:
            event.ignore()
            self.hide()
            self.hidden_to_tray.emit()
            return
        event.accept()
        self._quitting = True
        self.quit_requested.emit()
