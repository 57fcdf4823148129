"""Review in the real main window (offscreen): R goes to the pose the fill doubts most, A accepts
it (reviewed, shown on the timeline), N goes to the suggested next keyframe, and dragging a
filled joint re-fills its chain in the same undoable step."""
from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QFontMetrics
from test_gui_editing import clip, drag, label_keyframes, on_disk, press  # noqa: F401 (clip is a fixture)
from test_gui_session import click_image as click_image_at

from posewarper_core.annotation import Pose, PoseChange, Provenance, Track


def filled(qtbot, w):
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20), centre=(100, 120))
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.track_frames(tid) == list(range(0, 21))
    return tid


def filled_on(qtbot, w, frame):
    """`filled`, then `frame` shown with the person selected: (their id, their poses as they were)."""
    tid = filled(qtbot, w)
    before = {f: w.session.video.pose(f, tid).copy() for f in range(21)}
    w.editor.seek(frame)
    w.editor.select_track(tid)
    return tid, before


def doubt(w, tid, frame, conf):
    """Make the fill unsure of one pose (as a method's confidence would)."""
    pose = w.session.video.pose(frame, tid).copy()
    pose.confidence[pose.auto_joints()] = conf
    w.session.apply([PoseChange(w.session.video.video_id, frame, tid, pose)])


def test_dragging_a_filled_joint_refills_its_chain_in_one_undo_step(qtbot, clip):
    w = clip
    tid, before = filled_on(qtbot, w, 5)
    j = 6
    start = before[5].xy[j]
    drag(qtbot, w, tuple(start), QPoint(0, 24))
    after = on_disk(w)
    moved = after.pose(5, tid).xy[j] - start
    assert moved[1] > 10 and after.pose(5, tid).provenance[j] == Provenance.CORRECTED
    # the chain between the keyframes at 0 and 10 follows, fading towards them; other joints stay
    for f, share in ((1, 0.2), (3, 0.6), (8, 0.4)):
        assert after.pose(f, tid).xy[j] - before[f].xy[j] == pytest.approx(share * moved, abs=1e-6)
        assert (after.pose(f, tid).xy[j + 1] == before[f].xy[j + 1]).all()
    assert (after.pose(15, tid).xy == before[15].xy).all()
    assert w.editor.undo_stack.undoText().startswith("Move") and "re-fills 8 frames" in w.editor.undo_stack.undoText()
    # the status bar says so (a trial saw it blank), in a line a 1366 px window shows whole
    said = w.statusBar().currentMessage()
    name = w.session.skeleton.joints[j]
    assert said == f"Moved person {tid}'s {name} on frame 5; re-filled 8 frames around it (1-9). Ctrl+Z undoes."
    assert QFontMetrics(w.statusBar().font()).horizontalAdvance(said) < 1366 - 200
    press(w, Qt.Key_Z, Qt.ControlModifier)  # one step undoes the drag and its re-fill
    undone = on_disk(w)
    for f in range(21):
        assert undone.pose(f, tid).same_as(before[f])


def test_dragging_a_keyframe_joint_carries_the_frames_filled_from_it_in_one_undo_step(qtbot, clip):
    """A trial dragged a keyframe's wrist; the next frame kept the old place, still sure of it."""
    w = clip
    tid, before = filled_on(qtbot, w, 10)
    j = 6
    drag(qtbot, w, tuple(before[10].xy[j]), QPoint(0, 24))
    after = on_disk(w)
    moved = after.pose(10, tid).xy[j] - before[10].xy[j]
    assert moved[1] > 10 and after.pose(10, tid).keyframe
    for f, share in ((9, 0.9), (11, 0.9), (15, 0.5), (0, 0.0), (20, 0.0)):
        np.testing.assert_allclose(after.pose(f, tid).xy[j] - before[f].xy[j], share * moved, atol=1e-6)
    assert w.editor.undo_stack.undoText() == f"Move {w.session.skeleton.joints[j]} (re-fills 18 frames)"
    assert "re-filled 18 frames around it (1-19)" in w.statusBar().currentMessage()
    press(w, Qt.Key_Z, Qt.ControlModifier)
    undone = on_disk(w)
    assert all(undone.pose(f, tid).same_as(before[f]) for f in range(21))


def test_a_joint_dragged_into_the_margin_stays_on_the_picture(qtbot, clip):
    """A trial dragged a joint into the grey margin round the frame and exported it at x = -35,
    visible: a drag ends at the picture's edge, as a click does."""
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(0)
    pose = w.session.video.pose(0, tid)
    start = pose.xy[6]
    drag(qtbot, w, tuple(start), w.canvas.mapFromScene(QPointF(-40.0, start[1])) - w.canvas.mapFromScene(QPointF(*start)))
    assert on_disk(w).pose(0, tid).xy[6, 0] == pytest.approx(0.0)


