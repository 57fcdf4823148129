"""Labelling in the real main window (offscreen): the keys and mouse gestures of the issue, each
edit one undoable step that is in the project file at once."""
from __future__ import annotations

import json

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QMessageBox

from posewarper_core import correction
from posewarper_core.annotation import PoseChange, Provenance, Visibility
from posewarper_core.store import ProjectStore
from test_gui_session import click_image, label_person, make_video

N = 30


@pytest.fixture
def clip(window, open_in, tmp_path):
    """The window on a new 30-frame project (keyframe every 10th frame), nobody labelled yet."""
    make_video(tmp_path / "clip.mp4", n=N)
    open_in(window, tmp_path / "clip.mp4", tmp_path / "clip.pwproj")
    window.fill_panel.stride.setValue(10)
    return window


def on_disk(w):
    """The video as the project file holds it now (read by another reader)."""
    with ProjectStore.open(w.store.path, read_only=True) as store:
        return store.project.videos[w.session.video_id]


def press(w, key, modifier=Qt.NoModifier):
    QTest.keyClick(w.canvas, key, modifier)


def drag(qtbot, w, start_xy, offset, modifier=Qt.NoModifier):
    vp = w.canvas.viewport()
    p0 = w.canvas.mapFromScene(QPointF(*start_xy))
    qtbot.mousePress(vp, Qt.LeftButton, modifier, p0)
    for k in range(1, 5):
        qtbot.mouseMove(vp, p0 + offset * k / 4)
    qtbot.mouseRelease(vp, Qt.LeftButton, modifier, p0 + offset)


def label_keyframes(qtbot, w, frames=(0, 10), centre=(100, 120)):
    """A new person (Ctrl+N), every joint placed by clicks on each of `frames`; their id."""
    for n, f in enumerate(frames):
        w.editor.seek(f)
        if n == 0:
            press(w, Qt.Key_N, Qt.ControlModifier)
        label_person(qtbot, w, (centre[0] + 2 * f, centre[1]))
    return w.editor.track


