"""The Auto-fill dock: method and device, the three scopes, progress and Cancel."""
from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFormLayout, QGridLayout, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QSpinBox, QStackedWidget, QVBoxLayout, QWidget)

from posewarper_core.autofill import DEFAULT_METHOD, method_class


class FillPanel(QWidget):
    fillRequested = Signal(str)  # "gap" | "track" | "video"
    cancelRequested = Signal()
    methodChanged = Signal(str)
    tuneChanged = Signal(bool)
    strideChanged = Signal(int)
    promoteRequested = Signal()
    reviewRequested = Signal()

    def __init__(self, methods: list[str], device: str, parent=None, method: str = DEFAULT_METHOD):
        super().__init__(parent)
        self.method = QComboBox()
        self.method.addItems(methods)
        self.method.setCurrentText(method)  # before the signal is connected: the window reads it on open
        self.method.setToolTip("linear: straight lines between keyframes · flow: follows the pixels (optical "
                               "flow) · posewarper (default): flow from both keyframes, corrected by the shipped "
                               "matcher and by the pose model on each frame; about 3.1-4.4x flow's time on the "
                               "demo, for 1.1-2.0 more points of joints within 0.2 head sizes than flow on the "
                               "JHMDB clip and 7-11 on the Bonn clip; but on the demo with keyframes every 20th "
                               "frame (a jump, a walker's crossing legs), 5.2 more within 0.5 head sizes and 3.9 "
                               "fewer within 0.2 than flow (README) "
                               "· detector: the pose model alone on every frame")
        self.method.currentTextChanged.connect(self.methodChanged)
        # Tuning on the video's keyframes: 20 steps, ~10-25 s before a posewarper fill (kept while
        # the keyframes stay the same); at alpha 0.2 it moved the dev clips' scores by -0.2 to +0.5
        # points and the demo clip's (k = 20) by -0.4 (the bench's posewarper-untuned rows, README).
        self.tune = QCheckBox("Tune first")
        self.tune.setChecked(True)
        self.tune.setToolTip("posewarper: fine-tune the matcher on this video's keyframes before filling "
                             "(~10-25 s on a CPU, once per set of keyframes). Off: fill at once with the "
                             "shipped matcher (on the dev clips, tuning moved the share of joints within 0.2 "
                             "head sizes by -0.2 to +0.5 points and the median error by 0.00 to -0.10 px; on the "
                             "demo clip with keyframes every 20th frame by -0.4 points).")
        self.tune.toggled.connect(self.tuneChanged)
        self.method.currentTextChanged.connect(lambda m: self.tune.setVisible(method_class(m).tunable))
        self.tune.setVisible(method_class(method).tunable)
        self.device = QLabel(device)
        self.stride = QSpinBox()
        self.stride.setRange(1, 1000)
        self.stride.setToolTip("Label every k-th frame and the last; the timeline marks these slots")
        self.stride.valueChanged.connect(self.strideChanged)
        form = QFormLayout()
        method_row = QHBoxLayout()  # the box shares the method's row: the joints table keeps its height
        method_row.addWidget(self.method, 1)
        method_row.addWidget(self.tune)
        form.addRow("Method", method_row)
        form.addRow("Device", self.device)
        form.addRow("Keyframe every k", self.stride)
        # While a fill runs, its progress and Cancel take the place of the fill buttons (disabled
        # then anyway): the panel keeps its height, so the docks around it do not move.
        fill_row, self.buttons = QHBoxLayout(), {}
        fill_row.setContentsMargins(0, 0, 0, 0)
        for scope, text, tip in (
                ("gap", "Fill gap", "Between the keyframes around this frame (on a keyframe: both gaps it bounds), "
                 "selected person (G)"),
                ("track", "Fill person", "Every gap of the selected person (Shift+G)"),
                ("video", "Fill video", "Every gap of every person (Ctrl+Shift+G)")):
            b = QPushButton(text)
            b.setToolTip(tip)
            b.clicked.connect(lambda _=False, s=scope: self.fillRequested.emit(s))
            fill_row.addWidget(b)
            self.buttons[scope] = b
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.cancel = QPushButton("Cancel")
        self.cancel.clicked.connect(self.cancelRequested)
        running_row = QHBoxLayout()
        running_row.setContentsMargins(0, 0, 0, 0)
        running_row.addWidget(self.progress, 1)
        running_row.addWidget(self.cancel)
        self.scope_row = QStackedWidget()
        for row in (fill_row, running_row):
            page = QWidget()
            page.setLayout(row)
            self.scope_row.addWidget(page)
        promote = QPushButton("Promote to keyframe")
        promote.setToolTip("Make the selected person's pose here an anchor for the next fill (K; "
                           "every pose of the frame: Shift+K)")
        promote.clicked.connect(self.promoteRequested)
        review = QPushButton("Next to review")
        review.setToolTip("Jump to the filled pose the fill doubts most (R); A accepts it")
        review.clicked.connect(self.reviewRequested)
        grid = QGridLayout()
        grid.addWidget(self.scope_row, 0, 0, 1, 3)
        grid.addWidget(promote, 1, 0, 1, 2)
        grid.addWidget(review, 1, 2)
        self.state = QLabel("")
        self.state.setWordWrap(True)
        # Two lines, fixed: the panel's height is fixed below, so a longer message squashed the
        # method and k boxes to 12 px (two trials); what does not fit is in the tooltip. (A third
        # line costs the joints table its last row at 1366 x 768.)
        self.state.setFixedHeight(2 * self.state.fontMetrics().lineSpacing())
        self.state.setAlignment(Qt.AlignLeft | Qt.AlignTop)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 4, 6, 4)
        layout.addLayout(form)
        layout.addLayout(grid)
        layout.addWidget(self.state)
        # As tall as its controls and no taller: the side bar's spare height goes to the joints.
        self.setSizePolicy(QSizePolicy.Preferred, QSizePolicy.Maximum)
        layout.activate()
        self.setMaximumHeight(layout.sizeHint().height())

    def set_running(self, running: bool, text: str = "") -> None:
        for b in self.buttons.values():
            b.setEnabled(not running)
        self.scope_row.setCurrentIndex(1 if running else 0)
        if running:
            self.progress.setRange(0, 0)
        self.state.setText(text)
        self.state.setToolTip(text)  # a long message may not fit in two lines

    def set_setup_progress(self, step: int, steps: int) -> None:
        """The method's one-off work before filling: posewarper tunes its matcher on the keyframes."""
        self.progress.setRange(0, max(steps, 1))
        self.progress.setValue(step)
        self.progress.setFormat(f"tuning on your keyframes: {step} / {steps}")

    def set_progress(self, done: int, total: int) -> None:
        self.progress.setRange(0, max(total, 1))
        self.progress.setValue(done)
        self.progress.setFormat(f"{done} / {total} person-frames")


class FillRangeDialog(QDialog):
    """Auto-fill a frame range: first and last frame (inclusive), everyone or the selected person.
    With `title` and `ok`, the same questions for another action on a range (deleting poses)."""

    def __init__(self, num_frames: int, first: int, last: int, track: int | None, parent=None,
                 title: str = "Auto-fill a frame range", ok: str = "Fill"):
        super().__init__(parent)
        self.setWindowTitle(title)
        self.first, self.last = QSpinBox(), QSpinBox()
        for box, value in ((self.first, first), (self.last, last)):
            box.setRange(0, num_frames - 1)
            box.setValue(value)
        self.person_only = QCheckBox(f"Person {track} only" if track is not None else "Selected person only")
        self.person_only.setEnabled(track is not None)
        form = QFormLayout(self)
        form.addRow("First frame", self.first)
        form.addRow("Last frame", self.last)
        form.addRow(self.person_only)
        self.buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        self.buttons.button(QDialogButtonBox.Ok).setText(ok)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form.addRow(self.buttons)