def test_nothing_dropped_or_moved_past_the_pictures_edge_stays_there(qtbot, clip):
    """A template dropped by the edge loses the joints past it, and a pose moved past the edge
    (Shift+drag) stops at it, as a click and a joint's drag do."""
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    press(w, Qt.Key_T)
    click_image_at(qtbot, w, 3, 120)  # the template's centre near the left edge
    dropped = w.session.video.pose(10, tid)
    assert 0 < dropped.labelled().sum() < w.session.video.pose(0, tid).labelled().sum()
    assert (dropped.xy[dropped.labelled(), 0] >= 0).all()
    w.editor.seek(0)
    shape = w.session.video.pose(0, tid).xy.copy()
    w.editor.move_pose(tid, -300.0, 0.0)
    moved = w.session.video.pose(0, tid)
    assert (moved.xy[moved.labelled()] >= 0).all() and (moved.xy[moved.labelled(), 0] == 0).any()
    lab = moved.labelled()  # moved as a whole, up to the edge: its shape kept, not squashed onto it
    shift = moved.xy[lab] - shape[lab]
    np.testing.assert_allclose(shift, np.broadcast_to(shift[0], shift.shape), atol=1e-9)
    assert f"by {-shape[lab][:, 0].min():+.0f}, +0 px" in w.statusBar().currentMessage()


def test_an_accepted_suggestion_on_a_filled_pose_dragged_again_re_fills_again(qtbot, clip):
    """A suggested joint dragged on a filled pose carries into the frames around (its chain now
    comes from it), and so does a second drag of it."""
    w = clip
    tid = filled(qtbot, w)
    pose = w.session.video.pose(5, tid).copy()
    j = 9
    where = pose.xy[j].copy()
    pose.provenance[j] = Provenance.SUGGESTED  # E's suggestion where the fill had the joint
    w.session.apply([PoseChange(w.session.video.video_id, 5, tid, pose)])
    w.editor.seek(5)
    w.editor.select_track(tid)
    drag(qtbot, w, tuple(where), QPoint(12, 0))
    first = on_disk(w)
    assert first.pose(5, tid).provenance[j] == Provenance.CORRECTED
    drag(qtbot, w, tuple(first.pose(5, tid).xy[j]), QPoint(12, 0))
    second = on_disk(w)
    moved = second.pose(5, tid).xy[j] - first.pose(5, tid).xy[j]
    assert moved[0] > 5
    np.testing.assert_allclose(second.pose(4, tid).xy[j] - first.pose(4, tid).xy[j], 0.8 * moved, atol=1e-6)


def test_a_joint_placed_by_hand_on_a_filled_pose_moves_alone(qtbot, clip):
    """No frame was filled from a joint placed where the fill had none: dragging it moves only it."""
    w = clip
    tid = filled(qtbot, w)
    pose = w.session.video.pose(5, tid).copy()
    j = 9
    pose.visibility[j], pose.provenance[j] = 0, Provenance.NONE  # the fill had no joint 9 here
    w.session.apply([PoseChange(w.session.video.video_id, 5, tid, pose)])
    w.editor.seek(5)
    w.editor.select_track(tid)
    w.editor.set_cursor(j)
    click_image_at(qtbot, w, 150, 150)
    assert w.session.video.pose(5, tid).provenance[j] == Provenance.MANUAL
    before = {f: w.session.video.pose(f, tid).copy() for f in range(21)}
    drag(qtbot, w, (150.0, 150.0), QPoint(30, 0))
    after = on_disk(w)
    assert after.pose(5, tid).xy[j, 0] > 160
    assert all(after.pose(f, tid).same_as(before[f]) for f in range(21) if f != 5)


def test_poses_of_a_frame_range_are_deleted_in_one_step_keeping_the_keyframe_slots_if_asked(qtbot, clip):
    """A trial thinning dense labels to keyframes pressed Del 144 times: Ctrl+Shift+Del deletes a
    frame range's poses (everyone's, or the selected person's) in one undo step."""
    w = clip
    tid = filled(qtbot, w)
    before = {f: w.session.video.pose(f, tid) for f in range(21)}
    w.editor.seek(3)
    dialog = w.delete_range_dialog()  # what Ctrl+Shift+Del opens
    assert w.actions["delete_range"].shortcut().toString() == "Ctrl+Shift+Del"
    assert dialog.person_only.isChecked()  # deleting: the selected person only, unless unticked
    dialog.first.setValue(1)
    dialog.last.setValue(20)
    dialog.keep_slots.setChecked(True)
    dialog.accept()
    assert on_disk(w).track_frames(tid) == [0, 10, 20]
    assert w.statusBar().currentMessage() == (f"Deleted 18 poses of person {tid} on frames 1-20, the keyframe slots "
                                              "(0, 10, 20, … and the last) kept. Ctrl+Z undoes.")
    press(w, Qt.Key_Z, Qt.ControlModifier)
    assert all(on_disk(w).pose(f, tid).same_as(before[f]) for f in range(21))
    w.editor.delete_range(5, 12)  # everyone's, slots too: keyframe 10 goes, and the fill made from it
    assert on_disk(w).track_frames(tid) == [0, 20]
    assert w.statusBar().currentMessage() == ("Deleted 8 poses of person 1 on frames 5-12; the fill of 11 frames made "
                                              "from them removed too. Ctrl+Z undoes.")
    w.editor.delete_range(5, 12)
    assert w.statusBar().currentMessage() == "No poses to delete on frames 5-12."
    w.editor.seek(15)
    press(w, Qt.Key_X)  # a not-in-view mark is counted apart from poses
    w.editor.delete_range(15, 15)
    assert w.statusBar().currentMessage().startswith("Deleted 0 poses and 1 not-in-view mark of person 1 on frames 15-15")


