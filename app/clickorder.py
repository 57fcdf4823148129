"""The click order: which joints a click places, one after the other, and in what order. The
user sets it per project (Label → Click order…); it is kept in the project file (a note in its
`meta` table), and the Joints table lists the joints in this order."""
from __future__ import annotations

import json

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (QAbstractItemView, QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QListWidget,
                               QListWidgetItem, QPushButton, QVBoxLayout)

from posewarper_core.errors import PoseWarperError

NOTE_KEY = "click_order"  # the joints' names, in click order, as a JSON list


def default_order(skeleton) -> list[int]:
    """Every joint in skeleton order, but PoseTrack's ears (placeholders the format never labels)."""
    if skeleton.name == "posetrack17":
        return [j for j, name in enumerate(skeleton.joints) if not name.endswith("_ear")]
    return list(range(skeleton.num_joints))


def load(store) -> list[int]:
    """The project's click order (its default when none was set, or the note names no joint of
    the skeleton: a hand-edited file)."""
    names = store.project.skeleton.joints
    try:
        saved = json.loads(store.notes.get(NOTE_KEY, "null"))
    except ValueError:
        saved = None
    if isinstance(saved, list):
        order = [names.index(n) for n in dict.fromkeys(saved) if isinstance(n, str) and n in names]
        if order:
            return order
    return default_order(store.project.skeleton)


def save(store, order: list[int]) -> None:
    if not order:
        raise PoseWarperError("the click order needs at least one joint")
    names = store.project.skeleton.joints
    store.set_note(NOTE_KEY, json.dumps([names[j] for j in order]))


class ClickOrderDialog(QDialog):
    """A list of every joint: ticked ones are clicked, top to bottom; drag a row (or use Up /
    Down) to change the order."""

    def __init__(self, skeleton, order: list[int], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Click order")
        self.list = QListWidget()
        self.list.setDragDropMode(QAbstractItemView.InternalMove)
        for j in list(order) + [j for j in range(skeleton.num_joints) if j not in order]:
            item = QListWidgetItem(skeleton.joints[j])
            item.setData(Qt.UserRole, j)
            item.setFlags(item.flags() | Qt.ItemIsUserCheckable)
            item.setCheckState(Qt.Checked if j in order else Qt.Unchecked)
            self.list.addItem(item)
        self.list.setCurrentRow(0)
        self.up, self.down = QPushButton("Up"), QPushButton("Down")
        self.up.clicked.connect(lambda: self._move(-1))
        self.down.clicked.connect(lambda: self._move(1))
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.accepted.connect(self._accept)
        self.buttons.rejected.connect(self.reject)
        side = QVBoxLayout()
        side.addWidget(self.up)
        side.addWidget(self.down)
        side.addStretch(1)
        row = QHBoxLayout()
        row.addWidget(self.list, 1)
        row.addLayout(side)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Ticked joints are placed by clicks, top to bottom\n"
                                "(drag a row, or Up / Down, to reorder). Kept in the project."))
        layout.addLayout(row)
        self.message = QLabel("")
        layout.addWidget(self.message)
        layout.addWidget(self.buttons)

    def _move(self, sign: int) -> None:
        row = self.list.currentRow()
        if 0 <= row + sign < self.list.count():
            item = self.list.takeItem(row)
            self.list.insertItem(row + sign, item)
            self.list.setCurrentRow(row + sign)

    def order(self) -> list[int]:
        items = [self.list.item(i) for i in range(self.list.count())]
        return [item.data(Qt.UserRole) for item in items if item.checkState() == Qt.Checked]

    def _accept(self) -> None:
        if not self.order():
            self.message.setText("Tick at least one joint.")
            return
        self.accept()
