"""Keep the project file whole while the project is open: a moment after the last edit, the
edits are written from the store's "-wal" journal into the .pwproj file itself
(ProjectStore.checkpoint), so a user who copies or backs up the .pwproj file alone gets their
work. Edits stay as fast as they were: nothing more happens while they come."""
from __future__ import annotations

from PySide6.QtCore import QObject, QTimer

# How often the store's commit count is looked at: the file is made whole 1-2 s after the last
# edit (imports and fills write on their own, so the count, not a signal, tells of every edit).
IDLE_MS = 1000


class Checkpointer(QObject):
    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self._seen = store.commits  # the count at the last look
        self.written = -1  # the count the file held at the last checkpoint; -1: a new project's
        # video (added before the window had it) and an upgrade on opening are written at the first look
        self.timer = QTimer(self)
        self.timer.setInterval(IDLE_MS)
        self.timer.timeout.connect(self.look)
        self.timer.start()

    def look(self) -> None:
        commits = self.store.commits
        if commits != self._seen:  # edits still coming: wait until a look finds none new
            self._seen = commits
            return
        if commits != self.written:
            self.now()

    def now(self) -> bool:
        """Write the journal into the file at once (Ctrl+S); False if it cannot now (busy: the next
        look tries again)."""
        commits = self.store.commits
        if not self.store.checkpoint():
            return False
        self.written = commits
        return True