def test_deleting_a_keyframe_takes_the_untouched_fill_made_from_it_in_the_same_step(qtbot, clip):
    """A trial deleted a keyframe and the fill carried from it stayed, nothing said. As X does, its
    untouched fill goes too (a corrected pose stays), said, and one undo brings all back."""
    w = clip
    tid = filled(qtbot, w)
    w.editor.seek(3)
    w.editor.select_track(tid)
    pose = w.session.video.pose(3, tid)
    drag(qtbot, w, tuple(pose.xy[6]), QPoint(0, 12))  # corrected on 3: the annotator's, kept
    before = {f: on_disk(w).pose(f, tid) for f in range(21)}
    w.editor.seek(10)
    press(w, Qt.Key_Delete)
    after = on_disk(w)
    kept = [f for f in range(21) if after.pose(f, tid) is not None]
    assert kept == [0, 3, 20]
    assert w.statusBar().currentMessage() == (f"Deleted person {tid}'s pose on frame 10 (15 joints); the fill of 17 "
                                              "frames made from it removed (G fills again). Ctrl+Z undoes; E suggests "
                                              "a fresh one.")
    press(w, Qt.Key_Z, Qt.ControlModifier)
    undone = on_disk(w)
    assert all(undone.pose(f, tid).same_as(before[f]) for f in range(21))


