"""GUI pieces a user relies on: the demo project, navigation targets, turning a pose, the
timeline on a long video, refused imports, and shortcut conflicts."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QSettings, Qt

from app import navigation
from app.demo import build_demo, load_labels
from posewarper_core.store import ProjectStore


@pytest.fixture(autouse=True)
def isolated_settings(tmp_path):
    QSettings.setDefaultFormat(QSettings.IniFormat)
    QSettings.setPath(QSettings.IniFormat, QSettings.UserScope, str(tmp_path / "settings"))


def test_demo_project_has_both_people_on_keyframes(tmp_path):
    path = build_demo(tmp_path / "demo.pwproj")
    labels = load_labels()
    with ProjectStore.open(path) as store:
        video = next(iter(store.project.videos.values()))
        assert (video.num_frames, video.width, video.height) == (230, 1768, 994)
        assert sorted(video.tracks) == [1, 2]
        # Every 10th frame where a person can be seen: the jumper is a blur in mid-air at 170-180,
        # the walker is behind the tree before 40 and gone after 200.
        assert sorted(video.keyframes(1)) == [f for f in range(0, 230, 10) if f not in (170, 180)]
        assert sorted(video.keyframes(2)) == list(range(40, 210, 10))
        assert sum(len(v) for v in labels["poses"].values()) == video.pose_count()
        for f in video.poses:
            for pose in video.poses[f].values():
                m = pose.labelled()
                assert (pose.xy[m] >= 0).all() and (pose.xy[m, 0] < 1768).all() and (pose.xy[m, 1] < 994).all()
    assert build_demo(path) == path  # present: not rebuilt


def test_navigation_targets():
    status = np.zeros(100, np.uint8)
    status[[0, 10, 30]] = 3
    status[1:10] = 1
    assert navigation.next_keyframe(status, 10, 1) == 30
    assert navigation.next_keyframe(status, 10, -1) == 0
    assert navigation.next_keyframe(status, 30, 1) is None
    assert navigation.next_of(navigation.unlabelled_slots(status, 10), 10) == 20
    # the last frame is a slot too, as the bench's keyframes (a trial's last 9 frames stayed empty)
    assert navigation.unlabelled_slots(status, 10)[-2:] == [90, 99]
    assert navigation.next_of(navigation.unlabelled_slots(status, 10), 95) == 99
    assert navigation.next_of(navigation.unlabelled_slots(status, 10), 99) == 20  # wraps round
    assert navigation.is_slot(99, 100, 10) and navigation.is_slot(90, 100, 10) and not navigation.is_slot(95, 100, 10)
    assert navigation.gap_around([0, 10, 30], 15, 100) == (10, 30)
    assert navigation.gap_around([0, 10, 30], 10, 100) == (0, 30)  # on a keyframe: the gaps on both sides
    assert navigation.gap_around([0, 10, 30], 0, 100) == (0, 10)


def test_turning_a_pose_marks_auto_joints_corrected_and_keeps_boxes_upright():
    from app.edits import turn_pose
    from posewarper_core.annotation import Pose, Provenance

    pose = Pose.empty(3)
    pose.xy[:2] = [[10, 0], [0, 0]]
    pose.visibility[:2] = 2
    pose.provenance[:2] = [Provenance.MANUAL, Provenance.PROPAGATED]
    pose.bbox, pose.head_box = (8.0, -2.0, 4.0, 4.0), (-1.0, -1.0, 2.0, 2.0)
    new = turn_pose(pose, (0, 0), np.pi / 2, 2.0)  # a quarter turn clockwise on screen, twice the size
    np.testing.assert_allclose(new.xy[:2], [[0, 20], [0, 0]], atol=1e-9)
    assert list(new.provenance[:2]) == [Provenance.MANUAL, Provenance.CORRECTED]
    assert new.visibility[2] == 0 and np.all(new.xy[2] == pose.xy[2])  # unlabelled joints stay put
    np.testing.assert_allclose(new.bbox, (-4.0, 16.0, 8.0, 8.0), atol=1e-9)  # centre (10, 0) -> (0, 20)
    np.testing.assert_allclose(new.head_box, (-2.0, -2.0, 4.0, 4.0), atol=1e-9)
    assert pose.provenance[1] == Provenance.PROPAGATED  # the original is untouched


def test_timeline_on_a_long_video(qtbot):
    from app.timeline import Timeline

    t = Timeline()
    qtbot.addWidget(t)
    t.resize(1200, 60)
    status = np.random.default_rng(0).integers(0, 4, 10_000).astype(np.uint8)
    t.set_status(status, 10)
    t.set_current(9_000)
    t.show()
    t.grab()  # paints the visible window and the reduced overview
    assert t.first <= 9_000 < t.first + t.visible_count()
    assert len(t._overview) == t.width()
    assert t._overview.max() == 3
    with qtbot.waitSignal(t.seekRequested) as seek:
        qtbot.mouseClick(t, Qt.LeftButton, pos=QPoint(600, 3))
    assert abs(seek.args[0] - 5_000) < 20  # the overview maps the whole video


def test_failed_import_changes_nothing(qtbot, tmp_path):
    from app.window import MainWindow

    w = MainWindow()
    w.quiet = True
    qtbot.addWidget(w)
    bad = tmp_path / "broken.json"
    bad.write_text('{"images": [}')
    with qtbot.waitSignal(w.openFailed, timeout=30000) as failed:
        assert w.open_path(bad)  # started on the worker thread
    assert "broken.json" in failed.args[0] and "broken.json" in w.last_error
    assert w.store is None and not (tmp_path / "broken.pwproj").exists()


def test_shortcut_conflicts_are_refused(qtbot):
    from PySide6.QtGui import QKeySequence

    from app import shortcuts

    keys = shortcuts.load()
    dialog = shortcuts.ShortcutsDialog(keys)
    qtbot.addWidget(dialog)
    row = [a for a, *_ in shortcuts.DEFAULTS].index("next_frame")
    editor = dialog.table.cellWidget(row, 2)
    editor.setKeySequence(QKeySequence("Ctrl+Z"))  # taken by undo
    dialog._changed("next_frame", editor)
    assert dialog.keys["next_frame"] == "Right" and "already used" in dialog.message.text()
    editor.setKeySequence(QKeySequence("D"))
    dialog._changed("next_frame", editor)
    assert dialog.keys["next_frame"] == "D"
    shortcuts.save(dialog.keys)
    assert shortcuts.load()["next_frame"] == "D"


def _rgb(image) -> np.ndarray:
    from PySide6.QtGui import QImage

    image = image.convertToFormat(QImage.Format_RGB888)
    h, w, bpl = image.height(), image.width(), image.bytesPerLine()
    return np.frombuffer(image.constBits(), np.uint8, bpl * h).reshape(h, bpl)[:, : w * 3].reshape(h, w, 3).copy()


def test_loader_decodes_keyframe_slots_when_idle(qtbot):
    """A jump to a keyframe slot near the current frame finds the exact frame already decoded."""
    from app.demo import DEMO_DIR
    from app.workers import BYTES_PER_PIXEL, FrameLoader
    from posewarper_core.video import open_video

    with open_video(DEMO_DIR / "sports2d_demo.mp4") as source, open_video(DEMO_DIR / "sports2d_demo.mp4") as check:
        frame_bytes = source.width * source.height * BYTES_PER_PIXEL
        loader = FrameLoader(source, ahead=2, slot_bytes=4 * frame_bytes + 1)
        try:
            assert sorted(loader.slots_wanted(95)) == [80, 90, 100, 110]
            with qtbot.waitSignal(loader.slotsFilled, timeout=60000):
                loader.request(95)
            assert sorted(loader.slots.keys()) == [80, 90, 100, 110]
            assert np.array_equal(_rgb(loader.cached(110)), check.frame(110))
            with qtbot.waitSignal(loader.slotsFilled, timeout=60000):
                loader.request(0)  # far away: the slots follow the user, within the budget
            assert sorted(loader.slots.keys()) == [0, 10, 20, 30]
        finally:
            loader.stop()


def test_loader_shows_the_exact_frame_before_and_after_the_proxy(qtbot, tmp_path):
    """Seeks show frame i itself while the seek proxy is built and once the loader reads it."""
    from app.workers import FrameLoader
    from posewarper_core.video import open_video
    from videogen import counter_video, read_counter

    video = counter_video(tmp_path / "long_gop.mp4", 90, gop=45, bframes=3)
    loader = FrameLoader(open_video(video), ahead=2)
    shown = {}
    loader.frameReady.connect(lambda i, image: shown.__setitem__(i, read_counter(_rgb(image))))
    try:
        assert loader.start_proxy(tmp_path / "proxies", min_pixels=0)  # (the window skips tiny videos)
        for i in (71, 3, 44):  # served from the original while the proxy is built
            with qtbot.waitSignal(loader.frameReady, timeout=30000, check_params_cb=lambda f, _img, i=i: f == i):
                loader.request(i)
            assert shown[i] == i
        if loader.proxy_path is None:
            with qtbot.waitSignal(loader.proxyReady, timeout=60000):
                pass
        assert list((tmp_path / "proxies").glob("*.mkv")) == [Path(loader.proxy_path)]
        loader.cache.clear()
        loader.slots.clear()
        for i in (88, 17, 45, 46, 0):
            with qtbot.waitSignal(loader.frameReady, timeout=30000, check_params_cb=lambda f, _img, i=i: f == i):
                loader.request(i)
            assert shown[i] == i
        assert str(loader.source.path) == loader.proxy_path  # the frames came from the proxy
    finally:
        loader.stop()


def test_the_shortcut_list_shows_every_key_and_description_whole(qtbot):
    """F1's list: no key cut ("Ctrl+Shift+Right" was), every description wrapped into its row."""
    from PySide6.QtCore import QRect, Qt
    from PySide6.QtWidgets import QLineEdit

    from app import shortcuts

    dialog = shortcuts.ShortcutsDialog(shortcuts.load())
    qtbot.addWidget(dialog)
    dialog.show()
    qtbot.waitExposed(dialog)
    table = dialog.table
    texts = []
    for row in range(table.rowCount()):
        line = table.cellWidget(row, 2).findChild(QLineEdit)
        texts.append(line.text())
        # the text plus the line edit's frame and inner margins (2 + 2 px a side)
        assert line.fontMetrics().horizontalAdvance(line.text()) + 8 <= line.width(), line.text()
        action = table.item(row, 1)
        need = table.fontMetrics().boundingRect(QRect(0, 0, table.columnWidth(1) - 8, 10_000),
                                                Qt.TextWordWrap, action.text()).height()
        assert need <= table.rowHeight(row), action.text()
    assert "Ctrl+Shift+Right" in texts
    dialog.resize(420, 640)  # narrower: the descriptions wrap onto more lines, rows grow with them
    qtbot.wait(20)
    for row in range(table.rowCount()):
        need = table.fontMetrics().boundingRect(QRect(0, 0, table.columnWidth(1) - 8, 10_000),
                                                Qt.TextWordWrap, table.item(row, 1).text()).height()
        assert need <= table.rowHeight(row), table.item(row, 1).text()


