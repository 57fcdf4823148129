"""Labelling and correcting at a professional's pace, through the real main window (offscreen):
clicks that never get lost near old joints, the click order the user sets, promoting one person,
keys wherever the focus is, zoom and follow, reopening where the user left off."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QPainter, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QMessageBox

from posewarper_core.annotation import Visibility
from test_gui_editing import clip, on_disk, press  # noqa: F401  (clip is a fixture)


def click_screen(qtbot, w, pos: QPoint, button=Qt.LeftButton):
    qtbot.mouseClick(w.canvas.viewport(), button, Qt.NoModifier, pos)


def scene_of(w, pos: QPoint) -> np.ndarray:
    p = w.canvas.mapToScene(pos)
    return np.array([p.x(), p.y()])


def test_a_click_near_an_old_joint_places_the_next_joint_and_says_which(qtbot, clip):
    w = clip
    press(w, Qt.Key_N, Qt.ControlModifier)  # a new person
    names = w.session.skeleton.joints
    start = w.canvas.mapFromScene(QPointF(150, 100))
    # Each click 6 screen px from the joint before it (inside the old 9-12 px hit radius).
    clicks = [start + QPoint(6 * k, 0) for k in range(4)]
    placed = []
    for pos in clicks:
        j = w.editor.cursor
        click_screen(qtbot, w, pos)
        placed.append(j)
        assert w.editor.cursor != j, f"the click 6 px from the last joint did not place {names[j]}"
        assert w.canvas.layer.placed == (w.editor.track, j)  # the canvas names the joint placed
        assert f"Placed {names[j]}" in w.statusBar().currentMessage()
    pose = on_disk(w).pose(0, w.editor.track)
    for j, pos in zip(placed, clicks):
        assert pose.visibility[j] == Visibility.VISIBLE
        assert np.allclose(pose.xy[j], scene_of(w, pos), atol=0.5), names[j]
    assert placed == [0, 1, 2, 5]  # nose, eyes, then (the ears not in the click order) left_shoulder

    # A drag from an old joint still moves it (and places nothing).
    before = on_disk(w).pose(0, w.editor.track)
    cursor = w.editor.cursor
    vp = w.canvas.viewport()
    qtbot.mousePress(vp, Qt.LeftButton, Qt.NoModifier, clicks[0])
    for k in range(1, 6):
        qtbot.mouseMove(vp, clicks[0] + QPoint(0, 6 * k))
    qtbot.mouseRelease(vp, Qt.LeftButton, Qt.NoModifier, clicks[0] + QPoint(0, 30))
    after = on_disk(w).pose(0, w.editor.track)
    assert np.allclose(after.xy[0], scene_of(w, clicks[0] + QPoint(0, 30)), atol=0.5)
    assert after.labelled().sum() == before.labelled().sum() and w.editor.cursor == cursor

    # A right-click near an old joint places the next one as occluded (not a flag on the old one).
    click_screen(qtbot, w, clicks[-1] + QPoint(0, 5), Qt.RightButton)
    pose = on_disk(w).pose(0, w.editor.track)
    assert pose.visibility[cursor] == Visibility.OCCLUDED and pose.visibility[5] == Visibility.VISIBLE


def test_click_order_is_the_users_per_project_and_the_table_and_overlay_follow_it(qtbot, clip, open_in):
    from app.clickorder import ClickOrderDialog

    w = clip
    names = list(w.session.skeleton.joints)
    joints = w.joints_panel
    # The default: the table lists the joints in the order clicks place them, the ears last.
    listed = [joints.item(r, 0).text().lstrip("▶ ") for r in range(joints.rowCount())]
    assert listed[:3] == ["1. nose", "2. head_bottom", "3. head_top"] and listed[-2:] == ["· left_ear", "· right_ear"]

    # The user ticks the ears, unticks the head top and moves the right shoulder first.
    w.click_order_action.trigger()
    dialog = w.findChild(ClickOrderDialog)
    assert dialog is not None and dialog.isVisible()
    lst = dialog.list
    item = {lst.item(i).text(): lst.item(i) for i in range(lst.count())}
    for name in ("left_ear", "right_ear"):
        item[name].setCheckState(Qt.Checked)
    item["head_top"].setCheckState(Qt.Unchecked)
    lst.setCurrentItem(item["right_shoulder"])
    for _ in range(lst.row(item["right_shoulder"])):
        qtbot.mouseClick(dialog.up, Qt.LeftButton)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.Ok), Qt.LeftButton)
    ears, head_top, right_shoulder = [3, 4], 2, 6
    order = [right_shoulder] + [j for j in range(17) if j not in (head_top, right_shoulder, *ears)] + ears
    assert w.editor.order == order  # the ears ticked: at the end, where they were in the list

    # Table, overlay and clicks agree.
    press(w, Qt.Key_N, Qt.ControlModifier)
    listed = [joints.item(r, 0).text() for r in range(joints.rowCount())]
    assert listed[0] == "▶ 1. right_shoulder" and listed[-1] == "· head_top"
    assert "next: right_shoulder (1 of 16)" in w.canvas.overlay_text
    for k, j in enumerate(order):
        assert w.editor.cursor == j and f"next: {names[j]} ({k + 1} of 16)" in w.canvas.overlay_text
        assert joints.item(k, 0).text().startswith("▶ ")
        click_screen(qtbot, w, w.canvas.mapFromScene(QPointF(20 + 17 * k, 100 + 4 * (k % 2))))
    pose = on_disk(w).pose(0, w.editor.track)
    assert w.editor.cursor is None and pose.visibility[head_top] == Visibility.NOT_LABELLED
    for k, j in enumerate(order):
        assert np.allclose(pose.xy[j], (20 + 17 * k, 100 + 4 * (k % 2)), atol=1), names[j]

    # Kept in the project: reopened, the order is the user's.
    path = w.store.path
    w.close_project()
    open_in(w, path)
    assert w.editor.order == order
    assert w.joints_panel.item(0, 0).text().endswith("1. right_shoulder")


def two_people_filled(qtbot, w):
    """Two people labelled by clicks on frames 0 and 10, frames between filled (linear)."""
    from test_gui_editing import label_keyframes

    first = label_keyframes(qtbot, w, frames=(0, 10), centre=(90, 120))
    second = label_keyframes(qtbot, w, frames=(0, 10), centre=(210, 120))
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()
    qtbot.waitUntil(lambda: not w.runner.running, timeout=20000)
    return first, second


def test_k_promotes_the_selected_person_only_and_shift_k_the_whole_frame(qtbot, clip):
    w = clip
    first, second = two_people_filled(qtbot, w)
    w.editor.seek(5)
    assert not w.session.video.pose(5, first).keyframe and not w.session.video.pose(5, second).keyframe
    w.tracks_panel.table.selectRow(0)  # person 1, picked in the People list
    assert w.editor.track == first
    press(w, Qt.Key_K)
    assert on_disk(w).pose(5, first).keyframe
    assert not on_disk(w).pose(5, second).keyframe  # the other, unreviewed pose is no anchor
    assert "Shift+K" in w.statusBar().currentMessage()  # the explicit whole-frame action is named
    w.actions["undo"].trigger()
    assert not on_disk(w).pose(5, first).keyframe

    w.editor.seek(6)
    press(w, Qt.Key_K, Qt.ShiftModifier)  # the whole frame, explicitly
    assert on_disk(w).pose(6, first).keyframe and on_disk(w).pose(6, second).keyframe
    assert w.statusBar().currentMessage().startswith("Frame 6: ") and "are keyframes now" in \
        w.statusBar().currentMessage()  # said, as K says it


def focus_on(qtbot, widget):
    widget.setFocus(Qt.MouseFocusReason)
    qtbot.waitUntil(lambda: QApplication.focusWidget() is widget, timeout=2000)


def test_single_letter_keys_work_wherever_the_focus_is_but_in_text_fields(qtbot, clip):
    w = clip
    press(w, Qt.Key_N, Qt.ControlModifier)
    fp = w.fill_panel
    places = {"joints table": w.joints_panel, "people table": w.tracks_panel.table, "frame box": w.frame_spin,
              "method box": fp.method, "interval box": fp.stride, "tune box": fp.tune, "timeline": w.timeline}
    for where, widget in places.items():
        focus_on(qtbot, widget)
        before = w.editor.cursor
        QTest.keyClick(QApplication.focusWidget(), Qt.Key_S)  # skip to the next joint
        assert w.editor.cursor != before, f"S did nothing with the focus in the {where}"
    # The frame box still takes digits.
    focus_on(qtbot, w.frame_spin)
    w.frame_spin.lineEdit().selectAll()
    QTest.keyClicks(w.frame_spin, "7")
    QTest.keyClick(w.frame_spin, Qt.Key_Return)
    assert w.editor.frame == 7
    assert QApplication.focusWidget() is w.canvas  # Enter hands the keys back: Ctrl+Z, arrows act again
    # Ctrl+Z with the focus left in a number box undoes the project's last edit, not its digits
    w.editor.seek(0)
    click_screen(qtbot, w, w.canvas.mapFromScene(QPointF(150, 100)))  # a joint placed
    def joints_here():
        pose = w.session.video.pose(0, w.editor.track)
        return 0 if pose is None else int(pose.labelled().sum())

    placed = joints_here()
    focus_on(qtbot, w.frame_spin)
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Z, Qt.ControlModifier)
    assert joints_here() == placed - 1
    QTest.keyClick(QApplication.focusWidget(), Qt.Key_Z, Qt.ControlModifier | Qt.ShiftModifier)
    assert joints_here() == placed
    # In a text field the letter is text: renaming a person in the People table.
    table = w.tracks_panel.table
    table.editItem(table.item(0, 1))
    editor = QApplication.focusWidget()
    assert isinstance(editor, QLineEdit)
    before = w.editor.cursor
    editor.selectAll()
    QTest.keyClicks(editor, "Sam")
    assert editor.text() == "Sam" and w.editor.cursor == before
    QTest.keyClick(editor, Qt.Key_Return)
    qtbot.waitUntil(lambda: w.session.video.tracks[w.editor.track].name == "Sam", timeout=2000)


def wheel_at(w, pos: QPoint, notches: float):
    vp = w.canvas.viewport()
    p = QPointF(pos)
    event = QWheelEvent(p, vp.mapToGlobal(p), QPoint(), QPoint(0, int(120 * notches)), Qt.NoButton,
                        Qt.NoModifier, Qt.NoScrollPhase, False)
    QApplication.sendEvent(vp, event)


def person_centre_on_screen(w, track):
    from app.navigation import person_box

    x0, y0, x1, y1 = person_box(w.session.video, track, w.editor.frame)
    return w.canvas.mapFromScene(QPointF((x0 + x1) / 2, (y0 + y1) / 2))


def test_wheel_zooms_far_about_the_pointer_and_the_view_fits_and_follows_the_person(qtbot, clip):
    w = clip
    first, second = two_people_filled(qtbot, w)
    vp = w.canvas.viewport()
    # The wheel zooms well past 5x, keeping the image point under the pointer where it is, also
    # near the frame's corner.
    for where in (QPoint(vp.width() // 3, vp.height() // 2), w.canvas.mapFromScene(QPointF(8, 8))):
        w.canvas.fit()
        fixed = w.canvas.mapToScene(where)
        for _ in range(20):
            wheel_at(w, where, 1)
            under = w.canvas.mapToScene(where)
            assert abs(under.x() - fixed.x()) < 1 and abs(under.y() - fixed.y()) < 1
        assert w.canvas.zoom_level() > 30
    # P fits the selected person: their box fills most of the view, centred.
    w.canvas.fit()
    w.editor.seek(0)
    w.tracks_panel.table.selectRow(1)
    press(w, Qt.Key_P)
    centre = QPoint(vp.width() // 2, vp.height() // 2)
    assert (person_centre_on_screen(w, second) - centre).manhattanLength() <= 2
    from app.navigation import person_box

    x0, y0, x1, y1 = person_box(w.session.video, second, 0)
    top, bottom = w.canvas.mapFromScene(QPointF(x0, y0)), w.canvas.mapFromScene(QPointF(x1, y1))
    assert 0 <= top.y() and bottom.y() <= vp.height() and 0 <= top.x() and bottom.x() <= vp.width()
    assert bottom.y() - top.y() > 0.55 * vp.height() or bottom.x() - top.x() > 0.55 * vp.width()
    # Shift+F follows them: on the next keyframe (they moved 20 px), still in the middle.
    zoom = w.canvas.zoom_level()
    press(w, Qt.Key_F, Qt.ShiftModifier)
    assert w.actions["follow_person"].isChecked()
    for f in (5, 10, 3):
        w.editor.seek(f)
        assert (person_centre_on_screen(w, second) - centre).manhattanLength() <= 2, f
    assert w.canvas.zoom_level() == pytest.approx(zoom)  # following keeps the zoom
    w.tracks_panel.table.selectRow(0)  # another person selected: the view goes to them
    assert (person_centre_on_screen(w, first) - centre).manhattanLength() <= 2
    # A new keyframe slot, nobody labelled there yet: the view goes where the person was last seen.
    w.editor.seek(20)
    assert w.session.video.pose(20, first) is None
    assert (person_centre_on_screen(w, first) - centre).manhattanLength() <= 2


def test_reopening_lands_where_the_user_left_off(qtbot, clip, open_in):
    w = clip
    first, second = two_people_filled(qtbot, w)
    press(w, Qt.Key_Right, Qt.ControlModifier)  # to the next keyframe (10)
    for _ in range(3):
        press(w, Qt.Key_Right)
    w.tracks_panel.table.selectRow(1)
    vp = w.canvas.viewport()
    wheel_at(w, QPoint(vp.width() // 3, vp.height() // 3), 6)
    zoom = w.canvas.zoom_level()
    centre = w.canvas.mapToScene(vp.width() // 2, vp.height() // 2)
    assert w.editor.frame == 13 and w.editor.track == second and zoom > 2.5
    path = w.store.path
    w.close_project()
    open_in(w, path)
    assert w.editor.frame == 13 and w.editor.track == second
    assert w.canvas.zoom_level() == pytest.approx(zoom, rel=0.01)
    now = w.canvas.mapToScene(vp.width() // 2, vp.height() // 2)
    assert abs(now.x() - centre.x()) < 1.5 and abs(now.y() - centre.y()) < 1.5
    assert w.frame_spin.value() == 13 and w.timeline.current == 13


def test_opening_checks_a_json_before_asking_where_and_a_new_project_goes_where_the_user_says(
        qtbot, window, open_in, tmp_path, monkeypatch):
    from test_gui_session import export_and_wait, make_video

    w = window
    asked = []
    answer = {}
    monkeypatch.setattr("app.window.QFileDialog.getSaveFileName",
                        lambda parent, title, default, *a: asked.append((title, default)) or (answer["path"], ""))
    failed = []
    w.openFailed.connect(failed.append)
    # A broken JSON file: refused, naming it, before anything is asked or created.
    broken = tmp_path / "broken.json"
    broken.write_text('{"images": [}')
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName", lambda *a, **k: (str(broken), ""))
    w.actions["open"].trigger()
    qtbot.waitUntil(lambda: bool(failed), timeout=10000)
    assert "broken.json" in failed[0] and "broken.json" in w.last_error
    assert asked == [] and not (tmp_path / "broken.pwproj").exists() and w.store is None

    # A video: the user is asked where its project goes, and it goes there (not beside the video).
    media, projects = tmp_path / "media", tmp_path / "my projects"
    media.mkdir()
    projects.mkdir()
    make_video(media / "walk.mp4", n=12)
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName", lambda *a, **k: (str(media / "walk.mp4"), ""))
    answer["path"] = str(projects / "walk")
    opened = []
    w.projectOpened.connect(opened.append)
    w.actions["open"].trigger()
    qtbot.waitUntil(lambda: bool(opened), timeout=30000)
    assert asked[-1] == ("New project for walk.mp4: save as", str(media / "walk.pwproj"))
    assert w.store.path == (projects / "walk.pwproj").resolve() and not (media / "walk.pwproj").exists()

    # A good JSON file: checked, then asked; the folder proposed is the one chosen last time when
    # beside the file cannot be written.
    exported = media / "walk_pt.json"
    press(w, Qt.Key_N, Qt.ControlModifier)
    click_screen(qtbot, w, w.canvas.mapFromScene(QPointF(50, 50)))
    assert export_and_wait(qtbot, w, exported, "posetrack18") is not None
    monkeypatch.setattr("app.opening.writable_folder", lambda folder: "" if folder == projects else "read-only")
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName", lambda *a, **k: (str(exported), ""))
    answer["path"] = str(projects / "walk_pt.pwproj")
    w.actions["open"].trigger()
    qtbot.waitUntil(lambda: len(opened) == 2, timeout=30000)
    assert asked[-1] == ("New project for walk_pt.json: save as", str(projects / "walk_pt.pwproj"))
    assert w.store.path == (projects / "walk_pt.pwproj").resolve() and w.session.video.pose_count() == 1

    # A folder that cannot be written is refused at once, by name (not late, half-way).
    monkeypatch.setattr("app.window.QFileDialog.getOpenFileName", lambda *a, **k: (str(media / "walk.mp4"), ""))
    (projects / "walk.pwproj").unlink()
    answer["path"] = str(media / "walk.pwproj")
    w.actions["open"].trigger()
    assert failed[-1] == "read-only" and w.last_error == "read-only" and not (media / "walk.pwproj").exists()


def test_an_interrupted_fill_is_noticed_in_the_app_and_by_info_and_can_be_finished(qtbot, clip, open_in, capsys):
    from posewarper_core import autofill, fillrecord
    from posewarper_core.cli import main
    from posewarper_core.store import ProjectStore
    from test_gui_editing import label_keyframes

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 10, 20))
    w.fill_panel.method.setCurrentText("linear")
    w.actions["fill_video"].trigger()  # a complete fill: noted as done, nothing to say later
    qtbot.waitUntil(lambda: not w.runner.running, timeout=20000)
    assert fillrecord.last_fill(w.store.notes, 1)["status"] == "done"
    # as it ran, it noted where what was left started (after its first span, 1-9: frame 11)
    assert fillrecord.last_fill(w.store.notes, 1)["resume_from"] == 11
    path = w.store.path
    w.close_project()
    # What a fill killed half-way leaves (the app's process died): its start noted, no end, and
    # only its first frames re-filled by its method.
    with ProjectStore.open(path) as store:
        fillrecord.record_start(store, 1, "flow-farneback", "video")
        video = store.project.video(1)
        from posewarper_core.video import open_frames

        with open_frames(video, store.base_dir) as frames:
            autofill.fill(video, frames, "flow-farneback", frame_range=(0, 10), on_changes=store.apply)
        fillrecord.record_progress(store, 1, 11)  # the whole video's fill said so after its first span
    assert main(["info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "auto-fill (flow-farneback, everyone, every frame) started" in out
    assert "was interrupted with frames 11-29 left to fill: 9 " in out
    assert "by other methods or older runs" in out

    open_in(w, path)
    qtbot.waitUntil(lambda: w.findChild(QMessageBox, "interruptedFillNotice") is not None, timeout=5000)
    notice = w.findChild(QMessageBox, "interruptedFillNotice")
    assert notice.isVisible() and "interrupted" in notice.text() and "9 auto-filled poses" in notice.text()
    assert "interrupted" in w.fill_panel.state.text()
    finish = next(b for b in notice.buttons() if b.text() == "Finish it")
    started = []
    w.runner.started.connect(started.append)
    qtbot.mouseClick(finish, Qt.LeftButton)
    assert started and started[0].startswith("frames 11-29")  # on from where it had got to, not all again
    qtbot.waitUntil(lambda: w.runner is not None and not w.runner.running and
                    fillrecord.last_fill(w.store.notes, 1)["status"] == "done", timeout=60000)
    video = w.session.video
    methods = {video.pose(f, tid).method for f in range(21) if not video.pose(f, tid).keyframe}
    assert methods == {"flow-farneback"}  # every frame between keyframes now by the method that was interrupted
    assert main(["info", str(path)]) == 0
    assert "was interrupted" not in capsys.readouterr().out


def changed_pixels(a, b) -> int:
    from PySide6.QtGui import QImage

    def arr(img):
        img = img.convertToFormat(QImage.Format_RGB888)
        return np.frombuffer(img.constBits(), np.uint8).reshape(img.height(), img.bytesPerLine())[:, : 3 * img.width()]

    return int((np.abs(arr(a).astype(int) - arr(b).astype(int)) > 40).sum())


def grab(w, qtbot):
    qtbot.wait(20)
    return w.canvas.viewport().grab().toImage()


def test_markers_names_onion_skin_range_fill_and_export_with_frames(qtbot, clip, tmp_path):
    from PySide6.QtCore import QRect

    w = clip
    first, second = two_people_filled(qtbot, w)
    w.editor.seek(0)
    w.canvas.fit()
    nose = w.canvas.mapFromScene(QPointF(*w.session.video.pose(0, first).xy[0]))
    around = QRect(nose - QPoint(30, 30), nose + QPoint(30, 30))
    before = grab(w, qtbot).copy(around)
    for _ in range(3):
        press(w, Qt.Key_BracketRight)  # bigger markers
    assert w.canvas.layer.marker_scale == pytest.approx(1.25 ** 3)
    assert changed_pixels(before, grab(w, qtbot).copy(around)) > 50  # the markers grew
    for _ in range(3):
        press(w, Qt.Key_BracketLeft)
    beside = QRect(nose + QPoint(4, -12), nose + QPoint(80, 12))
    before = grab(w, qtbot).copy(beside)
    press(w, Qt.Key_L)  # joint names on the image
    assert w.actions["joint_names"].isChecked()
    assert changed_pixels(before, grab(w, qtbot).copy(beside)) > 30  # "nose" written beside it
    press(w, Qt.Key_L)

    # Onion skin: on frame 5, the keyframes 0 and 10 of both people, faint.
    w.editor.seek(5)
    wrist0 = w.canvas.mapFromScene(QPointF(*w.session.video.pose(0, first).xy[9]))
    spot = QRect(wrist0 - QPoint(3, 3), wrist0 + QPoint(3, 3))
    before = grab(w, qtbot).copy(spot)
    press(w, Qt.Key_O, Qt.ShiftModifier)
    assert sorted((t, f, bool(p.keyframe)) for t, f, p in w.canvas.layer.onion) == [
        (first, 0, True), (first, 10, True), (second, 0, True), (second, 10, True)]
    assert changed_pixels(before, grab(w, qtbot).copy(spot)) > 0
    texts = []  # each ghost says which keyframe it is
    draw = QPainter.drawText
    QPainter.drawText = lambda painter, *a: (texts.append(a[-1]), draw(painter, *a))[1]
    try:
        w.canvas.viewport().repaint()
    finally:
        QPainter.drawText = draw
    assert sorted(t for t in set(texts) if "keyframe" in str(t)) == ["keyframe 10 →", "← keyframe 0"]
    assert sum("keyframe" in str(t) for t in texts) == 8  # each of the 4 ghosts' labels, with its shadow
    boxes = w.canvas.layer.ghost_labels_drawn  # none over another (a trial read two people's labels overlapping)
    assert len(boxes) == 4 and not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    w.canvas.layer.onion = [(first, 0, w.session.video.pose(0, first))] * 3  # three ghosts on one spot
    w.canvas.viewport().repaint()
    boxes = w.canvas.layer.ghost_labels_drawn
    assert len(boxes) == 3 and not any(a.intersects(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    press(w, Qt.Key_O, Qt.ShiftModifier)
    assert w.canvas.layer.onion == []

    # A fill limited to frames 12-14 of person 2 (the CLI's --frames), from the GUI.
    w.editor.seek(20)
    from test_gui_editing import label_person

    w.tracks_panel.table.selectRow(1)
    label_person(qtbot, w, (250, 120))  # person 2's keyframe 20
    untouched = {f: w.session.video.pose(f, second) for f in range(11, 20)}
    w.fill_panel.method.setCurrentText("flow-farneback")
    w.actions["fill_range"].trigger()
    from app.fillpanel import FillRangeDialog

    dialog = w.findChild(FillRangeDialog)
    dialog.first.setValue(12)
    dialog.last.setValue(14)
    dialog.person_only.setChecked(True)
    qtbot.mouseClick(dialog.buttons.button(QDialogButtonBox.Ok), Qt.LeftButton)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=30000)
    video = w.session.video
    assert all(video.pose(f, second).method == "flow-farneback" for f in (12, 13, 14))
    assert all(video.pose(f, second) is untouched[f] for f in (11, 15, 16, 17, 18, 19))
    assert all(video.pose(f, first) is None or video.pose(f, first).method != "flow-farneback" for f in range(30))

    # The GUI export writes the frames as `posewarper export --frames` does.
    import json

    from test_gui_session import export_and_wait

    out = tmp_path / "out" / "data.json"
    out.parent.mkdir()
    summary = export_and_wait(qtbot, w, out, "coco", frames="labelled")
    assert summary is not None and summary["frame_images"] > 0
    doc = json.loads(out.read_text())
    named = {im["file_name"] for im in doc["images"] if any(a["image_id"] == im["id"] for a in doc["annotations"])}
    written = {str(p.relative_to(out.parent)) for p in out.parent.rglob("*.jpg")}
    assert named <= written and len(written) == summary["frame_images"]


def answered_save_dialog(monkeypatch):
    """The export's save dialog records the folder it was offered (`asked`) and answers
    answer["path"] ("" = cancelled); the export choices are taken as preset."""
    from PySide6.QtWidgets import QDialog

    asked, answer = [], {"path": ""}
    monkeypatch.setattr("app.window.QFileDialog.getSaveFileName",
                        lambda parent, title, default, *a: asked.append(default) or (answer["path"], ""))
    monkeypatch.setattr("app.exportchoice.ExportDialog.exec", lambda self: QDialog.Accepted)
    return asked, answer


def export_once_into_new_folder(qtbot, w, folder, answer):
    """One COCO export through the dialog into `folder` (made here); later dialogs are cancelled."""
    folder.mkdir()
    answer["path"] = str(folder / "first.json")
    with qtbot.waitSignal(w.exported, timeout=30000):
        w.export_dialog("coco")
    answer["path"] = ""
    return folder


def test_export_dialog_starts_in_the_folder_of_the_last_export(qtbot, clip, tmp_path, monkeypatch):
    """The demo's project lives in the app's data folder: an export dialog opening there each time
    made the user walk back to their dataset folder. It opens where the last export went."""
    from PySide6.QtCore import QSettings

    w = clip
    asked, answer = answered_save_dialog(monkeypatch)
    w.export_dialog("coco")
    assert Path(asked[-1]).parent == Path(w.store.path).parent  # nothing exported yet: the project's folder
    datasets = export_once_into_new_folder(qtbot, w, tmp_path / "datasets", answer)
    w.export_dialog("posetrack18")
    assert Path(asked[-1]).parent == datasets and Path(asked[-1]).name.endswith(".posetrack18.json")
    assert QSettings().value("export/folder") == str(datasets)


def test_export_dialog_for_a_project_in_the_apps_data_folder_starts_in_home(qtbot, window, open_in, tmp_path,
                                                                            monkeypatch):
    """The demo lives in the app's hidden data folder (~/.local/share/posewarper): the first export
    dialog opened there. With no export yet it starts in the user's home; after one, where it went."""
    from app.demo import default_demo_path
    from test_gui_session import make_video

    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    data = default_demo_path().parent  # under the window fixture's XDG_DATA_HOME
    data.mkdir(parents=True)
    make_video(tmp_path / "clip.mp4", n=10)
    open_in(window, tmp_path / "clip.mp4", data / "clip.pwproj")
    asked, answer = answered_save_dialog(monkeypatch)
    window.export_dialog("coco")
    assert Path(asked[-1]) == home / "clip.coco.json"
    datasets = export_once_into_new_folder(qtbot, window, tmp_path / "datasets", answer)
    window.export_dialog("coco")
    assert Path(asked[-1]).parent == datasets



