"""What the user sees and opens: every kind of input, opening off the UI thread (progress,
Cancel, errors that change nothing), the canvas's drawing, zoom and pan, the timeline and
the side panels."""
from __future__ import annotations

import re
import threading
import time

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, QSettings, Qt, QTimer
from PySide6.QtGui import QColor, QWheelEvent
from PySide6.QtWidgets import QApplication

from app.style import track_colour
from posewarper_core.annotation import PoseChange, Provenance, Visibility
from posewarper_core.skeleton import POSETRACK17
from test_gui_session import click_image, export_and_wait, label_person, make_video
from videogen import image_folder


def labelled_clip(qtbot, w, open_in, tmp_path, n=20):
    """A new project on a generated video; person 1 labelled by clicks on frames 0 and 10."""
    make_video(tmp_path / "clip.mp4", n=n)
    open_in(w, tmp_path / "clip.mp4", tmp_path / "clip.pwproj")
    w.fill_panel.stride.setValue(10)
    w.actions["add_person"].trigger()
    for f in (0, 10):
        w.editor.seek(f)
        label_person(qtbot, w, (100 + 3 * f, 120))
    return w


# --- opening -------------------------------------------------------------------------------------

def test_opens_an_image_folder_then_its_posetrack18_and_coco_exports(qtbot, window, open_in, tmp_path):
    w = window
    folder = image_folder(tmp_path / "frames", 12, width=320, height=240)
    open_in(w, folder, tmp_path / "frames.pwproj")
    v = w.session.video
    assert (v.num_frames, v.width, v.height) == (12, 320, 240)
    w.actions["add_person"].trigger()
    label_person(qtbot, w, (120, 120))
    placed = w.session.video.pose(0, 1).xy.copy()
    assert export_and_wait(qtbot, w, tmp_path / "frames_pt.json", "posetrack18") is not None
    assert export_and_wait(qtbot, w, tmp_path / "frames_coco.json", "coco") is not None
    w.close_project()

    for name in ("frames_pt.json", "frames_coco.json"):  # each opens as a new project, frames and all
        open_in(w, tmp_path / name, tmp_path / f"{name}.pwproj")
        v = w.session.video
        assert v.num_frames == 12 and len(v.tracks) == 1
        pose = next(iter(v.poses[0].values()))
        np.testing.assert_allclose(pose.xy[pose.labelled()], placed[pose.labelled()], atol=0.01)
        assert w.loader is not None  # the frames were found beside the file
        with qtbot.waitSignal(w.loader.frameReady, timeout=10000):
            w.loader.request(5)
        w.close_project()


def test_recent_projects_menu_reopens(qtbot, window, open_in, tmp_path):
    w = window
    make_video(tmp_path / "a.mp4", n=4)
    make_video(tmp_path / "b.mp4", n=4)
    open_in(w, tmp_path / "a.mp4", tmp_path / "a.pwproj")
    open_in(w, tmp_path / "b.mp4", tmp_path / "b.pwproj")
    w._fill_recent()
    entries = [a.text() for a in w.recent_menu.actions()]
    assert entries[:2] == [str((tmp_path / "b.pwproj").resolve()), str((tmp_path / "a.pwproj").resolve())]
    with qtbot.waitSignal(w.projectOpened, timeout=30000):
        w.recent_menu.actions()[1].trigger()
    assert w.store.path == (tmp_path / "a.pwproj").resolve()


def slowed_open(monkeypatch, seconds):
    """Opening as slow as indexing a long video: the real open after a pause (on the worker)."""
    from app import opening

    real = opening.open_with_frames
    returned = threading.Event()

    def slow(*args, **kw):
        time.sleep(seconds)
        try:
            return real(*args, **kw)
        finally:
            returned.set()

    monkeypatch.setattr(opening, "open_with_frames", slow)
    return returned


# The slowed step below takes 1 s or more, so work left on the UI thread shows as a stall of a
# second; 100 ms was missed at a load of ~3 on the 2-core machine (129 ms, the OS scheduling the
# process, not the app). A freeze fails this; a busy machine does not.
FROZEN_MS = 400


def ui_gaps_while(qtbot, done):
    """The longest gap (ms) between 10 ms timer ticks until done()."""
    ticks = []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(10)
    qtbot.waitUntil(done, timeout=30000)
    timer.stop()
    return max((b - a) * 1000 for a, b in zip(ticks, ticks[1:]))


