"""Opening, importing and exporting, each on a worker thread behind a busy dialog that only
shows when the work takes a while. One job at a time; Cancel abandons it (openjob.py).

Each kind of work reports on its own signals: an export that fails is an `exportFailed`, not an
`openFailed`. The window shows what was opened (`opened`) and the messages (`status`, and the
failures' titles and texts); nothing here knows the window's widgets beyond the dialog's parent.
"""
from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Qt, QTimer, Signal
from PySide6.QtWidgets import QProgressDialog

from posewarper_core.errors import PoseWarperError

from . import opening
from .openjob import OpenJob

# The decoder's cache holds whole GOPs: another frame of a GOP seen lately costs no decoding
# (measured: a smaller one made random seeks 3x slower). The loader's QImages stay small.
DECODER_CACHE_BYTES = 512 * 2**20
PROGRESS_AFTER_MS = 400  # quicker work shows no dialog (only the status bar says it)

OPEN, IMPORT, EXPORT = "open", "import", "export"


class ProjectFiles(QObject):
    opened = Signal(object)  # an opening.Opened, to be shown (the window closes the old project first)
    openFailed = Signal(str)  # why an open failed ("cancelled" if the user cancelled)
    imported = Signal(str, list, int)  # (what was imported, the new video ids, their pose count)
    importFailed = Signal(str)  # why an import failed ("cancelled" ...); nothing was added
    exported = Signal(str, dict)  # (the file or folder written, formats.export_project's summary)
    exportFailed = Signal(str)  # why an export failed ("cancelled" ...); nothing was written
    failure = Signal(str, str)  # (title, message) of a failure to show the user (not a cancel)
    status = Signal(str, int)  # a status-bar message and how long it shows (ms; 0: until replaced)

    def __init__(self, parent_widget):
        super().__init__(parent_widget)
        self._widget = parent_widget
        self.job: OpenJob | None = None  # the open / import / export running
        self.progress: QProgressDialog | None = None
        self.pending_imports: list[Path] = []  # files to import once the project opening now is shown
        self.jobs: set[OpenJob] = set()  # every running thread, cancelled or not (waited for on close)

    @property
    def busy(self) -> bool:
        return self.job is not None

    # --- the three kinds of work --------------------------------------------------------------
    def open(self, path, project_path=None, checked=None) -> bool:
        """Open a project, or make one for a video / image folder / annotation file (`checked`:
        what check() read from it). Returns False if nothing was started; `opened` or
        `openFailed` follows otherwise."""
        path = Path(path)
        return self._start(OPEN, lambda: opening.open_with_frames(path, project_path, DECODER_CACHE_BYTES, checked),
                           path.name or str(path), "Opening", self.opened.emit, opening.discard)

    def check(self, path, then) -> bool:
        """Read and check an annotation file before a project is made for it; `then(checked)`
        follows on success, `openFailed` (naming the file) otherwise. Nothing is created."""
        path = Path(path)
        return self._start(OPEN, lambda: opening.check_annotations(path), path.name, "Checking", then, None)

    def open_demo(self) -> bool:
        from .demo import prepare_demo

        def call():
            path, note = prepare_demo()  # built when missing, refreshed when untouched and outdated
            opened = opening.open_with_frames(path, max_cache_bytes=DECODER_CACHE_BYTES)
            opened.note = note
            return opened

        return self._start(OPEN, call, "the demo project", "Opening", self.opened.emit, opening.discard)

    def import_into(self, store, paths) -> bool:
        """Add the videos of annotation files to the open project `store`, all or none. The files
        are read and their videos written on the worker thread (30,000 poses, 35 MB: ~4 s, the
        window pausing 0.2 s at most); `imported` or `importFailed` follows. Cancel takes the
        videos out again."""
        paths = [Path(p) for p in paths]
        what = str(paths[0]) if len(paths) == 1 else f"{len(paths)} files"
        short = paths[0].name if len(paths) == 1 else what
        return self._start(IMPORT, lambda: opening.import_into(store, paths), short, "Importing",
                           lambda result: self.imported.emit(what, *result),
                           lambda result: opening.remove_videos(store, result[0]))

    def export(self, project_path, target, fmt: str, video_ids, include_auto: bool | str = True,
               frames: str | None = None, images: str = "with-poses") -> bool:
        """Build an export from the project file (a 30,000-pose video: ~3.5 s) and write it when
        done; with `frames` ("labelled" or "all"), then also write those frames as JPEG files
        where the JSON names them, as `posewarper export --frames` does; `images`: which frames
        a COCO file lists ("with-poses" or "all"). `exported` or `exportFailed` follows. Cancel
        before the JSON is written writes nothing; cancel while the frames are written stops
        after the frame being written."""
        project, target = Path(project_path), Path(target)
        return self._start(EXPORT, lambda: opening.prepare_export(project, target, fmt, video_ids, include_auto,
                                                                  images),
                           target.name, "Exporting to",
                           lambda prepared: self._write_export(target, prepared, project, video_ids, frames),
                           lambda prepared: prepared.discard())

    def _write_export(self, target: Path, prepared, project: Path, video_ids, frames) -> None:
        try:
            summary = prepared.write()
        except PoseWarperError as exc:
            self._fail(EXPORT, str(exc))
            return
        if not frames:
            self.exported.emit(str(target), summary)
            return
        root = Path(summary["files"][0]).parent  # every file of an export is in one folder

        def write():
            return opening.write_export_frames(project, video_ids, root, frames, lambda: self._frames_cancelled,
                                               summary)

        self._frames_cancelled = False
        self._start(EXPORT, write, f"{frames} frames under {root}", "Writing",
                    lambda n: self.exported.emit(str(target), {**summary, "frame_images": n}), None)

    _frames_cancelled = False

    # --- the job machinery --------------------------------------------------------------------
    def _start(self, kind: str, call, what: str, verb: str, use, discard) -> bool:
        """Run `call` on a worker thread; its result goes to `use` on the UI thread, or to
        `discard` if the user cancelled meanwhile."""
        if self.job is not None:
            self.status.emit(f"Still {self.job.verb.lower()} {self.job.what}: wait, or cancel it first.", 6000)
            return False
        job = OpenJob(call, discard, what, self)
        job.verb, job.kind = verb, kind
        job.succeeded.connect(lambda: self._succeeded(job, use))
        job.failed.connect(lambda message: self._failed(job, message))
        self.track(job)
        self.job = job
        # A busy dialog, shown only if the work takes a while; Cancel abandons the job.
        dialog = QProgressDialog(f"{verb} {what}…", "Cancel", 0, 0, self._widget)
        dialog.setWindowTitle(verb)
        dialog.setWindowModality(Qt.WindowModal)
        dialog.setMinimumDuration(2**30)  # never on its own: the timer below shows it
        dialog.canceled.connect(self.cancel)
        self.progress = dialog
        QTimer.singleShot(PROGRESS_AFTER_MS, lambda: dialog.show() if self.progress is dialog else None)
        self.status.emit(f"{verb} {what}…", 0)
        job.start()
        return True

    def track(self, job: OpenJob) -> None:
        """Keep every job until its thread ends, cancelled ones too: the window waits for them on close."""
        self.jobs.add(job)
        job.finished.connect(lambda: (self.jobs.discard(job), job.deleteLater()))

    def wait_all(self) -> None:
        for job in list(self.jobs):
            job.wait()

    def cancel(self) -> None:
        job = self.job
        if job is None:
            return
        self._ended()
        self.pending_imports = []
        self._frames_cancelled = True
        job.cancel()
        self.status.emit(f"{job.verb} {job.what} cancelled.", 6000)
        self._failed_signal(job.kind).emit("cancelled")

    def _ended(self) -> None:
        self.job = None
        if self.progress is not None:
            self.progress.canceled.disconnect(self.cancel)
            self.progress.reset()
            self.progress.deleteLater()
            self.progress = None
        self.status.emit("", 0)

    def _succeeded(self, job: OpenJob, use) -> None:
        result = job.take()
        if result is None:  # cancelled meanwhile: the job discards what it produced
            return
        self._ended()
        use(result)

    def _failed(self, job: OpenJob, message: str) -> None:
        if job is not self.job:
            return
        self._ended()
        self.pending_imports = []
        self._fail(job.kind, message)

    def _fail(self, kind: str, message: str) -> None:
        title = {OPEN: "Could not open", IMPORT: "Import failed", EXPORT: "Export failed"}[kind]
        self.failure.emit(title, message)
        self._failed_signal(kind).emit(message)

    def _failed_signal(self, kind: str):
        return {OPEN: self.openFailed, IMPORT: self.importFailed, EXPORT: self.exportFailed}[kind]