def test_next_joint_keys_skip_occlude_and_unlabel(qtbot, clip):
    w = clip
    press(w, Qt.Key_N, Qt.ControlModifier)
    assert "next: nose" in w.canvas.overlay_text  # the next joint's name is shown
    press(w, Qt.Key_S)  # skip the nose
    assert w.editor.cursor == 1 and "next: head_bottom" in w.canvas.overlay_text
    click_image(qtbot, w, 100, 80)
    pose = w.session.video.pose(0, 1)
    assert pose.visibility[0] == Visibility.NOT_LABELLED and pose.visibility[1] == Visibility.VISIBLE
    assert w.editor.cursor == 2  # placed, the cursor moved on
    click_image(qtbot, w, 110, 60, Qt.RightButton)  # right-click places it occluded
    assert w.session.video.pose(0, 1).visibility[2] == Visibility.OCCLUDED
    assert on_disk(w).pose(0, 1).visibility[2] == Visibility.OCCLUDED  # saved at once

    w.editor.hover = (1, 1)  # the mouse over head_bottom
    press(w, Qt.Key_O)
    assert w.session.video.pose(0, 1).visibility[1] == Visibility.OCCLUDED
    press(w, Qt.Key_U)
    assert w.session.video.pose(0, 1).visibility[1] == Visibility.NOT_LABELLED
    assert on_disk(w).pose(0, 1).visibility[1] == Visibility.NOT_LABELLED
    w.editor.hover = None

    # Each of those was one step: undo walks back through them (Ctrl+Z), redo forward.
    press(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.session.video.pose(0, 1).visibility[1] == Visibility.OCCLUDED
    press(w, Qt.Key_Z, Qt.ControlModifier)
    assert w.session.video.pose(0, 1).visibility[1] == Visibility.VISIBLE
    press(w, Qt.Key_Z, Qt.ShiftModifier | Qt.ControlModifier)
    assert w.session.video.pose(0, 1).visibility[1] == Visibility.OCCLUDED
    assert on_disk(w).pose(0, 1).visibility[1] == Visibility.OCCLUDED


def test_drag_moves_a_joint_or_with_shift_the_whole_pose(qtbot, clip):
    w = clip
    label_keyframes(qtbot, w, frames=(0,))
    before = w.session.video.pose(0, 1).xy.copy()
    depth = w.editor.undo_stack.count()
    drag(qtbot, w, before[5], QPoint(30, 20))
    after = w.session.video.pose(0, 1).xy
    moved = np.flatnonzero(np.any(np.abs(after - before) > 0.5, axis=1))
    assert list(moved) == [5] and after[5][0] > before[5][0] + 10
    assert w.editor.undo_stack.count() == depth + 1  # one drag, one step
    assert w.statusBar().currentMessage() == "Moved person 1's left_shoulder on frame 0. Ctrl+Z undoes."

    drag(qtbot, w, after[0], QPoint(-40, 0), Qt.ShiftModifier)
    shifted = w.session.video.pose(0, 1)
    labelled = shifted.labelled()
    dx = shifted.xy[labelled, 0] - after[labelled, 0]
    assert dx.max() < -10 and np.ptp(dx) < 1e-6  # every joint moved by the same amount
    assert w.editor.undo_stack.count() == depth + 2
    assert w.statusBar().currentMessage().startswith(f"Moved person 1's whole pose on frame 0 by {dx[0]:+.0f}, ")
    assert w.editor.undo_stack.undoText() == "Move person 1"
    w.actions["undo"].trigger()
    np.testing.assert_allclose(w.session.video.pose(0, 1).xy, after)


def test_ctrl_shift_drag_rotates_and_scales_the_pose_about_its_centre(qtbot, clip):
    w = clip
    label_keyframes(qtbot, w, frames=(0,))
    pose = w.session.video.pose(0, 1)
    before, labelled = pose.xy.copy(), pose.labelled()
    centre = before[labelled].mean(axis=0)
    grab = before[0]  # the nose, above the centre
    # Drag it to where a quarter turn clockwise and 1.5 times the size puts it.
    radius = grab - centre
    target = centre + 1.5 * np.array([-radius[1], radius[0]])
    depth = w.editor.undo_stack.count()
    offset = w.canvas.mapFromScene(QPointF(*target)) - w.canvas.mapFromScene(QPointF(*grab))
    drag(qtbot, w, grab, offset, Qt.ControlModifier | Qt.ShiftModifier)
    turned = w.session.video.pose(0, 1)
    assert np.allclose(turned.xy[0], target, atol=2.0)  # the grabbed joint followed the cursor
    spoke = before[labelled] - centre  # every joint turned and scaled the same way
    expected = centre + 1.5 * np.stack([-spoke[:, 1], spoke[:, 0]], axis=1)
    assert np.abs(turned.xy[labelled] - expected).max() < 3.0
    assert w.editor.undo_stack.count() == depth + 1 and on_disk(w).pose(0, 1).xy[0] == pytest.approx(turned.xy[0])
    assert w.statusBar().currentMessage().startswith("Turned person 1's pose on frame 0 by +90° and scaled it x1.")
    w.actions["undo"].trigger()
    np.testing.assert_allclose(w.session.video.pose(0, 1).xy, before)


def test_add_delete_person_and_change_ids(qtbot, clip, monkeypatch):
    w = clip
    one = label_keyframes(qtbot, w, frames=(0, 10), centre=(90, 120))
    w.editor.seek(0)
    two = label_keyframes(qtbot, w, frames=(0, 10), centre=(220, 110))
    assert (one, two) == (1, 2) and sorted(w.session.video.tracks) == [1, 2]
    rows = w.tracks_panel.table
    assert [rows.item(r, 0).text() for r in range(rows.rowCount())] == ["1", "2"]
    p1, p2 = (w.session.video.pose(10, t).xy.copy() for t in (1, 2))

    # Swap the two people in frame 10 only.
    w.editor.seek(10)
    w.editor.select_track(1)
    w.editor.change_track(1, 2, from_here_on=False)
    np.testing.assert_allclose(w.session.video.pose(10, 2).xy, p1)
    np.testing.assert_allclose(w.session.video.pose(10, 1).xy, p2)
    np.testing.assert_allclose(w.session.video.pose(0, 1).xy[0], (90, 70), atol=0.5)  # frame 0 untouched
    w.actions["undo"].trigger()
    np.testing.assert_allclose(w.session.video.pose(10, 1).xy, p1)

    # Give person 1 a new id from frame 0 on (through the dialog's two questions).
    answers = iter([("3 (new)", True), ("From here on", True)])
    monkeypatch.setattr("app.window.QInputDialog.getItem", lambda *a, **k: next(answers))
    w.editor.seek(0)
    w.editor.select_track(1)
    w.actions["change_track"].trigger()
    video = w.session.video
    assert video.track_frames(1) == [] and video.track_frames(3) == [0, 10] and 3 in video.tracks
    assert on_disk(w).track_frames(3) == [0, 10]
    w.actions["undo"].trigger()  # the id change was one step, the new track included
    assert w.session.video.track_frames(1) == [0, 10] and 3 not in w.session.video.tracks

    # Delete a person (all frames), then bring them back.
    monkeypatch.setattr("app.window.QMessageBox.question", lambda *a, **k: QMessageBox.Yes)
    w.editor.select_track(2)
    w.actions["delete_track"].trigger()
    assert 2 not in w.session.video.tracks and w.session.video.track_frames(2) == []
    assert 2 not in on_disk(w).tracks
    w.actions["undo"].trigger()
    np.testing.assert_allclose(w.session.video.pose(10, 2).xy, p2)
    # Delete one pose (Delete key): only this frame.
    w.editor.seek(10)
    w.editor.select_track(2)
    joints = int(w.session.video.pose(10, 2).labelled().sum())
    press(w, Qt.Key_Delete)
    assert w.session.video.track_frames(2) == [0]
    assert w.statusBar().currentMessage() == (f"Deleted person 2's pose on frame 10 ({joints} joints). Ctrl+Z undoes; "
                                              "E suggests a fresh one.")
    asked = []  # the question counts what goes, in plain words
    monkeypatch.setattr("app.window.QMessageBox.question", lambda _w, _t, text: asked.append(text) or QMessageBox.No)
    w.actions["delete_track"].trigger()
    assert asked == ["Delete person 2 and their one pose? (Undo brings them back.)"]
    assert w.session.video.track_frames(2) == [0]


def test_copy_previous_keyframe_and_promote(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    press(w, Qt.Key_C)  # copy the pose from the previous keyframe into this frame, same person
    copied = w.session.video.pose(10, tid)
    np.testing.assert_allclose(copied.xy, w.session.video.pose(0, tid).xy)
    assert copied.keyframe and (copied.provenance[copied.labelled()] == Provenance.MANUAL).all()
    assert "from keyframe 0" in w.statusBar().currentMessage()  # said, as every edit is
    w.actions["undo"].trigger()
    assert w.session.video.pose(10, tid) is None

    # Auto-filled frame 5, corrected, promoted to a keyframe: the next fill anchors on it.
    label_person(qtbot, w, (140, 120))  # frame 10, by clicks
    w.fill_panel.method.setCurrentText("linear")
    press(w, Qt.Key_G)  # fill the current gap
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    w.editor.seek(5)
    auto = w.session.video.pose(5, tid)
    assert auto is not None and not auto.keyframe
    drag(qtbot, w, auto.xy[0], QPoint(0, -25))
    assert w.session.video.pose(5, tid).provenance[0] == Provenance.CORRECTED
    press(w, Qt.Key_K)
    assert w.session.video.pose(5, tid).keyframe and on_disk(w).pose(5, tid).keyframe
    assert w.session.frame_status()[5] == 3
    corrected_y = w.session.video.pose(5, tid).xy[0][1]
    # the drag re-filled the joint's chain at once: frame 2 moved by 2/5 of the correction
    assert w.session.video.pose(2, tid).xy[0][1] == pytest.approx(70 + (corrected_y - 70) * 2 / 5, abs=0.5)
    w.editor.seek(2)
    press(w, Qt.Key_G)  # fill the gap again: now between keyframes 0 and 5
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.pose(2, tid).xy[0][1] == pytest.approx(70 + (corrected_y - 70) * 2 / 5, abs=0.5)


def test_fill_scopes_device_and_review_order(qtbot, clip):
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    label_keyframes(qtbot, w, frames=(0, 10, 20), centre=(90, 120))
    w.editor.seek(0)
    label_keyframes(qtbot, w, frames=(0, 10, 20), centre=(220, 110))
    from app.fillrun import device_name

    assert w.fill_panel.device.text() == device_name()  # the device is shown beside the method

    # Gap (G): person 2 between keyframes 10 and 20 only.
    w.editor.seek(14)
    w.editor.select_track(2)
    press(w, Qt.Key_G)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    v = w.session.video
    assert v.track_frames(2) == [0] + list(range(10, 21))
    assert v.track_frames(1) == [0, 10, 20]
    # Person (Shift+G): every gap of person 1, nobody else.
    w.editor.select_track(1)
    press(w, Qt.Key_G, Qt.ShiftModifier)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.track_frames(1) == list(range(0, 21))
    assert w.session.video.track_frames(2) == [0] + list(range(10, 21))
    # Whole video (the panel's button): person 2's first gap too.
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.track_frames(2) == list(range(0, 21))

    # Review (R): the least confident auto-filled frame first, then the next least confident.
    v = w.session.video
    for f, conf in ((4, 0.2), (16, 0.1)):  # two frames the engine was unsure about
        pose = v.pose(f, 1).copy()
        pose.confidence[pose.auto_joints()] = conf
        w.session.apply([PoseChange(v.video_id, f, 1, pose)])
    press(w, Qt.Key_R)
    assert w.editor.frame == 16
    press(w, Qt.Key_R)
    assert w.editor.frame == 4


def test_next_suspect_label_jumps_to_a_misplaced_joint_ready_to_replace(qtbot, clip):
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20), centre=(90, 120))
    press(w, Qt.Key_J)  # keyframes 10 frames apart: nothing to compare a label with
    assert w.statusBar().currentMessage().startswith("Nothing to check")
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    press(w, Qt.Key_J)
    assert w.statusBar().currentMessage().startswith("No suspect labels: all 285 joints (placed or filled)")

    v = w.session.video
    wrist = w.session.skeleton.joints.index("left_wrist")
    right_place = v.pose(14, tid).xy[wrist].copy()
    # frames 13-15 labelled by hand (J proofreads labels), one with a slip of the hand on 14, half
    # the figure's height (a corrected joint of a filled pose clicked back would re-fill its chain)
    w.session.apply([PoseChange(v.video_id, f, tid, correction.confirmed(v.pose(f, tid))) for f in (13, 14, 15)])
    pose = v.pose(14, tid).copy()
    pose.xy[wrist] += (0, 45)
    w.session.apply([PoseChange(v.video_id, 14, tid, pose)])
    w.editor.seek(2)
    press(w, Qt.Key_J)
    assert (w.editor.frame, w.editor.track, w.editor.cursor) == (14, tid, wrist)
    message = w.statusBar().currentMessage()
    assert message.startswith("Suspect label 1 of 1: frame 14,") and "left_wrist is 0." in message
    click_image(qtbot, w, *right_place)  # one click puts it back where it belongs
    assert np.allclose(on_disk(w).pose(14, tid).xy[wrist], right_place, atol=1.0)
    press(w, Qt.Key_J)
    assert w.statusBar().currentMessage().startswith("No suspect labels")

    for f in (15, 16, 17):  # a pose copied onto the next frames, the wrist left where it was
        pose = v.pose(f, tid).copy()
        pose.xy[wrist] += (0, 45)
        w.session.apply([PoseChange(v.video_id, f, tid, pose)])
    press(w, Qt.Key_J)
    assert (w.editor.frame, w.editor.cursor) == (15, wrist)
    message = w.statusBar().currentMessage()
    assert message.startswith("Suspect label 1 of 3: frame 15,") and "off its track" in message