def test_a_template_dropped_on_the_persons_filled_pose_takes_its_place(qtbot, clip):
    """T over a wrong fill: the template replaces this person's filled pose, as Del then T would
    (a trial's T there made a third person instead); one undo step brings the fill back."""
    w = clip
    tid = filled(qtbot, w)
    w.editor.seek(5)
    w.editor.select_track(tid)
    fill_here = w.session.video.pose(5, tid).copy()
    tracks = set(w.session.video.tracks)
    press(w, Qt.Key_T)
    click_image_at(qtbot, w, 150, 120)
    pose = w.session.video.pose(5, tid)
    assert set(w.session.video.tracks) == tracks and w.editor.track == tid
    assert pose.keyframe and (pose.provenance[pose.labelled()] == Provenance.SUGGESTED).all()
    assert "in place of the filled pose" in w.statusBar().currentMessage()
    press(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.session.video.pose(5, tid).same_as(fill_here)


def test_a_click_re_placing_a_filled_joint_refills_its_chain_as_a_drag_does(qtbot, clip):
    """A trial picked a filled joint (S, as J does) and clicked its place: the frame changed, the
    frames around kept the old chain. The click corrects it as a drag would, in one undo step."""
    from test_gui_suggestions import click_image

    w = clip
    tid, before = filled_on(qtbot, w, 5)
    j = 6
    w.editor.set_cursor(j)
    target = before[5].xy[j] + (0.0, 20.0)
    click_image(qtbot, w, *target)
    after = on_disk(w)
    moved = after.pose(5, tid).xy[j] - before[5].xy[j]
    assert moved[1] > 15 and after.pose(5, tid).provenance[j] == Provenance.CORRECTED
    assert not after.pose(5, tid).keyframe
    for f, share in ((1, 0.2), (3, 0.6), (8, 0.4)):
        assert after.pose(f, tid).xy[j] - before[f].xy[j] == pytest.approx(share * moved, abs=1e-6)
    assert w.editor.undo_stack.undoText() == f"Place {w.session.skeleton.joints[j]} (re-fills 8 frames)"
    assert "re-filled 8 frames around it (1-9)" in w.statusBar().currentMessage()
    # corrected once, a second click (or drag) re-fills again: a trial's frames kept the first one's
    first = {f: on_disk(w).pose(f, tid).xy[j].copy() for f in range(21)}
    w.editor.set_cursor(j)
    click_image_at(qtbot, w, *(first[5] + (0.0, 10.0)))
    again = on_disk(w)
    np.testing.assert_allclose(again.pose(5, tid).xy[j] - first[5], (0.0, 10.0), atol=1.0)
    for f, share in ((1, 0.2), (3, 0.6), (8, 0.4)):
        np.testing.assert_allclose(again.pose(f, tid).xy[j] - first[f], share * (again.pose(5, tid).xy[j] - first[5]),
                                   atol=1e-6)
    drag(qtbot, w, tuple(again.pose(5, tid).xy[j]), QPoint(0, -10))
    assert "re-filled 8 frames around it (1-9)" in w.statusBar().currentMessage()
    press(w, Qt.Key_Z, Qt.ControlModifier)
    press(w, Qt.Key_Z, Qt.ControlModifier)
    press(w, Qt.Key_Z, Qt.ControlModifier)
    undone = on_disk(w)
    for f in range(21):
        assert undone.pose(f, tid).same_as(before[f])


def test_shift_dragging_a_filled_pose_refills_the_frames_around_it_in_one_undo_step(qtbot, clip):
    """A trial Shift+dragged a filled pose onto its person and the next frame kept the old pose:
    the whole pose is corrected as a dragged joint is, its chains on both sides follow (those of a
    joint corrected there before too)."""
    w = clip
    tid = filled(qtbot, w)
    w.editor.seek(5)
    w.editor.select_track(tid)
    x, y = w.session.video.pose(5, tid).xy[6]
    w.editor.move_joint(tid, 6, x, y + 6)  # one joint corrected here before: it must not stay behind
    assert w.session.video.pose(5, tid).provenance[6] == Provenance.CORRECTED
    before = {f: w.session.video.pose(f, tid).copy() for f in range(21)}
    lab = before[5].labelled()
    drag(qtbot, w, tuple(before[5].xy[0]), QPoint(30, 0), Qt.ShiftModifier)
    after = on_disk(w)
    shift = after.pose(5, tid).xy[lab] - before[5].xy[lab]
    assert shift[:, 0].min() > 10 and np.ptp(shift, axis=0).max() < 1e-6  # every joint by the same amount
    assert (after.pose(5, tid).provenance[lab] == Provenance.CORRECTED).all()
    for f, share in ((1, 0.2), (3, 0.6), (8, 0.4)):  # fading towards the keyframes at 0 and 10
        np.testing.assert_allclose(after.pose(f, tid).xy[lab] - before[f].xy[lab], share * shift, atol=1e-6)
    assert (after.pose(15, tid).xy == before[15].xy).all()
    assert "re-filled 8 frames around it (1-9)" in w.statusBar().currentMessage()
    assert w.editor.undo_stack.undoText() == f"Move person {tid} (re-fills 8 frames)"
    press(w, Qt.Key_Z, Qt.ControlModifier)
    undone = on_disk(w)
    for f in range(21):
        assert undone.pose(f, tid).same_as(before[f])


def test_a_fill_says_how_many_person_frames_it_left_as_they_were(qtbot, clip):
    """A trial saw "x / 199 person-frames" while filling, then "Auto-fill done: 191 poses": the
    done text now squares the two (here a re-fill after keyframe 20 moved changes only 11-19)."""
    w = clip
    tid = filled(qtbot, w)
    before = {f: w.session.video.pose(f, tid).xy.copy() for f in (5, 15)}
    key = w.session.video.pose(20, tid).copy()
    key.xy = key.xy + 30
    w.session.apply([PoseChange(w.session.video.video_id, 20, tid, key)])
    w.editor.select_track(tid)
    press(w, Qt.Key_G, Qt.ShiftModifier)  # the selected person, whole video
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.fill_panel.progress.text() == "18 / 18 person-frames"
    assert w.fill_panel.state.text() == ("Auto-fill done: 9 poses; 9 of 18 person-frames left as they were "
                                         "(9 already had the pose it gives)")
    after = on_disk(w)
    assert (after.pose(5, tid).xy == before[5]).all()
    assert after.pose(15, tid).xy[0] == pytest.approx(before[15][0] + 15)  # halfway to the moved keyframe


def test_a_goes_on_to_a_pose_accepted_then_undone_instead_of_stopping(qtbot, clip):
    """A trial: accepting with A (which goes on to the next pose to review) ended on "Nothing to
    accept" with 2 poses unreviewed, ones accepted earlier and then undone. A now goes on to them."""
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 3))
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    doubt(w, tid, 1, 0.7)  # filled frames 1 and 2, neither doubted below 0.5 (one A accepts)
    doubt(w, tid, 2, 0.6)  # the fill trusts 2 less: R shows it first
    press(w, Qt.Key_R)
    assert w.editor.frame == 2
    press(w, Qt.Key_A)  # accepted, on to frame 1
    assert w.editor.frame == 1 and on_disk(w).pose(2, tid).reviewed
    press(w, Qt.Key_Z, Qt.ControlModifier)  # the accept of 2 taken back: 2 is unreviewed again
    assert not on_disk(w).pose(2, tid).reviewed
    w.editor.seek(1)
    press(w, Qt.Key_A)  # 1 accepted: every pose was shown this round, but 2 is still to review
    assert on_disk(w).pose(1, tid).reviewed
    assert w.editor.frame == 2 and w.editor.track == tid
    assert f"Accepted person {tid}, frame 1. Again: frame 2," in w.statusBar().currentMessage()
    press(w, Qt.Key_A)
    assert on_disk(w).pose(2, tid).reviewed
    assert "Nothing to review" in w.statusBar().currentMessage()
    press(w, Qt.Key_A)  # nothing left: A says so, without a count
    assert w.statusBar().currentMessage().startswith("Nothing to accept") and "still to review" not in (
        w.statusBar().currentMessage())
    press(w, Qt.Key_Z, Qt.ControlModifier)  # 2 unreviewed again; A on reviewed frame 1 points there
    w.editor.seek(1)
    press(w, Qt.Key_A)  # 2's predicted error is below the review threshold: said as R says it
    assert "review is done (1 pose left, optional: R goes there)." in w.statusBar().currentMessage()
    doubt(w, tid, 2, 0.0)  # now above it
    press(w, Qt.Key_A)
    assert "1 pose still to review, R goes there." in w.statusBar().currentMessage()


