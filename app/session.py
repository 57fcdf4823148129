"""The open project as the GUI sees it: the store, the current video and its frames.

Every edit goes through `apply()` / `set_track()` / `delete_track()` / `remove_video()` /
`restore_video()`, which call the project store (saved at once) and then emit a signal so the
views redraw. Nothing else in app/ writes to the store but an import, which adds its videos on a
worker thread (opening.import_into); nothing here knows about widgets. A moment after the last
edit, whoever made it, the .pwproj file alone holds it (checkpointer.py).
"""
from __future__ import annotations

from bisect import bisect_left, bisect_right

import numpy as np
from PySide6.QtCore import QObject, Signal

from posewarper_core import label_check, review
from posewarper_core.annotation import PoseChange, Track, Video, is_labelled_keyframe, pose_status
from posewarper_core.errors import PoseWarperError

from .checkpointer import Checkpointer


class Session(QObject):
    posesChanged = Signal(object)  # set of frames touched
    tracksChanged = Signal()
    videoChanged = Signal()  # another video selected, or its settings changed
    videoRemoved = Signal(int)  # a video taken out of the project (not the one shown)
    videoAdded = Signal(int)  # a video put (back) into the project

    def __init__(self, store, parent=None):
        super().__init__(parent)
        self.store = store
        self.video_id = min(store.project.videos, default=0)
        self._status: np.ndarray | None = None
        self._review: tuple[np.ndarray, np.ndarray] | None = None  # see review_state()
        self._suspects: list | None = None
        self._keyframes: dict[int, list[int]] | None = None  # track id -> its keyframes, in order
        self._marks: dict[int, PersonMarks] = {}  # see person_marks()
        self.checkpointer = Checkpointer(store, self)  # the .pwproj file alone holds the edits a moment after

    # --- reading --------------------------------------------------------------------------
    @property
    def project(self):
        return self.store.project

    @property
    def skeleton(self):
        return self.store.project.skeleton

    @property
    def video(self) -> Video | None:
        return self.store.project.videos.get(self.video_id)

    def select_video(self, video_id: int) -> None:
        self.video_id = video_id
        self._status = self._review = self._suspects = self._keyframes = None
        self._marks = {}
        self.videoChanged.emit()

    def frame_status(self) -> np.ndarray:
        """Per-frame status (0 empty, 1 auto, 2 corrected, 3 keyframe), cached until an edit."""
        if self._status is None:
            v = self.video
            self._status = v.frame_status() if v is not None else np.zeros(0, np.uint8)
        return self._status

    def review_state(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Per frame: the highest predicted error of a pose still to review there
        (review.frame_errors; review.NONE_TO_REVIEW if none), whether a pose there is marked
        reviewed, and how many poses there are to review (review.frame_review: at or above the
        review-done threshold, below it). Cached, and after an edit updated for the frames
        touched only (as frame_status)."""
        if self._review is None:
            v = self.video
            n = v.num_frames if v is not None else 0
            self._review = (np.full(n, review.NONE_TO_REVIEW), np.zeros(n, bool), np.zeros((n, 2), np.int64))
            if v is not None:
                for f in v.poses:
                    self._update_review(f)
        return self._review

    def poses_to_review(self) -> tuple[int, int]:
        """(poses still to review, poses whose review is optional) in the whole video: counted per
        pose, not per frame, so that an accept on a frame with two people counts down (a trial's
        "36 frames to go" never moved)."""
        counts = self.review_state()[2]
        return int(counts[:, 0].sum()), int(counts[:, 1].sum())

    def _update_review(self, frame: int) -> None:
        error, above, below = review.frame_review(self.video, frame)
        self._review[0][frame] = error
        self._review[1][frame] = any(p.reviewed for p in self.video.poses.get(frame, {}).values())
        self._review[2][frame] = above, below

    def person_marks(self, track_id: int) -> "PersonMarks":
        """The timeline's marks of one person against everyone else's, cached per person and
        after an edit updated for the frames touched only (as frame_status)."""
        marks = self._marks.get(track_id)
        if marks is None:
            n = self.video.num_frames if self.video is not None else 0
            marks = self._marks[track_id] = PersonMarks(track_id, n)
            if self.video is not None:
                for f in self.video.poses:
                    marks.update(self.video, f)
        return marks

    def suggested_pose(self) -> tuple[int, int] | None:
        """(frame, person) of the suggested next keyframe, the pose the fill doubts most, while
        review is not done: review.suggest_keyframe (what bench-effort's guided annotator takes),
        over this session's per-frame cache."""
        if self.video is None:
            return None
        item = review.suggest_keyframe(self.video, errors=self.review_state()[0])
        return None if item is None else (item.frame, item.track_id)

    def next_to_review(self, skip=frozenset()) -> review.ReviewItem | None:
        """The next pose of the review order not in `skip` ({(frame, track)}): review.next_to_review,
        over this session's per-frame cache."""
        if self.video is None:
            return None
        return review.next_to_review(self.video, skip, errors=self.review_state()[0])

    def neighbour_keyframes(self, frame: int) -> list[tuple[int, int]]:
        """(track id, frame) of each person's labelled keyframe just before and just after `frame`
        (the onion skin: a "not in view" mark has no pose to draw, and stood in for the person's
        last pose; before a person's first keyframe or after their last, only one within the
        video's keyframe interval), looked up in per-person keyframe lists kept up to date on each
        edit: a frame step does not scan the video's poses."""
        if self.video is None:
            return []
        if self._keyframes is None:
            self._keyframes = {}
            for f in sorted(self.video.poses):
                for tid, pose in self.video.poses[f].items():
                    if is_labelled_keyframe(pose):
                        self._keyframes.setdefault(tid, []).append(f)
        found = []
        reach = max(1, self.video.keyframe_stride)
        for tid in self.video.tracks:
            frames = self._keyframes.get(tid, [])
            i, j = bisect_left(frames, frame), bisect_right(frames, frame)
            before = frames[i - 1] if i > 0 else None
            after = frames[j] if j < len(frames) else None
            # Outside the person's keyframes, only the nearest within one keyframe interval: a
            # trial took a walker's keyframe 40 frames on, drawn on frame 0, for a pose there.
            if before is not None and (after is not None or j > i or frame - before <= reach):
                found.append((tid, before))
            if after is not None and (before is not None or j > i or after - frame <= reach):
                found.append((tid, after))
        return found

    def _update_keyframes(self, frame: int, track_id: int) -> None:
        pose = self.video.pose(frame, track_id)
        frames = self._keyframes.setdefault(track_id, [])
        i = bisect_left(frames, frame)
        listed = i < len(frames) and frames[i] == frame
        labelled = pose is not None and is_labelled_keyframe(pose)
        if labelled and not listed:
            frames.insert(i, frame)
        elif not labelled and listed:
            del frames[i]

    def suspect_labels(self) -> list[label_check.SuspectLabel]:
        """Labels of this video that jump off the line between their neighbours or look swapped
        left/right (posewarper_core.label_check), by frame, cached until an edit."""
        if self._suspects is None:
            v = self.video
            self._suspects = label_check.suspect_labels(v, self.skeleton) if v is not None else []
        return self._suspects

    def checkable_labels(self) -> int:
        """How many labels of this video have the same joint labelled in the frames just before
        and after (what suspect_labels can judge)."""
        v = self.video
        return label_check.checkable_labels(v) if v is not None else 0

    # --- writing (each call is one saved transaction) ------------------------------------------
    def apply(self, changes: list[PoseChange]) -> None:
        if not changes:
            return
        self.store.apply(changes)
        frames = {c.frame for c in changes}
        # The caches are this video's: only its frames touched are updated (the whole video's
        # status took ~130 ms at 30,000 poses); an edit of another video changes none of them.
        shown = {c.frame for c in changes if c.video_id == self.video_id}
        if self._status is not None:
            for f in shown:
                self._status[f] = self.video.status_of_frame(f)
        if self._review is not None:
            for f in shown:
                self._update_review(f)
        for marks in self._marks.values():
            for f in shown:
                marks.update(self.video, f)
        if self._keyframes is not None:
            for c in changes:
                if c.video_id == self.video_id:
                    self._update_keyframes(c.frame, c.track_id)
        if shown:
            self._suspects = None
        self.posesChanged.emit(frames)

    def set_track(self, track: Track) -> None:
        self.store.set_track(self.video_id, track)
        self.tracksChanged.emit()

    def delete_track(self, track_id: int) -> None:
        self.store.delete_track(self.video_id, track_id)
        self._status = self._review = self._suspects = self._keyframes = None
        self._marks = {}
        self.tracksChanged.emit()
        self.posesChanged.emit(set())

    def remove_video(self, video_id: int) -> Video:
        """Take a video, with its people and poses, out of the project; returns it, to put back.
        Not the video shown: the caller shows another one first."""
        if video_id == self.video_id:
            raise PoseWarperError(f"video {video_id} is shown: show another video before removing it")
        video = self.project.video(video_id)
        self.store.remove_video(video_id)
        self.videoRemoved.emit(video_id)
        return video

    def restore_video(self, video: Video) -> int:
        """Put a removed video back (under its old id if it is still free); returns its id."""
        video_id = self.store.add_video(video)
        self.videoAdded.emit(video_id)
        return video_id

    def set_keyframe_stride(self, k: int) -> None:
        self.store.update_video(self.video_id, keyframe_stride=int(k))
        self.videoChanged.emit()


class PersonMarks:
    """Per frame, one person's timeline marks and the strongest of everyone else's: status (0
    empty, 1 auto-filled, 2 corrected, 3 keyframe: annotation.pose_status), reviewed, and
    absent: a "not in view" mark (Pose.is_absent_mark). The person's mark keeps status 3 (the
    keyframe slot is done) and is drawn apart; another person's mark is no pose to show in the
    others' status, only `others_absent`."""

    def __init__(self, track_id: int, num_frames: int):
        self.track_id = track_id
        self.status = np.zeros(num_frames, np.uint8)
        self.others = np.zeros(num_frames, np.uint8)
        self.reviewed = np.zeros(num_frames, bool)
        self.others_reviewed = np.zeros(num_frames, bool)
        self.absent = np.zeros(num_frames, bool)
        self.others_absent = np.zeros(num_frames, bool)

    def update(self, video: Video, frame: int) -> None:
        mine, others, others_reviewed, others_absent = None, 0, False, False
        for tid, p in video.poses.get(frame, {}).items():
            if tid == self.track_id:
                mine = p
            elif p.is_absent_mark():
                others_absent = True
            else:
                others = max(others, pose_status(p))
                others_reviewed = others_reviewed or p.reviewed
        self.status[frame] = pose_status(mine) if mine is not None else 0
        self.reviewed[frame] = mine is not None and mine.reviewed
        self.absent[frame] = mine is not None and mine.is_absent_mark()
        self.others[frame], self.others_reviewed[frame], self.others_absent[frame] = (
            others, others_reviewed, others_absent)