def test_ctrl_shift_right_also_stops_at_a_keyframe_lacking_joints_its_neighbours_have(qtbot, clip):
    """A trial found the demo's keyframes with 6 of 15 joints only by counting the export's
    keypoints: Ctrl+Shift+Right stops there too, names the joints and selects the person."""
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20))
    pose = w.session.video.pose(10, tid).copy()
    knee = w.session.skeleton.joints.index("left_knee")
    pose.visibility[knee] = 0
    w.session.apply([PoseChange(w.session.video.video_id, 10, tid, pose)])
    assert {f: list(j) for f, j in w.session.video.incomplete_keyframes(tid).items()} == {10: [knee]}
    w.editor.seek(2)
    w.editor.select_track(None)
    press(w, Qt.Key_Right, Qt.ControlModifier | Qt.ShiftModifier)
    assert (w.editor.frame, w.editor.track, w.editor.cursor) == (10, tid, knee)
    assert w.statusBar().currentMessage() == (f"Keyframe 10: person {tid} lacks left_knee, labelled on the keyframes "
                                              "before and after it. Clicks place them (E suggests them).")
    pose.visibility[knee], pose.provenance[knee] = 2, Provenance.SUGGESTED  # E suggested it: A is the way
    w.session.apply([PoseChange(w.session.video.video_id, 10, tid, pose)])
    w.editor.seek(2)
    press(w, Qt.Key_Right, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.editor.frame == 10 and "A accepts the suggested ones" in w.statusBar().currentMessage()
    pose.provenance[knee] = Provenance.MANUAL  # placed: nothing left to go to
    w.session.apply([PoseChange(w.session.video.video_id, 10, tid, pose)])
    press(w, Qt.Key_Right, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.editor.frame == N - 1  # the last frame is a keyframe slot too, not labelled yet
    # said (a trial read the last stop's message on an empty slot)
    assert w.statusBar().currentMessage() == f"Keyframe slot {N - 1}: person {tid} is not labelled here yet. Clicks " \
                                             "place joints, E suggests them."
    w.editor.seek(N - 1)
    label_person(qtbot, w, (160, 120))
    press(w, Qt.Key_Right, Qt.ControlModifier | Qt.ShiftModifier)
    assert w.editor.frame == N - 1 and w.statusBar().currentMessage().startswith("Every keyframe slot is labelled, and no")


def test_navigation_keys(qtbot, clip, monkeypatch):
    w = clip
    label_keyframes(qtbot, w, frames=(0, 10))
    w.editor.seek(3)
    steps = [
        ((Qt.Key_Right, Qt.NoModifier), 4), ((Qt.Key_Left, Qt.NoModifier), 3),
        ((Qt.Key_Right, Qt.ShiftModifier), 13), ((Qt.Key_Left, Qt.ShiftModifier), 3),
        ((Qt.Key_Right, Qt.ControlModifier), 10), ((Qt.Key_Left, Qt.ControlModifier), 0),
        ((Qt.Key_Right, Qt.ControlModifier | Qt.ShiftModifier), 20),  # the next slot not labelled yet
        ((Qt.Key_End, Qt.NoModifier), N - 1), ((Qt.Key_Home, Qt.NoModifier), 0),
    ]
    for (key, mod), frame in steps:
        press(w, key, mod)
        assert w.editor.frame == frame, (key, mod)
        assert w.frame_spin.value() == frame and w.timeline.current == frame

    press(w, Qt.Key_Space)  # play
    qtbot.waitUntil(lambda: w.editor.frame >= 3, timeout=5000)
    press(w, Qt.Key_Space)  # pause
    stopped = w.editor.frame
    qtbot.wait(200)
    assert w.editor.frame == stopped and w.play_button.text() == "Play"

    monkeypatch.setattr("app.window.QInputDialog.getInt", lambda *a, **k: (17, True))  # types 17
    press(w, Qt.Key_G, Qt.ControlModifier)
    assert w.editor.frame == 17
    w.frame_spin.setValue(22)  # typing a frame number
    assert w.editor.frame == 22


def test_shortcuts_are_configurable_and_listed(qtbot, clip, monkeypatch):
    from app import shortcuts

    w = clip
    listed = {action.text().replace("&", "") for action in w.actions.values()}
    assert {"Next frame", "Previous keyframe", "Auto-fill whole video", "Play / pause"} <= listed

    class Accepting(shortcuts.ShortcutsDialog):
        def exec(self):
            row = [a for a, *_ in shortcuts.DEFAULTS].index("next_frame")
            editor = self.table.cellWidget(row, 2)
            from PySide6.QtGui import QKeySequence

            editor.setKeySequence(QKeySequence("D"))
            self._changed("next_frame", editor)
            assert self.table.rowCount() == len(shortcuts.DEFAULTS)  # every action is in the help
            return True

    monkeypatch.setattr(shortcuts, "ShortcutsDialog", Accepting)
    press(w, Qt.Key_F1)
    w.editor.seek(0)
    press(w, Qt.Key_D)
    assert w.editor.frame == 1
    assert shortcuts.load()["next_frame"] == "D"


def test_fill_runs_in_the_background_shows_progress_and_cancels(qtbot, clip, monkeypatch):
    """A slow engine (the real one, slowed down after each gap): results arrive while it runs, the
    window stays responsive, Cancel keeps what was filled as one undo step."""
    import time

    from posewarper_core import autofill

    real_fill = autofill.fill

    def slow_fill(*args, progress=None, **kw):
        def slow_progress(done, total):
            time.sleep(0.4)  # after each gap
            progress(done, total)
        return real_fill(*args, progress=slow_progress, **kw)

    monkeypatch.setattr("app.fillrun.autofill.fill", slow_fill)
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    label_keyframes(qtbot, w, frames=(0, 10, 20, 29))
    before = w.session.video.pose_count()
    depth = w.editor.undo_stack.count()
    w.actions["fill_video"].trigger()
    assert w.runner.running and w.fill_panel.cancel.isVisible()
    qtbot.waitUntil(lambda: w.session.video.pose_count() > before, timeout=10000)  # results as they come
    assert w.runner.running
    assert w.fill_panel.progress.maximum() > 0 and "person-frames" in w.fill_panel.progress.format()
    w.editor.seek(1)  # the user goes on working meanwhile
    assert w.editor.frame == 1
    qtbot.mouseClick(w.fill_panel.cancel, Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert "cancelled" in w.fill_panel.state.text()
    kept = w.session.video.pose_count()
    assert before < kept < before + 9 + 9 + 8  # some gaps filled, not all
    assert w.editor.undo_stack.count() == depth + 1
    w.actions["undo"].trigger()
    assert w.session.video.pose_count() == before


def test_the_fill_panel_does_not_claim_a_fill_that_was_undone(qtbot, clip):
    """"Auto-fill done: N poses" stays only while those poses are there: Ctrl+Z of the fill says
    it was undone, a redo brings the text back, a new edit in its place leaves it undone; an
    undo of another step leaves the panel alone."""
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10))
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    done = w.fill_panel.state.text()
    assert done.startswith("Auto-fill done") and w.session.video.track_frames(tid) == list(range(11))
    w.actions["undo"].trigger()
    assert w.session.video.track_frames(tid) == [0, 10]
    assert "Auto-fill done" not in w.fill_panel.state.text()
    assert w.fill_panel.state.text() == "The last auto-fill was undone (Ctrl+Shift+Z brings it back)."
    w.actions["undo"].trigger()  # a step before the fill undone too: two redos bring it back
    assert w.fill_panel.state.text() == "The last auto-fill was undone (Ctrl+Shift+Z 2 times brings it back)."
    w.actions["redo"].trigger()
    assert w.fill_panel.state.text() == "The last auto-fill was undone (Ctrl+Shift+Z brings it back)."
    w.actions["redo"].trigger()
    assert w.fill_panel.state.text() == done and w.session.video.track_frames(tid) == list(range(11))

    w.editor.seek(20)
    press(w, Qt.Key_X)  # another step on top of the fill: undoing it leaves the fill's text
    w.actions["undo"].trigger()
    assert w.fill_panel.state.text() == done
    w.actions["undo"].trigger()  # the fill
    w.editor.seek(20)
    press(w, Qt.Key_X)  # a new edit: the undone fill cannot come back
    assert w.fill_panel.state.text() == "The last auto-fill was undone."


def test_another_project_opened_starts_with_a_fill_panel_of_its_own(qtbot, clip, open_in, tmp_path):
    """A trial's freshly opened project said "The last auto-fill was undone" of another one."""
    w = clip
    w.fill_panel.method.setCurrentText("linear")
    label_keyframes(qtbot, w, frames=(0, 10))
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    w.actions["undo"].trigger()
    assert w.fill_panel.state.text().startswith("The last auto-fill was undone")
    make_video(tmp_path / "other.mp4", n=N)
    open_in(w, tmp_path / "other.mp4", tmp_path / "other.pwproj")
    assert w.fill_panel.state.text() == ""
    w.actions["redo"].trigger()  # nothing of the other project's to redo here
    assert w.fill_panel.state.text() == ""
    assert (w.actions["undo"].text(), w.actions["redo"].text()) == ("&Undo", "&Redo")  # not the last project's


def test_posewarper_fill_says_it_tunes_first_and_fills_every_frame(qtbot, clip, monkeypatch):
    """The default method from the panel: the state line says the matcher first tunes itself on
    the keyframes, the bar counts those steps, then every frame of the gap is filled."""
    from posewarper_core.autofill import DEFAULT_METHOD, keyframe_match

    monkeypatch.setattr(keyframe_match, "ADAPT_STEPS", 3)  # the same code, fewer tuning steps
    w = clip
    assert w.fill_panel.method.currentText() == DEFAULT_METHOD == "posewarper"
    label_keyframes(qtbot, w, frames=(0, 10), centre=(120, 120))
    shown = []  # what the bar says after each tuning step (connected after the panel's own slot)
    w.runner.setupProgress.connect(lambda *_: shown.append(w.fill_panel.progress.text()))
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    assert "tuning on your keyframes" in w.fill_panel.state.text()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=60000)
    assert shown == [f"tuning on your keyframes: {i} / 3" for i in (1, 2, 3)]
    v = w.session.video
    assert v.track_frames(1) == list(range(0, 11))
    assert all(v.pose(f, 1).method == "posewarper" for f in range(1, 10))
    assert on_disk(w).track_frames(1) == list(range(0, 11))  # saved through the store

    # Off, the fill starts at once with the shipped matcher (and the choice is remembered).
    from PySide6.QtCore import QSettings

    w.actions["undo"].trigger()
    assert v.track_frames(1) == [0, 10]
    assert (w.session.frame_status() == v.frame_status()).all()  # kept up to date frame by frame
    w.fill_panel.tune.click()
    assert QSettings().value("autofill/tune", type=bool) is False
    steps = len(shown)
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    assert "tuning" not in w.fill_panel.state.text()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=60000)
    assert len(shown) == steps and w.runner.methods.current.adapt_steps == 0
    assert v.track_frames(1) == list(range(0, 11))
    assert list(w.session.frame_status()[:12]) == [3] + [1] * 9 + [3, 0] == list(v.frame_status()[:12])
    w.fill_panel.method.setCurrentText("linear")
    assert w.fill_panel.tune.isHidden()  # only posewarper tunes

    # A PoseWarper network file has no tuning of its own: it fills with the box off or on alike
    # (the box off once crashed on a TypeError, 'adapt_steps').
    from pathlib import Path

    from posewarper_core.autofill.posewarper_method import PoseWarperMethod

    w.fill_panel.method.setCurrentText("posewarper")
    w.runner.model_path = Path(__file__).resolve().parents[1] / "resources" / "models" / "posewarper_base.pt"
    for on in (False, True):
        w.actions["undo"].trigger()
        assert v.track_frames(1) == [0, 10]
        if w.fill_panel.tune.isChecked() != on:
            w.fill_panel.tune.click()
        qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
        qtbot.waitUntil(lambda: not w.runner.running, timeout=120000)
        assert isinstance(w.runner.methods.current, PoseWarperMethod)
        assert v.track_frames(1) == list(range(0, 11)), w.fill_panel.state.text()


