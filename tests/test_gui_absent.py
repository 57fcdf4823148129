"""X marks the selected person not in view on a frame: one undo step, kept in the project file,
shown on the canvas; E suggests nothing for them there; a click there starts labelling them."""
from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from posewarper_core.annotation import Provenance
from test_gui_editing import clip, label_keyframes, on_disk, press  # noqa: F401 - clip: the 30-frame project
from test_gui_session import click_image
from test_gui_suggestions import ask_and_wait


def message(w) -> str:
    return w.statusBar().currentMessage()


def test_x_marks_the_person_not_in_view_and_ctrl_z_takes_it_back(qtbot, clip, monkeypatch):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    depth = w.editor.undo_stack.count()
    press(w, Qt.Key_X)
    mark = w.session.video.pose(10, tid)
    assert mark is not None and mark.is_absent_mark()
    assert on_disk(w).pose(10, tid).is_absent_mark()  # in the project file at once
    assert w.editor.undo_stack.count() == depth + 1
    assert f"Person {tid} marked not in view on frame 10" in message(w) and "Ctrl+Z" in message(w)
    assert "not in view here" in w.canvas.overlay_text
    assert w.session.frame_status()[10] == 3  # the keyframe slot counts as labelled

    press(w, Qt.Key_X)  # marked already: nothing more
    assert w.editor.undo_stack.count() == depth + 1 and "already" in message(w)
    asked = []  # deleting the person counts the mark apart from their poses (a trial read 43 "poses")
    monkeypatch.setattr("app.window.QMessageBox.question", lambda _w, _t, text: asked.append(text) or QMessageBox.No)
    w.actions["delete_track"].trigger()
    assert asked == [f"Delete person {tid} and their one pose and 1 not-in-view mark? (Undo brings them back.)"]
    press(w, Qt.Key_Delete)  # Del takes the mark away, and says so
    assert w.session.video.pose(10, tid) is None
    assert message(w) == f"Deleted person {tid}'s not-in-view mark on frame 10. Ctrl+Z undoes."
    w.actions["undo"].trigger()
    assert w.session.video.pose(10, tid).is_absent_mark()

    w.actions["undo"].trigger()
    assert w.session.video.pose(10, tid) is None and on_disk(w).pose(10, tid) is None

    # on a frame where the person has a pose, X replaces it; Ctrl+Z brings it back
    w.editor.seek(20)
    press(w, Qt.Key_C)  # the pose of frame 0, copied
    press(w, Qt.Key_X)
    assert w.session.video.pose(20, tid).is_absent_mark() and "joints here removed" in message(w)
    w.actions["undo"].trigger()
    assert w.session.video.pose(20, tid).labelled().sum() == w.session.video.pose(0, tid).labelled().sum()

    w.editor.select_track(None)
    press(w, Qt.Key_X)
    assert message(w).startswith("Select a person first")


def test_fill_leaves_the_frames_next_to_the_mark_alone(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 20))
    w.editor.seek(10)
    press(w, Qt.Key_X)
    w.fill_panel.method.setCurrentText("linear")
    press(w, Qt.Key_G, Qt.ShiftModifier)  # the whole person
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    assert [f for f in range(1, 20) if w.session.video.pose(f, tid) is not None] == [10]


def test_a_mark_inside_a_filled_gap_takes_the_untouched_fill_next_to_it_away(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 20))
    w.fill_panel.method.setCurrentText("linear")
    press(w, Qt.Key_G, Qt.ShiftModifier)
    qtbot.waitUntil(lambda: not w.runner.running, timeout=10000)
    w.editor.seek(6)
    w.actions["accept"].trigger()  # frame 6 reviewed: the annotator's, it stays
    w.actions["accept"].trigger()  # (a second A when the fill doubts some joints)
    assert w.session.video.pose(6, tid).reviewed
    w.editor.seek(12)
    depth = w.editor.undo_stack.count()
    press(w, Qt.Key_X)
    kept = [f for f in range(1, 20) if w.session.video.pose(f, tid) is not None]
    assert kept == [6, 12] and w.session.video.pose(12, tid).is_absent_mark()
    assert "the fill of 17 frames next to it removed" in message(w)
    assert w.editor.undo_stack.count() == depth + 1
    w.actions["undo"].trigger()  # one step brings the mark's frame and the fill back
    assert all(w.session.video.pose(f, tid) is not None for f in range(1, 20))


