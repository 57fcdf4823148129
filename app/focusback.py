"""The keyboard focus goes back to the canvas when a dialog of the window closes.

A window manager gives the focus back to the main window when a dialog closes; without one (a
bare X server, a kiosk) it went nowhere and the next key (N after the fill-range dialog) was
lost. Following QApplication.focusChanged covers every dialog alike (message boxes, file
choosers, the app's own) without a filter on every event of the application: when the focus
leaves a dialog of the window for nothing, or for the window, the canvas takes it."""
from __future__ import annotations

from PySide6.QtCore import QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog


class FocusBack(QObject):
    """`window`'s dialogs, once closed, hand the focus to target() (the canvas), or to the
    window when target() is hidden."""

    def __init__(self, window, target):
        super().__init__(window)
        self.window = window
        self.target = target
        QApplication.instance().focusChanged.connect(self._focus_changed)

    def _focus_changed(self, old, new) -> None:
        if old is None or (new is not None and new.window() is not self.window):
            return
        dialog = old.window()
        if (isinstance(dialog, QDialog) and dialog is not self.window and dialog.parentWidget() is not None
                and dialog.parentWidget().window() is self.window):
            QTimer.singleShot(0, self._restore)  # once the dialog is gone (and any that follows is up)

    def _restore(self) -> None:
        if QApplication.activeModalWidget() is not None or not self.window.isVisible():
            return  # another dialog is up: it keeps the focus
        focus = QApplication.focusWindow()
        if focus is not None and focus.isVisible() and focus is not self.window.windowHandle():
            return  # the user is in another of our windows
        self.window.activateWindow()
        target = self.target()
        if target is not None and target.isVisible() and target.isEnabled():
            target.setFocus(Qt.OtherFocusReason)