@pytest.mark.parametrize("close", ["ok", "cancel"])
def test_keys_work_on_the_canvas_right_after_a_dialog_closes(qtbot, clip, close):
    """Without a window manager nobody gave the focus back after a dialog: the first key (N after
    the fill-range dialog) went nowhere. Now the canvas has it as soon as a dialog closes."""
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from app.fillpanel import FillRangeDialog

    w = clip
    label_keyframes(qtbot, w, frames=(0, 10))
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_range"].trigger()
    dialog = w.findChild(FillRangeDialog)
    qtbot.waitUntil(lambda: QApplication.focusWindow() is dialog.windowHandle())
    button = QDialogButtonBox.Ok if close == "ok" else QDialogButtonBox.Cancel
    qtbot.mouseClick(dialog.buttons.button(button), Qt.LeftButton)
    qtbot.waitUntil(lambda: w.runner is None or not w.runner.running, timeout=10000)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is w.canvas)
    assert QApplication.focusWindow() is w.windowHandle()
    w.editor.seek(3)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Right)  # the key goes where the user types
    assert w.editor.frame == 4


def test_undo_goes_to_the_frame_it_changes_and_says_what_it_undid(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 10))
    w.editor.seek(10)
    before = w.session.video.pose(10, tid).xy[0].copy()
    depth = w.editor.undo_stack.count()
    drag(qtbot, w, before, QPoint(12, 0))  # a joint of keyframe 10 moved
    assert w.editor.undo_stack.count() == depth + 1
    assert w.actions["undo"].text() == "&Undo " + w.editor.undo_stack.undoText()  # the menu names the step
    w.editor.seek(25)
    w.actions["undo"].trigger()
    assert w.editor.frame == 10  # shown where it happened
    np.testing.assert_allclose(w.session.video.pose(10, tid).xy[0], before)
    message = w.statusBar().currentMessage()
    assert message.startswith("Undid: ") and "frame 10" in message
    w.editor.seek(0)
    w.actions["redo"].trigger()
    assert w.editor.frame == 10 and w.statusBar().currentMessage().startswith("Redid: ")
    while w.editor.undo_stack.canUndo():
        w.actions["undo"].trigger()
    w.actions["undo"].trigger()
    assert w.statusBar().currentMessage() == "Nothing to undo"


