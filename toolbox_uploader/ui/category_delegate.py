"""The category cell's editor: a combo box, created only while a row is being edited."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QComboBox, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from toolbox_uploader.core.categories import CATEGORIES
from toolbox_uploader.ui.cell_delegate import CellDelegate

ModelIndex = QModelIndex | QPersistentModelIndex


class CategoryDelegate(CellDelegate):
    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: ModelIndex) -> QWidget:
        combo = QComboBox(parent)
        combo.setAccessibleName("Category")
        for name, category in CATEGORIES.items():
            combo.addItem(category.label, name)
        # Commit as soon as the teacher picks an entry, not only when focus leaves.
        combo.activated.connect(lambda _=0, c=combo: self._commit(c))
        return combo

    def _commit(self, combo: QComboBox) -> None:
        self.commitData.emit(combo)
        self.closeEditor.emit(combo, QStyledItemDelegate.EndEditHint.NoHint)

    def setEditorData(self, editor: QWidget, index: ModelIndex) -> None:
        assert isinstance(editor, QComboBox)
        row = editor.findData(index.data(Qt.ItemDataRole.EditRole))
        editor.setCurrentIndex(max(row, 0))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: ModelIndex) -> None:
        assert isinstance(editor, QComboBox)
        model.setData(index, editor.currentData(), Qt.ItemDataRole.EditRole)
