"""Opening off the UI thread: opening a video indexes the whole file (a few hundred ms for a
short clip, seconds for a long one), which must not freeze the window.

An OpenJob runs one call on its own thread and hands the result to the UI thread. Indexing
cannot be interrupted half-way, so Cancel abandons the job instead: the window stops waiting
at once, and whatever the call still produces is given to `discard` (which closes it and
removes a project file the open created), never shown.
"""
from __future__ import annotations

import threading

from PySide6.QtCore import QThread, Signal

from posewarper_core.errors import PoseWarperError


class OpenJob(QThread):
    succeeded = Signal()  # the result is ready: take() it (not emitted once cancelled)
    failed = Signal(str)  # the core's error message, which names the file

    def __init__(self, call, discard=None, what: str = "", parent=None):
        super().__init__(parent)
        self.call, self.discard, self.what = call, discard, what
        self._cancelled = threading.Event()
        self._lock = threading.Lock()  # a result is either delivered or discarded, never both
        self._result = None

    @property
    def cancelled(self) -> bool:
        return self._cancelled.is_set()

    def cancel(self) -> None:
        """Stop waiting for this job: its result, when it comes, is discarded."""
        with self._lock:
            self._cancelled.set()
            result, self._result = self._result, None
        if result is not None and self.discard is not None:
            self.discard(result)

    def take(self):
        """(UI thread, on `succeeded`.) The result, or None if the job was cancelled meanwhile."""
        with self._lock:
            result, self._result = self._result, None
            return None if self._cancelled.is_set() else result

    def run(self) -> None:
        try:
            result = self.call()
        except PoseWarperError as exc:
            if not self.cancelled:
                self.failed.emit(str(exc))
            return
        except Exception as exc:  # a bug or an unexpected library error: reported, never fatal
            if not self.cancelled:
                self.failed.emit(f"{self.what}: {type(exc).__name__}: {exc}")
            return
        with self._lock:
            if not self._cancelled.is_set():
                self._result = result
                result = None
        if result is not None:  # cancelled while the call ran
            if self.discard is not None:
                self.discard(result)
            return
        self.succeeded.emit()
