"""The keyboard focus goes back to the canvas when a dialog of the window closes.

A window manager gives the focus back to the main window when a dialog closes; without one (a
bare X server, a kiosk) it stayed with the closed dialog and the next key (N after the
fill-range dialog) went nowhere. Watching for a dialog of the window being hidden covers every
dialog alike: message boxes, file choosers, the app's own."""
from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtWidgets import QApplication, QDialog


class FocusBack(QObject):
    """Install on the application: `window`'s dialogs, once closed, hand the focus to
    target() (the canvas), or to the window when target() is hidden."""

    def __init__(self, window, target):
        super().__init__(window)
        self.window = window
        self.target = target

    def eventFilter(self, obj, event) -> bool:
        if (event.type() == QEvent.Hide and isinstance(obj, QDialog) and obj.parentWidget() is not None
                and obj.parentWidget().window() is self.window):
            QTimer.singleShot(0, self._restore)  # after the dialog is gone (and any that follows is up)
        return False

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