def test_review_accept_and_suggested_keyframe_keys(qtbot, clip):
    w = clip
    tid = filled(qtbot, w)
    doubt(w, tid, 14, 0.1)
    doubt(w, tid, 4, 0.2)
    press(w, Qt.Key_R)
    assert (w.editor.frame, w.editor.track) == (14, tid)
    n = int(w.session.video.pose(14, tid).auto_joints().sum())  # every filled joint at 0.1: all ringed
    assert f"Review: frame 14, person {tid}, {n} doubtful joints ringed (predicted error " in w.statusBar().currentMessage()
    press(w, Qt.Key_N)  # the suggested next keyframe: where the fill expects the most error
    assert w.editor.frame == 14
    w._refresh_timeline()
    assert w.timeline.suggested == 14
    press(w, Qt.Key_A)  # the fill doubts every joint of 14 (0.1): A asks first, changes nothing
    assert not on_disk(w).pose(14, tid).reviewed and w.editor.frame == 14
    press(w, Qt.Key_A)  # again: accept 14 as it is: reviewed, and R's next
    disk = on_disk(w)
    assert disk.pose(14, tid).reviewed and not disk.pose(14, tid).keyframe
    assert (disk.pose(14, tid).xy == w.session.video.pose(14, tid).xy).all()
    assert w.editor.frame == 4
    w._refresh_timeline()
    assert w.timeline.reviewed[14] and not w.timeline.reviewed[4]
    assert w.timeline.suggested != 14
    press(w, Qt.Key_Z, Qt.ControlModifier)  # undo the accept
    assert not on_disk(w).pose(14, tid).reviewed
    w._refresh_timeline()
    assert not w.timeline.reviewed[14]
    # accepting a keyframe is refused with a message, nothing changes
    w.editor.seek(10)
    w.editor.select_track(tid)
    steps = w.editor.undo_stack.count()
    press(w, Qt.Key_A)
    assert w.editor.undo_stack.count() == steps


def test_accepting_a_pose_with_doubtful_joints_names_them_and_asks_once(qtbot, clip):
    w = clip
    tid = filled(qtbot, w)
    names = w.session.skeleton.joints
    pose = w.session.video.pose(4, tid).copy()
    pose.confidence[pose.auto_joints()] = 0.9
    pose.confidence[9], pose.confidence[7] = 0.0, 0.3  # left wrist, left elbow
    w.session.apply([PoseChange(w.session.video.video_id, 4, tid, pose)])
    w.editor.seek(4)
    w.editor.select_track(tid)
    steps = w.editor.undo_stack.count()

    press(w, Qt.Key_A)
    said = w.statusBar().currentMessage()
    assert said == (f"Person {tid}, frame 4: the fill doubts 2 joints ({names[9]} 0.00, {names[7]} 0.30). "
                    "Drag what is off, or A again to accept it as it is.")
    assert w.editor.undo_stack.count() == steps and not on_disk(w).pose(4, tid).reviewed

    press(w, Qt.Key_A)  # the annotator looked: accepted, and the status says with what
    assert on_disk(w).pose(4, tid).reviewed
    said = w.statusBar().currentMessage()
    assert said.startswith(f"Accepted person {tid}, frame 4, with 2 joints in doubt ({names[9]}, {names[7]}). "
                           "Review: ")
    from posewarper_core import review

    # counted per pose (a frame with two people counts twice), as review_queue lists them
    left = sum(it.predicted_error >= review.REVIEW_DONE_BELOW for it in review.review_queue(w.session.video))
    assert left and said.endswith(f"; {left} pose{'s' if left != 1 else ''} to go).")  # no key hint after A: it fits

    # a pose the fill is sure of is accepted at the first A, and the status says so
    sure = w.session.video.pose(6, tid).copy()
    sure.confidence[sure.auto_joints()] = 0.9
    w.session.apply([PoseChange(w.session.video.video_id, 6, tid, sure)])
    w.editor.seek(6)
    w.editor.select_track(tid)
    press(w, Qt.Key_A)
    assert on_disk(w).pose(6, tid).reviewed
    assert w.statusBar().currentMessage().startswith(f"Accepted person {tid}, frame 6. ")


def test_a_reviewed_pose_shows_a_tick_on_the_timeline(qtbot, clip):
    """The reviewed mark is a tick in the cell, several pixels tall (a 3 px bar along the top of
    a 7 px cell went unnoticed at 1366x768), and only in the reviewed pose's cell."""
    from app.style import REVIEWED

    w = clip
    tid = filled(qtbot, w)
    w.editor.seek(14)
    w.editor.select_track(tid)
    press(w, Qt.Key_A)
    press(w, Qt.Key_A)  # (a second A when the fill doubts some joints)
    assert w.session.video.pose(14, tid).reviewed
    w._refresh_timeline()
    t = w.timeline
    t.resize(int(7.2 * 30), t.height())  # the 30 frames' cells as narrow as at 1366x768 in a long video
    t.set_current(0)
    image = t.grab().toImage()
    strip, cw = t._strip_rect(), t.cell_width()
    assert cw < 8

    def tick_rows(f):
        """The rows of the frame's cell holding the reviewed green."""
        x0 = int((f - t.first) * cw)

        def near(c):
            return sum(abs(a - b) for a, b in zip(c.getRgb()[:3], REVIEWED.getRgb()[:3])) < 60
        return {y for y in range(int(strip.top()), int(strip.bottom())) for x in range(x0, x0 + int(cw))
                if near(image.pixelColor(x, y))}

    rows = tick_rows(14)
    assert len(rows) >= 4 and max(rows) - min(rows) >= 4, rows
    assert not tick_rows(13) and not tick_rows(15)


