"""A whole annotation session driven through the real main window (offscreen): open a video,
label two keyframes of two people by clicks, auto-fill, correct a joint by dragging, undo and
redo, export, and reopen the project after the app was killed."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt

from posewarper_core.annotation import Provenance, Visibility
from posewarper_core.store import ProjectStore, content_digest

N_FRAMES, W, H = 24, 320, 240
# A stick figure around (cx, cy) in PoseTrack order; ears are placeholders (not labelled).
FIGURE = np.array([
    [0, -50], [0, -40], [0, -62], [0, 0], [0, 0], [12, -34], [-12, -34], [18, -18], [-18, -18],
    [20, -2], [-20, -2], [8, 0], [-8, 0], [9, 22], [-9, 22], [10, 44], [-10, 44],
], dtype=float)
EARS = (3, 4)


def make_video(path, n=N_FRAMES):
    with av.open(str(path), "w") as out:
        stream = out.add_stream("mpeg4", rate=25)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        for i in range(n):
            img = np.full((H, W, 3), 40, np.uint8)
            img[:, : 8 * (i + 1) % W] = 90  # frames differ, so a wrong frame would show
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def click_image(qtbot, w, x, y, button=Qt.LeftButton):
    view = w.canvas
    pos = view.mapFromScene(QPointF(x, y))
    qtbot.mouseClick(view.viewport(), button, Qt.NoModifier, pos)


def export_and_wait(qtbot, w, path, fmt, **kw):
    """Export as the user does (built on a worker thread); the summary, or None if it failed."""
    ended = []
    w.exported.connect(lambda summary: ended.append(summary))
    w.exportFailed.connect(lambda message: ended.append(None))
    assert w.export(path, fmt, **kw)
    qtbot.waitUntil(lambda: bool(ended), timeout=30000)
    return ended[0]


def label_person(qtbot, w, centre):
    """Place every joint of the selected person in skeleton order, clicking the figure."""
    for j, offset in enumerate(FIGURE):
        if j in EARS:
            continue
        assert w.editor.cursor == j, "the next joint follows skeleton order, skipping the ears"
        click_image(qtbot, w, centre[0] + offset[0], centre[1] + offset[1])
    assert w.editor.cursor is None


def test_whole_session(qtbot, window, open_in, tmp_path):
    w = window
    video_path = tmp_path / "clip.mp4"
    make_video(video_path)
    project = tmp_path / "clip.pwproj"
    open_in(w, video_path, project)
    assert project.exists()
    v = w.session.video
    assert (v.num_frames, v.width, v.height) == (N_FRAMES, W, H)
    w.fill_panel.stride.setValue(20)
    assert w.session.video.keyframe_stride == 20

    # Two people on keyframes 0 and 20, every joint placed by a click.
    centres = {0: [(90, 120), (220, 110)], 20: [(110, 126), (200, 114)]}
    for frame, people in centres.items():
        w.editor.seek(frame)
        for k, centre in enumerate(people):
            if frame == 0:
                w.actions["add_person"].trigger()
            else:
                w.editor.select_track(k + 1)
            label_person(qtbot, w, centre)
    assert sorted(w.session.video.tracks) == [1, 2]
    pose = w.session.video.pose(20, 2)
    assert pose.keyframe and np.allclose(pose.xy[5], (200 + 12, 114 - 34), atol=1.0)
    assert (pose.provenance[[j for j in range(17) if j not in EARS]] == Provenance.MANUAL).all()
    # Right-click on a joint flags it occluded (drawn hollow); the flag is undoable.
    click_image(qtbot, w, *(np.array(centres[20][1]) + FIGURE[9]), button=Qt.RightButton)
    assert w.session.video.pose(20, 2).visibility[9] == Visibility.OCCLUDED
    w.actions["undo"].trigger()
    assert w.session.video.pose(20, 2).visibility[9] == Visibility.VISIBLE

    # Auto-fill the whole video (linear) on the worker thread; the timeline shows the result.
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert "done" in w.fill_panel.state.text()
    mid = w.session.video.pose(10, 1)
    assert mid is not None and not mid.keyframe
    assert (mid.provenance[5:] == Provenance.INTERPOLATED).all()
    assert np.allclose(mid.xy[0], (100, 126 - 50 - 3), atol=1.0)
    qtbot.waitUntil(lambda: len(w.timeline.status) == N_FRAMES and w.timeline.status[10] == 1)
    assert w.timeline.status[0] == w.timeline.status[20] == 3

    # Drag person 1's left wrist at frame 10: one undo step, and it becomes CORRECTED.
    w.editor.seek(10)
    qtbot.wait(50)
    start = mid.xy[9].copy()
    depth = w.editor.undo_stack.count()
    vp = w.canvas.viewport()
    p0 = w.canvas.mapFromScene(QPointF(*start))
    qtbot.mousePress(vp, Qt.LeftButton, Qt.NoModifier, p0)
    for k in range(1, 6):
        qtbot.mouseMove(vp, p0 + QPoint(4 * k, 3 * k))
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, p0 + QPoint(20, 15))
    moved = w.session.video.pose(10, 1)
    assert moved.provenance[9] == Provenance.CORRECTED
    assert moved.xy[9][0] > start[0] + 5 and moved.xy[9][1] > start[1] + 3
    assert w.editor.undo_stack.count() == depth + 1
    qtbot.waitUntil(lambda: w.timeline.status[10] == 2)  # corrected

    # Re-running auto-fill never touches the corrected joint, and carries its chains to it as the
    # drag did: with the same keyframes it changes nothing (no step), the drag's re-fill stands.
    neighbour = w.session.video.pose(11, 1).xy[9].copy()
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert np.allclose(w.session.video.pose(10, 1).xy[9], moved.xy[9])
    assert np.allclose(w.session.video.pose(11, 1).xy[9], neighbour)
    assert w.editor.undo_stack.count() == depth + 1

    # Undo the drag, then redo it.
    w.actions["undo"].trigger()
    back = w.session.video.pose(10, 1)
    assert back.provenance[9] == Provenance.INTERPOLATED and np.allclose(back.xy[9], start)
    w.actions["redo"].trigger()
    assert np.allclose(w.session.video.pose(10, 1).xy[9], moved.xy[9])

    # Quit; the app is started again on the project, a joint is corrected by a drag (undone and
    # redone), and the app is killed: no close, no clean shutdown. Reopened here, all is there.
    expected = w.session.video.pose(10, 1).xy.copy()
    w.close_project()
    killed = run_and_kill(tmp_path, project, frame=12, track=2, joint=13)
    open_in(w, project)
    v = w.session.video
    np.testing.assert_allclose(v.pose(10, 1).xy, expected)
    assert v.pose(10, 1).provenance[9] == Provenance.CORRECTED
    assert v.keyframe_stride == 20 and sorted(v.tracks) == [1, 2]
    knee = v.pose(12, 2)
    assert knee.provenance[13] == Provenance.CORRECTED
    np.testing.assert_allclose(knee.xy[13], killed["xy"])
    assert killed["xy"][0] > killed["start"][0] + 5  # the drag moved it
    w.editor.select_track(2)
    qtbot.waitUntil(lambda: w.timeline.status[12] == 2)  # the timeline shows person 2's pose corrected

    # Export both formats through the window and read the files back.
    summary = export_and_wait(qtbot, w, tmp_path / "out_pt.json", "posetrack18")
    assert summary["images"] == N_FRAMES and summary["annotations"] == 2 * 21
    assert w.last_info.startswith(f"Wrote {tmp_path / 'out_pt.json'} (PoseTrack 2018).")  # said in words
    assert f"1 video, {N_FRAMES} frames listed, 42 poses: 4 keyframes, 38 auto-filled" in w.last_info
    assert summary["auto_poses"] == 2 * 19  # frames 1..19 of both people
    check_export(json.loads((tmp_path / "out_pt.json").read_text()), v, "posetrack18")
    summary = export_and_wait(qtbot, w, tmp_path / "out_coco.json", "coco")
    assert summary["images"] == len(v.poses) == 21 and summary["annotations"] == 2 * 21  # COCO: frames with poses
    assert f"21 frames listed of {N_FRAMES}" in w.last_info
    assert f"{N_FRAMES - 21} frames with no pose (a COCO export lists the frames with poses" in w.last_info
    check_export(json.loads((tmp_path / "out_coco.json").read_text()), v, "coco")

    # A failed export shows the core's error and writes nothing.
    bad = tmp_path / "taken.json"
    bad.mkdir()  # a folder where the file should go
    assert export_and_wait(qtbot, w, bad, "coco") is None and "taken.json" in w.last_error
    assert bad.is_dir() and not any(bad.iterdir())


def check_export(doc: dict, video, fmt: str) -> None:
    """Every pose of `video` is in the exported document, joint by joint, with its track, its
    frame, whether it is a keyframe and where each joint came from."""
    images = sorted(doc["images"], key=lambda im: im.get("frame_index", im.get("frame_id", im["id"])))
    assert len(images) == (N_FRAMES if fmt == "posetrack18" else len(video.poses))  # COCO: frames with poses
    frame_of = {im["id"]: im.get("frame_index", n) for n, im in enumerate(images)}
    assert all(im["width"] == W and im["height"] == H for im in images)
    assert [c["name"] for c in doc["categories"]] == ["person"]
    assert len(doc["categories"][0]["keypoints"]) == 17
    seen = set()
    names = {int(p): p.name.lower() for p in Provenance}
    for ann in doc["annotations"]:
        frame = frame_of[ann["image_id"]]
        pose = video.pose(frame, ann["track_id"])
        assert pose is not None, (fmt, frame, ann["track_id"])
        kp = np.array(ann["keypoints"], float).reshape(17, 3)
        labelled = pose.labelled()
        np.testing.assert_allclose(kp[labelled, :2], pose.xy[labelled], atol=0.01)
        assert (kp[:, 2] == pose.visibility).all() and (kp[~labelled] == 0).all()
        assert ann["num_keypoints"] == int(labelled.sum())
        assert ann["keyframe"] == pose.keyframe and ann["propagated"] == (not pose.keyframe)
        assert ann["keypoint_provenance"] == [names[int(p)] for p in pose.provenance]
        np.testing.assert_allclose(ann["scores"], pose.confidence, atol=1e-3)
        seen.add((frame, ann["track_id"]))
    assert seen == {(f, t) for f, by_track in video.poses.items() for t in by_track}
    assert {f for f, t in seen if video.pose(f, t).keyframe} == {0, 20}


KILLED_SESSION = textwrap.dedent("""
    import json, os, sys, time
    from PySide6.QtCore import QPoint, QPointF, Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication
    app = QApplication([])
    from app.window import MainWindow
    project, frame, track, joint = sys.argv[1], *map(int, sys.argv[2:5])
    w = MainWindow(); w.quiet = True; w.resize(1100, 700); w.show()
    assert w.open_path(project)
    end = time.monotonic() + 30
    while w.editor is None and time.monotonic() < end:
        app.processEvents(); time.sleep(0.01)
    w.editor.seek(frame)
    w.editor.select_track(track)
    app.processEvents()
    start = w.session.video.pose(frame, track).xy[joint].copy()
    vp = w.canvas.viewport()
    p0 = w.canvas.mapFromScene(QPointF(*start))
    QTest.mousePress(vp, Qt.LeftButton, Qt.NoModifier, p0)
    for k in range(1, 5):
        QTest.mouseMove(vp, p0 + QPoint(6 * k, -4 * k))
    QTest.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, p0 + QPoint(24, -16))
    moved = w.session.video.pose(frame, track).xy[joint].tolist()
    QTest.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier)
    assert w.session.video.pose(frame, track).xy[joint].tolist() == start.tolist()
    QTest.keyClick(w.canvas, Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    print(json.dumps({"start": start.tolist(), "xy": moved}))
    sys.stdout.flush()
    os._exit(9)  # killed: no close, no clean shutdown
""")


def run_and_kill(tmp_path, project, frame, track, joint) -> dict:
    """Run the app on `project` in another process, drag a joint, and kill the process."""
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "cfg"))
    run = subprocess.run([sys.executable, "-c", KILLED_SESSION, str(project), str(frame), str(track), str(joint)],
                         cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))), env=env, timeout=120,
                         capture_output=True, text=True)
    assert run.returncode == 9, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def test_fill_panel_starts_on_the_default_method(qtbot, window, open_in, tmp_path):
    from posewarper_core.autofill import DEFAULT_METHOD

    w = window
    assert w.fill_panel.method.currentText() == DEFAULT_METHOD
    make_video(tmp_path / "clip.mp4", n=4)
    open_in(w, tmp_path / "clip.mp4", tmp_path / "clip.pwproj")
    assert w.runner.method == DEFAULT_METHOD  # what a fill would run
    from app.fillrun import FillRunner

    assert FillRunner(w.editor, None).method == DEFAULT_METHOD  # also before a panel sets it


# --- the demo project, refreshed when its labels file changes ------------------------------------

def older_labels(tmp_path):
    """The demo labels as an older release had them: one pose fewer."""
    from app.demo import load_labels

    labels = load_labels()
    frame = next(f for f, by_track in labels["poses"].items() if "1" in by_track)
    del labels["poses"][frame]["1"]
    path = tmp_path / "old_labels.json"
    path.write_text(json.dumps(labels))
    return path, frame


def current_demo_poses():
    from app.demo import load_labels

    return sum(len(by_track) for by_track in load_labels()["poses"].values())


def test_demo_built_from_older_labels_is_replaced_when_untouched(qtbot, window, open_in, tmp_path):
    from app.demo import LABELS_NOTE, build_demo, default_demo_path, labels_hash

    w = window
    old, _ = older_labels(tmp_path)
    path = build_demo(default_demo_path(), old)
    open_in(w, path)  # looked at, not edited
    assert w.session.video.pose_count() == current_demo_poses() - 1
    w.close_project()

    open_in(w, demo=True)
    assert w.session.video.pose_count() == current_demo_poses()
    assert "updated to the newer demo" in w.statusBar().currentMessage()
    assert w.store.notes[LABELS_NOTE] == labels_hash()
    assert sorted(p.name for p in path.parent.iterdir() if "demo" in p.name and "new" in p.name) == []

    w.close_project()  # up to date now: opened as it is, nothing said
    mtime = path.stat().st_mtime_ns
    w.statusBar().clearMessage()
    open_in(w, demo=True)
    assert path.stat().st_mtime_ns == mtime and w.statusBar().currentMessage() == ""


def test_edited_demo_is_kept_when_a_newer_demo_exists(qtbot, window, open_in, tmp_path):
    from app.demo import build_demo, default_demo_path

    w = window
    old, _ = older_labels(tmp_path)
    path = build_demo(default_demo_path(), old)
    open_in(w, path)
    frame = min(w.session.video.keyframes(1))
    w.editor.seek(frame)
    w.editor.move_joint(1, 0, 321.0, 123.0)  # the user's work
    edited = w.session.video.pose(frame, 1).xy.copy()
    assert tuple(edited[0]) == (321.0, 123.0)
    w.close_project()

    open_in(w, demo=True)
    assert w.store.path == path.resolve()
    assert w.session.video.pose_count() == current_demo_poses() - 1  # their demo, not the new one
    np.testing.assert_array_equal(w.session.video.pose(frame, 1).xy, edited)
    message = w.statusBar().currentMessage()
    assert "newer demo is available" in message and str(path) in message
    w.close_project()
    with ProjectStore.open(path, read_only=True) as store:  # the file still holds their edit
        np.testing.assert_array_equal(store.project.videos[1].pose(frame, 1).xy, edited)


@pytest.mark.parametrize("size", [(1920, 1080), (1366, 768)])
def test_side_bar_shows_everyone_and_every_joint(qtbot, window, open_in, size):
    """On the demo at common screen sizes: the canvas gets most of the width, the people list
    shows both people without a blank half, every joint is in view without scrolling, and a
    running fill does not move the panels."""
    w = window
    w.resize(*size)
    qtbot.wait(50)
    empty = (w.canvas.width(), w.joints_dock.width())
    open_in(w, demo=True)
    qtbot.waitUntil(lambda: w.joints_panel.isVisible())
    qtbot.wait(50)
    assert (w.canvas.width(), w.joints_dock.width()) == empty  # nothing jumps when a project opens
    assert w.joints_dock.width() <= w.joints_dock.minimumSizeHint().width() + 2  # no wider than it needs
    assert w.canvas.width() > 0.7 * size[0]
    people = w.tracks_panel.table
    assert people.verticalScrollBar().maximum() == 0
    assert people.viewport().height() < 3 * people.rowHeight(0) + 4  # two rows, not a blank half
    joints = w.joints_panel
    assert joints.verticalScrollBar().maximum() == 0 and joints.rowViewportPosition(16) + joints.rowHeight(16) \
        <= joints.viewport().height()
    header = joints.horizontalHeader()
    longest = max(w.session.skeleton.joints, key=lambda n: joints.fontMetrics().horizontalAdvance(n))
    assert header.sectionSize(0) > joints.fontMetrics().horizontalAdvance("▶ " + longest)  # names not cut
    heights = [d.height() for d in (w.people_dock, w.joints_dock, w.fill_dock)]
    w.fill_panel.set_running(True, "Filling whole video…")
    qtbot.wait(50)
    assert w.fill_panel.progress.isVisible() and w.fill_panel.cancel.isVisible()
    assert [d.height() for d in (w.people_dock, w.joints_dock, w.fill_dock)] == heights
    w.fill_panel.set_running(False, "Auto-fill done")
    assert all(not b.isHidden() for b in w.fill_panel.buttons.values())


def _drop_notes(path):
    """Make `path` look like a demo built by a version that kept no notes."""
    import sqlite3

    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM meta WHERE key LIKE 'note.%'")
    conn.commit()
    conn.close()


def test_demo_from_a_version_without_notes(tmp_path):
    from app.demo import CONTENT_NOTE, LABELS_NOTE, build_demo, labels_hash, prepare_demo

    path = build_demo(tmp_path / "demo.pwproj")
    _drop_notes(path)
    assert prepare_demo(path) == (path, "")  # untouched and current: adopted, nothing to say
    with ProjectStore.open(path, read_only=True) as store:
        assert store.notes[LABELS_NOTE] == labels_hash() and CONTENT_NOTE in store.notes

    with ProjectStore.open(path) as store:  # the user's work, then the notes lost as above
        pose = store.project.videos[1].pose(0, 1).copy()
        pose.xy[0] = (5.0, 6.0)
        store.set_pose(1, 0, 1, pose)
    _drop_notes(path)
    same, note = prepare_demo(path)
    assert same == path and "earlier version" in note and str(path) in note
    with ProjectStore.open(path, read_only=True) as store:
        assert tuple(store.project.videos[1].pose(0, 1).xy[0]) == (5.0, 6.0) and store.notes == {}


def test_a_demo_left_by_another_installation_is_pointed_at_this_one(tmp_path):
    """The demo project outlives the installation that built it (it lives in the user's data
    folder): when its clip is gone, it opens on this installation's copy, labels and status kept."""
    from app.demo import CONTENT_NOTE, DEMO_DIR, build_demo, prepare_demo

    path = build_demo(tmp_path / "demo.pwproj")
    with ProjectStore.open(path) as store:  # as built by a clone that has since been deleted
        before = store.project.videos[1].pose_count()
        store.update_video(1, source=str(tmp_path / "gone" / "sports2d_demo.mp4"))
        store.set_note(CONTENT_NOTE, content_digest(store.project))
    assert prepare_demo(path) == (path, "")
    with ProjectStore.open(path, read_only=True) as store:
        video = store.project.videos[1]
        assert Path(video.source) == (DEMO_DIR / "sports2d_demo.mp4").resolve()
        assert video.pose_count() == before
        assert store.notes[CONTENT_NOTE] == content_digest(store.project)  # still an untouched demo