def test_opening_a_video_never_freezes_the_window(qtbot, window, open_in, tmp_path, monkeypatch):
    w = window
    make_video(tmp_path / "clip.mp4", n=8)
    slowed_open(monkeypatch, 1.2)
    opened = []
    w.projectOpened.connect(opened.append)
    t0 = time.perf_counter()
    assert w.open_path(tmp_path / "clip.mp4", project_path=tmp_path / "clip.pwproj")
    assert time.perf_counter() - t0 < 0.1  # the call returns at once
    qtbot.waitUntil(lambda: w.files.progress is not None and w.files.progress.isVisible(), timeout=3000)
    assert "clip.mp4" in w.files.progress.labelText()  # a busy indication naming the file
    longest = ui_gaps_while(qtbot, lambda: bool(opened))
    assert longest < FROZEN_MS, f"the UI stalled {longest:.0f} ms while opening"
    assert w.files.progress is None and w.session.video.num_frames == 8


def test_cancelling_an_open_keeps_the_current_project(qtbot, window, open_in, tmp_path, monkeypatch):
    w = window
    make_video(tmp_path / "a.mp4", n=4)
    make_video(tmp_path / "b.mp4", n=4)
    open_in(w, tmp_path / "a.mp4", tmp_path / "a.pwproj")
    returned = slowed_open(monkeypatch, 1.0)
    failed = []
    w.openFailed.connect(failed.append)
    assert w.open_path(tmp_path / "b.mp4", project_path=tmp_path / "b.pwproj")
    qtbot.waitUntil(lambda: w.files.progress is not None and w.files.progress.isVisible(), timeout=3000)
    from PySide6.QtWidgets import QPushButton

    qtbot.mouseClick(w.files.progress.findChild(QPushButton), Qt.LeftButton)  # the dialog's Cancel
    assert failed == ["cancelled"] and w.files.job is None
    assert w.store.path == (tmp_path / "a.pwproj").resolve() and w.editor is not None
    qtbot.waitUntil(returned.is_set, timeout=10000)
    qtbot.waitUntil(lambda: not (tmp_path / "b.pwproj").exists(), timeout=5000)  # the half-open is undone
    qtbot.wait(100)
    assert w.store.path == (tmp_path / "a.pwproj").resolve()
    open_in(w, tmp_path / "b.mp4", tmp_path / "b.pwproj")  # and it opens fine afterwards
    monkeypatch.undo()


@pytest.mark.parametrize("content", [b"", b"not a video at all" * 100])
def test_a_bad_video_is_reported_by_name_and_changes_nothing(qtbot, window, open_in, tmp_path, content):
    w = window
    make_video(tmp_path / "good.mp4", n=4)
    open_in(w, tmp_path / "good.mp4", tmp_path / "good.pwproj")
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(content)
    with qtbot.waitSignal(w.openFailed, timeout=30000) as failed:
        assert w.open_path(bad, project_path=tmp_path / "broken.pwproj")
    assert "broken.mp4" in failed.args[0] and "broken.mp4" in w.last_error
    assert not (tmp_path / "broken.pwproj").exists()
    assert w.store.path == (tmp_path / "good.pwproj").resolve() and w.session.video.num_frames == 4


