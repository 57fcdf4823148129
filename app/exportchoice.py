"""Which auto-filled poses File → Export writes: all of them (as it always did, the default), only
those an annotator reviewed (accepted with A), or none (the labels made by hand only); the core's
formats.AUTO_CHOICES. Asked at the first export that holds auto-filled poses, remembered
(QSettings) for every later one, changed under File → Auto-filled poses in exports."""
from __future__ import annotations

from PySide6.QtCore import QSettings
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu, QMessageBox

from posewarper_core.annotation import is_auto
from posewarper_core.formats import AUTO_CHOICES

SETTING = "export/auto_filled"
MENU_TITLE = "Auto-filled poses in exports"
LABELS = {"all": "All of them", "reviewed": "Only those I reviewed", "none": "None: hand-made labels only"}


def remembered() -> str | None:
    choice = QSettings().value(SETTING, "", type=str)
    return choice if choice in AUTO_CHOICES else None


def remember(choice: str) -> None:
    QSettings().setValue(SETTING, choice)


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


def choose(parent, videos) -> str | None:
    """Which auto-filled poses an export of `videos` writes: the choice remembered; else, if they
    hold any, the user's answer (remembered); else "all" (there is nothing to choose). None if the
    user cancelled the question."""
    choice = remembered()
    if choice is not None:
        return choice
    filled, reviewed = count_auto_filled(videos)
    if not filled:
        return "all"
    box = QMessageBox(QMessageBox.Question, "Export: auto-filled poses",
                      f"{filled} poses were written by auto-fill, {reviewed} of them reviewed (accepted with A). "
                      "Which of them should the exported file hold?\n\nThe others are left out: with \"reviewed\" a "
                      "filled pose not accepted is left out whole; with \"none\" the joints corrected by hand on "
                      "one are kept. Your choice is kept for later exports; "
                      f"File → {MENU_TITLE} changes it.", QMessageBox.Cancel, parent)
    box.setObjectName("exportAutoChoice")
    buttons = {box.addButton(LABELS[c], QMessageBox.AcceptRole): c for c in AUTO_CHOICES}
    box.setDefaultButton(next(iter(buttons)))
    box.exec()
    choice = buttons.get(box.clickedButton())
    if choice is not None:
        remember(choice)
    return choice