def test_a_copy_of_the_project_file_alone_holds_an_edit_a_moment_later(qtbot, clip, tmp_path):
    """Users copy the .pwproj file while the app is open: a moment after the last edit the file
    itself holds it, not only the "-wal" journal beside it."""
    w = clip
    press(w, Qt.Key_N, Qt.ControlModifier)
    click_image(qtbot, w, 100, 70)  # the first joint of a new person
    track, placed = w.editor.track, w.session.video.pose(0, w.editor.track)
    assert placed.visibility[0] == Visibility.VISIBLE
    qtbot.waitUntil(lambda: w.session.checkpointer.written == w.store.commits, timeout=5000)
    copy = tmp_path / "copied" / "clip.pwproj"
    copy.parent.mkdir()
    copy.write_bytes(w.store.path.read_bytes())  # the project file only
    with ProjectStore.open(copy, read_only=True) as copied:
        np.testing.assert_array_equal(copied.project.videos[w.session.video_id].pose(0, track).xy, placed.xy)


def test_export_asks_its_questions_in_one_dialog_and_remembers_the_auto_filled_choice(qtbot, clip, tmp_path,
                                                                                      monkeypatch):
    """One dialog before the file dialog (it was up to three questions in a row): which auto-filled
    poses (remembered, shown preset at the next export) and whether frame images go with the JSON;
    the File menu shows the choice, the summary says what was left out."""
    import copy

    from PySide6.QtWidgets import QDialog, QFileDialog, QMessageBox

    from app.exportchoice import MENU_TITLE, ExportDialog
    from posewarper_core.annotation import Pose, Track
    from posewarper_core.formats import import_file

    w = clip
    w.session.set_track(Track(1))
    key = Pose.manual(np.full((17, 2), 60.0), np.full(17, 2), keyframe=True)
    filled = key.copy()
    filled.keyframe, filled.provenance[:], filled.method = False, Provenance.INTERPOLATED, "linear"
    accepted = filled.copy()
    accepted.reviewed = True
    vid = w.session.video_id
    w.session.apply([PoseChange(vid, 0, 1, key), PoseChange(vid, 1, 1, accepted), PoseChange(vid, 2, 1, filled)])
    shown = []

    def answer(dialog):  # the user: "Only those I reviewed" the first time, then OK as preset and every frame listed
        shown.append({name: getattr(dialog, name) and getattr(dialog, name).choice()
                      for name in ("every", "auto", "frames", "images")})
        assert "2 poses were written by auto-fill, 1 of them reviewed" in dialog.auto_note.text()
        if len(shown) == 1:
            dialog.auto.buttons["reviewed"].click()
        else:
            dialog.images.buttons["all"].click()
        return QDialog.Accepted

    monkeypatch.setattr(ExportDialog, "exec", answer)
    monkeypatch.setattr(QMessageBox, "exec", lambda box: pytest.fail(f"a second question: {box.text()}"))
    for n in (1, 2):
        out = tmp_path / f"export{n}.json"
        monkeypatch.setattr(QFileDialog, "getSaveFileName", lambda *a, out=out: (str(out), ""))
        done = []
        w.exported.connect(lambda summary: done.append(summary))
        w.export_dialog("coco")
        qtbot.waitUntil(lambda: bool(done), timeout=30000)
        _, (back,) = import_file(out)
        assert sorted(back.poses) == [0, 1] and back.pose(1, 1).reviewed
        assert "1 auto-filled pose not reviewed, as asked" in w.last_info
        assert done[0].get("frame_images", 0) == 0  # JSON only, the preset
        listed = len(json.loads(out.read_text())["images"])
        if n == 1:  # the frames with poses; the summary says how to list them all, in the window's words
            assert listed == 2 and "choose every frame when exporting" in w.last_info
        else:
            assert listed == w.session.video.num_frames and "with no pose" not in w.last_info
    # one video: no videos question; the frames question (a video file); the choice kept and shown
    assert shown == [{"every": None, "auto": "all", "frames": None, "images": "with-poses"},
                     {"every": None, "auto": "reviewed", "frames": None, "images": "with-poses"}]
    menu = next(a.menu() for a in w.menuBar().actions()[0].menu().actions() if a.text() == MENU_TITLE)
    menu.aboutToShow.emit()
    assert [a.text() for a in menu.actions() if a.isChecked()] == ["Only those I reviewed"]

    # Nothing to ask (an image folder's video, the choice made): no dialog at all. Two videos: the
    # videos question, whose choice the counts follow.
    folder = copy.copy(w.session.video)
    folder.frames = []
    assert not ExportDialog(w, "PoseTrack18", folder, [folder]).needed()
    assert ExportDialog(w, "COCO keypoints", folder, [folder], coco=True).needed()  # which frames it lists
    other = copy.copy(w.session.video)
    other.video_id, other.poses = 2, {3: {1: filled.copy()}}
    dialog = ExportDialog(w, "PoseTrack18", w.session.video, [w.session.video, other])
    assert dialog.needed() and "one file per video" in dialog.every.buttons[True].text()
    dialog.every.buttons[True].click()
    assert dialog.auto_note.text().startswith("3 poses were written by auto-fill, 1 of them reviewed")
    assert dialog.choices() == (True, "reviewed", None, "with-poses")
    # the frames listed and the frame images chosen last are the next dialog's presets (a trial
    # chose the labelled frames and found "JSON only" again); still asked every time
    again = ExportDialog(w, "COCO keypoints", w.session.video, [w.session.video], coco=True)
    assert again.images.choice() == "all" and again.frames.choice() is None
    from PySide6.QtCore import QSettings

    from app import exportchoice

    QSettings().setValue(exportchoice.FRAMES_SETTING, "labelled")
    assert ExportDialog(w, "COCO keypoints", w.session.video, [w.session.video], coco=True).frames.choice() == "labelled"