def test_e_suggests_nothing_for_a_person_marked_not_in_view_and_a_click_starts_labelling(qtbot, clip):
    w = clip
    tid = label_keyframes(qtbot, w, frames=(0,))
    w.editor.seek(10)
    press(w, Qt.Key_X)
    depth = w.editor.undo_stack.count()
    press(w, Qt.Key_E)
    assert f"person {tid} is marked not in view on frame 10 (X)".lower() in message(w).lower()
    assert "label a joint first" in message(w)
    assert w.suggestions.job is None and w.suggestions.pending is None  # nothing asked of the pose model
    assert w.editor.undo_stack.count() == depth and w.session.video.pose(10, tid).is_absent_mark()

    first = w.editor.cursor
    click_image(qtbot, w, 150, 60)  # the person is back here: a click places their first joint
    pose = w.session.video.pose(10, tid)
    assert pose.keyframe and not pose.is_absent_mark() and int(pose.labelled().sum()) == 1
    assert pose.labelled()[first] and on_disk(w).pose(10, tid).labelled()[first]
    assert "not in view" not in w.canvas.overlay_text and "next:" in w.canvas.overlay_text
    assert "the not-in-view mark on frame 10 is gone" in message(w)  # said: a stray click is noticed


def test_a_marked_person_is_not_here_and_a_suggestion_after_the_mark_starts_from_the_next_keyframe(qtbot, clip):
    from posewarper_core.suggest.carry import source_keyframe

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 20))
    w.editor.seek(10)
    press(w, Qt.Key_X)
    here = w.tracks_panel.table.item(0, 2)
    assert here is None or not here.text().strip()  # the People list's "Here": not for a mark
    video = w.session.video
    assert source_keyframe(video, tid, 15) == 20  # she came in after the mark: carried back from 20
    assert source_keyframe(video, tid, 25) == 20 and source_keyframe(video, tid, 5) == 0
    w.editor.seek(15)
    result = ask_and_wait(qtbot, w)
    pose = video.pose(15, tid)
    assert pose is not None and (pose.provenance[pose.labelled()] == Provenance.SUGGESTED).all(), result.message
    w.editor.seek(3)
    w.actions["undo"].trigger()  # undo shows the frame the suggestion was made on
    assert w.editor.frame == 15 and video.pose(15, tid) is None


def test_a_mark_is_drawn_and_counted_apart_from_keyframes(qtbot, clip):
    """On the timeline a mark is an empty cell crossed in the person's colour, not a keyframe's
    green (its keyframe slot still counts as done); the video list counts it apart."""
    from app.style import STATUS_COLOURS, track_colour

    w = clip
    tid = label_keyframes(qtbot, w, frames=(0, 20))
    w.editor.seek(10)
    press(w, Qt.Key_X)
    w._refresh_timeline()
    t = w.timeline
    assert t.status[10] == 3 and t.absent[10] and not t.absent[0]  # the slot is done (N skips it)
    assert t.describe(10).startswith("frame 10: person 1 not in view (X)")
    assert t.describe(0).startswith("frame 0: person 1 keyframe")
    image = t.grab().toImage()
    strip = t._strip_rect()
    cw = t.cell_width()

    def cell_colours(f):
        x0, x1 = int((f - t.first) * cw), int((f - t.first + 1) * cw) - 1
        top = int(strip.top())
        return {image.pixelColor(x, y).name() for x in range(x0, x1) for y in range(top + 1, top + 12)}

    green, person = STATUS_COLOURS[3].name(), track_colour(tid).name()
    assert green in cell_colours(0) and green not in cell_colours(10)
    assert person in cell_colours(10) and STATUS_COLOURS[0].name() in cell_colours(10)
    assert "(2 keyframes, 1 not-in-view mark, poses on 3/30 frames)" in w.video_box.itemText(0)
    w.actions["undo"].trigger()
    w._refresh_timeline()
    assert not t.absent[10] and "(2 keyframes, poses on 2/30 frames)" in w.video_box.itemText(0)
