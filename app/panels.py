"""Side panels: the people (tracks) of the video, and the joints of the selected pose; and the
box that picks one of the project's videos.

The two tables use compact rows, and the people list is only as tall as its rows (up to
MAX_PEOPLE_ROWS), so the joints table gets the rest of the side bar and shows every joint when the
screen is tall enough (all 17 at 1366x768 and up)."""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QFontMetrics, QIcon, QPixmap
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QHBoxLayout, QHeaderView, QPushButton, QSizePolicy,
                               QStyle, QStyleOptionComboBox, QStylePainter, QTableWidget, QTableWidgetItem,
                               QVBoxLayout, QWidget)

from posewarper_core.annotation import Pose, Provenance, Video, Visibility
from posewarper_core.formats.report import count_of

from .style import PROVENANCE_NAMES, VISIBILITY_NAMES, track_colour


def _swatch(colour: QColor) -> QIcon:
    pm = QPixmap(14, 14)
    pm.fill(colour)
    return QIcon(pm)


MIN_PEOPLE_ROWS, MAX_PEOPLE_ROWS = 2, 8  # the people list scrolls beyond this many


def _compact(table: QTableWidget) -> None:
    """Rows just taller than the text: more rows fit, as in other annotation tools' lists."""
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 8)
    table.verticalHeader().setSectionResizeMode(QHeaderView.Fixed)
    table.verticalHeader().hide()


def _rows_height(table: QTableWidget, rows: int) -> int:
    """The height of `table` showing its header and `rows` rows, without a scroll bar."""
    return (table.horizontalHeader().sizeHint().height() + rows * table.verticalHeader().defaultSectionSize()
            + 2 * table.frameWidth())


def _readonly(text: str) -> QTableWidgetItem:
    item = QTableWidgetItem(text)
    item.setFlags(item.flags() & ~Qt.ItemIsEditable)
    return item