def test_clearing_the_people_list_selection_leaves_nobody_for_keys_to_act_on(qtbot, clip):
    """A new user Ctrl+clicked the selected row away; K and Del still acted on person 1, unseen."""
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    table = w.tracks_panel.table
    assert w.editor.track == tid and table.selectionModel().selectedRows()
    table.clearSelection()
    assert w.editor.track is None
    press(w, Qt.Key_Delete)
    assert w.session.video.pose(0, tid) is not None  # nothing deleted
    assert w.statusBar().currentMessage().startswith("Select a person first")
    table.selectRow(0)
    assert w.editor.track == tid


def test_ctrl_s_from_habit_says_every_edit_is_saved_and_makes_the_file_whole_at_once(qtbot, clip, tmp_path):
    import shutil

    w = clip
    w.session.checkpointer.timer.stop()  # only the key writes the journal into the file here
    tid = label_keyframes(qtbot, w, frames=(0,))
    press(w, Qt.Key_S, Qt.ControlModifier)
    assert w.statusBar().currentMessage().startswith("Every edit is saved as you make it")
    copy = tmp_path / "copy" / "alone.pwproj"
    copy.parent.mkdir()
    shutil.copyfile(w.store.path, copy)  # the project file alone, without its journal
    with ProjectStore.open(copy, read_only=True) as store:
        assert store.project.videos[w.session.video_id].pose(0, tid).labelled().sum() == 15