def test_timeline_shows_the_selected_persons_marks_apart_from_the_others(qtbot, clip):
    """Person 1 has a keyframe at 10 where person 2 is only filled: with person 2 selected, frame
    10 must not look done. Cells, reviewed ticks and the suggestion are the selected person's;
    the others' status is the thin band at the bottom of each cell."""
    from app.style import STATUS_COLOURS
    from app.timeline import OTHERS_BAND

    w = clip
    one = filled(qtbot, w)  # keyframes at 0, 10, 20; filled between
    vid = w.session.video.video_id
    w.session.set_track(Track(2, "walker"))
    base = w.session.video.pose(0, one)
    changes = []
    for f in (0, 10, 20, 13):
        pose = Pose.manual(base.xy + (60, 0), base.visibility, keyframe=f in (0, 20))
        if f in (10, 13):  # filled, not labelled
            pose.provenance[pose.labelled()] = Provenance.PROPAGATED
            pose.confidence[pose.labelled()] = 0.05  # the fill doubts it: the suggested keyframe
            pose.method = "flow"
        pose.reviewed = f == 13
        changes.append(PoseChange(vid, f, 2, pose))
    w.session.apply(changes)
    t = w.timeline

    w.editor.select_track(2)
    w._refresh_timeline()
    assert t.status[10] == 1 and t.others[10] == 3  # person 2 filled, person 1 a keyframe
    assert t.status[0] == 3 and t.status[5] == 0 and t.others[5] == 1
    assert t.reviewed[13] and not t.others_reviewed[13]
    assert t.suggested == 10 and t.suggested_is_selected
    assert t.describe(10).startswith("frame 10: walker auto-filled, suggested keyframe · others: keyframe")
    # what the user sees in the cell of frame 10: blue (filled) on top, the others' green band below
    w.editor.seek(0)
    t.set_current(0)
    image = t.grab().toImage()
    strip = t._strip_rect()
    x = int(10 * t.cell_width()) + 3  # beside the suggestion's triangle (mid-cell)
    assert image.pixelColor(x, int(strip.top() + 6)) == STATUS_COLOURS[1]
    band_y = int(strip.bottom() - 4 - OTHERS_BAND / 2)
    assert image.pixelColor(x, band_y) == STATUS_COLOURS[3]

    w.editor.select_track(one)  # the other way round
    assert t.status[10] == 3 and t.others[10] == 1
    assert not t.reviewed[13] and t.others_reviewed[13]
    assert t.suggested == 10 and not t.suggested_is_selected
    image = t.grab().toImage()
    assert image.pixelColor(x, int(strip.top() + 6)) == STATUS_COLOURS[3]
    assert image.pixelColor(x, band_y) == STATUS_COLOURS[1]

    # the keys that walk the timeline follow what it shows: the next keyframe, the next slot to label
    w.editor.select_track(2)
    w.editor.seek(0)
    w.editor.to_keyframe(1)
    assert w.editor.frame == 20  # 10 is person 1's keyframe only
    w.editor.seek(0)
    w.editor.to_unlabelled_slot()
    assert w.editor.frame == 10  # person 2's slot at 10 is only filled


def test_fill_gap_past_the_last_keyframe_carries_the_pose_on_to_this_frame(qtbot, clip):
    """G after a person's last keyframe proposes their pose up to the current frame (to fix and
    confirm with K), the workflow bench-effort's guided strategy measures."""
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0,), centre=(100, 120))
    w.editor.seek(6)
    press(w, Qt.Key_G)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    v = on_disk(w)
    assert v.track_frames(tid) == list(range(0, 7))
    proposal = v.pose(6, tid)
    assert not proposal.keyframe and (proposal.xy == v.pose(0, tid).xy).all()  # linear: carried as it is
    press(w, Qt.Key_K)  # confirmed: a keyframe whose every joint the annotator vouches for
    key = on_disk(w).pose(6, tid)
    assert key.keyframe and not key.auto_joints().any() and (key.confidence[key.labelled()] == 1).all()


def test_the_session_walks_the_core_review_order_and_keeps_its_cache_over_another_videos_edits(qtbot, tmp_path):
    """R (session.next_to_review, over the session's per-frame cache) and bench-effort
    (review.next_to_review, no cache) walk the same poses in the same order, a pose of predicted
    error 0 last; an edit of another video leaves the shown video's cache as it is (not rebuilt),
    an edit of the shown one updates it."""
    from test_review_correction import filled_video

    from app.session import Session
    from posewarper_core import review
    from posewarper_core.store import ProjectStore

    store = ProjectStore.create(tmp_path / "p.pwproj")
    shown = filled_video(keys=(0, 20), tracks=(1, 2))
    sure = shown.pose(9, 2).copy()
    sure.confidence[:] = 1.0
    shown.set_pose(9, 2, sure)
    vid = store.add_video(shown)
    other = store.add_video(filled_video(keys=(0, 20)))
    session = Session(store)
    session.select_video(vid)

    def walk(next_item):
        walked, skip = [], set()
        while (item := next_item(skip)) is not None:
            walked.append(item)
            skip.add((item.frame, item.track_id))
        return walked

    expected = walk(lambda skip: review.next_to_review(session.video, skip))
    assert walk(session.next_to_review) == expected and (expected[-1].frame, expected[-1].track_id) == (9, 2)
    cache = session.review_state()
    pose = store.project.videos[other].pose(5, 1).copy()
    pose.confidence[:] = 0.0
    session.apply([PoseChange(other, 5, 1, pose)])
    assert session.review_state() is cache and walk(session.next_to_review) == expected
    pose = session.video.pose(3, 1).copy()
    pose.confidence[:] = 0.0
    session.apply([PoseChange(vid, 3, 1, pose)])
    first = session.next_to_review()
    assert (first.frame, first.track_id) == (3, 1)
    assert walk(session.next_to_review) == walk(lambda skip: review.next_to_review(session.video, skip))
    store.close()