def test_joint_name_places_never_overlap_and_go_by_priority():
    from app import namelabels

    rng = np.random.default_rng(3)
    points = rng.uniform(0, 40, (17, 2))  # a crowded pose: 17 joints in 40 x 40 px
    labels = [(j, tuple(p), (50.0, 12.0)) for j, p in enumerate(points)]
    taken = [(0.0, -30.0, 60.0, 16.0)]  # a hover label already drawn there
    placed = namelabels.place(labels, taken)
    boxes = [(x, y, 50.0, 12.0) for _, x, y in placed] + taken
    for a in range(len(boxes)):
        for b in range(a + 1, len(boxes)):
            ax, ay, aw, ah = boxes[a]
            bx, by, bw, bh = boxes[b]
            assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay
    assert placed[0] == (0, points[0][0] + namelabels.GAP, points[0][1] - 6.0)  # the first: its first place
    assert 0 < len(placed) < 17


def test_the_selected_joints_name_is_kept_even_where_every_place_is_covered():
    from app import namelabels

    wall = [(-100.0, -100.0, 200.0, 200.0)]  # every place round the joint is covered
    labels = [("selected", (0.0, 0.0), (40.0, 10.0)), ("other", (5.0, 5.0), (40.0, 10.0))]
    assert namelabels.place(labels, wall) == []
    assert namelabels.place(labels, wall, keep=1) == [("selected", namelabels.GAP, -5.0)]


