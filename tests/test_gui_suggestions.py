"""Keyframe suggestions in the real main window (offscreen): asked with a key or on starting a
new keyframe, computed off the UI thread, drawn as suggestions, accepted per person / per frame
or by a drag, pose templates at a click; each one undo step, never over the annotator's joints."""
from __future__ import annotations

import sys

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from posewarper_core.annotation import Provenance
from posewarper_core.suggest import runtime_missing
from posewarper_core.suggest.carry import pose_digest
from test_gui_editing import drag, label_keyframes, on_disk, press
from test_gui_session import click_image, make_video

SUGGESTED, MANUAL = int(Provenance.SUGGESTED), int(Provenance.MANUAL)


@pytest.fixture
def clip(window, open_in, tmp_path):
    """The window on a new 30-frame project (keyframe every 10th frame), person 1 labelled on frame 0."""
    make_video(tmp_path / "clip.mp4", n=30)
    open_in(window, tmp_path / "clip.mp4", tmp_path / "clip.pwproj")
    window.fill_panel.stride.setValue(10)
    return window


def painted_by(w, method: str) -> int:
    """How many times the pose layer's `method` (one marker each) runs in a repaint of the canvas."""
    layer = w.canvas.layer
    original, calls = getattr(layer, method), []
    setattr(layer, method, lambda *a: (calls.append(a), original(*a)))
    try:
        w.canvas.viewport().repaint()
    finally:
        setattr(layer, method, original)
    return len(calls)


def wait_applied(qtbot, w, timeout=60000):
    with qtbot.waitSignal(w.suggestions.applied, timeout=timeout) as blocker:
        pass
    return blocker.args[0]


def ask_and_wait(qtbot, w, key=Qt.Key_E, modifier=Qt.NoModifier):
    with qtbot.waitSignal(w.suggestions.applied, timeout=60000, raising=False) as blocker:
        press(w, key, modifier)
    assert blocker.signal_triggered, w.statusBar().currentMessage()
    assert blocker.args[0] is not None, w.statusBar().currentMessage()
    return blocker.args[0]