def test_the_onion_skins_neighbouring_keyframes_follow_the_edits(qtbot, tmp_path):
    """The onion skin shows each person's keyframe just before and after the frame, from lists
    the session keeps up to date on each edit: after promoting, removing and deleting they are
    what a scan of the video finds."""
    from test_review_correction import filled_video

    from app.session import Session
    from posewarper_core.store import ProjectStore

    store = ProjectStore.create(tmp_path / "p.pwproj")
    vid = store.add_video(filled_video(keys=(0, 10, 20), tracks=(1, 2)))
    session = Session(store)
    session.select_video(vid)

    def scanned(frame):
        found = []
        for tid in session.video.tracks:
            keys = session.video.keyframes(tid)
            found += [(tid, f) for f in [f for f in keys if f < frame][-1:] + [f for f in keys if f > frame][:1]]
        return found

    def agree():
        for frame in range(session.video.num_frames):
            assert sorted(session.neighbour_keyframes(frame)) == sorted(scanned(frame)), frame

    agree()
    assert sorted(session.neighbour_keyframes(5)) == [(1, 0), (1, 10), (2, 0), (2, 10)]
    promoted = session.video.pose(14, 1).copy()
    promoted.keyframe = True
    session.apply([PoseChange(vid, 14, 1, promoted), PoseChange(vid, 10, 2, None)])
    agree()
    assert sorted(session.neighbour_keyframes(12)) == [(1, 10), (1, 14), (2, 0), (2, 20)]
    demoted = session.video.pose(0, 1).copy()
    demoted.keyframe = False
    session.apply([PoseChange(vid, 0, 1, demoted)])
    agree()
    session.delete_track(2)
    agree()
    assert session.neighbour_keyframes(12) == [(1, 10), (1, 14)]
    # a "not in view" mark has nothing to draw: the onion skin shows the person's labelled keyframes
    from posewarper_core.annotation import Pose

    session.apply([PoseChange(vid, 14, 1, Pose.absent_mark(17))])
    assert session.neighbour_keyframes(12) == [(1, 10), (1, 20)]
    session.apply([PoseChange(vid, 14, 1, None)])
    session.apply([PoseChange(vid, 14, 1, promoted)])
    assert session.neighbour_keyframes(12) == [(1, 10), (1, 14)]
    # before a person's first keyframe, or after their last, only within one keyframe interval:
    # a keyframe 15 frames on is not drawn as if the person stood there now
    assert session.video.keyframe_stride == 10 and session.video.keyframes(1)[0] == 10
    assert session.neighbour_keyframes(0) == [(1, 10)]
    demoted = session.video.pose(10, 1).copy()
    demoted.keyframe = False
    session.apply([PoseChange(vid, 10, 1, demoted)])  # the first keyframe is now 14
    assert session.neighbour_keyframes(0) == [] and session.neighbour_keyframes(4) == [(1, 14)]
    store.close()


def test_the_review_count_is_of_poses_and_goes_down_with_each_accept(qtbot, tmp_path):
    """Two people filled on the same frames: accepting one of them on a frame counts down by one
    (a count of frames did not move while the other person there was still to review)."""
    from test_review_correction import filled_video

    from app.session import Session
    from posewarper_core import correction, review
    from posewarper_core.store import ProjectStore

    store = ProjectStore.create(tmp_path / "p.pwproj")
    vid = store.add_video(filled_video(keys=(0, 20), tracks=(1, 2)))
    session = Session(store)
    session.select_video(vid)
    changes = []
    for f in range(1, 20):
        for tid in (1, 2):
            pose = session.video.pose(f, tid).copy()
            pose.confidence[pose.auto_joints()] = 0.0 if f < 10 else 0.95  # doubted / optional
            changes.append(PoseChange(vid, f, tid, pose))
    session.apply(changes)
    assert session.poses_to_review() == (2 * 9, 2 * 10)
    queue = review.review_queue(session.video)
    assert session.poses_to_review()[0] == sum(it.predicted_error >= review.REVIEW_DONE_BELOW for it in queue)
    session.apply(correction.accept_pose(session.video, 5, 1))
    left = session.poses_to_review()[0]
    queue = review.review_queue(session.video)
    assert left == sum(it.predicted_error >= review.REVIEW_DONE_BELOW for it in queue) < 2 * 9
    # by frames it would not have moved: person 2 is still to review on each of frames 1-9
    assert int((session.review_state()[0] >= review.REVIEW_DONE_BELOW).sum()) == 9
    store.close()


def test_r_says_review_is_done_once_no_pose_is_doubted_enough(qtbot, clip):
    w = clip
    tid = filled(qtbot, w)
    for f in w.session.video.track_frames(tid):
        if not w.session.video.pose(f, tid).keyframe:
            doubt(w, tid, f, 0.99)  # every filled pose sure of itself: predicted error ~0.15
    doubt(w, tid, 6, 0.98)
    press(w, Qt.Key_R)
    said = w.statusBar().currentMessage()
    assert w.editor.frame == 6 and "0 doubtful joints ringed" in said
    assert "review is done, the rest optional)" in said and "to go" not in said


