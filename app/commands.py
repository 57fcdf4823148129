"""Undoable commands over store edits. Each one redoes and undoes through Session, so every
step, forward or back, is saved at once."""
from __future__ import annotations

import copy

from PySide6.QtGui import QUndoCommand

from posewarper_core.annotation import PoseChange, Track
from posewarper_core.errors import PoseWarperError

from .edits import inverse


def _safely(command: QUndoCommand, fn) -> None:
    """Run a store edit inside redo/undo. Qt swallows exceptions raised there, so a refused
    edit is kept on the command (the pusher re-raises it) and the command made obsolete, which
    makes QUndoStack drop it: the history never holds a step that did not happen."""
    try:
        fn()
    except PoseWarperError as exc:
        command.failed = exc
        command.setObsolete(True)


def frames_of(command: QUndoCommand) -> set[int]:
    """The frames whose poses an undo step changes (its own and, for a macro, its children's)."""
    frames = {c.frame for c in getattr(command, "changes", ())}
    for i in range(command.childCount()):
        frames |= frames_of(command.child(i))
    return frames


def shown_frame(command: QUndoCommand) -> int | None:
    """The frame to show when the step is undone or redone: the one the user edited on (the
    command's `frame`, set by whoever pushed it; a correction re-fills others too), else the only
    frame it changes; None for steps over many frames (a fill)."""
    frame = getattr(command, "frame", None)
    for i in range(command.childCount()):
        frame = frame if frame is not None else getattr(command.child(i), "frame", None)
    if frame is None and len(frames := frames_of(command)) == 1:
        frame = next(iter(frames))
    return frame


class PoseChangesCommand(QUndoCommand):
    """Put/remove poses; undo restores exactly what was there before."""

    def __init__(self, session, text: str, changes: list[PoseChange], frame: int | None = None):
        """`frame`: the frame the user made the edit on (undo shows it: shown_frame)."""
        super().__init__(text)
        self.session = session
        self.changes = list(changes)
        self.before = inverse(session.video, self.changes)
        self.frame = frame

    failed: PoseWarperError | None = None

    def redo(self):
        _safely(self, lambda: self.session.apply(self.changes))

    def undo(self):
        _safely(self, lambda: self.session.apply(self.before))


class RefinableCommand(PoseChangesCommand):
    """A quick first suggestion's step: its full suggestion, pushed as `RefineCommand(refines=this)`
    while this is still the last step, joins it (QUndoStack merging), so that one undo takes back
    what the user saw as one suggestion; pushed after another edit it stays a step of its own."""

    def id(self) -> int:
        return REFINE_ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        if getattr(other, "refines", None) is not self:
            return False
        known = {c.track_id for c in self.before}
        self.before += [c for c in other.before if c.track_id not in known]  # people only the full one had
        final = {c.track_id: c for c in self.changes}
        final.update({c.track_id: c for c in other.changes})
        self.changes = list(final.values())
        self.setText(other.merged_text)
        return True


class RefineCommand(PoseChangesCommand):
    """The full suggestion after a quick one (RefinableCommand); `merged_text` names the step the
    two make together."""

    def __init__(self, session, text: str, changes: list[PoseChange], refines: RefinableCommand, merged_text: str):
        super().__init__(session, text, changes)
        self.refines = refines
        self.merged_text = merged_text

    def id(self) -> int:
        return REFINE_ID


REFINE_ID = 1  # QUndoCommand.id(): only commands with the same id are offered to mergeWith


class AutofillCommand(QUndoCommand):
    """One auto-fill run: batches arrive while it runs and join this single undo step."""

    def __init__(self, session, text: str):
        super().__init__(text)
        self.session = session
        self.changes: list[PoseChange] = []
        self.before: list[PoseChange] = []
        self._keys: set[tuple[int, int]] = set()
        self._pushed = False

    def add_batch(self, changes: list[PoseChange]) -> None:
        """Apply a batch now (the command is already on the stack) and remember how to undo it."""
        for c in inverse(self.session.video, changes):
            if (c.frame, c.track_id) not in self._keys:
                self._keys.add((c.frame, c.track_id))
                self.before.append(c)
        self.changes.extend(changes)
        self.session.apply(changes)

    def redo(self):
        if self._pushed:  # the first redo is QUndoStack.push: batches are applied as they come
            self.session.apply(self.changes)
        self._pushed = True

    def undo(self):
        self.session.apply(self.before)


class SetTrackCommand(QUndoCommand):
    """Add a person (track) or rename one."""

    def __init__(self, session, track: Track, text: str = "Add person"):
        super().__init__(text)
        self.session = session
        self.track = copy.copy(track)
        old = session.video.tracks.get(track.track_id)
        self.old = copy.copy(old) if old is not None else None

    def redo(self):
        self.session.set_track(self.track)

    def undo(self):
        if self.old is None:
            self.session.delete_track(self.track.track_id)
        else:
            self.session.set_track(self.old)


class DeleteTrackCommand(QUndoCommand):
    """Delete a person and all their poses; undo brings both back."""

    def __init__(self, session, track_id: int):
        super().__init__(f"Delete person {track_id}")
        self.session = session
        video = session.video
        self.track = copy.copy(video.tracks[track_id])
        self.poses = [PoseChange(video.video_id, f, track_id, video.pose(f, track_id).copy())
                      for f in video.track_frames(track_id)]

    def redo(self):
        self.session.delete_track(self.track.track_id)

    def undo(self):
        self.session.set_track(self.track)
        self.session.apply(self.poses)


class RemoveVideoCommand(QUndoCommand):
    """Take a video out of the project; undo puts it back with all its poses (its own undo
    history is gone: it is a new video to the editor)."""

    def __init__(self, session, video_id: int, text: str):
        super().__init__(text)
        self.session = session
        self.video_id = video_id
        self.video = None

    failed: PoseWarperError | None = None

    def redo(self):
        def remove():
            self.video = self.session.remove_video(self.video_id)

        _safely(self, remove)

    def undo(self):
        def restore():
            self.video_id = self.session.restore_video(self.video)

        _safely(self, restore)
