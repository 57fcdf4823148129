"""Every keyboard shortcut in one table: defaults here, user overrides in QSettings, all shown
(and editable) in the Keyboard Shortcuts dialog."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QSettings, Qt, QTimer
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import (QAbstractSpinBox, QApplication, QComboBox, QDialog, QDialogButtonBox, QHeaderView,
                               QKeySequenceEdit, QLabel, QLineEdit, QPlainTextEdit, QTableWidget, QTableWidgetItem, QTextEdit,
                               QVBoxLayout, QWidget)

# (action id, menu text, default shortcut, group)
DEFAULTS: list[tuple[str, str, str, str]] = [
    ("open", "&Open video, images or project…", "Ctrl+O", "File"),  # a new project starts here (a trial looked for "New")
    ("open_folder", "Open image &folder…", "Ctrl+Shift+O", "File"),  # the file dialog hides folders of frames
    ("save", "&Save (every edit is saved as you make it)", "Ctrl+S", "File"),
    ("quit", "&Quit", "Ctrl+Q", "File"),
    ("undo", "&Undo", "Ctrl+Z", "Edit"),
    ("redo", "&Redo", "Ctrl+Shift+Z", "Edit"),
    ("prev_frame", "Previous frame", "Left", "Navigate"),
    ("next_frame", "Next frame", "Right", "Navigate"),
    ("back_k", "Back k frames", "Shift+Left", "Navigate"),
    ("forward_k", "Forward k frames", "Shift+Right", "Navigate"),
    ("prev_keyframe", "Previous keyframe", "Ctrl+Left", "Navigate"),
    ("next_keyframe", "Next keyframe", "Ctrl+Right", "Navigate"),
    ("next_unlabelled", "Next keyframe slot to label, or keyframe lacking joints", "Ctrl+Shift+Right", "Navigate"),
    ("next_review", "Next pose to review (highest predicted error)", "R", "Navigate"),
    ("next_suggestion", "Suggested next keyframe (where the fill expects the most error)", "N", "Navigate"),
    ("next_suspect", "Next suspect label (a jump or a left/right swap)", "J", "Navigate"),
    ("prev_video", "Previous video of the project", "Ctrl+PgUp", "Navigate"),
    ("next_video", "Next video of the project", "Ctrl+PgDown", "Navigate"),
    ("first_frame", "First frame", "Home", "Navigate"),
    ("last_frame", "Last frame", "End", "Navigate"),
    ("play", "Play / pause", "Space", "Navigate"),
    ("goto", "Go to frame…", "Ctrl+G", "Navigate"),
    ("fit", "Fit frame in window", "F", "View"),
    ("zoom_in", "Zoom in", "=", "View"),
    ("zoom_out", "Zoom out", "-", "View"),
    ("fit_person", "Fit the selected person in the window", "P", "View"),
    ("follow_person", "Follow the selected person from frame to frame", "Shift+F", "View"),
    ("bigger_markers", "Bigger joint markers", "]", "View"),
    ("smaller_markers", "Smaller joint markers", "[", "View"),
    ("joint_names", "Joint names on the image", "L", "View"),
    ("onion_skin", "Onion skin: the neighbouring keyframes' poses, faint", "Shift+O", "View"),
    ("skip_joint", "Skip to the next joint", "S", "Label"),
    ("prev_joint", "Back to the previous joint", "W", "Label"),
    ("occluded", "Toggle occluded (hovered or current joint)", "O", "Label"),
    ("unlabel", "Mark not labelled (hovered or current joint)", "U", "Label"),
    ("next_person", "Select next person", "Tab", "Label"),
    ("add_person", "Add person", "Ctrl+N", "Label"),
    ("delete_pose", "Delete person's pose in this frame", "Delete", "Label"),
    ("mark_absent", "Mark person not in view here", "X", "Label"),
    ("delete_track", "Delete person (all frames)…", "Ctrl+Delete", "Label"),
    ("delete_range", "Delete poses in a frame range…", "Ctrl+Shift+Delete", "Label"),  # a trial pressed Del 144 times
    ("copy_prev", "Copy pose from previous keyframe", "C", "Label"),
    ("accept", "Accept the selected person's suggested joints here, or else their filled pose as reviewed "
     "(then the next to review)", "A", "Label"),
    ("promote", "Promote the selected person's pose to keyframe", "K", "Label"),
    ("promote_frame", "Promote every pose of the frame to keyframes", "Shift+K", "Label"),
    ("change_track", "Change person id / swap…", "Ctrl+I", "Label"),
    ("suggest_pose", "Suggest the selected person's pose here", "E", "Label"),
    ("suggest_frame", "Suggest everyone's pose here (or find the people)", "Shift+E", "Label"),
    ("accept_frame", "Accept every suggested joint of the frame", "Shift+A", "Label"),
    ("template_keyframe", "Drop the previous keyframe's pose at the next click", "T", "Label"),
    ("template_average", "Drop an average pose at the next click", "Shift+T", "Label"),
    ("suggest_on_new_keyframe", "Suggest the rest when a new keyframe is started", "", "Label"),
    ("fill_gap", "Auto-fill current gap", "G", "Auto-fill"),
    ("fill_track", "Auto-fill current person", "Shift+G", "Auto-fill"),
    ("fill_video", "Auto-fill whole video", "Ctrl+Shift+G", "Auto-fill"),
    ("fill_range", "Auto-fill a frame range…", "Ctrl+Shift+F", "Auto-fill"),
    ("cancel_fill", "Cancel auto-fill", "Escape", "Auto-fill"),
    ("shortcuts", "Keyboard shortcuts…", "F1", "Help"),
]

_SETTINGS_GROUP = "shortcuts"


def load() -> dict[str, str]:
    """Action id -> key sequence text, with the user's overrides applied."""
    settings = QSettings()
    keys = {}
    for action_id, _, default, _ in DEFAULTS:
        keys[action_id] = str(settings.value(f"{_SETTINGS_GROUP}/{action_id}", default))
    return keys