def test_g_next_to_an_unaccepted_suggestion_fills_from_keyframe_to_keyframe(qtbot, clip):
    """A trial: with a suggestion left unaccepted on frame 5, G on frame 3 said "Filling gap (0, 5)"
    and left 6-9 alone. A suggestion bounds no gap: G fills 1-9 around it, and leaves it as it is."""
    from posewarper_core.suggest.suggest import place_suggestion

    w = clip
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10), centre=(100, 120))
    first = w.session.video.pose(0, tid)
    guess = first.copy()
    guess.xy = guess.xy + 40.0
    guess.provenance[guess.labelled()] = Provenance.SUGGESTED
    w.session.apply([PoseChange(w.session.video.video_id, 5, tid, place_suggestion(None, guess))])
    w.editor.seek(3)
    w.editor.select_track(tid)
    press(w, Qt.Key_G)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    video = on_disk(w)
    assert [f for f in video.track_frames(tid) if not video.pose(f, tid).keyframe] == [1, 2, 3, 4, 6, 7, 8, 9]
    a, b = video.pose(0, tid), video.pose(10, tid)
    np.testing.assert_allclose(video.pose(7, tid).xy[a.labelled()], (0.3 * a.xy + 0.7 * b.xy)[a.labelled()], atol=1e-6)
    assert (video.pose(5, tid).provenance[guess.labelled()] == Provenance.SUGGESTED).all()  # left as it was


def test_r_brings_the_pose_to_review_into_view_when_zoomed_in_elsewhere(qtbot, clip):
    """Zoomed in on a corner, R goes to a pose outside the view: the view moves to it (and stays
    put when the pose is already in view)."""
    from app import navigation

    w = clip
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    tid = filled(qtbot, w)
    doubt(w, tid, 14, 0.1)
    doubt(w, tid, 4, 0.2)
    w.canvas.zoom(2.0)  # the view then shows about 115 x 118 px of the image
    w.canvas.centerOn(2, 2)  # the top-left corner; the person stands around (100, 120)
    box = navigation.person_box(w.session.video, tid, 14)
    assert not w.canvas.shows(box)
    press(w, Qt.Key_R)
    assert (w.editor.frame, w.editor.track) == (14, tid)
    assert w.canvas.shows(box)
    centre = w.canvas.mapToScene(w.canvas.viewport().rect().center())
    press(w, Qt.Key_R)  # the next pose to review (frame 4) is in view too: the view stays
    assert w.editor.frame == 4 and w.canvas.shows(navigation.person_box(w.session.video, tid, 4))
    assert w.canvas.mapToScene(w.canvas.viewport().rect().center()) == centre
    w.canvas.centerOn(2, 2)  # looked away; A only asks first (every joint doubted): it goes nowhere
    corner = w.canvas.mapToScene(w.canvas.viewport().rect().center())
    press(w, Qt.Key_A)
    assert w.editor.frame == 4 and w.canvas.mapToScene(w.canvas.viewport().rect().center()) == corner


def test_r_keeps_a_fitted_view_still_for_a_pose_reaching_past_the_pictures_edge(qtbot, clip):
    """A trial's A/R run ended with the picture pushed into the view's top-left corner: a pose
    with joints past the edge is never wholly in view, so the view moved to centre it."""
    w = clip
    w.resize(900, 700)
    w.show()
    qtbot.waitExposed(w)
    tid = filled(qtbot, w)
    pose = w.session.video.pose(14, tid).copy()
    pose.xy[0] = (-40.0, 30.0)  # an imported label past the left edge
    w.session.apply([PoseChange(w.session.video.video_id, 14, tid, pose)])
    doubt(w, tid, 14, 0.1)
    w.canvas.fit()
    centre = w.canvas.mapToScene(w.canvas.viewport().rect().center())
    press(w, Qt.Key_R)
    assert (w.editor.frame, w.editor.track) == (14, tid)
    assert w.canvas.mapToScene(w.canvas.viewport().rect().center()) == centre


def test_a_status_message_too_long_for_the_bar_hides_the_frame_and_saved_labels_while_it_shows(qtbot, clip):
    """At 1366 px a long message beside 'Frame … · saved' was cut off (trials): it takes their room
    while it shows, and they come back when it goes; a short one leaves them."""
    w = clip
    w.resize(1366, 768)
    w.show()
    qtbot.waitExposed(w)
    bar = w.statusBar()
    assert w.frame_label.isVisible() and w.frame_label.text()
    bar.showMessage("Accepted. " + "Review: frame 186, person 2, 15 doubtful joints ringed " * 4)
    assert not w.frame_label.isVisible() and not w.saved_label.isVisible()
    assert bar.fontMetrics().horizontalAdvance(bar.currentMessage()) > bar.width() - 400
    bar.clearMessage()
    assert w.frame_label.isVisible() and w.saved_label.isVisible()
    bar.showMessage("Saved.")
    assert w.frame_label.isVisible()
    long = "Review: frame 186, person 2, 15 doubtful joints ringed " * 2  # fits at 1366 px beside them
    bar.showMessage(long)
    assert w.frame_label.isVisible()
    w.resize(700, 768)  # narrower: the same message now needs their room
    assert not w.frame_label.isVisible()
    w.resize(1366, 768)
    assert w.frame_label.isVisible()