def test_key_suggests_the_unlabelled_joints_off_the_ui_thread_and_accept_makes_them_manual(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    key = w.session.video.pose(0, tid)
    w.editor.seek(10)
    click_image(qtbot, w, 300, 50)  # one joint (the nose) placed by hand first, far from where the pose was
    depth = w.editor.undo_stack.count()
    result = ask_and_wait(qtbot, w)
    assert result.request.frame == 10 and tid in result.poses
    pose = w.session.video.pose(10, tid)
    assert pose.keyframe and pose.provenance[0] == MANUAL
    np.testing.assert_allclose(pose.xy[0], (300, 50), atol=0.6)  # the annotator's joint is not overwritten
    rest = key.labelled().copy()
    rest[0] = False
    assert (pose.provenance[rest] == SUGGESTED).all()
    assert np.abs(pose.xy[rest] - key.xy[rest]).max() < 6  # a still video: the pose carried stays put
    assert w.editor.undo_stack.count() == depth + 1
    assert f"{int(rest.sum())} suggested joints" in w.canvas.overlay_text
    stored = on_disk(w).pose(10, tid)
    assert (stored.provenance[rest] == SUGGESTED).all()  # in the project file at once

    # drawn with their own look: the canvas paints them as suggestions
    assert painted_by(w, "_paint_suggested") == int(rest.sum())

    press(w, Qt.Key_A)  # accept the selected person's suggestion
    pose = w.session.video.pose(10, tid)
    assert (pose.provenance[pose.labelled()] == MANUAL).all()
    assert w.editor.undo_stack.count() == depth + 2
    w.actions["undo"].trigger()
    assert (w.session.video.pose(10, tid).provenance[rest] == SUGGESTED).all()
    w.actions["undo"].trigger()  # and the suggestion itself is one step
    assert int(w.session.video.pose(10, tid).labelled().sum()) == 1


def test_drag_accepts_that_joint_and_shift_a_accepts_the_frame(qtbot, clip):
    w = clip
    a = label_keyframes(qtbot, w, frames=(0,), centre=(100, 120))
    press(w, Qt.Key_N, Qt.ControlModifier)
    b = w.editor.track
    from test_gui_session import label_person

    label_person(qtbot, w, (220, 120))
    w.editor.seek(25)  # someone who only comes in at frame 25: not suggested on frame 10
    press(w, Qt.Key_N, Qt.ControlModifier)
    label_person(qtbot, w, (60, 120))
    w.editor.seek(10)
    result = ask_and_wait(qtbot, w, Qt.Key_E, Qt.ShiftModifier)  # everyone on the frame
    assert set(result.poses) == {a, b}
    depth = w.editor.undo_stack.count()
    before = w.session.video.pose(10, b)
    drag(qtbot, w, before.xy[9], QPoint(25, 15))  # a wrist
    after = w.session.video.pose(10, b)
    assert after.provenance[9] == MANUAL and after.xy[9][0] > before.xy[9][0] + 5
    others = before.labelled().copy()
    others[9] = False
    assert (after.provenance[others] == SUGGESTED).all()
    assert w.editor.undo_stack.count() == depth + 1
    press(w, Qt.Key_A, Qt.ShiftModifier)
    for t in (a, b):
        p = w.session.video.pose(10, t)
        assert (p.provenance[p.labelled()] == MANUAL).all()
    assert w.editor.undo_stack.count() == depth + 2  # both people, one step
    w.actions["undo"].trigger()
    assert (w.session.video.pose(10, a).provenance == SUGGESTED).any()


def test_option_suggests_the_rest_when_a_new_keyframe_is_started_and_is_remembered(qtbot, clip):
    from PySide6.QtCore import QSettings

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    assert not w.actions["suggest_on_new_keyframe"].isChecked()
    w.actions["suggest_on_new_keyframe"].trigger()
    assert QSettings().value("suggest/on_new_keyframe", type=bool)
    w.editor.seek(10)
    with qtbot.waitSignal(w.suggestions.applied, timeout=60000):
        click_image(qtbot, w, 104, 98)  # the first joint of the new keyframe, by hand
    pose = w.session.video.pose(10, tid)
    assert pose.provenance[0] == MANUAL and (pose.provenance[1:][pose.labelled()[1:]] == SUGGESTED).all()
    assert int(pose.labelled().sum()) == int(w.session.video.pose(0, tid).labelled().sum())


def test_a_result_for_a_frame_left_is_dropped(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    with qtbot.waitSignal(w.suggestions.applied, timeout=60000) as blocker:
        press(w, Qt.Key_E)
        w.editor.seek(12)  # the user moves on before the suggestion arrives
    assert blocker.args[0].request.frame == 10
    assert w.session.video.pose(10, tid) is None and w.session.video.pose(12, tid) is None
    assert "not applied" in w.statusBar().currentMessage()


def test_pose_templates_dropped_at_a_click(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    key = w.session.video.pose(0, tid)
    w.editor.seek(10)
    depth = w.editor.undo_stack.count()
    press(w, Qt.Key_T)  # the previous keyframe's pose, at the next click
    assert w.statusBar().currentMessage().startswith("Click where to drop the previous keyframe's pose")
    click_image(qtbot, w, 200, 150)
    pose = w.session.video.pose(10, tid)
    # the status bar says what the click did, not still "Click where to drop..."
    assert w.statusBar().currentMessage() == (f"Dropped keyframe 0's pose for person {tid} on frame 10: "
                                              f"{int(key.labelled().sum())} suggested joints. Drag them to fit "
                                              "(Shift+drag moves the whole pose, Ctrl+Shift+drag a joint turns and "
                                              "scales it); A accepts them.")
    assert (pose.provenance[pose.labelled()] == SUGGESTED).all() and pose.labelled().sum() == key.labelled().sum()
    ext = pose.joint_extent()
    np.testing.assert_allclose((ext[0] + ext[2] / 2, ext[1] + ext[3] / 2), (200, 150), atol=1.0)
    np.testing.assert_allclose(pose.xy[key.labelled()] - pose.xy[key.labelled()][0],
                               key.xy[key.labelled()] - key.xy[key.labelled()][0], atol=1e-6)  # the same shape
    assert w.editor.undo_stack.count() == depth + 1
    # over the person's own pose a template is refused (two trials' T there made a new person)...
    press(w, Qt.Key_T, Qt.ShiftModifier)
    click_image(qtbot, w, 60, 150)
    assert w.editor.track == tid and w.editor.undo_stack.count() == depth + 1
    assert w.session.video.pose(10, tid).same_as(pose)
    assert w.statusBar().currentMessage().startswith(f"person {tid} already has a pose on frame 10")
    # ... an average pose for someone new comes after Ctrl+N: a new person, one step
    press(w, Qt.Key_N, Qt.ControlModifier)
    new = w.editor.track
    steps = w.editor.undo_stack.count()
    press(w, Qt.Key_T, Qt.ShiftModifier)
    click_image(qtbot, w, 60, 150)
    assert new != tid and w.editor.track == new
    assert (w.session.video.pose(10, new).provenance == SUGGESTED).sum() >= 12
    assert w.editor.undo_stack.count() == steps + 1
    w.actions["undo"].trigger()
    assert w.session.video.pose(10, new) is None and w.session.video.pose(10, tid) is not None
    # a template armed and then left for another frame says it is cancelled
    press(w, Qt.Key_T)
    w.editor.seek(15)
    assert w.statusBar().currentMessage() == "Template dropped nowhere: another frame cancels it."
    # the next click after a template places a joint again
    w.editor.seek(20)
    click_image(qtbot, w, 90, 90)
    assert w.session.video.pose(20, w.editor.track).provenance[0] == MANUAL


def test_without_the_pose_runtime_the_carried_pose_is_offered_and_the_gui_says_what_is_missing(
        qtbot, window, open_in, tmp_path, monkeypatch):
    for name in ("ai_edge_litert", "ai_edge_litert.interpreter"):
        monkeypatch.setitem(sys.modules, name, None)  # `import` now fails, as when it is not installed
    from app.window import MainWindow

    w = MainWindow()
    w.quiet = True
    qtbot.addWidget(w)
    w.resize(1100, 700)
    w.show()
    assert "ai-edge-litert" in (w.suggestions.missing or "")
    assert "ai-edge-litert" in w.actions["suggest_pose"].toolTip()
    make_video(tmp_path / "clip.mp4", n=30)
    open_in(w, tmp_path / "clip.mp4", tmp_path / "clip.pwproj")
    w.fill_panel.stride.setValue(10)
    press(w, Qt.Key_E, Qt.ShiftModifier)  # nobody labelled: finding people needs the model
    assert "ai-edge-litert" in w.statusBar().currentMessage() and not w.suggestions.busy()
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    result = ask_and_wait(qtbot, w)
    assert "ai-edge-litert" in result.message
    pose = w.session.video.pose(10, tid)
    assert (pose.provenance[pose.labelled()] == SUGGESTED).all() and pose.labelled().sum() >= 12
    assert "ai-edge-litert" in w.statusBar().currentMessage()
    w.close()


def test_on_a_frame_nobody_is_labelled_in_the_detector_finds_the_person(qtbot, window, open_in, tmp_path):
    from app.demo import DEMO_DIR

    w = window
    open_in(w, DEMO_DIR / "sports2d_demo.mp4", tmp_path / "demo.pwproj")
    assert not w.session.video.tracks
    depth = w.editor.undo_stack.count()
    with qtbot.waitSignal(w.suggestions.applied, timeout=60000) as blocker:
        w.actions["suggest_frame"].trigger()  # Shift+E (the menu item: after an open the focus may be elsewhere)
    result = blocker.args[0]
    assert result is not None and result.detected, w.statusBar().currentMessage()
    assert w.session.video.tracks and w.editor.track in w.session.video.tracks
    pose = w.session.video.pose(0, w.editor.track)
    assert (pose.provenance[pose.labelled()] == SUGGESTED).all() and pose.labelled().sum() >= 10
    assert w.editor.undo_stack.count() == depth + 1  # the new people and their poses: one step
    w.actions["undo"].trigger()
    assert not w.session.video.tracks


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_when_the_detector_finds_nobody_the_status_bar_says_why_and_what_to_do(qtbot, clip):
    w = clip
    assert not w.session.video.tracks
    with qtbot.waitSignal(w.suggestions.applied, timeout=60000) as blocker:
        w.actions["suggest_frame"].trigger()  # Shift+E on a frame nobody is labelled in
    assert blocker.args[0] is not None and not blocker.args[0].detected
    text = w.statusBar().currentMessage()
    assert "nobody found on frame 0" in text and "1/6 of the frame's height" in text and "template" in text
    assert not w.session.video.tracks and w.editor.undo_stack.count() == 0  # nothing changed


def test_staying_on_a_frame_computes_the_suggestion_ahead_so_the_key_shows_it_at_once(qtbot, clip):
    from app.suggestions import _input_key

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    # waits on the worker's result for exactly what the key will ask (no wall-clock assumption)
    qtbot.waitUntil(lambda: _input_key(w.session.video, 10, tid) in w.suggestions.kept, timeout=60000)
    assert w.session.video.pose(10, tid) is None  # computed ahead, not applied
    applied = []
    w.suggestions.applied.connect(applied.append)
    press(w, Qt.Key_E)
    w.suggestions.applied.disconnect(applied.append)
    assert applied and applied[0] is not None  # applied within the key press: no worker round trip
    job = w.suggestions.job
    assert job is None or job.req.ahead or job.req.upto is not None  # only work ahead may run
    pose = w.session.video.pose(10, tid)
    assert (pose.provenance[pose.labelled()] == SUGGESTED).all() and pose.labelled().sum() >= 12
    w.actions["undo"].trigger()
    # the keyframe it was carried from changes: the kept one is not used, a fresh one is computed
    w.editor.seek(0)
    drag(qtbot, w, w.session.video.pose(0, tid).xy[0], QPoint(0, -20))
    moved = w.session.video.pose(0, tid).xy[0].copy()
    w.editor.seek(10)
    result = ask_and_wait(qtbot, w)
    assert abs(w.session.video.pose(10, tid).xy[0][1] - moved[1]) < 3, result.message


def test_after_a_while_on_a_keyframe_a_suggestion_on_arrival_reuses_the_flow_chain_extended_ahead(qtbot, clip):
    """The user labels a keyframe and goes on: meanwhile the worker flowed the person's pose ahead
    to the next keyframe, so E on arrival at a later frame runs no flow, only the model."""
    w = clip
    assert not w.suggestions.in_use
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.suggestions.in_use = True  # the user asked for a suggestion before (chains are extended only then)
    w.editor.seek(1)
    w.editor.seek(0)
    qtbot.waitUntil(lambda: any(name[1:3] == (tid, 0) and last >= 10 for name, last in w.suggestions.reached.items()),
                    timeout=60000)
    qtbot.waitUntil(lambda: w.suggestions.job is None, timeout=60000)
    carrier = w.suggestions.engine.suggester.carrier(w.suggestions.engine.frames)
    (chain,) = [c for name, c in carrier._chains.items() if name[:2] == (tid, 0)]
    assert chain.last == 10
    w.editor.seek(7)
    result = ask_and_wait(qtbot, w)
    assert result.request.frame == 7 and tid in result.poses
    pose = w.session.video.pose(7, tid)
    assert (pose.provenance[pose.labelled()] == SUGGESTED).all() and pose.labelled().sum() >= 12
    assert [c for name, c in carrier._chains.items() if name[:2] == (tid, 0)] == [chain]  # the same chain
    assert chain.last == 10  # nothing flowed on request
    assert "suggested joints" in w.canvas.overlay_text


def test_no_two_default_shortcuts_share_a_key(qtbot, window):
    """Qt runs neither of two actions with the same key (an "ambiguous" shortcut): A was taken by
    both the review's accept and the suggestions' accept once. One A does both (suggested joints
    first), and every key in the F1 list is unique."""
    from app import shortcuts

    keys = [k for _, _, k, _ in shortcuts.DEFAULTS if k]
    assert len(keys) == len(set(keys)), sorted(k for k in keys if keys.count(k) > 1)
    listed = {a for a, *_ in shortcuts.DEFAULTS}
    assert {"suggest_pose", "suggest_frame", "accept", "accept_frame", "template_keyframe", "template_average",
            "suggest_on_new_keyframe"} <= listed
    from PySide6.QtGui import QKeySequence

    for action_id in listed:
        assert window.actions[action_id].shortcut() == QKeySequence(shortcuts.load()[action_id])


@pytest.fixture
def slow_chain(monkeypatch):
    """The chain not there yet on request: the quick first suggestion is the keyframe's pose 30 px to
    the right (a stand-in for the model's, so the test knows where it is), and the full one waits
    for `gate` (the flow still running) so the test can act in between."""
    import threading

    from posewarper_core.suggest import Suggester
    from posewarper_core.suggest.suggest import Suggestion

    gate = threading.Event()

    def quick(self, video, frames, frame, track_id, image=None):
        key = video.pose(0, track_id)
        pose = key.copy()
        pose.xy = key.xy + np.array([30.0, 0.0], np.float32)
        pose.provenance[key.labelled()] = Provenance.SUGGESTED
        pose.keyframe = False
        return Suggestion(pose)

    full = Suggester.suggest_frame

    def suggest_frame(self, *args, **kwargs):
        assert gate.wait(60), "the test never let the full suggestion through"
        return full(self, *args, **kwargs)

    monkeypatch.setattr(Suggester, "quick", quick)
    monkeypatch.setattr(Suggester, "chain_ready", lambda self, *a: False)
    monkeypatch.setattr(Suggester, "suggest_frame", suggest_frame)
    return gate


def ask_quick(qtbot, w):
    with qtbot.waitSignal(w.suggestions.first_shown, timeout=60000, raising=False) as blocker:
        press(w, Qt.Key_E)
    assert blocker.signal_triggered, w.statusBar().currentMessage()


def quick_on_frame_10(qtbot, w):
    """A person labelled on keyframe 0, then E on frame 10 until the quick suggestion is drawn:
    (their track id, their keyframe pose, the undo stack's depth before E)."""
    tid = label_keyframes(qtbot, w, frames=(0,))
    key = w.session.video.pose(0, tid)
    w.editor.seek(10)
    depth = w.editor.undo_stack.count()
    ask_quick(qtbot, w)
    return tid, key, depth


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_a_quick_suggestion_is_drawn_first_and_the_full_one_replaces_it_in_the_same_undo_step(qtbot, clip, slow_chain):
    w = clip
    tid, key, depth = quick_on_frame_10(qtbot, w)  # at once: before the flow chain
    pose = w.session.video.pose(10, tid)
    lab = key.labelled()
    assert (pose.provenance[lab] == SUGGESTED).all()
    np.testing.assert_allclose(pose.xy[lab], key.xy[lab] + [30, 0], atol=0.01)
    assert w.editor.undo_stack.count() == depth + 1
    slow_chain.set()
    wait_applied(qtbot, w)
    pose = w.session.video.pose(10, tid)
    assert (pose.provenance[lab] == SUGGESTED).all()
    assert np.abs(pose.xy[lab] - key.xy[lab]).max() < 6  # the full one (a still video: carried in place)
    assert on_disk(w).pose(10, tid).xy[0][0] < key.xy[0][0] + 6  # saved as replaced
    assert w.editor.undo_stack.count() == depth + 1  # what the user saw as one suggestion: one step
    assert w.editor.undo_stack.undoText() == f"Suggest {int(lab.sum())} joints on frame 10"
    full = pose.xy.copy()
    w.actions["undo"].trigger()
    after = w.session.video.pose(10, tid)
    assert after is None or not after.labelled().any()
    w.actions["redo"].trigger()  # the one step redone: the full suggestion, not the quick one
    np.testing.assert_allclose(w.session.video.pose(10, tid).xy[lab], full[lab])


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_the_full_suggestion_keeps_a_joint_dragged_meanwhile_and_undoes_in_order(qtbot, clip, slow_chain):
    w = clip
    tid, key, depth = quick_on_frame_10(qtbot, w)
    quick = w.session.video.pose(10, tid)
    drag(qtbot, w, quick.xy[9], QPoint(0, 25))  # a wrist of the quick suggestion moved by the user
    dragged = w.session.video.pose(10, tid)
    assert dragged.provenance[9] == MANUAL
    assert w.editor.undo_stack.count() == depth + 2
    slow_chain.set()
    wait_applied(qtbot, w)
    pose = w.session.video.pose(10, tid)
    np.testing.assert_allclose(pose.xy[9], dragged.xy[9])  # the user's joint kept
    assert pose.provenance[9] == MANUAL
    rest = key.labelled().copy()
    rest[9] = False
    assert (pose.provenance[rest] == SUGGESTED).all()
    assert np.abs(pose.xy[rest] - key.xy[rest]).max() < 6  # the untouched quick joints replaced
    assert w.editor.undo_stack.count() == depth + 3  # a step of its own: the drag came in between
    assert "Refine" in w.editor.undo_stack.undoText()
    w.actions["undo"].trigger()  # the refinement: the quick joints and the drag are back
    back = w.session.video.pose(10, tid)
    np.testing.assert_allclose(back.xy[rest], quick.xy[rest])
    np.testing.assert_allclose(back.xy[9], dragged.xy[9])
    w.actions["undo"].trigger()  # the drag
    np.testing.assert_allclose(w.session.video.pose(10, tid).xy[9], quick.xy[9])
    assert w.session.video.pose(10, tid).provenance[9] == SUGGESTED
    w.actions["undo"].trigger()  # the quick suggestion
    after = w.session.video.pose(10, tid)
    assert after is None or not after.labelled().any()


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_while_the_user_looks_the_worker_runs_the_pose_model_on_the_selected_persons_keyframes(qtbot, clip):
    """So that no suggestion, quick or full, waits for the model on every earlier keyframe (what the
    person's offsets are learned from); a keyframe changed makes it look at that one again."""
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20))
    w.editor.seek(25)
    w.editor.select_track(tid)
    sug = w.suggestions
    qtbot.waitUntil(lambda: any(person == tid for _, person in sug.warmed), timeout=30000)
    seen = {key for key, _ in sug.engine.suggester._model_cache if key in (0, 10, 20)}
    assert seen == {0, 10, 20}
    before = dict(sug.warmed)
    w.editor.seek(10)
    drag(qtbot, w, w.session.video.pose(10, tid).xy[0], QPoint(6, 0))  # the nose of keyframe 10 corrected
    qtbot.waitUntil(lambda: sug.warmed != before and sug.job is None, timeout=30000)
    cached = sug.engine.suggester._model_cache[(10, tid)]
    assert cached[3] == pose_digest(w.session.video.pose(10, tid))  # looked at again, from the corrected label


def test_on_a_bad_fill_the_doubted_joints_are_ringed_and_del_then_e_gives_a_fresh_suggestion(qtbot, clip):
    """A filled pose with every joint in doubt (as the trial's frame 186): its joints, drawn faint
    by their confidence, get amber rings; E says how to get a fresh suggestion (it never writes
    over filled joints); Del then E gives one."""
    from posewarper_core.annotation import PoseChange

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    key = w.session.video.pose(0, tid)
    filled = key.copy()
    filled.keyframe, filled.method = False, "posewarper"
    filled.xy = key.xy + np.float32([40, 25])  # the fill lost the person
    filled.provenance[key.labelled()] = Provenance.PROPAGATED
    filled.confidence[:] = 0.05
    filled.confidence[5] = 0.9  # one joint it is sure of
    w.session.apply([PoseChange(w.session.video_id, 4, tid, filled)])
    w.editor.seek(4)
    doubted = key.labelled().copy()
    doubted[5] = False
    assert painted_by(w, "_paint_doubt") == int(doubted.sum())
    depth = w.editor.undo_stack.count()
    ask_and_wait(qtbot, w)
    assert "Del then E for a fresh suggestion" in w.statusBar().currentMessage()
    np.testing.assert_allclose(w.session.video.pose(4, tid).xy, filled.xy)  # nothing changed
    assert w.editor.undo_stack.count() == depth
    press(w, Qt.Key_Delete)
    ask_and_wait(qtbot, w)
    pose = w.session.video.pose(4, tid)
    lab = key.labelled()
    assert (pose.provenance[lab] == SUGGESTED).all()
    assert np.abs(pose.xy[lab] - key.xy[lab]).max() < 6  # where the person is (a still video)


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_e_for_a_person_just_added_beside_others_gives_them_the_found_person_not_labelled(qtbot, clip, monkeypatch):
    """A new user added a person where another was labelled and pressed E: 'drop a template'. Now
    the detector's find that is nobody labelled here becomes the new person's suggestion."""
    import app.suggestions as suggestions_module
    from posewarper_core.annotation import Pose

    w = clip
    first = label_keyframes(qtbot, w, frames=(0,))
    labelled = w.session.video.pose(0, first)
    beside = labelled.xy + np.float32([60, 5])

    def found(pose_xy):
        return Pose(xy=pose_xy.copy(), visibility=np.full(len(pose_xy), 2),
                    provenance=np.full(len(pose_xy), Provenance.SUGGESTED), confidence=np.zeros(len(pose_xy), np.float32),
                    method="suggestion")

    monkeypatch.setattr(suggestions_module, "detect_people",
                        lambda *a: ([found(labelled.xy), found(beside)], ""))  # best first: the labelled one
    press(w, Qt.Key_N, Qt.ControlModifier)  # a new person, selected
    second = w.editor.track
    assert second != first and w.session.video.pose(0, second) is None
    depth = w.editor.undo_stack.count()
    ask_and_wait(qtbot, w)
    pose = w.session.video.pose(0, second)
    assert pose is not None and (pose.provenance[pose.labelled()] == SUGGESTED).all()
    np.testing.assert_allclose(pose.xy[pose.labelled()], beside[pose.labelled()], atol=0.01)
    np.testing.assert_allclose(w.session.video.pose(0, first).xy, labelled.xy)  # the other person untouched
    assert w.editor.undo_stack.count() == depth + 1
    monkeypatch.setattr(suggestions_module, "detect_people", lambda *a: ([found(labelled.xy)], ""))
    w.actions["undo"].trigger()
    ask_and_wait(qtbot, w)  # only the labelled person found: said, nothing changed
    assert w.session.video.pose(0, second) is None
    assert "found nobody here but the people labelled" in w.statusBar().currentMessage()


@pytest.mark.skipif(runtime_missing() is not None, reason=str(runtime_missing()))
def test_the_pose_model_loads_once_after_opening_and_serves_every_video(qtbot, clip):
    """Loading it holds Python's lock for ~2 x 50 ms: done a moment after the project opens (not
    in the middle of an export or a drag later), and not again for another video of the project."""
    w = clip
    engine = w.suggestions.engine
    qtbot.waitUntil(lambda: engine.model is not None, timeout=30000)
    assert engine.frames is None  # only the model: no frames opened for it (nor an error if they cannot be)
    model = engine.model
    label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(5)
    ask_and_wait(qtbot, w)
    assert engine.suggester.model is model


def filled_gap(qtbot, w):
    """Person labelled on frames 0, 10, 20 (2 px further right each frame) and the gaps filled
    linearly; their id and every pose before anything else is done."""
    w.fill_panel.method.setCurrentText("linear")
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20))
    qtbot.mouseClick(w.fill_panel.buttons["video"], Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert w.session.video.track_frames(tid) == list(range(21))
    return tid, {f: w.session.video.pose(f, tid).copy() for f in range(21)}


def suggest_afresh_on_frame_5(qtbot, w, tid):
    """Del then E on filled frame 5: a fresh suggestion there (a keyframe); returns it."""
    w.editor.seek(5)
    w.editor.select_track(tid)
    press(w, Qt.Key_Delete)
    ask_and_wait(qtbot, w)
    return w.session.video.pose(5, tid).copy()


def test_accepting_a_suggestion_inside_a_filled_gap_refills_the_frames_around_it_in_the_same_undo_step(qtbot, clip):
    """Del then E on a filled frame gives a fresh suggestion there (a keyframe); accepting it
    carries it to the filled frames on both sides, as dragging a filled joint does (fading to
    nothing at the keyframes 0 and 10); one Ctrl+Z takes back the accept and its re-fill."""
    w = clip
    tid, before = filled_gap(qtbot, w)
    suggested = suggest_afresh_on_frame_5(qtbot, w, tid)
    lab = suggested.labelled()
    assert suggested.keyframe and (suggested.provenance[lab] == SUGGESTED).all()
    # carried from keyframe 0 on a still video: about 10 px left of where the fill had the person
    offset = suggested.xy[lab] - before[5].xy[lab]
    assert np.abs(offset[:, 0] + 10).max() < 6
    depth = w.editor.undo_stack.count()
    press(w, Qt.Key_A)
    assert w.editor.undo_stack.count() == depth + 1
    assert "re-fills 8 frames" in w.editor.undo_stack.undoText()
    after = on_disk(w)
    assert (after.pose(5, tid).provenance[lab] == MANUAL).all()
    for f in list(range(1, 5)) + list(range(6, 10)):
        share = 1 - abs(f - 5) / 5  # the correction's carry: whole at the new keyframe, none at 0 and 10
        np.testing.assert_allclose(after.pose(f, tid).xy[lab], before[f].xy[lab] + share * offset, atol=1e-3)
        assert not after.pose(f, tid).keyframe and after.pose(f, tid).auto_joints()[lab].all()
    for f in [0] + list(range(10, 21)):  # the keyframes and the next gap stay
        assert after.pose(f, tid).same_as(before[f])
    w.actions["undo"].trigger()  # one step: the accept and the re-fill
    undone = on_disk(w)
    assert undone.pose(5, tid).same_as(suggested)
    for f in set(range(21)) - {5}:
        assert undone.pose(f, tid).same_as(before[f])


def test_dragging_a_suggested_joint_inside_a_filled_gap_refills_that_joint_around_it(qtbot, clip):
    w = clip
    tid, before = filled_gap(qtbot, w)
    suggested = suggest_afresh_on_frame_5(qtbot, w, tid)
    j = 9  # a wrist
    depth = w.editor.undo_stack.count()
    drag(qtbot, w, tuple(suggested.xy[j]), QPoint(0, 20))
    assert w.editor.undo_stack.count() == depth + 1
    name = w.session.skeleton.joints[j]
    assert w.statusBar().currentMessage() == (f"Moved person {tid}'s {name} on frame 5; re-filled 8 frames around "
                                              "it (1-9). Ctrl+Z undoes.")
    after = on_disk(w)
    dragged = after.pose(5, tid)
    assert dragged.provenance[j] == MANUAL and dragged.xy[j][1] > suggested.xy[j][1] + 5
    offset = dragged.xy[j] - before[5].xy[j]
    others = suggested.labelled().copy()
    others[j] = False
    assert (dragged.provenance[others] == SUGGESTED).all()  # only the dragged joint is the annotator's
    for f in (2, 8):
        share = 1 - abs(f - 5) / 5
        np.testing.assert_allclose(after.pose(f, tid).xy[j], before[f].xy[j] + share * offset, atol=1e-3)
        np.testing.assert_allclose(after.pose(f, tid).xy[others], before[f].xy[others])  # theirs wait for A
    w.actions["undo"].trigger()
    undone = on_disk(w)
    for f in set(range(21)) - {5}:
        assert undone.pose(f, tid).same_as(before[f])


def test_e_on_a_filled_pose_adds_its_missing_joints_or_says_which_it_has_none_for(qtbot, clip):
    """The trial's frame 170: a filled pose without its arms (the keyframe before has none), E
    said "every joint is labelled already" while the Joints table listed the arms as not
    labelled. E adds a filled pose's missing joints when the suggestion has them (never moving
    a filled one); when it has none, the status bar names them and says why."""
    from posewarper_core.annotation import PoseChange

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    key = w.session.video.pose(0, tid).copy()
    wrists = [w.session.skeleton.joints.index(n) for n in ("left_wrist", "right_wrist")]
    filled = key.copy()
    filled.keyframe, filled.method = False, "linear"
    filled.provenance[key.labelled()] = Provenance.INTERPOLATED
    filled.confidence[:] = 0.9
    filled.visibility[wrists] = 0
    w.session.apply([PoseChange(w.session.video_id, 4, tid, filled)])
    w.editor.seek(4)
    ask_and_wait(qtbot, w)  # the keyframe has the wrists: E adds them, the filled joints stay
    pose = w.session.video.pose(4, tid)
    assert (pose.provenance[wrists] == SUGGESTED).all() and pose.labelled()[wrists].all()
    np.testing.assert_allclose(pose.xy[filled.labelled()], filled.xy[filled.labelled()])
    w.actions["undo"].trigger()

    armless = key.copy()
    armless.visibility[wrists] = 0
    w.session.apply([PoseChange(w.session.video_id, 0, tid, armless)])
    w.editor.seek(4)
    depth = w.editor.undo_stack.count()
    ask_and_wait(qtbot, w)
    said = w.statusBar().currentMessage()
    assert "every joint" not in said
    assert "2 joints not labelled (left_wrist, right_wrist)" in said and "keyframe 0 has none of them" in said
    assert w.editor.undo_stack.count() == depth and w.session.video.pose(4, tid).same_as(filled)


def test_over_a_suggested_pose_s_then_clicks_re_place_its_joints_one_after_another(qtbot, clip):
    """A trial re-placing a suggested pose's joints by clicks had to pick each joint again, and S
    always started at the nose it had already placed: S picks the first joint still a suggestion,
    and each click moves on to the next one still a suggestion or free, the overlay naming it."""
    from posewarper_core.annotation import PoseChange

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    press(w, Qt.Key_T)
    click_image(qtbot, w, 200, 150)  # the previous keyframe's pose dropped: every joint suggested
    order = w.editor.order
    pose = w.session.video.pose(10, tid)
    assert w.editor.cursor is None and (pose.provenance[order] == SUGGESTED).all()
    press(w, Qt.Key_S)
    assert w.editor.cursor == order[0]
    assert f"click re-places {w.session.skeleton.joints[order[0]]}" in w.canvas.overlay_text
    click_image(qtbot, w, 190, 120)
    click_image(qtbot, w, 195, 125)
    pose = w.session.video.pose(10, tid)
    assert (pose.provenance[order[:2]] == MANUAL).all() and (pose.provenance[order[2:]] == SUGGESTED).all()
    np.testing.assert_allclose(pose.xy[order[1]], (195, 125), atol=1.0)
    assert w.editor.cursor == order[2]
    w.editor.select_track(None)
    w.editor.select_track(tid)  # selected again, the cursor starts afresh: every joint is placed
    assert w.editor.cursor is None
    press(w, Qt.Key_S)  # not the hand-placed first joint: the first one still a suggestion
    assert w.editor.cursor == order[2]
    # a joint the suggestion left free is on the way too, and the overlay says a click places it
    pose = w.session.video.pose(10, tid).copy()
    pose.visibility[order[3]] = 0
    w.session.apply([PoseChange(w.session.video.video_id, 10, tid, pose)])
    w.editor.set_cursor(order[2])
    click_image(qtbot, w, 200, 130)  # re-places order[2]; next: order[3], free
    assert w.session.video.pose(10, tid).provenance[order[2]] == MANUAL
    assert w.editor.cursor == order[3]
    assert f"click places {w.session.skeleton.joints[order[3]]}" in w.canvas.overlay_text