def test_failed_and_successful_import_into_an_open_project(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    exported = tmp_path / "clip_pt.json"
    assert export_and_wait(qtbot, w, exported, "posetrack18") is not None
    videos_before = dict(w.store.project.videos)
    poses_before = w.session.video.pose_count()

    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [}')
    with qtbot.waitSignal(w.importFailed, timeout=10000):
        assert w.import_file(broken)  # read on a worker thread
    assert "broken.json" in w.last_error
    assert dict(w.store.project.videos).keys() == videos_before.keys()
    assert w.session.video.pose_count() == poses_before

    with qtbot.waitSignal(w.imported, timeout=10000) as added:
        assert w.import_file(exported)  # a second copy of the video, as a second video of the project
    assert added.args == [1] and len(w.store.project.videos) == 2
    assert w.last_info.startswith(f"1 video with {poses_before} poses from {exported}")  # the summary
    assert "shows the same frames as video 1" in w.last_info and "both are kept" in w.last_info
    qtbot.waitUntil(lambda: w.loader is not None, timeout=10000)  # its frames open in the background
    assert w.session.video.pose_count() == poses_before


def test_labels_imported_for_the_open_frames_take_the_place_of_their_empty_video(qtbot, window, open_in, tmp_path):
    """A trial opened a folder of frames, then imported its PoseTrack file, and had two videos:
    the empty one it opened and a labelled copy. The copy takes the empty one's place (Ctrl+Z
    brings it back); a second import of the same file is kept beside the labelled one, said."""
    import json

    folder = image_folder(tmp_path / "frames", 3, width=64, height=48)
    w = window
    open_in(w, folder, tmp_path / "p.pwproj")
    doc = {"images": [{"id": i + 1, "file_name": f"frames/{i}.png", "frame_id": i, "vid_id": "7", "is_labeled": True}
                      for i in range(3)],
           "annotations": [{"id": 1, "image_id": 2, "track_id": 0, "category_id": 1,
                            "keypoints": [20, 20, 1] * 2 + [0, 0, 0] * 15}],
           "categories": [{"id": 1, "name": "person", "keypoints": list(POSETRACK17.joints),
                           "skeleton": POSETRACK17.coco_skeleton()}]}
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps(doc))
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_file(labels)
    assert list(w.store.project.videos) == [2] and w.session.video.pose_count() == 1
    assert "The video 1 (frames) showed the same frames with no labels: the imported one takes its place" in w.last_info
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_file(labels)
    assert sorted(w.store.project.videos) == [2, 3]
    assert "Video 3 shows the same frames as video 2" in w.last_info
    # two files at once over a folder just opened: the first takes its place, the second is kept beside it
    open_in(w, folder, tmp_path / "q.pwproj")
    other = tmp_path / "other.json"
    other.write_text(json.dumps(doc))
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_files([labels, other])
    assert sorted(w.store.project.videos) == [2, 3]
    assert "takes its place" in w.last_info and "Video 3 shows the same frames as video 2" in w.last_info