def save(keys: dict[str, str]) -> None:
    settings = QSettings()
    defaults = {a: d for a, _, d, _ in DEFAULTS}
    for action_id, seq in keys.items():
        if seq == defaults.get(action_id):
            settings.remove(f"{_SETTINGS_GROUP}/{action_id}")
        else:
            settings.setValue(f"{_SETTINGS_GROUP}/{action_id}", seq)


def types_text(widget: QWidget, text: str) -> bool:
    """Whether `widget` with the focus takes `text` as typing: a text field does; a number box
    takes digits and signs (its letters are shortcuts)."""
    if isinstance(widget, (QLineEdit, QTextEdit, QPlainTextEdit, QKeySequenceEdit)):
        return True
    if isinstance(widget, QComboBox):
        return widget.isEditable()
    if isinstance(widget, QAbstractSpinBox):
        return text.isdigit() or text in "+-.,"
    return False


class PlainKeysFirst(QObject):
    """A key without Ctrl/Alt/Meta (a letter, Space, =, -) runs its shortcut whichever widget of
    the window (or of its floating panels) has the focus: a table, a combo box, a number box, the
    timeline; so do Undo and Redo in a number box. Qt lets the focus widget claim such keys first
    (ShortcutOverride), so without this a shortcut worked or not depending on where the user last
    clicked. A text field keeps them: there they are typing.

    The event filter sits on the window's focus widget only, moved as the focus moves
    (QApplication.focusChanged): a filter on the application would see its every event."""

    def __init__(self, window: QWidget):
        super().__init__(window)
        self.window = window
        self._watched: QWidget | None = None
        window.installEventFilter(self)  # where the keys go while no widget has the focus
        QApplication.instance().focusChanged.connect(self._follow_focus)
        self._follow_focus(None, QApplication.focusWidget())

    def _inside(self, widget: QWidget) -> bool:
        while widget is not None:
            if widget is self.window:
                return True
            widget = widget.parentWidget()
        return False

    def _follow_focus(self, old, new) -> None:
        if self._watched is not None and self._watched is not self.window:
            try:
                self._watched.removeEventFilter(self)
            except RuntimeError:  # the widget is gone, and its filters with it
                pass
        self._watched = new if isinstance(new, QWidget) and self._inside(new) else None
        if self._watched is not None and self._watched is not self.window:
            self._watched.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() != QEvent.ShortcutOverride or not isinstance(obj, QWidget):
            return False
        if isinstance(obj, QAbstractSpinBox) and self._inside(obj) and (
                event.matches(QKeySequence.Undo) or event.matches(QKeySequence.Redo)):
            # a number box would undo its digits; the annotator means the project's last edit (a
            # trial pressed Ctrl+Z with the focus left in the frame box: nothing happened)
            return True
        if event.modifiers() & (Qt.ControlModifier | Qt.AltModifier | Qt.MetaModifier):
            return False
        text = event.text()
        if not text or not text.isprintable() or types_text(obj, text) or not self._inside(obj):
            return False
        return True  # the widget does not claim the key: its shortcut runs (a key with none reaches the widget)


