"""One auto-fill run at a time: start it on a worker thread, apply its batches through the
store on the UI thread as they arrive (all of one run = one undo step), cancel it."""
from __future__ import annotations

import copy
import functools

from PySide6.QtCore import QObject, Signal

from posewarper_core import autofill, fillrecord
from posewarper_core.annotation import PoseChange
from posewarper_core.errors import PoseWarperError

from . import edits, navigation
from .commands import AutofillCommand
from .workers import AutofillWorker


def snapshot(video):
    """A copy of the video the worker can read while the annotator keeps editing the original."""
    v = copy.copy(video)
    v.tracks = dict(video.tracks)
    v.poses = {f: dict(by_track) for f, by_track in video.poses.items()}
    return v


def device_name() -> str:
    try:
        from posewarper_core import nets

        return str(nets.default_device())
    except Exception:  # nets not importable: the learned method is not available anyway
        return "cpu"


def leave_a_core_for_the_ui() -> None:
    """Torch computes on every core by default; on 2 cores its threads starved the UI thread
    (a posewarper fill of the demo: stalls of 160 ms measured with 2 torch threads)."""
    import os

    import torch

    torch.set_num_threads(max(1, (os.cpu_count() or 2) - 1))


class FillRunner(QObject):
    started = Signal(str)
    progress = Signal(int, int)
    setupProgress = Signal(int, int)  # tuning steps before the first person-frame (posewarper)
    finished = Signal(str, str)  # status, message

    def __init__(self, editor, open_frames, parent=None):
        super().__init__(parent)
        self.editor = editor
        self.open_frames = open_frames  # (video) -> a fresh VideoSource; called on the worker thread
        self.worker: AutofillWorker | None = None
        self.command: AutofillCommand | None = None
        self.method = autofill.DEFAULT_METHOD  # the window sets the panel's choice
        self.model_path = None
        self.tune = True  # a tunable method (posewarper) tunes on the keyframes first (the panel's box)
        self.methods = autofill.MethodCache()  # keeps the tuned method between this session's fills
        self._noticed = False  # what the method says once (the default without its pose model step)
        self._stack = None  # the history the running fill's step is on (its video's)
        self._last = None  # (history, position, step) of the last finished fill that wrote poses

    @property
    def running(self) -> bool:
        return self.worker is not None

    def start(self, scope: str, track_ids=None, frame_range=None) -> bool:
        """scope: "gap" (selected person, between the keyframes around this frame, or from their
        last keyframe on to this frame when it lies after it),
        "track" (selected person, whole video), "video" (everyone), or "frames" (everyone, or
        `track_ids`, in `frame_range`: first and last frame, inclusive)."""
        ed = self.editor
        if self.running:
            ed.message.emit("Auto-fill is already running.")
            return False
        video = ed.video
        if scope in ("gap", "track"):
            if ed.track is None:
                ed.message.emit("Select a person first.")
                return False
            track_ids = [ed.track]
        extrapolate = 0
        if scope == "gap":
            keys = video.gap_keyframes(ed.track)
            if keys and ed.frame > keys[-1]:
                # Past the person's last keyframe: carry their pose on to this frame, a proposal to
                # fix and make a keyframe with K (what bench-effort's guided labelling is shown).
                frame_range, extrapolate = (keys[-1] + 1, ed.frame), ed.frame - keys[-1]
            else:
                frame_range = navigation.gap_around(keys, ed.frame, video.num_frames)
        if scope == "frames":
            lo, hi = sorted(int(f) for f in frame_range)
            frame_range = (max(lo, 0), min(hi, video.num_frames - 1))
            who = "everyone" if track_ids is None else "person " + ", ".join(map(str, track_ids))
        what = {"gap": f"gap {frame_range}", "track": f"person {ed.track}", "video": "whole video",
                "frames": f"frames {frame_range[0]}-{frame_range[1]}, {who}" if scope == "frames" else ""}[scope]
        # Noted in the project before anything is written: a fill that never ends is noticed on reopening.
        fillrecord.record_start(ed.session.store, video.video_id, self.method, scope, track_ids, frame_range)
        self._video_id = video.video_id
        self.command = AutofillCommand(ed.session, f"Auto-fill ({self.method}) {what}")
        self._stack, self._last = ed.undo_stack, None
        self._stack.push(self.command)

        tune = self.tune
        flags = autofill.method_class(self.method)

        def fill(video, frames, name, **kw):  # on the worker thread: making a method may load a model
            if flags.uses_torch:
                leave_a_core_for_the_ui()
            method = self.methods.get(name, model_path=self.model_path, tune=tune)
            if getattr(method, "notice", None) and not self._noticed:
                self._noticed = True
                ed.message.emit(method.notice)  # a queued signal: shown by the GUI thread
            return autofill.fill(video, frames, method, extrapolate=extrapolate, **kw)

        snap = snapshot(video)
        opener = functools.partial(self.open_frames, snap) if flags.needs_frames else None
        self.worker = AutofillWorker(fill, snap, opener, self.method, track_ids, frame_range, self)
        self.worker.batch.connect(self._apply_batch)
        self.worker.resumeFrom.connect(self._note_progress)
        self._noter = fillrecord.progress_noter(ed.session.store, video.video_id)
        self.worker.progress.connect(self.progress)
        self.worker.setupProgress.connect(self.setupProgress)
        self.worker.finishedWith.connect(self._done)
        self.worker.start()
        if flags.tunable and tune:  # the bar first counts the tuning steps
            what += " (tuning on your keyframes first: once per set of keyframes, shorter after a change)"
        self.started.emit(what)
        return True

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def wait(self, ms: int = 10000) -> None:
        if self.worker is not None:
            self.worker.wait(ms)

    def abandon(self) -> None:
        """Cancel and wait (the project is closing): the fill is noted as cancelled now, since
        its end report would arrive after the project is closed."""
        if self.worker is not None:
            self.worker.cancel()
            self.worker.wait()
            fillrecord.record_end(self.editor.session.store, self._video_id, fillrecord.CANCELLED)

    def _apply_batch(self, changes: list[PoseChange]) -> None:
        """Merge with what is in the store now: the annotator may have edited during the run."""
        video = self.editor.video
        merged = []
        for c in changes:
            pose = edits.keep_user_joints(video.pose(c.frame, c.track_id), c.pose)
            if pose is not video.pose(c.frame, c.track_id):
                merged.append(PoseChange(c.video_id, c.frame, c.track_id, pose))
        if merged and self.command is not None:
            try:
                self.command.add_batch(merged)
            except PoseWarperError as exc:
                self.cancel()
                self.editor.message.emit(f"Auto-fill result refused by the project: {exc}")

    def _note_progress(self, frame: int) -> None:
        """Everything before `frame` is written: a fill killed after this is finished from there
        (noted at most once a second, fillrecord.progress_noter)."""
        if self.worker is None:
            return
        try:
            self._noter(frame)
        except PoseWarperError as exc:  # the record only: the poses are written already
            self.editor.message.emit(f"Could not note the fill's progress in the project: {exc}")

    def _done(self, status: str, message: str) -> None:
        try:
            fillrecord.record_end(self.editor.session.store, self._video_id, status)
        except PoseWarperError as exc:  # the record only: the poses are written already
            self.editor.message.emit(f"Could not note the fill's end in the project: {exc}")
        worker, self.worker = self.worker, None
        if worker is not None:
            worker.wait()
            worker.deleteLater()
        cmd, self.command = self.command, None
        stack = self._stack
        if cmd is not None and not cmd.changes:
            # Nothing was written: drop the empty step from the history.
            if stack.index() > 0 and stack.command(stack.index() - 1) is cmd:
                cmd.setObsolete(True)  # an obsolete command is deleted when undone
                stack.undo()
        elif cmd is not None and stack.index() > 0 and stack.command(stack.index() - 1) is cmd:
            self._last = (stack, stack.index() - 1, cmd)
        self.finished.emit(status, message)

    def last_fill_state(self) -> str | None:
        """Where the last finished fill that wrote poses stands in its video's history: "applied",
        "undone" (a redo brings it back) or "gone" (undone, and a new edit took its place); None
        when there is no such fill. Its step stays at the same position (the history has no limit
        and drops steps only from the top), so this is one look, cheap on every history move."""
        if self._last is None:
            return None
        stack, position, cmd = self._last
        if position >= stack.count() or stack.command(position) is not cmd:
            return "gone"
        return "applied" if position < stack.index() else "undone"

    def redos_to_last_fill(self) -> int:
        """How many redos bring the undone last fill back (1: it is the next; more when steps
        before it were undone too); 0 when it is not undone."""
        if self.last_fill_state() != "undone":
            return 0
        stack, position, _ = self._last
        return position - stack.index() + 1