def test_an_export_that_fails_says_so_as_an_export_not_as_an_open(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    opens, exports = [], []
    w.openFailed.connect(opens.append)
    w.exportFailed.connect(exports.append)
    (tmp_path / "a file").write_text("not a folder")
    target = tmp_path / "a file" / "out.json"
    assert w.export(target, "coco")
    qtbot.waitUntil(lambda: bool(exports), timeout=30000)
    assert "a file" in exports[0] and "a file" in w.last_error
    assert opens == [] and (tmp_path / "a file").read_text() == "not a folder"
    assert w.store is not None and w.editor is not None  # the project stays open


def test_an_import_with_another_skeleton_or_cancelled_changes_nothing(qtbot, window, open_in, tmp_path,
                                                                       monkeypatch):
    import json

    from app import opening
    from posewarper_core.skeleton import COCO17
    from posewarper_core.store import ProjectStore

    w = labelled_clip(qtbot, window, open_in, tmp_path)
    image_folder(tmp_path, 1, width=64, height=48)  # 0.png, beside the file
    coco = tmp_path / "coco17.json"
    coco.write_text(json.dumps({
        "images": [{"id": 1, "file_name": "0.png", "width": 64, "height": 48}],
        "annotations": [{"id": 1, "image_id": 1, "category_id": 1, "num_keypoints": 1,
                         "keypoints": [10, 10, 2] + [0] * 48}],
        "categories": [{"id": 1, "name": "person", "keypoints": list(COCO17.joints), "skeleton": []}]}))
    with qtbot.waitSignal(w.importFailed, timeout=10000):
        assert w.import_file(coco)
    assert "coco17.json" in w.last_error and "skeleton" in w.last_error
    assert list(w.store.project.videos) == [1]

    exported = tmp_path / "clip_pt.json"
    assert export_and_wait(qtbot, w, exported, "posetrack18") is not None
    real = opening.import_videos
    returned = threading.Event()

    def slow(path):
        time.sleep(1.0)
        returned.set()
        return real(path)

    monkeypatch.setattr(opening, "import_videos", slow)
    assert w.import_file(exported)
    qtbot.waitUntil(lambda: w.files.progress is not None and w.files.progress.isVisible(), timeout=3000)
    w.cancel_open()
    qtbot.waitUntil(returned.is_set, timeout=10000)
    qtbot.waitUntil(lambda: not any(job.isRunning() for job in w.files.jobs), timeout=10000)
    assert list(w.store.project.videos) == [1] and w.session.video_id == 1  # the import was taken back
    with ProjectStore.open(w.store.path, read_only=True) as on_disk:
        assert list(on_disk.project.videos) == [1]


def test_several_files_import_together_or_not_at_all(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    first, second = tmp_path / "first_pt.json", tmp_path / "second_coco.json"
    assert export_and_wait(qtbot, w, first, "posetrack18") is not None
    assert export_and_wait(qtbot, w, second, "coco") is not None
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [}')
    with qtbot.waitSignal(w.importFailed, timeout=10000):
        assert w.import_files([first, broken, second])
    assert "broken.json" in w.last_error and list(w.store.project.videos) == [1]  # none of them

    with qtbot.waitSignal(w.imported, timeout=10000) as added:
        assert w.import_files([first, second])
    assert added.args == [2] and list(w.store.project.videos) == [1, 2, 3]
    assert w.last_info.startswith("2 videos with ") and "from 2 files" in w.last_info
    assert w.session.video_id == 2 and w.video_box.count() == 3

    w.close_project()  # with no project open, the first file opens as a new one and the others follow
    with qtbot.waitSignal(w.imported, timeout=30000):
        assert w.import_files([first, second])
    assert w.store.path.name == "first_pt.pwproj" and list(w.store.project.videos) == [1, 2]


def test_exporting_every_video_off_the_ui_thread_and_cancelling_it(qtbot, window, open_in, tmp_path,
                                                                      monkeypatch):
    import json

    from app import opening

    w = labelled_clip(qtbot, window, open_in, tmp_path)
    one = tmp_path / "one_pt.json"
    assert export_and_wait(qtbot, w, one, "posetrack18")["videos"] == 1
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_file(one)
    summary = export_and_wait(qtbot, w, tmp_path / "all", "posetrack18", all_videos=True)
    assert summary["videos"] == 2 and sorted(p.name for p in (tmp_path / "all").iterdir()) == [
        "clip_1.json", "clip_2.json"]  # one file per video, named after it (and its id: same names)
    summary = export_and_wait(qtbot, w, tmp_path / "all_coco.json", "coco", all_videos=True)
    doc = json.loads((tmp_path / "all_coco.json").read_text())
    assert summary["videos"] == 2 and len(doc["images"]) == 2 * 2  # the frames with poses (0 and 10) only

    real = opening.prepare_export
    returned = threading.Event()

    def slow(*args):
        time.sleep(1.0)
        try:
            return real(*args)
        finally:
            returned.set()

    monkeypatch.setattr(opening, "prepare_export", slow)
    assert w.export(tmp_path / "late.json", "coco")
    longest = ui_gaps_while(qtbot, lambda: w.files.progress is not None and w.files.progress.isVisible())
    assert longest < FROZEN_MS, f"the UI stalled {longest:.0f} ms while exporting"
    w.cancel_open()
    qtbot.waitUntil(returned.is_set, timeout=10000)
    qtbot.wait(200)
    assert not (tmp_path / "late.json").exists()  # cancelled: nothing written


def test_videos_of_a_project_each_keep_their_place_and_their_own_undo(qtbot, window, open_in, tmp_path,
                                                                      monkeypatch):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    assert not w.video_box.isVisible()  # one video: no box
    exported = tmp_path / "clip_pt.json"
    assert export_and_wait(qtbot, w, exported, "posetrack18") is not None
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_file(exported)
    assert w.session.video_id == 2 and w.video_box.isVisible()
    w.resize(1366, 768)
    qtbot.wait(50)  # the layout settles
    assert w.width() == 1366  # the box does not push the window wider: the legend wraps (it made it 1445 px)
    assert w.legend.height() >= w.legend.heightForWidth(w.legend.width())  # and shows all its lines
    assert [w.video_box.itemData(i) for i in range(w.video_box.count())] == [1, 2]
    assert w.video_box.currentData() == 2 and "20 frames" in w.video_box.currentText()
    assert w.editor.frame == 0 and w.editor.track == 1  # a new video starts at its first frame and person
    with_poses = lambda: int(re.search(r"poses on (\d+)/20 frames", w.video_box.currentText()).group(1))
    before = with_poses()
    assert before == len(w.session.video.poses) > 1
    assert w.video_box.toolTip() == w.video_box.currentText()  # the whole line (the closed box shows the name)
    w.editor.seek(10)
    w.actions["delete_pose"].trigger()  # an edit in video 2
    assert w.session.video.pose(10, 1) is None
    qtbot.waitUntil(lambda: with_poses() == before - 1, timeout=2000)  # the box's count follows the edit
    w.editor.seek(7)

    w.actions["prev_video"].trigger()
    assert w.session.video_id == 1 and w.video_box.currentData() == 1
    assert w.editor.frame == 10  # where video 1 was left
    assert w.frame_spin.value() == 10
    w.actions["undo"].trigger()  # undoes video 1's last click, never video 2's deletion
    video1, video2 = w.store.project.videos[1], w.store.project.videos[2]
    assert video2.pose(10, 1) is None
    assert video1.pose(10, 1).labelled().sum() == video2.pose(0, 1).labelled().sum() - 1
    w.actions["redo"].trigger()
    w.actions["prev_video"].trigger()
    assert "first video" in w.statusBar().currentMessage()

    assert f"poses on {before - 1}/20 frames" in w.video_box.itemText(1)  # video 2's line, from video 1
    w.video_box.activated.emit(1)  # the user picks video 2 in the box
    assert w.session.video_id == 2 and w.editor.frame == 7
    w.actions["undo"].trigger()
    assert w.store.project.videos[2].pose(10, 1) is not None  # video 2's deletion undone
    assert w.editor.frame == 10  # shown where it happened
    w.editor.seek(7)

    with monkeypatch.context() as m:
        m.setattr(type(w.runner), "running", property(lambda self: True))
        w.actions["prev_video"].trigger()  # not while auto-fill writes into the video shown
        assert w.session.video_id == 2 and w.video_box.currentData() == 2
        assert "Auto-fill is running" in w.statusBar().currentMessage()

    project = w.store.path
    w.close_project()
    assert not w.video_box.isVisible()
    open_in(w, project)
    assert w.session.video_id == 2 and w.video_box.count() == 2  # reopened where the user left off
    assert w.editor.frame == 7 and w.video_box.currentData() == 2


def test_a_video_removed_from_the_project_comes_back_with_undo(qtbot, window, open_in, tmp_path, monkeypatch):
    from PySide6.QtWidgets import QMessageBox

    from posewarper_core.store import ProjectStore

    w = labelled_clip(qtbot, window, open_in, tmp_path)
    assert not w.remove_video_action.isEnabled()  # a project keeps at least one video
    exported = tmp_path / "clip_pt.json"
    assert export_and_wait(qtbot, w, exported, "posetrack18") is not None
    with qtbot.waitSignal(w.imported, timeout=10000):
        assert w.import_file(exported)
    assert w.session.video_id == 2 and w.remove_video_action.isEnabled()
    w.editor.seek(10)
    w.actions["delete_pose"].trigger()  # an edit in video 2: its history goes with it
    poses = w.store.project.videos[2].pose_count()

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.Cancel)
    w.remove_video_dialog()
    assert sorted(w.store.project.videos) == [1, 2]  # cancelled: nothing changed
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda parent, title, text, *a: asked.append(text) or QMessageBox.Yes)
    w.remove_video_dialog()
    assert f"with its {poses} poses" in asked[0]
    assert sorted(w.store.project.videos) == [1] and w.session.video_id == 1  # its neighbour is shown
    assert not w.video_box.isVisible() and not w.remove_video_action.isEnabled()
    with ProjectStore.open(w.store.path, read_only=True) as saved:
        assert sorted(saved.project.videos) == [1]  # saved at once

    w.actions["undo"].trigger()  # in video 1, whose history holds the removal
    assert sorted(w.store.project.videos) == [1, 2] and w.store.project.videos[2].pose_count() == poses
    assert w.video_box.isVisible() and w.session.video_id == 1
    with ProjectStore.open(w.store.path, read_only=True) as saved:
        assert saved.project.videos[2].pose_count() == poses
    w.actions["redo"].trigger()
    assert sorted(w.store.project.videos) == [1]
    w.actions["undo"].trigger()
    w.actions["next_video"].trigger()
    assert w.session.video_id == 2 and not w.editor.undo_stack.canUndo()  # its own history went with it
    assert w.store.project.videos[2].pose(10, 1) is None  # the deletion made before stays
    assert not w.remove_video(5) and w.remove_video(2) and w.session.video_id == 1