class TracksPanel(QWidget):
    """One row per person: colour, id, name (editable), whether they have a pose here."""

    trackSelected = Signal(object)  # a track id, or None when the user clears the selection
    renameRequested = Signal(int, str)
    addRequested = Signal()
    deleteRequested = Signal()

    def __init__(self, parent=None):
        super().__init__(parent)
        self.table = QTableWidget(0, 3, self)
        self.table.setHorizontalHeaderLabels(["Id", "Name", "Here"])
        _compact(self.table)
        self.table.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SingleSelection)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.Stretch)
        self.table.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeToContents)
        self.table.setFocusPolicy(Qt.ClickFocus)
        self.table.itemSelectionChanged.connect(self._selection_changed)
        self.table.itemChanged.connect(self._item_changed)
        add = QPushButton("Add person")
        delete = QPushButton("Delete…")
        add.clicked.connect(self.addRequested)
        delete.clicked.connect(self.deleteRequested)
        buttons = QHBoxLayout()
        buttons.addWidget(add)
        buttons.addWidget(delete)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addLayout(buttons)
        # As tall as the rows need and no taller: the joints table below gets the space.
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        self._ids: list[int] = []
        self._filling = False
        self._fit_rows(0)

    def _fit_rows(self, n: int) -> None:
        self.table.setFixedHeight(_rows_height(self.table, min(max(n, MIN_PEOPLE_ROWS), MAX_PEOPLE_ROWS)))
        margins = self.layout().contentsMargins()
        buttons = self.layout().itemAt(1).sizeHint().height()
        self.setMaximumHeight(self.table.height() + self.layout().spacing() + buttons
                              + margins.top() + margins.bottom())

    def set_tracks(self, tracks: dict, present: set[int], selected: int | None) -> None:
        self._filling = True
        if len(tracks) != self.table.rowCount():
            self._fit_rows(len(tracks))
        self.table.setRowCount(len(tracks))
        self._ids = sorted(tracks)
        for row, tid in enumerate(self._ids):
            iditem = _readonly(str(tid))
            iditem.setIcon(_swatch(track_colour(tid)))
            self.table.setItem(row, 0, iditem)
            self.table.setItem(row, 1, QTableWidgetItem(tracks[tid].name or f"person {tid}"))
            self.table.setItem(row, 2, _readonly("●" if tid in present else ""))
            if tid == selected:
                self.table.selectRow(row)
        if selected not in tracks:
            self.table.clearSelection()
        self._filling = False

    def _selection_changed(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if not self._filling:  # none selected (Ctrl+click): nobody is, so no key acts on a person unseen
            self.trackSelected.emit(self._ids[rows[0].row()] if rows else None)

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if not self._filling and item.column() == 1:
            self.renameRequested.emit(self._ids[item.row()], item.text().strip())


SUGGESTED_TEXT = QColor("#a05f00")  # a suggested joint's row: amber italic, set apart from labels
SUGGESTED_TIP = ("Suggested by the pose model: not a label (no confidence) until you accept it (A) or drag "
                 "the joint.")


class JointsPanel(QTableWidget):
    """The selected person's joints here: visibility, provenance, confidence; the next joint
    to place is shown in bold. Rows follow the click order (numbered), the joints not in it
    last (grey, unnumbered)."""

    jointActivated = Signal(int)

    def __init__(self, skeleton, parent=None):
        super().__init__(len(skeleton.joints), 4, parent)
        self.skeleton = skeleton
        self.setHorizontalHeaderLabels(["Joint", "Visibility", "Source", "Conf."])
        _compact(self)
        self.horizontalHeader().setSectionResizeMode(0, QHeaderView.Stretch)
        # Fixed widths that fit the longest value: columns do not jump from frame to frame.
        bold = QFont(self.font())
        bold.setBold(True)  # the next joint's row is bold
        fm = QFontMetrics(bold)
        for c, texts in ((1, VISIBILITY_NAMES + ("Visibility",)), (2, PROVENANCE_NAMES + ("Source",)),
                         (3, ("0.00", "Conf."))):
            self.horizontalHeader().setSectionResizeMode(c, QHeaderView.Fixed)
            self.setColumnWidth(c, max(fm.horizontalAdvance(t) for t in texts) + 12)
        # Wide enough for every joint's name, so the side bar is never narrower than that.
        names = max(fm.horizontalAdvance(f"▶ {len(skeleton.joints)}. " + name) for name in skeleton.joints) + 12
        self.setMinimumWidth(names + sum(self.columnWidth(c) for c in (1, 2, 3)) + 2 * self.frameWidth())
        # The one side panel that grows: the people list and the auto-fill panel are only as tall
        # as their content, so the side bar's spare height (and what they give back) comes here.
        self.setSizePolicy(QSizePolicy.Expanding, QSizePolicy.Expanding)
        self.setEditTriggers(QAbstractItemView.NoEditTriggers)
        self.setSelectionBehavior(QAbstractItemView.SelectRows)
        self.setSelectionMode(QAbstractItemView.SingleSelection)
        self.setFocusPolicy(Qt.ClickFocus)
        self.cellClicked.connect(lambda row, _col: self.jointActivated.emit(self.rows[row]))
        self.order = list(range(len(skeleton.joints)))
        self.rows = list(self.order)  # the joint of each row
        self._shown: tuple = (None, None)
        self.show_pose(None, None)

    def set_order(self, order: list[int]) -> None:
        """List the joints in click order (`order`), the others after them."""
        self.order = list(order)
        self.rows = self.order + [j for j in range(len(self.skeleton.joints)) if j not in self.order]
        self.show_pose(*self._shown)

    def row_of(self, joint: int) -> int:
        return self.rows.index(joint)

    def sizeHint(self):
        """Every joint without scrolling, when there is room."""
        hint = super().sizeHint()
        hint.setHeight(_rows_height(self, self.rowCount()))
        return hint

    def show_pose(self, pose: Pose | None, next_joint: int | None) -> None:
        self._shown = (pose, next_joint)
        bold = QFont()
        bold.setBold(True)
        for row, j in enumerate(self.rows):
            name = self.skeleton.joints[j]
            number = f"{self.order.index(j) + 1}. " if j in self.order else "· "
            vis = int(pose.visibility[j]) if pose is not None else 0
            # A suggestion is no label: its stored confidence (0) would read as "surely wrong".
            suggested = pose is not None and vis and pose.provenance[j] == Provenance.SUGGESTED
            values = (
                ("▶ " if j == next_joint else "") + number + name,
                VISIBILITY_NAMES[vis],
                PROVENANCE_NAMES[int(pose.provenance[j])] if pose is not None and vis else "",
                "—" if suggested else f"{pose.confidence[j]:.2f}" if pose is not None and vis else "",
            )
            for c, text in enumerate(values):
                item = self.item(row, c)
                if item is None:
                    item = QTableWidgetItem()
                    self.setItem(row, c, item)
                item.setText(text)
                font = QFont(bold if j == next_joint else QFont())
                font.setItalic(bool(suggested))
                item.setFont(font)
                item.setToolTip(SUGGESTED_TIP if suggested else
                                "" if j in self.order else "Not in the click order (Label → Click order…)")
                dim = vis == Visibility.NOT_LABELLED or j not in self.order
                colour = SUGGESTED_TEXT if suggested else QColor("#8a8f98") if dim else self.palette().text().color()
                item.setForeground(QBrush(colour))


NAME_ROLE = Qt.UserRole + 1  # a Video box item's short text: what the closed box shows


class VideoBox(QComboBox):
    """Picks one of the project's videos. The open list says how far each video's labelling has
    come (video_item_text); the closed box shows only the video's name, so it stays narrow."""

    def set_videos(self, videos: list[Video], current_id: int | None) -> None:
        self.blockSignals(True)
        self.clear()
        for video in videos:
            self.addItem(video_item_text(video), video.video_id)
            self.setItemData(self.count() - 1, video_label(video), NAME_ROLE)
        self.setCurrentIndex(self.findData(current_id))
        self.blockSignals(False)
        self.setToolTip(self.currentText())
        view = self.view()
        view.setMinimumWidth(view.sizeHintForColumn(0) + view.verticalScrollBar().sizeHint().width() + 8)

    def update_video(self, video: Video) -> None:
        """The line of a video whose poses changed."""
        i = self.findData(video.video_id)
        if i >= 0:
            self.setItemText(i, video_item_text(video))
            if i == self.currentIndex():
                self.setToolTip(self.itemText(i))

    def paintEvent(self, event) -> None:
        painter = QStylePainter(self)
        option = QStyleOptionComboBox()
        self.initStyleOption(option)
        option.currentText = self.currentData(NAME_ROLE) or option.currentText
        painter.drawComplexControl(QStyle.CC_ComboBox, option)
        painter.drawControl(QStyle.CE_ComboBoxLabel, option)


def video_label(video: Video) -> str:
    return f"{video.video_id}: {video.name or Path(video.source).name}"


def video_item_text(video: Video) -> str:
    """A line of the Video box's list: the video and how far its labelling has come."""
    done = video.labelling_progress()
    marks = f", {count_of(done.absent_marks, 'not-in-view mark')}" if done.absent_marks else ""
    return (f"{video_label(video)} ({count_of(done.keyframes, 'keyframe')}{marks}, "
            f"poses on {done.frames_with_poses}/{video.num_frames} frames)")
