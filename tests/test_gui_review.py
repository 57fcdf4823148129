"""Review in the real main window (offscreen): R goes to the pose the fill doubts most, A accepts
it (reviewed, shown on the timeline), N goes to the suggested next keyframe, and dragging a
filled joint re-fills its chain in the same undoable step."""
from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from test_gui_editing import clip, drag, label_keyframes, on_disk, press  # noqa: F401 (clip is a fixture)

from posewarper_core.annotation import PoseChange, Provenance


def filled(qtbot, w):
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20), centre=(100, 120))
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.track_frames(tid) == list(range(0, 21))
    return tid


def doubt(w, tid, frame, conf):
    """Make the fill unsure of one pose (as a method's confidence would)."""
    pose = w.session.video.pose(frame, tid).copy()
    pose.confidence[pose.auto_joints()] = conf
    w.session.apply([PoseChange(w.session.video.video_id, frame, tid, pose)])


def test_dragging_a_filled_joint_refills_its_chain_in_one_undo_step(qtbot, clip):
    w = clip
    tid = filled(qtbot, w)
    before = {f: w.session.video.pose(f, tid).copy() for f in range(21)}
    w.editor.seek(5)
    w.editor.select_track(tid)
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
    press(w, Qt.Key_Z, Qt.ControlModifier)  # one step undoes the drag and its re-fill
    undone = on_disk(w)
    for f in range(21):
        assert undone.pose(f, tid).same_as(before[f])


def test_review_accept_and_suggested_keyframe_keys(qtbot, clip):
    w = clip
    tid = filled(qtbot, w)
    doubt(w, tid, 14, 0.1)
    doubt(w, tid, 4, 0.2)
    press(w, Qt.Key_R)
    assert (w.editor.frame, w.editor.track) == (14, tid)
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
    assert f"{names[9]} 0.00, {names[7]} 0.30" in said and "A again accepts" in said
    assert w.editor.undo_stack.count() == steps and not on_disk(w).pose(4, tid).reviewed

    press(w, Qt.Key_A)  # the annotator looked: accepted, and the status says with what
    assert on_disk(w).pose(4, tid).reviewed
    said = w.statusBar().currentMessage()
    assert said.startswith(f"Accepted person {tid} at frame 4 with 2 doubtful joints as they are "
                           f"({names[9]} 0.00, {names[7]} 0.30)")

    # a pose the fill is sure of is accepted at the first A, and the status says so
    sure = w.session.video.pose(6, tid).copy()
    sure.confidence[sure.auto_joints()] = 0.9
    w.session.apply([PoseChange(w.session.video.video_id, 6, tid, sure)])
    w.editor.seek(6)
    w.editor.select_track(tid)
    press(w, Qt.Key_A)
    assert on_disk(w).pose(6, tid).reviewed
    assert w.statusBar().currentMessage().startswith(f"Accepted person {tid} at frame 6. ")


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