# --- canvas --------------------------------------------------------------------------------------

def pixel(w, xy) -> QColor:
    image = w.canvas.viewport().grab().toImage()
    p = w.canvas.mapFromScene(QPointF(*xy))
    return image.pixelColor(p)


def distance(a: QColor, b: QColor) -> float:
    return float(np.linalg.norm(np.subtract(a.getRgb()[:3], b.getRgb()[:3])))


def coloured_share(w, xy, colour: QColor, radius: int = 4) -> float:
    """The share of the screen pixels within `radius` of scene point xy that are drawn in `colour`."""
    image = w.canvas.viewport().grab().toImage()
    c = w.canvas.mapFromScene(QPointF(*xy))
    near = [(c.x() + dx, c.y() + dy) for dx in range(-radius, radius + 1) for dy in range(-radius, radius + 1)
            if dx * dx + dy * dy <= radius * radius]
    return sum(distance(image.pixelColor(x, y), colour) < 40 for x, y in near) / len(near)


def test_canvas_draws_people_in_their_colours_and_marks_occluded_and_auto_joints(qtbot, window, open_in,
                                                                                 tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    w.editor.seek(0)
    w.actions["add_person"].trigger()
    label_person(qtbot, w, (230, 120))
    w.editor.select_track(None)
    qtbot.wait(50)
    v = w.session.video
    wrist1, wrist2 = v.pose(0, 1).xy[9], v.pose(0, 2).xy[9]
    assert coloured_share(w, wrist1, track_colour(1)) > 0.8  # a filled dot in the person's colour
    assert coloured_share(w, wrist2, track_colour(2)) > 0.8
    assert coloured_share(w, wrist1, track_colour(2)) < 0.1
    # Occluded: hollow (the frame shows through the middle).
    click_image(qtbot, w, *wrist2, button=Qt.RightButton)
    assert v.pose(0, 2).visibility[9] == Visibility.OCCLUDED
    qtbot.wait(50)
    assert coloured_share(w, wrist2, track_colour(2)) < 0.6

    # Auto-filled joints: fainter the less confident they are.
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    w.editor.seek(5)
    qtbot.wait(50)
    pose = w.session.video.pose(5, 1)
    assert pose.provenance[0] in (Provenance.INTERPOLATED, Provenance.PROPAGATED)
    wrist = pose.xy[9]
    shares = []
    for conf in (1.0, 0.1):
        p = pose.copy()
        p.confidence[:] = conf
        w.session.apply([PoseChange(v.video_id, 5, 1, p)])
        qtbot.wait(30)
        shares.append(coloured_share(w, wrist, track_colour(1), radius=2))
    assert shares[0] > 0.5 and shares[1] < 0.1  # confident: near the colour; unsure: faint
    # The hover label names the joint, and says auto-filled and how confident.
    w.canvas.layer.poses[1] = p
    assert w.canvas.layer._joint_label(p, 0) == "nose  (auto 0.10)"


def test_hover_names_the_joint(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    w.editor.seek(0)
    qtbot.wait(30)
    wrist = w.session.video.pose(0, 1).xy[9]
    qtbot.mouseMove(w.canvas.viewport(), w.canvas.mapFromScene(QPointF(*wrist)))
    qtbot.waitUntil(lambda: w.canvas.layer.hover == (1, 9))
    assert w.editor.hover == (1, 9)
    assert w.canvas.layer._joint_label(w.session.video.pose(0, 1), 9) == "left_wrist"
    before = pixel(w, wrist + np.array([20.0, -12.0]))
    assert distance(before, QColor(0, 0, 0)) < 120  # the dark label box beside the joint


def wheel(w, steps):
    vp = w.canvas.viewport()
    centre = QPointF(vp.width() / 2, vp.height() / 2)
    event = QWheelEvent(centre, vp.mapToGlobal(centre), QPoint(), QPoint(0, 120 * steps), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, event)


def test_wheel_zooms_and_ctrl_drag_pans(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    fit = w.canvas.transform().m11()
    wheel(w, 3)
    assert w.canvas.transform().m11() > 1.5 * fit
    w.canvas.centerOn(160, 120)  # (the wheel zooms around the mouse pointer, wherever it was)
    vp = w.canvas.viewport()
    centre = QPoint(vp.width() // 2, vp.height() // 2)
    before = w.canvas.mapToScene(centre)
    qtbot.mousePress(vp, Qt.LeftButton, Qt.ControlModifier, centre)
    for k in range(1, 5):
        qtbot.mouseMove(vp, centre + QPoint(15 * k, 10 * k))
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.ControlModifier, centre + QPoint(60, 40))
    after = w.canvas.mapToScene(centre)
    assert after.x() < before.x() - 5 and after.y() < before.y() - 3  # the image followed the hand
    assert w.session.video.pose_count() == 2  # panning placed nothing
    w.actions["fit"].trigger()
    assert w.canvas.transform().m11() == pytest.approx(fit, rel=0.01)
    # zoomed in on a corner, then out past the fit with the pointer there: the picture is centred
    # again (a trial's stayed off-centre until F)
    w.canvas.zoom(3.0, QPointF(5, 5))
    w.canvas.zoom(0.2, QPointF(5, 5))
    middle = w.canvas.mapToScene(vp.rect().center())
    video = w.session.video
    assert middle.x() == pytest.approx(video.width / 2, abs=2) and middle.y() == pytest.approx(video.height / 2, abs=2)


# --- timeline and panels ---------------------------------------------------------------------------

def test_timeline_shows_status_and_seeks_by_click_and_drag(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    t = w.timeline
    qtbot.waitUntil(lambda: t.status[0] == 3)
    assert list(t.status[[0, 10, 5]]) == [3, 3, 0] and t.stride == 10
    y = int(t._strip_rect().center().y())
    cw = t.cell_width()
    qtbot.mousePress(t, Qt.LeftButton, Qt.NoModifier, QPoint(int(3.5 * cw), y))
    assert w.editor.frame == 3
    qtbot.mouseMove(t, QPoint(int(7.5 * cw), y))
    assert w.editor.frame == 7
    qtbot.mouseRelease(t, Qt.LeftButton, Qt.NoModifier, QPoint(int(7.5 * cw), y))
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    qtbot.waitUntil(lambda: t.status[5] == 1)  # auto-filled


def test_side_panels_show_people_and_the_joints_of_the_selected_pose(qtbot, window, open_in, tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    people = w.tracks_panel.table
    assert people.rowCount() == 1
    assert people.item(0, 0).text() == "1" and people.item(0, 1).text() == "person 1"
    swatch = people.item(0, 0).icon().pixmap(14, 14).toImage().pixelColor(7, 7)
    assert swatch == track_colour(1)
    people.item(0, 1).setText("jumper")  # rename in place: an undoable edit, saved
    assert w.session.video.tracks[1].name == "jumper"
    w.actions["undo"].trigger()
    assert w.session.video.tracks[1].name == "person 1"

    w.editor.seek(0)
    joints = w.joints_panel
    row = [joints.item(0, c).text() for c in range(4)]
    assert row == ["1. nose", "visible", "manual", "1.00"]  # rows in click order, numbered
    assert joints.item(joints.row_of(3), 0).text() == "· left_ear"  # the ears last: not in the click order
    assert joints.item(joints.row_of(3), 1).text() == "not labelled"
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    w.editor.seek(5)
    assert [joints.item(0, c).text() for c in range(3)] == ["1. nose", "visible", "interpolated"]


def test_joint_table_shows_suggested_joints_as_suggestions_not_as_zero_confidence(qtbot, window, open_in, tmp_path):
    from app.panels import SUGGESTED_TEXT

    w = labelled_clip(qtbot, window, open_in, tmp_path)
    w.editor.seek(0)
    pose = w.session.video.pose(0, 1).copy()
    pose.provenance[[5, 6]] = Provenance.SUGGESTED  # as a suggestion writes them: confidence 0
    pose.confidence[[5, 6]] = 0.0
    w.session.apply([PoseChange(w.session.video.video_id, 0, 1, pose)])
    joints = w.joints_panel
    row = joints.row_of(5)
    assert [joints.item(row, c).text() for c in (2, 3)] == ["suggested", "—"]  # no "0.00"
    assert joints.item(row, 3).font().italic() and joints.item(row, 3).foreground().color() == SUGGESTED_TEXT
    assert "not a label" in joints.item(row, 0).toolTip() and "accept it (A)" in joints.item(row, 0).toolTip()
    other = joints.row_of(7)  # a joint placed by hand reads as before
    assert [joints.item(other, c).text() for c in (2, 3)] == ["manual", "1.00"]
    assert not joints.item(other, 3).font().italic()


def test_joint_names_do_not_cover_each_other_and_the_selected_joint_keeps_its_name(qtbot, window, open_in,
                                                                                   tmp_path):
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    w.editor.seek(0)
    w.actions["joint_names"].trigger()  # L
    assert w.canvas.layer.show_names
    w.editor.set_cursor(9)  # the selected joint (S / W, or a click in the joint table)
    layer = w.canvas.layer
    qtbot.mouseMove(w.canvas.viewport(), QPoint(1, 1))  # the pointer off the joints: no hover label

    def drawn(zoom):
        w.canvas.resetTransform()
        w.canvas.scale(zoom, zoom)
        w.canvas.viewport().grab()  # paints
        return dict(layer.names_drawn)

    for zoom in (4.0, 0.35):  # roomy, then crowded: the whole pose a few dozen pixels tall
        boxes = drawn(zoom)
        keys = list(boxes)
        for a in range(len(keys)):
            ax, ay, aw, ah = boxes[keys[a]]
            for b in range(a + 1, len(keys)):
                bx, by, bw, bh = boxes[keys[b]]
                assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, (keys[a], keys[b])
        assert (1, 9) in boxes  # the selected joint's name is kept
        placed = int(w.session.video.pose(0, 1).labelled().sum())  # 15: the ears are not in the click order
        if zoom == 4.0:
            assert len(boxes) == placed  # room for every name
        else:
            assert len(boxes) < placed  # names that would collide are left out, not drawn over each other
        # and no name hides a joint: every marker (6 px radius at this size) stays clear
        pose = w.session.video.pose(0, 1)
        for x, y in pose.xy[pose.labelled()]:
            at = w.canvas.mapFromScene(QPointF(x, y))
            for bx, by, bw, bh in boxes.values():
                assert not (bx - 6 < at.x() < bx + bw + 6 and by - 6 < at.y() < by + bh + 6)
    # the selected joint's name sits at its first place, right of the joint, clear of its marker
    at = w.canvas.mapFromScene(QPointF(*pose.xy[9]))
    x, y, _, h = boxes[1, 9]
    assert x == pytest.approx(at.x() + 8, abs=1) and y + h / 2 == pytest.approx(at.y(), abs=1)


def test_demo_opens_with_both_people_labelled_every_tenth_frame(qtbot, window, open_in):
    w = window
    open_in(w, demo=True)
    v = w.session.video
    assert sorted(v.tracks) == [1, 2] and v.keyframe_stride == 10
    assert all(f % 10 == 0 for t in (1, 2) for f in v.keyframes(t))
    assert w.tracks_panel.table.rowCount() == 2
    settings = QSettings()
    assert str(w.store.path) in (settings.value("recent") or [])


def test_the_hover_name_follows_what_is_under_the_pointer_after_a_frame_change_by_key(qtbot, window, open_in, tmp_path,
                                                                                     monkeypatch):
    """A trial stepped frames with the keys and the joint-name label stayed beside a joint the
    pointer was no longer on: the hovered joint is found again on each frame drawn."""
    w = labelled_clip(qtbot, window, open_in, tmp_path)
    tid = w.editor.track
    w.editor.seek(0)
    joint = w.session.video.pose(0, tid).xy[0]
    at = w.canvas.mapFromScene(QPointF(*joint))
    monkeypatch.setattr(w.canvas, "_pointer", lambda: at)
    w.editor.seek(0)
    w.canvas.set_poses(w.session.video.poses.get(0, {}))
    assert w.canvas.layer.hover == (tid, 0)
    empty = next(f for f in range(w.session.video.num_frames) if w.session.video.pose(f, tid) is None)
    w.editor.seek(empty)  # nobody there: no name label left over
    assert w.canvas.layer.hover is None
