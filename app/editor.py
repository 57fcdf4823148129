"""What the annotator is doing: the current frame, the selected person, the next joint to
place, and every labelling action as an undoable command. No widgets here: the window wires
the canvas, panels and menus to these methods and signals."""
from __future__ import annotations

import bisect

import numpy as np
from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoGroup, QUndoStack

from posewarper_core import correction, review
from posewarper_core.annotation import (AUTO_PROVENANCE, Pose, PoseChange, Provenance, Track, Visibility,
                                        is_labelled_keyframe)

from . import clickorder, edits, navigation
from .commands import DeleteTrackCommand, PoseChangesCommand, RemoveVideoCommand, SetTrackCommand
from .panels import count_of


class Editor(QObject):
    frameChanged = Signal(int)
    selectionChanged = Signal()  # selected person or next joint changed
    message = Signal(str)
    jointPlaced = Signal(int, int)  # (track, joint) a click placed

    def __init__(self, session, parent=None):
        super().__init__(parent)
        self.session = session
        # One undo history per video: undoing never reaches into a video that is not on screen
        # (a person's rename or deletion applies to the video shown), and each comes back intact.
        self.undo_group = QUndoGroup(self)
        self._stacks: dict[int, QUndoStack] = {}
        self.left_at: dict[int, int] = {}  # the frame each video was left at (saved with the project: viewstate.py)
        self.frame = 0
        self.track: int | None = None
        self.cursor: int | None = 0
        self.order = clickorder.load(session.store)  # the joints clicks place, in order (the user's)
        self.visited: set[tuple[int, int]] = set()  # (frame, track) R has shown since the last round
        self._video_id = session.video_id
        self._activate_history()
        session.posesChanged.connect(self._poses_changed)
        session.tracksChanged.connect(self._tracks_changed)
        session.videoChanged.connect(self._video_changed)
        session.videoRemoved.connect(self._forget_video)
        if self.video is not None:
            self._tracks_changed()

    # --- state ----------------------------------------------------------------------------
    @property
    def video(self):
        return self.session.video

    @property
    def undo_stack(self) -> QUndoStack:
        """The shown video's undo history."""
        return self.undo_group.activeStack()

    def _activate_history(self) -> None:
        stack = self._stacks.get(self._video_id)
        if stack is None:
            stack = self._stacks[self._video_id] = QUndoStack(self)
            self.undo_group.addStack(stack)
        self.undo_group.setActiveStack(stack)

    def _video_changed(self) -> None:
        """Another video is shown: come back to where it was left, with its own history."""
        if self.session.video_id == self._video_id:
            return  # the same video's settings changed (its keyframe interval)
        self.left_at[self._video_id] = self.frame
        self._video_id = self.session.video_id
        self._activate_history()
        self.visited = set()
        if self.video is None:
            return
        self.frame = navigation.clamp(self.left_at.get(self._video_id, 0), self.video.num_frames)
        self.track = None
        self._tracks_changed()  # selects the first person and the first joint to place

    def _forget_video(self, video_id: int) -> None:
        """A removed video's history goes with it: a video added later may get its id."""
        stack = self._stacks.pop(video_id, None)
        if stack is not None:
            self.undo_group.removeStack(stack)
            stack.deleteLater()
        self.left_at.pop(video_id, None)

    def remove_video(self, video_id: int) -> None:
        """Take another video (not the one shown) out of the project, as a step of this video's
        history: undo here puts it back."""
        video = self.session.project.video(video_id)
        command = RemoveVideoCommand(self.session, video_id,
                                     f"Remove video {video_id}: {video.name or video.source}")
        self.undo_stack.push(command)
        if command.failed is not None:
            raise command.failed

    @property
    def num_joints(self) -> int:
        return self.session.skeleton.num_joints

    def pose(self, track_id: int | None = None):
        tid = self.track if track_id is None else track_id
        return self.video.pose(self.frame, tid) if tid is not None else None

    def poses_here(self) -> dict:
        return dict(self.video.poses.get(self.frame, {}))

    def next_joint_name(self) -> str | None:
        return self.session.skeleton.joints[self.cursor] if self.cursor is not None else None

    # --- navigation -----------------------------------------------------------------------
    def seek(self, frame: int) -> None:
        frame = navigation.clamp(frame, self.video.num_frames)
        if frame == self.frame:
            return
        self.frame = frame
        self._reset_cursor()
        self.frameChanged.emit(frame)

    def step(self, delta: int) -> None:
        self.seek(self.frame + delta)

    def step_k(self, sign: int) -> None:
        self.seek(self.frame + sign * self.video.keyframe_stride)

    def to_keyframe(self, sign: int) -> None:
        f = navigation.next_keyframe(self.marked_status(), self.frame, sign)
        self._seek_or_say(f, "No more labelled keyframes that way" + self._whose() + ".")

    def to_unlabelled_slot(self) -> None:
        """The next keyframe slot with no keyframe, or keyframe that lacks joints both keyframes
        around it have (Video.incomplete_keyframes), of the selected person, else of anyone."""
        mine = self.track is not None and self.track in self.video.tracks
        lacking: dict[int, list[tuple[int, np.ndarray]]] = {}
        for tid in ([self.track] if mine else sorted(self.video.tracks)):
            for f, joints in self.video.incomplete_keyframes(tid).items():
                lacking.setdefault(f, []).append((tid, joints))
        slots = navigation.unlabelled_slots(self.marked_status(), self.video.keyframe_stride)
        f = navigation.next_of(set(slots) | set(lacking), self.frame)
        if f is None:
            self.message.emit("Every keyframe slot is labelled, and no keyframe lacks a joint the keyframes around "
                              "it have" + self._whose() + ".")
            return
        wrapped = f <= self.frame
        self.seek(f)
        if f not in lacking:  # an empty slot: said, or the last stop's message stays (a trial read it)
            who = f"{self.person_name(self.track)} is not" if mine else "nobody is"
            self.message.emit(f"Keyframe slot {f}" + (" (from the start again)" if wrapped else "") +
                              f": {who} labelled here yet. Clicks place joints, E suggests them.")
        else:  # a keyframe lacking joints (so no empty slot)
            tid, joints = lacking[f][0]
            self.select_track(tid)
            self.set_cursor(next(j for j in self.order + list(joints) if j in joints))  # the first a click places
            names = ", ".join(self.session.skeleton.joints[j] for j in joints)
            pose = self.video.pose(f, tid)
            how = ("A accepts the suggested ones, clicks place the rest" if (pose.labelled()[joints]).any()
                   else "Clicks place them (E suggests them)")
            self.message.emit(f"Keyframe {f}: {self.person_name(tid)} lacks {names}, labelled on the keyframes before "
                              f"and after it. {how}.")

    def marked_status(self):
        """Per frame, the status the timeline shows: the selected person's, else every pose's."""
        if self.track is not None and self.track in self.video.tracks:
            return self.session.person_marks(self.track).status
        return self.session.frame_status()

    def _whose(self) -> str:
        return f" for person {self.track}" if self.track is not None and self.track in self.video.tracks else ""

    def to_review(self, said: str = "", go_round: bool = False) -> None:
        """The pose the fill doubts most (highest predicted error, review.py) not yet shown this
        way; its person is selected. `said` goes before the message (what was just done).
        `go_round` (after an accept): when every pose still to review was shown this round, start
        the next round at once, so A goes on to what is still unreviewed (a pose shown and passed
        over, or accepted and then undone) instead of stopping with some left (a trial: 2)."""
        item = self.session.next_to_review(skip=self.visited)
        again = False
        if item is None and go_round and self.visited:
            self.visited.clear()
            item = self.session.next_to_review()
            again = item is not None
        if item is None:
            had = bool(self.visited)
            self.visited.clear()
            self.message.emit(said + ("Every pose still to review was shown; R starts again from the most doubtful."
                                      if had else "Nothing to review: every filled pose is a keyframe, reviewed or "
                                                  "corrected."))
            return
        self.visited.add((item.frame, item.track_id))
        self.seek(item.frame)
        self.select_track(item.track_id)
        done = item.predicted_error < review.REVIEW_DONE_BELOW
        left = self.session.poses_to_review()[0]
        # The joints ringed amber, not the predicted error read as a count: that overstates it (of
        # the dev clips' filled joints with confidence 0.4-0.6, 1 % were off by alpha = 0.5).
        n = len(review.doubtful_joints(self.video.pose(item.frame, item.track_id)))
        # Short enough for a 1366 px status bar after an "Accepted ..." (a trial saw it cut off);
        # "Again" (a pose shown before this round) is as wide as "Review" for that reason.
        self.message.emit(
            said + ("Again" if again else "Review")
            + f": frame {item.frame}, person {item.track_id}, {n} doubtful joint{'s' if n != 1 else ''} "
            f"ringed (predicted error {item.predicted_error:.2f}"
            # crossing the threshold is said in so many words (a trial read on without noticing)
            + ("; review is done, the rest optional)" if done else f"; {left} pose{'s' if left != 1 else ''} to go)")
            # after an accept the keys are known, and the line must fit 1366 px (a check saw it cut)
            + (". A accepts; drag what is off; Del, E: afresh." if not said else "."))

    def to_suggestion(self) -> None:
        """The suggested next keyframe: the pose the fill doubts most, with its person selected."""
        item = self.session.next_to_review()
        if item is None or item.predicted_error < review.REVIEW_DONE_BELOW:
            self.message.emit(f"No keyframe to suggest: no filled pose's predicted error reaches "
                              f"{review.REVIEW_DONE_BELOW} (review is done).")
            return
        self.seek(item.frame)
        self.select_track(item.track_id)
        self.message.emit(f"Suggested keyframe: frame {item.frame}, person {item.track_id} (predicted error "
                          f"{item.predicted_error:.2f}): fix what is off, K makes it a keyframe, "
                          "G re-fills the gap.")

    def accept(self) -> None:
        """Mark the selected person's filled pose here reviewed (looked at, accepted as it is);
        the chains on both sides take it as an anchor. Then on to the next pose to review.
        Accepting vouches for every joint: when the fill doubts some (review.doubtful_joints),
        the first A names them and a second A on the same pose accepts it."""
        pose = self.pose()
        if pose is None or not review.needs_review(pose):
            left, optional = self.session.poses_to_review()  # as R counts them
            s = "s" if (left or optional) != 1 else ""
            self.message.emit("Nothing to accept: select a person whose pose here is filled and not yet reviewed" + (
                f"; {left} pose{s} still to review, R goes there." if left else
                f"; review is done ({optional} pose{s} left, optional: R goes there)." if optional else "."))
            return
        doubtful = review.doubtful_joints(pose)
        asking = (self.video.video_id, self.frame, self.track, tuple(doubtful))
        # Short: the status bar shows ~150 characters at 1366 px, and what to do comes first.
        joints = f"{len(doubtful)} joint{'s' if len(doubtful) > 1 else ''}"
        if doubtful and self._accept_asked != asking:
            self._accept_asked = asking
            self.message.emit(f"Person {self.track}, frame {self.frame}: the fill doubts {joints} "
                              f"({self._joint_list(pose, doubtful, 3, True)}). Drag what is off, or A again "
                              "to accept it as it is.")
            return
        self._accept_asked = None
        self._push(f"Accept person {self.track} at frame {self.frame} (reviewed)",
                   correction.accept_pose(self.video, self.frame, self.track))
        said = f"Accepted person {self.track}, frame {self.frame}"
        said += f", with {joints} in doubt ({self._joint_list(pose, doubtful, 2)}). " if doubtful else ". "
        self.to_review(said, go_round=True)

    _accept_asked: tuple | None = None  # the pose (and its doubtful joints) A last asked about

    def _joint_list(self, pose, joints: list[int], most: int, confidence: bool = False) -> str:
        """'left_wrist 0.00, right_elbow 0.12 +3' (with `confidence`): a status line's worth."""
        names = self.session.skeleton.joints
        joints = sorted(joints, key=lambda j: pose.confidence[j])  # the most doubtful first
        text = ", ".join(names[j] + (f" {pose.confidence[j]:.2f}" if confidence else "") for j in joints[:most])
        return text + (f" +{len(joints) - most}" if len(joints) > most else "")

    def to_suspect(self) -> None:
        """The next suspect label after the current frame (person, joint), wrapping round: its
        person is selected and the joint made the next to place, so one click re-places it."""
        found = self.session.suspect_labels()
        if not found:
            checked = self.session.checkable_labels()
            if checked:
                # joints, not poses, and filled ones too (trials read "5552 labels" as poses, and
                # "1170 joint labels" as more than they had placed)
                self.message.emit(f"No suspect labels: all {checked} joints (placed or filled) with a neighbour on "
                                  "both sides lie near the line between them.")
            else:
                self.message.emit("Nothing to check: a label is checked against the same joint labelled in the "
                                  "frames just before and after, and no label here has both.")
            return
        here = (self.frame, self.track if self.track is not None else -1, self.cursor if self.cursor is not None else -1)
        n = next((i for i, s in enumerate(found) if (s.frame, s.track_id, s.joint) > here), 0)
        s = found[n]
        self.seek(s.frame)
        self.select_track(s.track_id)
        self.set_cursor(s.joint)
        names = self.session.skeleton.joints
        who = self.person_name(s.track_id)
        if s.kind == "swap":
            what = f"{names[s.joint]} and {names[s.other]} look swapped"
        elif s.kind == "shift":
            what = (f"{names[s.joint]} is {s.off:.2f} x the person's size off its track, with the frames "
                    "next to it (a pose copied on and not corrected?)")
        else:
            what = f"{names[s.joint]} is {s.off:.2f} x the person's size off the line between its neighbours"
        self.message.emit(f"Suspect label {n + 1} of {len(found)}: frame {s.frame}, {who}: {what}.")

    def _seek_or_say(self, frame, text: str) -> None:
        if frame is None:
            self.message.emit(text)
        else:
            self.seek(frame)

    # --- selection and the next-joint cursor -------------------------------------------------
    def select_track(self, track_id: int | None) -> None:
        if track_id == self.track:
            return
        self.track = track_id
        self._reset_cursor()

    def cycle_track(self) -> None:
        ids = sorted(self.video.tracks)
        if ids:
            i = ids.index(self.track) + 1 if self.track in ids else 0
            self.select_track(ids[i % len(ids)])

    def _reset_cursor(self) -> None:
        self.cursor = edits.next_joint(self.pose(), self.order)
        self.selectionChanged.emit()

    def skip_joint(self, sign: int = 1) -> None:
        """Move the cursor to the next joint of the click order (placed or not), or back. With
        every joint placed, forward starts at the first joint still a suggestion (a trial pressed
        S over a suggested pose and always landed on the nose it had placed by hand)."""
        if self.cursor in self.order:
            i = self.order.index(self.cursor) + sign
        else:
            first = edits.next_suggested(self.pose(), self.order) if sign > 0 else None
            i = self.order.index(first) if first is not None else (0 if sign > 0 else -1)
        self.cursor = self.order[i % len(self.order)]
        self.selectionChanged.emit()

    def set_click_order(self, order: list[int]) -> None:
        """The joints clicks place, in this order, for the whole project (kept in its file)."""
        clickorder.save(self.session.store, order)
        self.order = list(order)
        self._reset_cursor()

    def set_cursor(self, joint: int) -> None:
        self.cursor = joint
        self.selectionChanged.emit()

    # --- labelling ------------------------------------------------------------------------
    def place(self, x: float, y: float, visibility: int = Visibility.VISIBLE) -> None:
        """Place the cursor joint of the selected person at (x, y)."""
        if self.track is None:
            if self.video.tracks:
                self.message.emit("Select a person first (Tab, or click one in the People panel).")
                return
            self.add_person()
        if self.cursor is None:
            self.message.emit("Every joint of this person is placed: drag to correct, or press S to pick one.")
            return
        j = self.cursor
        before = self.pose()
        was_absent = before is not None and before.is_absent_mark()
        was_suggested = before is not None and before.labelled()[j] and before.provenance[j] == Provenance.SUGGESTED
        # a joint of a filled pose, filled or corrected before (a second correction re-fills as
        # the first did: a trial's neighbours kept the first one's carry)
        was_filled = (before is not None and not before.keyframe and bool(before.labelled()[j])
                      and before.provenance[j] in REFILLED_FROM)
        pose = edits.place_joint(before, self.num_joints, j, (x, y), visibility)
        name = self.session.skeleton.joints[j]
        # A click re-placing a joint corrects it as a drag does: the filled frames around follow,
        # in the same step (a trial's clicks after J changed only the frame).
        if was_filled:
            changes = correction.correct_joints(self.video, self.frame, self.track, {j: (x, y)}, carry_placed=True)
            next(c.pose for c in changes if c.frame == self.frame).visibility[j] = visibility
        elif was_suggested:
            changes = correction.accept_suggested(self.video, self.frame, self.track, pose, [j])
        elif before is not None and before.keyframe and before.labelled()[j]:
            changes = correction.move_keyframe_joints(self.video, self.frame, self.track, pose, [j])
        else:
            changes = [PoseChange(self.video.video_id, self.frame, self.track, pose)]
        self._push(f"Place {name}" + _refills(changes), changes)
        pose = self.pose()
        # the next free joint; after re-placing a suggested joint, the next one still a suggestion
        # or free, so clicks go on through the pose in order (S skips one that is right; a trial
        # had to pick each one again)
        if was_suggested:
            self.cursor = edits.next_suggested(pose, self.order, after=j, free_too=True)
        else:
            self.cursor = edits.next_joint(pose, self.order, after=j)
        self.jointPlaced.emit(self.track, j)
        self.selectionChanged.emit()
        if len(changes) > 1:  # said after jointPlaced's "Placed ...", which it would hide
            self.message.emit(self._moved(self.track, name, changes, verb="Placed"))
        if was_absent:  # said after jointPlaced's "Placed ...", which it would hide
            self.message.emit(f"Placed {name} of person {self.track}: the not-in-view mark on frame {self.frame} "
                              "is gone (Ctrl+Z brings it back)")

    def move_joint(self, track_id: int, j: int, x: float, y: float) -> None:
        pose = self.pose(track_id)
        if pose is None:
            return
        x, y = self._on_picture(np.array([[x, y]]))[0]
        name = self.session.skeleton.joints[j]
        if not pose.keyframe and pose.labelled()[j] and pose.provenance[j] in REFILLED_FROM:
            # A joint of a filled pose dragged (filled, or corrected before: a trial's second drag
            # left the frames around on the first one's re-fill): its chain on both sides is
            # re-filled from it, in the same step.
            changes = correction.correct_joints(self.video, self.frame, track_id, {j: (x, y)}, carry_placed=True)
            self._push(f"Move {name}" + _refills(changes), changes)
            self.message.emit(self._moved(track_id, name, changes))
            return
        if pose.provenance[j] == Provenance.SUGGESTED:
            # A suggested joint dragged is the annotator's: the filled frames around carry it, in the same step.
            changes = correction.accept_suggested(self.video, self.frame, track_id,
                                                  edits.move_joint(pose, j, (x, y)), [j])
            self._push(f"Move {name}" + _refills(changes), changes)
            self.message.emit(self._moved(track_id, name, changes))
            return
        # A placed joint dragged: on a keyframe the filled frames around were filled from its old
        # place and follow it, in the same step.
        moved = edits.move_joint(pose, j, (x, y))
        if pose.keyframe:
            changes = correction.move_keyframe_joints(self.video, self.frame, track_id, moved, [j])
        else:
            changes = [PoseChange(self.video.video_id, self.frame, track_id, moved)]
        self._push(f"Move {name}" + _refills(changes), changes)
        # said as the re-filling drags say theirs (a trial saw nothing said after a drag on a keyframe)
        self.message.emit(self._moved(track_id, name, changes) if len(changes) > 1 else
                          f"Moved {self.person_name(track_id)}'s {name} on frame {self.frame}. Ctrl+Z undoes.")

    def _on_picture(self, xy: np.ndarray) -> np.ndarray:
        """Points (N, 2) kept on the picture, as a click is (a trial dragged a joint into the grey
        margin and exported it at x = -35, visible)."""
        if not self.video.width or not self.video.height:
            return xy
        return np.clip(xy, 0.0, [self.video.width - 1.0, self.video.height - 1.0])

    def person_name(self, track_id: int) -> str:
        """The person's name, else "person N"."""
        track = self.video.tracks.get(track_id)
        return track.name if track is not None and track.name else f"person {track_id}"

    def _moved(self, track_id: int, name: str, changes: list[PoseChange], verb: str = "Moved") -> str:
        """What a drag (or click) that re-fills did, in one line a 1366 px status bar shows whole (a
        trial saw nothing said: the re-fill changes frames off screen)."""
        who = self.person_name(track_id)
        refilled = self._refilled(changes)
        if not refilled:
            return f"{verb} {who}'s {name} on frame {self.frame} (no filled frames around it to re-fill). Ctrl+Z undoes."
        return f"{verb} {who}'s {name} on frame {self.frame}{refilled}. Ctrl+Z undoes."

    def _refilled(self, changes: list[PoseChange]) -> str:
        """'; re-filled N frames around it (a-b)' for the changes' frames other than this one, or ''."""
        around = sorted({c.frame for c in changes if c.frame != self.frame})
        if not around:
            return ""
        return f"; re-filled {len(around)} frame{'s' if len(around) > 1 else ''} around it ({around[0]}-{around[-1]})"

    def move_pose(self, track_id: int, dx: float, dy: float) -> None:
        pose = self.pose(track_id)
        if pose is not None and pose.labelled().any():
            # the whole pose stops at the picture's edge, its shape kept (not squashed onto it)
            xy = pose.xy[pose.labelled()]
            if self.video.width and self.video.height:
                dx = float(np.clip(dx, -xy[:, 0].min(), self.video.width - 1.0 - xy[:, 0].max()))
                dy = float(np.clip(dy, -xy[:, 1].min(), self.video.height - 1.0 - xy[:, 1].max()))
            self._whole_pose(track_id, edits.move_pose(pose, (dx, dy)), "Move",
                             f"Moved {self.person_name(track_id)}'s whole pose on frame {self.frame} by "
                             f"{dx:+.0f}, {dy:+.0f} px")

    def turn_pose(self, track_id: int, cx: float, cy: float, angle: float, scale: float) -> None:
        pose = self.pose(track_id)
        if pose is not None:
            self._whole_pose(track_id, edits.turn_pose(pose, (cx, cy), angle, scale), "Rotate / scale",
                             f"Turned {self.person_name(track_id)}'s pose on frame {self.frame} by "
                             f"{np.degrees(angle):+.0f}° and scaled it x{scale:.2f}")

    def _whole_pose(self, track_id: int, moved: Pose, verb: str, said: str) -> None:
        """Put the moved or turned pose here in one undo step. A filled pose's joints are corrected
        as a drag corrects one, so the frames around follow (a trial Shift+dragged a filled pose
        onto its person and the next frame kept the old one)."""
        pose = self.pose(track_id)
        who = self.person_name(track_id)
        moved.xy[moved.labelled()] = self._on_picture(moved.xy[moved.labelled()])  # a pose turned past the edge
        if not pose.keyframe:
            moves = {int(j): tuple(moved.xy[j]) for j in np.flatnonzero(pose.labelled())}
            changes = correction.correct_joints(self.video, self.frame, track_id, moves, carry_placed=True)
            here = next(c.pose for c in changes if c.frame == self.frame)
            here.bbox, here.head_box = moved.bbox, moved.head_box  # moved with the pose, as on a keyframe
            self._push(f"{verb} {who}" + _refills(changes), changes)
            said += self._refilled(changes)
        else:  # a keyframe: the filled frames around follow each joint's move
            changes = correction.move_keyframe_joints(self.video, self.frame, track_id, moved,
                                                      np.flatnonzero(pose.labelled()))
            self._push(f"{verb} {who}" + _refills(changes), changes)
            said += self._refilled(changes)
        self.message.emit(said + ". Ctrl+Z undoes.")

    def toggle_occluded(self, track_id: int | None = None, j: int | None = None) -> None:
        track_id, j = self._target(track_id, j)
        pose = self.pose(track_id) if track_id is not None else None
        if pose is None or j is None or pose.visibility[j] == Visibility.NOT_LABELLED:
            self.message.emit("No placed joint to flag: hover over one (or pick it with W/S).")
            return
        vis = Visibility.VISIBLE if pose.visibility[j] == Visibility.OCCLUDED else Visibility.OCCLUDED
        name = self.session.skeleton.joints[j]
        self._push(f"Mark {name} {'occluded' if vis == Visibility.OCCLUDED else 'visible'}",
                   [PoseChange(self.video.video_id, self.frame, track_id, edits.set_visibility(pose, j, vis))])

    def unlabel(self, track_id: int | None = None, j: int | None = None) -> None:
        track_id, j = self._target(track_id, j)
        pose = self.pose(track_id) if track_id is not None else None
        if pose is None or j is None:
            return
        if pose.visibility[j] == Visibility.NOT_LABELLED:
            self.skip_joint(1)  # "not labelled" on a joint not placed yet: just move on
            return
        new = edits.set_visibility(pose, j, Visibility.NOT_LABELLED)
        change = PoseChange(self.video.video_id, self.frame, track_id, None if new.is_empty() else new)
        self._push(f"Unlabel {self.session.skeleton.joints[j]}", [change])

    def _target(self, track_id, j):
        """The hovered joint if any, else the selected person's cursor joint."""
        if track_id is None and self.hover is not None:
            return self.hover
        if track_id is None:
            return self.track, self.cursor
        return track_id, j

    hover: tuple[int, int] | None = None

    # --- people ---------------------------------------------------------------------------
    def add_person(self) -> int:
        tid = max(self.video.tracks, default=0) + 1
        self.undo_stack.push(SetTrackCommand(self.session, Track(tid, f"person {tid}")))
        self.select_track(tid)
        return tid

    def rename_person(self, track_id: int, name: str) -> None:
        old = self.video.tracks.get(track_id)
        if old is not None and name and name != old.name:
            self.undo_stack.push(SetTrackCommand(self.session, Track(track_id, name), f"Rename person {track_id}"))

    def delete_pose(self) -> None:
        if self.track is None:
            self.message.emit("Select a person first: Del deletes the selected person's pose on this frame.")
            return
        pose = self.pose()
        if pose is None:
            self.message.emit("The selected person has no pose in this frame.")
            return
        # A keyframe's fill goes with it, where nobody touched it (as X does): it was carried from
        # this pose (a trial's fill made from a deleted keyframe stayed, nothing said).
        keys = self.video.gap_keyframes(self.track)
        stale = self._untouched_fill_around(self.track, [self.frame] if self.frame in keys else [])
        self._push(f"Delete pose of person {self.track}",
                   [PoseChange(self.video.video_id, self.frame, self.track, None)]
                   + [PoseChange(self.video.video_id, f, self.track, None) for f in stale])
        # said, as every other edit is (a trial's Delete left the status bar silent)
        who = f"Deleted {self.person_name(self.track)}'s"
        cleared = f"; the fill of {count_of(len(stale), 'frame')} made from it removed (G fills again)" if stale else ""
        if pose.is_absent_mark():
            self.message.emit(f"{who} not-in-view mark on frame {self.frame}. Ctrl+Z undoes.")
        else:
            self.message.emit(f"{who} pose on frame {self.frame} ({count_of(int(pose.labelled().sum()), 'joint')})"
                              f"{cleared}. Ctrl+Z undoes; E suggests a fresh one.")

    def delete_range(self, first: int, last: int, track_ids=None, keep_slots: bool = False) -> None:
        """Delete the poses (and not-in-view marks) of frames first..last of these people (None:
        everyone), in one undo step; with `keep_slots`, not those on keyframe slots (every k-th
        frame), to thin dense labels down to keyframes."""
        first, last = sorted((int(first), int(last)))
        stride = max(1, self.video.keyframe_stride)
        people = set(self.video.tracks if track_ids is None else track_ids)
        n = self.video.num_frames
        frames = [f for f in sorted(self.video.poses)
                  if first <= f <= last and not (keep_slots and navigation.is_slot(f, n, stride))]
        gone = {tid: [f for f in frames if tid in self.video.poses[f]] for tid in sorted(people)}
        kept = f", the keyframe slots (0, {stride}, {2 * stride}, … and the last) kept" if keep_slots else ""
        if not any(gone.values()):
            self.message.emit(f"No poses to delete on frames {first}-{last}{kept}.")
            return
        # with the fill made from the keyframes deleted, where nobody touched it (as Del does)
        stale = {tid: self._untouched_fill_around(tid, sorted(set(fs) & set(self.video.gap_keyframes(tid))), fs)
                 for tid, fs in gone.items()}
        changes = [PoseChange(self.video.video_id, f, tid, None) for tid in gone for f in gone[tid] + stale[tid]]
        marks = sum(self.video.pose(f, tid).is_absent_mark() for tid in gone for f in gone[tid])
        poses = count_of(sum(map(len, gone.values())) - marks, 'pose') + (
            f" and {count_of(marks, 'not-in-view mark')}" if marks else "")
        cleared = sum(map(len, stale.values()))
        cleared = f"; the fill of {count_of(cleared, 'frame')} made from them removed too" if cleared else ""
        who = self.person_name(next(iter(people))) if len(people) == 1 else "everyone"
        self._push(f"Delete {poses} of frames {first}-{last}", changes)
        self.message.emit(f"Deleted {poses} of {who} on frames {first}-{last}{kept}{cleared}. Ctrl+Z undoes.")

    def _untouched_fill_around(self, track: int, around: list[int], skip=()) -> list[int]:
        """The frames of the person's gaps around the frames `around` (keyframes deleted, a mark
        made), taken as no keyframes, that hold a fill nobody touched (no joint placed or
        corrected, not reviewed): it was carried from them, or across. `around` and `skip` are
        not counted."""
        around, skip = set(around), set(skip)
        others = [k for k in self.video.gap_keyframes(track) if k not in around]
        # each gap once, by bisection (thinning a 6,000-frame clip to its slots deleted thousands
        # of keyframes and rescanned every frame for each: 5.3 s on the UI thread, 0.06 s so)
        gaps = set()
        for frame in around:  # never one of `others`: gap_around's keyframe case does not arise
            i = bisect.bisect_right(others, frame)
            gaps.add((others[i - 1] if i else 0, others[i] if i < len(others) else self.video.num_frames - 1))
        frames = self.video.track_frames(track)
        stale = set()
        for lo, hi in gaps:
            stale.update(f for f in frames[bisect.bisect_left(frames, lo):bisect.bisect_right(frames, hi)]
                         if f not in around and f not in skip and edits.untouched_fill(self.video.pose(f, track)))
        return sorted(stale)

    def mark_absent(self) -> None:
        """Mark the selected person not in view on this frame (Pose.absent_mark), replacing their
        pose here: auto-fill then fills no gap that reaches this frame, and exports leave it out."""
        if self.track is None:
            self.message.emit("Select a person first: X marks the selected person not in view on this frame.")
            return
        pose = self.pose()
        if pose is not None and pose.is_absent_mark():
            self.message.emit(f"Person {self.track} is marked not in view on frame {self.frame} already.")
            return
        # The gaps next to the mark are not filled any more: the fill they hold goes too, where
        # nobody touched it (no joint placed or corrected, not reviewed), in the same undo step.
        stale = self._untouched_fill_around(self.track, [self.frame])
        self._push(f"Mark person {self.track} not in view at frame {self.frame}",
                   [PoseChange(self.video.video_id, self.frame, self.track, Pose.absent_mark(self.num_joints))]
                   + [PoseChange(self.video.video_id, f, self.track, None) for f in stale])
        what = "" if pose is None or pose.is_empty() else f" (their {int(pose.labelled().sum())} joints here removed)"
        cleared = f"; the fill of {len(stale)} frames next to it removed" if stale else ""
        self.message.emit(f"Person {self.track} marked not in view on frame {self.frame}{what}{cleared}. Auto-fill "
                          "skips the gaps next to it; Ctrl+Z undoes it.")

    def delete_person(self, track_id: int) -> None:
        self.undo_stack.push(DeleteTrackCommand(self.session, track_id))
        if self.track == track_id:
            self.select_track(None)

    def change_track(self, src: int, dst: int, from_here_on: bool) -> None:
        """Give person src's poses to id dst (swapping where dst has one): in this frame only,
        or from this frame to the end."""
        frames = range(self.frame, self.video.num_frames) if from_here_on else [self.frame]
        changes = edits.change_track(self.video, frames, src, dst)
        if not changes:
            self.message.emit(f"Person {src} has no pose to move.")
            return
        scope = "from here on" if from_here_on else "in this frame"
        self.undo_stack.beginMacro(f"Person {src} → {dst} {scope}")
        if dst not in self.video.tracks:
            self.undo_stack.push(SetTrackCommand(self.session, Track(dst, f"person {dst}")))
        self._push("Swap poses", changes)
        self.undo_stack.endMacro()
        self.select_track(dst)

    def copy_previous_keyframe(self) -> None:
        if self.track is None:
            self.message.emit("Select a person first.")
            return
        earlier = [f for f in self.video.keyframes(self.track)
                   if f < self.frame and is_labelled_keyframe(self.video.pose(f, self.track))]  # a pose to copy
        if not earlier:
            self.message.emit(f"Person {self.track} has no keyframe before this frame.")
            return
        src = self.video.pose(earlier[-1], self.track)
        self._push(f"Copy pose of person {self.track} from frame {earlier[-1]}",
                   [PoseChange(self.video.video_id, self.frame, self.track, edits.copy_as_keyframe(src))])
        self._reset_cursor()
        # said, as every other edit is (a trial's status bar still showed the Delete before it)
        self.message.emit(f"Copied {self.person_name(self.track)}'s pose from keyframe {earlier[-1]}: drag what "
                          "moved. Ctrl+Z undoes.")

    def promote(self) -> None:
        """Make the selected person's pose here a keyframe (an anchor for the next auto-fill,
        and used for tuning): only the pose the user looked at, not the others auto-filled."""
        pose = self.pose()
        if pose is None:
            self.message.emit("Nothing to promote: select a person with a pose in this frame.")
            return
        if pose.keyframe:
            self.message.emit(f"Person {self.track}'s pose here is a keyframe already.")
            return
        self._push(f"Promote person {self.track} at frame {self.frame} to keyframe",
                   [PoseChange(self.video.video_id, self.frame, self.track, correction.confirmed(pose))])
        self.message.emit(f"Person {self.track}'s pose at frame {self.frame} is a keyframe now "
                          "(promote the whole frame: Shift+K).")

    def promote_frame(self) -> None:
        """Make every pose of this frame a keyframe (an explicit action: all become anchors)."""
        changes = [PoseChange(self.video.video_id, self.frame, tid, correction.confirmed(p))
                   for tid, p in self.poses_here().items() if not p.keyframe]
        if not changes:
            self.message.emit("Nothing to promote: this frame has no auto-filled pose.")
            return
        self._push(f"Promote frame {self.frame} ({len(changes)} poses) to keyframes", changes)
        names = ", ".join(self.person_name(c.track_id) for c in changes)
        # said, as K says it (a trial's status bar stayed empty)
        self.message.emit(f"Frame {self.frame}: {names} {'is a keyframe' if len(changes) == 1 else 'are keyframes'} "
                          "now. Ctrl+Z undoes.")

    # --- plumbing -------------------------------------------------------------------------
    def _push(self, text: str, changes: list[PoseChange]) -> None:
        command = PoseChangesCommand(self.session, text, changes, frame=self.frame)
        self.undo_stack.push(command)
        if command.failed is not None:  # the store refused it: nothing changed, tell the user
            raise command.failed

    def _poses_changed(self, frames) -> None:
        if not frames or self.frame in frames:
            # place() moves the cursor on after this; an undo brings it back to the first gap.
            self.cursor = edits.next_joint(self.pose(), self.order)
            self.selectionChanged.emit()

    def _tracks_changed(self) -> None:
        if self.track not in self.video.tracks:
            self.track = min(self.video.tracks, default=None)
            self._reset_cursor()
        else:
            self.selectionChanged.emit()

    def status_array(self) -> np.ndarray:
        return self.session.frame_status()


# A filled pose's joints whose chain was filled (or re-filled) from them: moved again, the chain
# follows. Not a joint placed by hand where the fill had none (no frame was filled from it).
REFILLED_FROM = (*AUTO_PROVENANCE, Provenance.CORRECTED)


def _refills(changes: list[PoseChange]) -> str:
    """' (re-fills N frames)' for an undo step's text, '' when it re-fills none."""
    n = len(changes) - 1
    return f" (re-fills {count_of(n, 'frame')})" if n > 0 else ""