def test_the_import_and_open_dialogs_start_where_the_users_files_are(clip, tmp_path, monkeypatch):
    """A trial's Import dialog opened in the folder the app was started from: it starts where the
    last export went (the files imported are mostly exports), else in the project's folder; Open
    starts in the project's folder."""
    from PySide6.QtCore import QSettings

    started = []
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileNames",
                        lambda _w, _title, start, _filter: started.append(start) or ([], ""))
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName",
                        lambda _w, _title, start, _filter: started.append(start) or ("", ""))
    monkeypatch.setattr("app.window.QMessageBox.question", lambda *a: QMessageBox.No)
    clip.import_dialog()
    exports = tmp_path / "exports"
    exports.mkdir()
    QSettings().setValue("export/folder", str(exports))
    clip.import_dialog()
    clip.open_dialog()
    assert started == [str(tmp_path), str(exports), str(tmp_path)]


def test_the_export_dialog_does_not_offer_to_write_an_image_folders_frames(clip, tmp_path):
    """A folder of frames opened as it is: its exports name its own image files, so the dialog has
    no frame-images question for it (a video file's frames still may go along)."""
    import cv2

    from app.exportchoice import ExportDialog
    from posewarper_core import Video

    (tmp_path / "shots").mkdir()
    for i in range(3):
        cv2.imwrite(str(tmp_path / "shots" / f"{i}.png"), np.zeros((8, 8, 3), np.uint8))
    folder = Video("shots", 3, 8, 8, name="shots")
    assert ExportDialog(clip, "PoseTrack18", folder, [folder], base_dir=tmp_path).frames is None
    video = clip.session.video
    assert ExportDialog(clip, "PoseTrack18", video, [video], base_dir=clip.store.base_dir).frames is not None
    # a PoseTrack file lists every frame: with every frame or none (a trial's "labelled" export
    # named 9 images it never wrote); a COCO file may list only the labelled ones
    offered = ExportDialog(clip, "PoseTrack18", video, [video], base_dir=clip.store.base_dir).frames.buttons
    assert set(offered) == {None, "all"}
    coco = ExportDialog(clip, "COCO keypoints", video, [video], coco=True, base_dir=clip.store.base_dir)
    assert set(coco.frames.buttons) == {None, "labelled", "all"}


def test_a_posetrack_export_keeps_the_remembered_labelled_frames_for_coco(clip, monkeypatch):
    """PoseTrack offers every frame or none and presets "every frame" where "labelled" was
    remembered: exporting so must not turn the next COCO export's preset into every frame."""
    from PySide6.QtCore import QSettings
    from PySide6.QtWidgets import QDialog

    from app import exportchoice

    QSettings().setValue(exportchoice.FRAMES_SETTING, "labelled")
    monkeypatch.setattr(exportchoice.ExportDialog, "exec", lambda self: QDialog.Accepted)
    video = clip.session.video
    chosen = exportchoice.ask(clip, "PoseTrack18", video, [video], base_dir=clip.store.base_dir)
    assert chosen.frames == "all"
    coco = exportchoice.ExportDialog(clip, "COCO keypoints", video, [video], coco=True, base_dir=clip.store.base_dir)
    assert coco.frames.choice() == "labelled"
