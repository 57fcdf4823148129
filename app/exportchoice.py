"""What File → Export writes, asked in one dialog before the file dialog (it was up to three
questions in a row): the video shown or every video (when the project has several); which
auto-filled poses: all of them (the default), only those an annotator reviewed (accepted with
A), or none (the labels made by hand only; the core's formats.AUTO_CHOICES); for a video
file, whether its frames go with the JSON as JPEG files; for COCO, whether the file lists every
frame or only those with poses (frames with nobody are negatives for a detector's training, so
a COCO export always asks). The auto-filled choice is remembered (QSettings): an export with
nothing else to ask and the choice made goes straight to the file dialog; File → Auto-filled
poses in exports changes it too."""
from __future__ import annotations

from typing import NamedTuple

from PySide6.QtCore import QSettings
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import (QButtonGroup, QDialog, QDialogButtonBox, QGroupBox, QLabel, QMenu, QRadioButton,
                               QVBoxLayout)

from posewarper_core.annotation import is_auto
from posewarper_core.formats import AUTO_CHOICES
from posewarper_core.formats.common import absolute_source
from posewarper_core.formats import IMAGES as COCO_IMAGES

from .panels import video_label

SETTING = "export/auto_filled"
MENU_TITLE = "Auto-filled poses in exports"
LABELS = {"all": "All of them", "reviewed": "Only those I reviewed", "none": "None: hand-made labels only"}


def remembered() -> str | None:
    choice = QSettings().value(SETTING, "", type=str)
    return choice if choice in AUTO_CHOICES else None


def remember(choice: str) -> None:
    QSettings().setValue(SETTING, choice)


# The frame-images and COCO-frames answers preset the next dialog (a trial chose "With the
# labelled frames" and found "JSON only" again at the next export); they are always asked.
FRAMES_SETTING, IMAGES_SETTING = "export/frame_images", "export/coco_images"


def _preset(key: str, allowed, default):
    value = QSettings().value(key, "", type=str)
    return value if value in allowed else default


def add_menu(menu: QMenu) -> QMenu:
    """The submenu that shows and changes the remembered choice (all, until one is made)."""
    sub = menu.addMenu(MENU_TITLE)
    group = QActionGroup(sub)
    actions = {}
    for choice in AUTO_CHOICES:
        action = actions[choice] = sub.addAction(LABELS[choice])
        action.setCheckable(True)
        group.addAction(action)
        action.triggered.connect(lambda _checked=False, c=choice: remember(c))
    sub.aboutToShow.connect(lambda: actions[remembered() or "all"].setChecked(True))
    return sub


def count_auto_filled(videos) -> tuple[int, int]:
    """(poses with an auto-filled joint, how many of them are reviewed) in `videos`."""
    filled = reviewed = 0
    for video in videos:
        for by_track in video.poses.values():
            for pose in by_track.values():
                if is_auto(pose.provenance).any():
                    filled += 1
                    reviewed += pose.reviewed
    return filled, reviewed


class ExportChoices(NamedTuple):
    every: bool  # every video of the project, else the one shown
    auto: str  # which auto-filled poses (formats.AUTO_CHOICES)
    frames: str | None  # frame images too: "labelled" | "all" | None (the JSON only)
    images: str = COCO_IMAGES[0]  # which frames a COCO file lists (formats.IMAGES): "with-poses" | "all"


FRAMES = {None: "JSON only", "labelled": "With the labelled frames", "all": "With every frame"}
IMAGES = dict(zip(COCO_IMAGES, ("The frames with poses", "Every frame (those with nobody too, as negatives)")))


class ChoiceGroup(QGroupBox):
    """One question of the dialog: radio buttons, one per choice."""

    def __init__(self, title: str, labels: dict, default, note: QLabel | None = None):
        super().__init__(title)
        layout = QVBoxLayout(self)
        if note is not None:
            layout.addWidget(note)
        self.buttons = {}
        group = QButtonGroup(self)
        for choice, label in labels.items():
            button = self.buttons[choice] = QRadioButton(label)
            button.setChecked(choice == default)
            group.addButton(button)
            layout.addWidget(button)

    def choice(self):
        return next(c for c, b in self.buttons.items() if b.isChecked())