def test_a_joint_name_is_not_put_nearer_another_joint_than_its_own():
    from app import namelabels

    # two joints side by side 20 px apart: the left one's name cannot go right (between them,
    # nearer the other), so it goes left
    labels = [("a", (0.0, 0.0), (30.0, 10.0))]
    joints = [(0.0, 0.0), (20.0, 0.0)]
    assert namelabels.place(labels, joints=joints) == [("a", -namelabels.GAP - 30.0, -5.0)]


def test_an_image_folder_opens_from_its_own_file_menu_item(window, monkeypatch):
    """A trial typed a frames folder into the Open dialog and saw it empty (the dialog lists
    files); File has "Open image folder…" (Ctrl+Shift+O), usable before any project is open."""
    opened = []
    started = []
    monkeypatch.setattr("app.window.QFileDialog.getExistingDirectory",
                        lambda _w, _title, start: started.append(start) or "/data/run1/frames")
    monkeypatch.setattr(window, "open_path", lambda path, **kw: opened.append((path, kw)))
    action = window.actions["open_folder"]
    assert action.isEnabled() and action.shortcut().toString() == "Ctrl+Shift+O"
    file_menu = window.menuBar().actions()[0].menu()
    assert action in file_menu.actions()
    action.trigger()
    assert opened == [("/data/run1/frames", {"ask_where": True})]
    assert started == [str(Path.home())]  # no project open: from home, not the app's own folder