def test_the_placed_label_gives_way_to_the_hover_label_it_would_lie_under(qtbot, clip):
    """A trial saw "placed left_ankle" drawn under the hover label "right_ankle" of the joint next
    to it: where the two boxes meet only the hover label is drawn; apart, both are."""
    w = clip
    w.show()
    qtbot.waitExposed(w)
    press(w, Qt.Key_N, Qt.ControlModifier)
    a = w.canvas.mapFromScene(QPointF(150, 100))
    click_screen(qtbot, w, a)  # nose
    click_screen(qtbot, w, a + QPoint(4, 0))  # head_bottom, 4 screen px to the right
    layer, tid = w.canvas.layer, w.editor.track
    drawn = []
    original = layer._paint_label
    layer._paint_label = lambda painter, xy, text, scale: (drawn.append(text), original(painter, xy, text, scale))
    try:
        layer.placed, layer.hover = (tid, 1), (tid, 0)
        w.canvas.viewport().repaint()
        assert drawn == ["nose"]  # only the hover label
        drawn.clear()
        click_screen(qtbot, w, a + QPoint(0, 150))  # head_top, far below
        layer.placed, layer.hover = (tid, 2), (tid, 0)
        w.canvas.viewport().repaint()
        assert drawn == ["placed head_top", "nose"]
    finally:
        layer._paint_label = original