class ShortcutsDialog(QDialog):
    """Lists every shortcut; double-click a key to change it. Conflicts are refused."""

    def __init__(self, keys: dict[str, str], parent=None):
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        self.resize(680, 640)
        self.keys = dict(keys)
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel(
            "Mouse: click places the next joint · right-click places it occluded, or toggles a joint's "
            "occlusion · drag moves a joint · Alt/Shift+drag moves the whole pose · Ctrl+Shift+drag "
            "rotates and scales it about its centre · wheel zooms · middle or Ctrl+drag pans. Suggested joints (hollow, dashed) are not labels until accepted (A) or dragged.\nDouble-click a shortcut to change it."))
        layout.itemAt(0).widget().setWordWrap(True)
        self.table = QTableWidget(len(DEFAULTS), 3, self)
        self.table.setHorizontalHeaderLabels(["Group", "Action", "Shortcut"])
        self.table.verticalHeader().hide()
        self.table.setWordWrap(True)  # long descriptions wrap; rows grow to fit them (_fit_rows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.Stretch)
        header.setSectionResizeMode(2, QHeaderView.Fixed)
        for row, (action_id, text, _, group) in enumerate(DEFAULTS):
            for col, value in enumerate((group, text.replace("&", "").rstrip("…"))):
                item = QTableWidgetItem(value)
                item.setFlags(item.flags() & ~Qt.ItemIsEditable)
                self.table.setItem(row, col, item)
            editor = QKeySequenceEdit(QKeySequence(self.keys[action_id]), self.table)
            editor.setMaximumSequenceLength(1)
            editor.editingFinished.connect(lambda a=action_id, e=editor: self._changed(a, e))
            self.table.setCellWidget(row, 2, editor)
        # The key column fits the longest key ("Ctrl+Shift+Right" was cut): its text, the edit
        # box's frame and margins, and the clear button a key sequence edit shows.
        fm = self.table.fontMetrics()
        longest = max(fm.horizontalAdvance(QKeySequence(k).toString(QKeySequence.NativeText))
                      for k in [*self.keys.values(), *(d[2] for d in DEFAULTS)])
        self.table.setColumnWidth(2, longest + 40)
        layout.addWidget(self.table)
        self.message = QLabel("")
        layout.addWidget(self.message)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel | QDialogButtonBox.RestoreDefaults)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.button(QDialogButtonBox.RestoreDefaults).clicked.connect(self._restore)
        layout.addWidget(buttons)

    def _fit_rows(self) -> None:
        self.table.resizeRowsToContents()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._fit_rows()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        # The stretched column's new width is set when the table's own resize comes, after this.
        QTimer.singleShot(0, self._fit_rows)

    def _changed(self, action_id: str, editor: QKeySequenceEdit) -> None:
        seq = editor.keySequence().toString()
        clash = [a for a, s in self.keys.items() if s == seq and a != action_id and seq]
        if clash:
            self.message.setText(f"{seq} is already used by “{clash[0]}”: not changed.")
            editor.setKeySequence(QKeySequence(self.keys[action_id]))
            return
        self.message.setText("")
        self.keys[action_id] = seq

    def _restore(self) -> None:
        for row, (action_id, _, default, _) in enumerate(DEFAULTS):
            self.keys[action_id] = default
            self.table.cellWidget(row, 2).setKeySequence(QKeySequence(default))