def test_suggestion_messages_count_joints_in_good_english():
    from app.panels import count_of

    assert (count_of(1, "joint"), count_of(3, "suggested joint")) == ("1 joint", "3 suggested joints")  # not "1 joints"


def test_a_turn_is_said_the_short_way_round():
    from PySide6.QtCore import QPointF

    from app.canvas import FrameView
    from posewarper_core.annotation import Pose

    xy = np.zeros((17, 2))
    xy[0] = (-10.0, 1.0)  # the grabbed joint: left of the centre, just below the axis
    drag = {"centre": np.zeros(2), "origin": Pose.manual(xy, np.full(17, 2)), "joint": 0}
    angle, scale = FrameView._turn(drag, QPointF(-10.0, -1.0))  # just above it: a small turn, not -349 degrees
    assert np.degrees(angle) == pytest.approx(np.degrees(2 * np.arctan2(1, 10))) and scale == pytest.approx(1.0)


def test_a_click_in_the_empty_window_says_to_open_something(window):
    """A trial clicked the canvas before opening anything and got an AttributeError box that said
    their work was saved in a project there was none of."""
    window.canvas.placeRequested.emit(480.0, 300.0, 2)
    assert window.session is None and not getattr(window, "last_error", None)
    assert window.statusBar().currentMessage().startswith("Open a video, image folder or project first")


def test_a_suggestions_time_is_never_said_as_zero():
    from app.suggestions import _seconds

    assert (_seconds(0.0004), _seconds(0.004), _seconds(0.126)) == ("under 0.01 s", "under 0.01 s", "0.13 s")


def test_file_dialogs_do_not_start_in_the_demos_hidden_folder(window, tmp_path):
    """The demo project lives in the app's data folder (under ~/.local/share): Open, Import and
    Export start in home there, and in the project's own folder elsewhere."""
    from app.demo import default_demo_path
    from app.window import project_folder

    assert project_folder(default_demo_path()) == Path.home()
    assert project_folder(tmp_path / "p.pwproj") == tmp_path


def test_a_long_fill_message_does_not_squash_the_fill_panels_boxes(window, qtbot):
    """Two trials saw the method and k boxes squashed to ~12 px under a three-line 'Auto-fill done'."""
    panel = window.fill_panel
    panel.set_running(False, "Auto-fill done: 24 poses; 138 of 162 person-frames left as they were (3 reviewed, "
                             "kept, 135 already had the pose it gives) " * 2)
    qtbot.wait(50)
    for box in (panel.method, panel.stride):
        assert box.height() >= box.sizeHint().height() - 1
    assert "135 already had" in panel.state.toolTip()