class ExportDialog(QDialog):
    """The export's choices, each question shown only where there is something to choose."""

    def __init__(self, parent, fmt_name: str, shown, videos: list, coco: bool = False, base_dir=None):
        super().__init__(parent)
        # a video file's frames may go along as images; an image folder's or an imported dataset's
        # are files already, which the JSON names (formats.common.frame_file_names; one stat per
        # video here, not a listing of each folder on every export)
        self._writable = {v.video_id for v in videos
                          if v.frames is None and not absolute_source(v, base_dir).is_dir()}
        self.setWindowTitle(f"Export {fmt_name}")
        self.setObjectName("exportChoices")
        self.shown, self.videos, self.coco = shown, videos, coco
        layout = QVBoxLayout(self)
        self.every = self.auto = self.frames = self.images = None  # the questions shown
        if len(videos) > 1:
            per_file = " (one file per video, in a folder)" if fmt_name == "PoseTrack18" else ""
            self.every = ChoiceGroup("Videos", {False: f"This video ({video_label(shown)})",
                                                True: f"All {len(videos)} videos{per_file}"}, False)
            layout.addWidget(self.every)
            self.every.buttons[True].toggled.connect(self._follow_videos)
        # The auto-filled poses are counted only when the dialog may show (~120 ms per 30,000 poses,
        # on the UI thread): with the choice remembered and nothing else to ask there is no dialog.
        ask_frames = bool(self._writable)
        count = len(videos) > 1 or coco or ask_frames or remembered() is None
        per_video = {v.video_id: count_auto_filled([v]) if count else (0, 0) for v in videos}  # each looked at once
        self.counts = {False: per_video[shown.video_id],
                       True: tuple(sum(c[i] for c in per_video.values()) for i in (0, 1))}
        if self.counts[True][0]:
            self.auto_note = QLabel()
            self.auto_note.setWordWrap(True)
            self.auto = ChoiceGroup("Auto-filled poses", LABELS, remembered() or "all", self.auto_note)
            layout.addWidget(self.auto)
        if ask_frames:
            # a PoseTrack file lists every frame of a video, so it goes with every frame or none
            # (frame_images.listed_frames; a trial's "labelled" export named 9 images never written)
            offered = FRAMES if coco else {k: v for k, v in FRAMES.items() if k != "labelled"}
            preset = _preset(FRAMES_SETTING, ("labelled", "all"), None)
            self.frames = ChoiceGroup("Frame images, written where the JSON names them (a dataset other tools "
                                      "can train on)", offered, preset if preset in offered else "all")
            layout.addWidget(self.frames)
        if coco:
            self.images = ChoiceGroup("Frames listed in the COCO file", IMAGES,
                                      _preset(IMAGES_SETTING, COCO_IMAGES, COCO_IMAGES[0]))
            layout.addWidget(self.images)
        buttons = QDialogButtonBox(QDialogButtonBox.Ok | QDialogButtonBox.Cancel)
        buttons.button(QDialogButtonBox.Ok).setText("Export…")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self._follow_videos()

    def needed(self) -> bool:
        """Whether there is anything to ask: several videos, frames to write, the frames a COCO file
        lists, or the auto-filled choice not made yet where there are auto-filled poses."""
        return (self.every is not None or self.frames is not None or self.images is not None
                or (self.auto is not None and remembered() is None))

    def _every(self) -> bool:
        return self.every is not None and self.every.choice()

    def _follow_videos(self) -> None:
        """The auto-filled counts, and whether frames can be written, follow the videos chosen."""
        every = self._every()
        if self.auto is not None:
            filled, reviewed = self.counts[every]
            self.auto_note.setText(
                f"{filled} poses were written by auto-fill, {reviewed} of them reviewed (accepted with A). "
                "With \"reviewed\" a filled pose not accepted is left out whole; with \"none\" the joints "
                f"corrected by hand on one are kept. Kept for later exports (File → {MENU_TITLE}).")
            self.auto.setEnabled(filled > 0)
        if self.frames is not None:
            self.frames.setEnabled(any(v.video_id in self._writable for v in (self.videos if every else [self.shown])))

    def choices(self) -> ExportChoices:
        auto = self.auto.choice() if self.auto is not None and self.auto.isEnabled() else remembered() or "all"
        frames = self.frames.choice() if self.frames is not None and self.frames.isEnabled() else None
        images = self.images.choice() if self.images is not None else COCO_IMAGES[0]
        return ExportChoices(self._every(), auto, frames, images)


def ask(parent, fmt_name: str, shown, videos: list, coco: bool = False, base_dir=None) -> ExportChoices | None:
    """The export's choices: from the dialog when there is anything to ask (None if cancelled),
    else the remembered ones. An auto-filled choice made in the dialog is remembered. `base_dir`
    resolves the videos' relative sources (the project's folder)."""
    dialog = ExportDialog(parent, fmt_name, shown, videos, coco, base_dir)
    dialog.deleteLater()  # once back in the event loop
    if dialog.needed() and dialog.exec() != QDialog.Accepted:
        return None
    if dialog.auto is not None and dialog.auto.isEnabled():
        remember(dialog.auto.choice())
    if dialog.frames is not None and dialog.frames.isEnabled():
        # a PoseTrack export offers no "labelled" and presets "all" for it: that is no new choice
        # to carry to the next COCO export (thousands of frame images a user never asked for)
        kept = (not dialog.coco and dialog.frames.choice() == "all"
                and _preset(FRAMES_SETTING, FRAMES, None) == "labelled")
        if not kept:
            QSettings().setValue(FRAMES_SETTING, dialog.frames.choice() or "")
    if dialog.images is not None:
        QSettings().setValue(IMAGES_SETTING, dialog.images.choice())
    return dialog.choices()
