"""The main window: menus, docks and wiring only. The work happens in editor.py (labelling),
fillrun.py (auto-fill), workers.py (decoding), canvas.py, timeline.py and panels.py."""
from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (QComboBox, QDockWidget, QFileDialog, QHBoxLayout, QInputDialog, QLabel, QMainWindow,
                               QMessageBox, QSpinBox, QToolButton, QVBoxLayout, QWidget)

from posewarper_core import autofill, fillrecord
from posewarper_core.annotation import Provenance
from posewarper_core.errors import PoseWarperError
from posewarper_core.formats.report import describe_export
from posewarper_core.skeleton import POSETRACK17
from posewarper_core.video import VideoError, check_video_file, open_frames

from . import clickorder, exportchoice, navigation, opening, shortcuts, viewstate
from .canvas import FrameView
from .commands import shown_frame
from .editor import Editor
from .fillpanel import FillPanel
from .fillrun import FillRunner, device_name
from .focusback import FocusBack
from .projectfiles import DECODER_CACHE_BYTES, ProjectFiles
from .openjob import OpenJob
from .panels import JointsPanel, TracksPanel, VideoBox, count_of, video_label
from .session import Session
from .suggestions import Suggestions
from .style import MISSING_KEYFRAME, STATUS_COLOURS, track_colour
from .timeline import Timeline
from .workers import FrameLoader

MEDIA_FILTER = ("Videos, annotations and projects (*.mp4 *.avi *.mov *.mkv *.webm *.m4v *.mpg *.ts *.json "
                "*.pwproj);;Projects (*.pwproj);;PoseTrack18 / COCO (*.json);;All files (*)")
MAX_RECENT = 8
MARKER_STEP = 1.25  # one press of ] or [ (markers from 0.5x to 4x of the default)
FORMAT_NAMES = {"posetrack18": "PoseTrack18", "coco": "COCO keypoints"}  # as the File menu says them


class MainWindow(QMainWindow):
    projectOpened = Signal(str)  # the project file, once it is open and shown
    openFailed = Signal(str)  # why an open failed ("cancelled" if the user cancelled)
    imported = Signal(int)  # videos an import added to the open project
    importFailed = Signal(str)  # why an import failed ("cancelled" ...): nothing was added
    exported = Signal(dict)  # what an export wrote (formats.export_project's summary)
    exportFailed = Signal(str)  # why an export failed ("cancelled" ...): nothing was written

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("PoseWarper Annotate")
        self.store = self.session = self.editor = self.loader = self.runner = None
        self.frames_job = None  # opening a video's frames (openjob.py)
        self._fill_text, self._fill_state = "", None  # the last fill's panel text and standing (_show_fill_standing)
        self.files = ProjectFiles(self)  # open / import / export on worker threads
        self._frames_video_id = None  # the video whose frames the loader reads (or is opening)
        self._view = None  # (project, video id) the canvas shows
        self._followed = None  # the person the view last went to (follow the person)
        self.keys = shortcuts.load()
        self.actions: dict[str, QAction] = {}

        self.canvas = FrameView(None)
        self.canvas.set_overlay("Open a video, an image folder, a PoseTrack18/COCO file or a project (Ctrl+O)")
        self.timeline = Timeline()
        self.frame_spin = QSpinBox()
        self.frame_spin.setKeyboardTracking(False)
        self.frame_spin.setFocusPolicy(Qt.ClickFocus)
        self.frame_count = QLabel("/ 0")
        # The project's videos (an import adds one per sequence); shown when there are several.
        self.video_label = QLabel("Video")
        self.video_box = VideoBox()
        self.video_box.setFocusPolicy(Qt.ClickFocus)
        # As wide as a name (PoseTrack's are ~20 characters) so the bar fits a 1366-pixel screen.
        self.video_box.setSizeAdjustPolicy(QComboBox.AdjustToMinimumContentsLengthWithIcon)
        self.video_box.setMinimumContentsLength(20)
        central = QWidget()
        col = QVBoxLayout(central)
        col.setContentsMargins(0, 0, 0, 0)
        col.setSpacing(2)
        col.addWidget(self.canvas, 1)
        col.addWidget(self.timeline)
        self.nav_bar = QHBoxLayout()
        self.nav_bar.setContentsMargins(6, 0, 6, 2)
        col.addLayout(self.nav_bar)
        self.setCentralWidget(central)

        self.tracks_panel = TracksPanel()
        # The joints of the usual skeleton until a project says otherwise: the side bar has its
        # final width from the start, so the canvas does not jump when a project opens.
        self.joints_panel = JointsPanel(POSETRACK17)
        self.joints_panel.jointActivated.connect(self._joint_activated)
        self.fill_panel = FillPanel(autofill.available_methods(), device_name())
        self.fill_panel.tune.setChecked(QSettings().value("autofill/tune", True, type=bool))
        self.people_dock = self._dock("People", self.tracks_panel)
        self.joints_dock = self._dock("Joints", self.joints_panel)
        self.fill_dock = self._dock("Auto-fill", self.fill_panel)

        self.frame_label = QLabel("")
        self.saved_label = QLabel("")
        self.proxy_label = QLabel("")  # the seek proxy being built (fast random seeks)
        self.statusBar().addPermanentWidget(self.proxy_label)
        self.statusBar().addPermanentWidget(self.saved_label)
        self.statusBar().addPermanentWidget(self.frame_label)
        self.statusBar().messageChanged.connect(self._make_room)

        self.suggestions = Suggestions(self)  # keyframe suggestions and pose templates (suggestions.py)
        self._build_actions()
        self.suggestions.setup_actions(self.actions)
        self.plain_keys = shortcuts.PlainKeysFirst(self)  # plain keys reach their shortcuts wherever the focus is
        self.focus_back = FocusBack(self, lambda: self.canvas)  # after a dialog: keys reach the canvas
        self._build_menus()
        self._build_nav_bar()
        self._connect_static()
        self.play_timer = QTimer(self)
        self.play_timer.timeout.connect(self._play_tick)
        self.status_timer = QTimer(self)  # timeline repaint after edits, at most every 40 ms
        self.status_timer.setSingleShot(True)
        self.status_timer.setInterval(40)
        self.status_timer.timeout.connect(self._refresh_timeline)
        self.timeline_track: int | None = None  # whose marks the timeline shows
        self.view_timer = QTimer(self)  # where the user is, saved in the project a second after they stop
        self.view_timer.setSingleShot(True)
        self.view_timer.setInterval(1000)
        self.view_timer.timeout.connect(self.save_view)
        self._set_enabled(False)
        # Heights: the people list and the auto-fill panel are as tall as their content, the joints
        # get the rest (panels.py, fillpanel.py). Width: as narrow as the joints table allows.
        self._fit_side_bar()
        self.resize(1366, 768)
        geometry = QSettings().value("window/geometry")
        if geometry is not None:
            self.restoreGeometry(geometry)

    # --- construction ---------------------------------------------------------------------
    def _fit_side_bar(self) -> None:
        self.resizeDocks([self.joints_dock], [self.joints_dock.minimumSizeHint().width()], Qt.Horizontal)

    def _joint_activated(self, joint: int) -> None:
        if self.editor is not None:
            self.editor.set_cursor(joint)

    def _dock(self, title: str, widget: QWidget) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(title)
        dock.setWidget(widget)
        dock.setFeatures(QDockWidget.DockWidgetMovable | QDockWidget.DockWidgetFloatable)
        self.addDockWidget(Qt.RightDockWidgetArea, dock)
        return dock

    def _build_actions(self) -> None:
        e = self._on_editor
        handlers = {
            "open": self.open_dialog, "open_folder": self.open_folder_dialog, "quit": self.close, "save": self.save,
            "undo": lambda: self._undo(False), "redo": lambda: self._undo(True),
            "prev_frame": e(lambda ed: ed.step(-1)), "next_frame": e(lambda ed: ed.step(1)),
            "back_k": e(lambda ed: ed.step_k(-1)), "forward_k": e(lambda ed: ed.step_k(1)),
            "prev_keyframe": e(lambda ed: ed.to_keyframe(-1)), "next_keyframe": e(lambda ed: ed.to_keyframe(1)),
            "next_unlabelled": e(lambda ed: ed.to_unlabelled_slot()),
            # jumps to a pose to look at: it is brought into view (zoomed in, it may lie outside)
            "next_review": self._shown(lambda ed: ed.to_review()),
            "next_suspect": self._shown(lambda ed: ed.to_suspect(), joint=True),
            "next_suggestion": self._shown(lambda ed: ed.to_suggestion()), "accept": self._accept,
            "prev_video": lambda: self.step_video(-1), "next_video": lambda: self.step_video(1),
            "first_frame": e(lambda ed: ed.seek(0)), "last_frame": e(lambda ed: ed.seek(10**12)),
            "play": self.toggle_play, "goto": self.goto_dialog,
            "fit": self.canvas.fit, "zoom_in": lambda: self.canvas.zoom(1.25),
            "zoom_out": lambda: self.canvas.zoom(0.8),
            "fit_person": lambda: self.look_at_person(fit=True),
            "follow_person": self._follow_changed,
            "bigger_markers": lambda: self._set_marker_scale(self.canvas.layer.marker_scale * MARKER_STEP),
            "smaller_markers": lambda: self._set_marker_scale(self.canvas.layer.marker_scale / MARKER_STEP),
            "joint_names": self._view_options_changed, "onion_skin": self._view_options_changed,
            "fill_range": self.fill_range_dialog,
            "skip_joint": e(lambda ed: ed.skip_joint(1)), "prev_joint": e(lambda ed: ed.skip_joint(-1)),
            "occluded": e(lambda ed: ed.toggle_occluded()), "unlabel": e(lambda ed: ed.unlabel()),
            "next_person": e(lambda ed: ed.cycle_track()), "add_person": e(lambda ed: ed.add_person()),
            "delete_pose": e(lambda ed: ed.delete_pose()), "delete_track": self.delete_person_dialog,
            "delete_range": self.delete_range_dialog,
            "mark_absent": e(lambda ed: ed.mark_absent()),
            "copy_prev": e(lambda ed: ed.copy_previous_keyframe()), "promote": e(lambda ed: ed.promote()),
            "promote_frame": e(lambda ed: ed.promote_frame()),
            "change_track": self.change_track_dialog,
            "fill_gap": lambda: self.start_fill("gap"), "fill_track": lambda: self.start_fill("track"),
            "fill_video": lambda: self.start_fill("video"), "cancel_fill": self.cancel_fill,
            "shortcuts": self.shortcuts_dialog,
            **self.suggestions.handlers(),
        }
        for action_id, text, _, _ in shortcuts.DEFAULTS:
            action = QAction(text, self)
            action.setShortcut(QKeySequence(self.keys[action_id]))
            # The whole application: also with the focus in a floating panel (a modal dialog still blocks).
            action.setShortcutContext(Qt.ApplicationShortcut)
            action.triggered.connect(lambda _=False, h=handlers[action_id]: self._guard(h))
            self.addAction(action)
            self.actions[action_id] = action
        for action_id in ("follow_person", "joint_names", "onion_skin"):  # on/off, kept between sessions
            self.actions[action_id].setCheckable(True)
            self.actions[action_id].setChecked(QSettings().value(f"view/{action_id}", False, type=bool))
        self.canvas.set_show_names(self.actions["joint_names"].isChecked())
        self.canvas.set_marker_scale(QSettings().value("view/marker_scale", 1.0, type=float))

    def _build_menus(self) -> None:
        a = self.actions
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(a["open"])
        file_menu.addAction(a["open_folder"])
        file_menu.addAction(a["save"])
        self.recent_menu = file_menu.addMenu("Open &recent")
        self.recent_menu.aboutToShow.connect(self._fill_recent)
        file_menu.addAction("Open &demo project", self.open_demo)
        file_menu.addSeparator()
        self.import_actions = [file_menu.addAction("Import PoseTrack18 / COCO files…", self.import_dialog)]
        self.export_actions = [
            file_menu.addAction("Export PoseTrack18…", lambda: self.export_dialog("posetrack18")),
            file_menu.addAction("Export COCO keypoints…", lambda: self.export_dialog("coco")),
        ]
        exportchoice.add_menu(file_menu)
        self.remove_video_action = file_menu.addAction("Remove video from project…", self.remove_video_dialog)
        file_menu.addSeparator()
        file_menu.addAction(a["quit"])
        groups: dict[str, list[str]] = {}
        for action_id, _, _, group in shortcuts.DEFAULTS:
            groups.setdefault(group, []).append(action_id)
        for group in ("Edit", "Navigate", "Label", "Auto-fill", "View", "Help"):
            menu = self.menuBar().addMenu("&" + group)
            if group == "View":
                for dock in (self.people_dock, self.joints_dock, self.fill_dock):
                    menu.addAction(dock.toggleViewAction())
                menu.addSeparator()
            for action_id in groups[group]:
                menu.addAction(a[action_id])
            if group == "Label":
                menu.addSeparator()
                self.click_order_action = menu.addAction("Click order (which joints, in what order)…",
                                                         self.click_order_dialog)
            if group == "Help":
                menu.addAction("About", lambda: QMessageBox.about(
                    self, "PoseWarper Annotate",
                    "Label people's joints on every k-th frame; auto-fill does the frames between.\n"
                    "Every edit is saved to the project file at once."))

    def _build_nav_bar(self) -> None:
        self.nav_bar.addWidget(self.video_label)
        self.nav_bar.addWidget(self.video_box)
        self.nav_bar.addSpacing(12)
        self._refresh_videos()
        for action_id, label in (("first_frame", "|◀"), ("prev_keyframe", "◆◀"), ("prev_frame", "◀"),
                                 ("play", "Play"), ("next_frame", "▶"), ("next_keyframe", "▶◆"),
                                 ("last_frame", "▶|")):
            b = QToolButton()
            b.clicked.connect(self.actions[action_id].trigger)
            b.setText(label)
            b.setAutoRaise(True)
            b.setToolTip(f"{self.actions[action_id].text()} ({self.keys[action_id]})")
            b.setFocusPolicy(Qt.NoFocus)
            self.nav_bar.addWidget(b)
            if action_id == "play":
                self.play_button = b
        self.nav_bar.addSpacing(12)
        self.nav_bar.addWidget(QLabel("Frame"))
        self.nav_bar.addWidget(self.frame_spin)
        self.nav_bar.addWidget(self.frame_count)
        self.nav_bar.addSpacing(12)
        # Breaks only between the entries: with the Video box shown (several videos) the bar is too
        # narrow for one line at 1366x768, and a legend that does not wrap made the window wider
        # than the screen.
        entries = [(STATUS_COLOURS[3], "■", "keyframe"), (STATUS_COLOURS[1], "■", "auto-filled"),
                   (STATUS_COLOURS[2], "■", "corrected"), (MISSING_KEYFRAME, "▁", "slot to label"),
                   (None, "✕", "not in view"), (None, "▂", "others")]
        self.legend = QLabel(" &nbsp;".join(
            (f"<span style='color:{colour.name()}'>{mark}</span>" if colour else mark) + "&nbsp;"
            + name.replace(" ", "&nbsp;").replace("-", "\u2011")  # a non-breaking hyphen
            for colour, mark, name in entries))
        self.legend.setWordWrap(True)
        self.legend.setAlignment(Qt.AlignRight | Qt.AlignVCenter)
        self.legend.setToolTip("The cells, ticks and slot marks are the selected person's (a green ✓: a pose "
                               "reviewed; ✕: marked not in view with X, the slot done but no keyframe); the thin "
                               "band at the bottom of each cell is the other people's status, a dim bar their "
                               "reviewed poses, an outlined triangle their suggested keyframe.")
        self.nav_bar.addWidget(self.legend, 1)  # the bar's spare width: one line when it fits

    def _connect_static(self) -> None:
        self.frame_spin.valueChanged.connect(lambda f: self._edit(lambda ed: ed.seek(f)))
        # Enter in the frame box: back to the canvas, so Ctrl+Z and the arrows act on the frame again
        self.frame_spin.lineEdit().returnPressed.connect(self.canvas.setFocus)
        self.video_box.activated.connect(lambda i: self._guard(lambda: self.select_video(self.video_box.itemData(i))))
        self.timeline.seekRequested.connect(lambda f: self._edit(lambda ed: ed.seek(f)))
        c = self.canvas
        c.placeRequested.connect(lambda x, y, v: self._guard(lambda: self._place(x, y, v)))
        c.jointMoved.connect(lambda t, j, x, y: self._guard(lambda: self.editor.move_joint(t, j, x, y)))
        c.poseMoved.connect(lambda t, dx, dy: self._guard(lambda: self.editor.move_pose(t, dx, dy)))
        c.poseTurned.connect(lambda t, x, y, a, s: self._guard(lambda: self.editor.turn_pose(t, x, y, a, s)))
        c.jointFlagRequested.connect(lambda t, j: self._guard(lambda: self.editor.toggle_occluded(t, j)))
        c.trackClicked.connect(lambda t: self._edit(lambda ed: ed.select_track(t)))
        c.hoverChanged.connect(self._hover)
        c.viewMoved.connect(lambda: self.view_timer.start() if self.session is not None else None)
        tp = self.tracks_panel
        tp.trackSelected.connect(lambda t: self._edit(lambda ed: ed.select_track(t)))
        tp.renameRequested.connect(lambda t, n: self._edit(lambda ed: ed.rename_person(t, n)))
        tp.addRequested.connect(lambda: self._edit(lambda ed: ed.add_person()))
        tp.deleteRequested.connect(self.delete_person_dialog)
        fp = self.fill_panel
        fp.fillRequested.connect(self.start_fill)
        fp.cancelRequested.connect(self.cancel_fill)
        fp.methodChanged.connect(self._method_changed)
        fp.tuneChanged.connect(self._tune_changed)
        fp.strideChanged.connect(self._stride_changed)
        fp.promoteRequested.connect(lambda: self._edit(lambda ed: ed.promote()))
        fp.reviewRequested.connect(lambda: self._edit(lambda ed: ed.to_review()))
        f = self.files
        f.opened.connect(self._show_opened)
        f.imported.connect(self._show_imported)
        f.exported.connect(self._show_exported)
        f.failure.connect(self.error)
        f.status.connect(lambda text, ms: self.statusBar().showMessage(text, ms) if text
                         else self.statusBar().clearMessage())
        f.openFailed.connect(self.openFailed)
        f.importFailed.connect(self.importFailed)
        f.exportFailed.connect(self.exportFailed)

    # --- opening and closing --------------------------------------------------------------
    def _dialog_start(self) -> str:
        """Where the Open and Import dialogs start: the open project's folder (project_folder),
        else home (a trial's dialogs started in the folder the app was run from)."""
        return str(project_folder(self.store.path) if self.store is not None else Path.home())

    def open_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Open video, annotation file or project", self._dialog_start(),
                                              MEDIA_FILTER)
        if not path and QMessageBox.question(self, "Open", "Open an image folder instead?") == QMessageBox.Yes:
            path = QFileDialog.getExistingDirectory(self, "Open image folder", self._dialog_start())
        if path:
            self.open_path(path, ask_where=True)

    def open_folder_dialog(self) -> None:
        """A folder of frame images, picked as a folder (in the file dialog it looks empty: a trial
        found it only through Cancel and the question after it)."""
        path = QFileDialog.getExistingDirectory(self, "Open image folder", self._dialog_start())
        if path:
            self.open_path(path, ask_where=True)

    def open_path(self, path, project_path=None, ask_where: bool = False) -> bool:
        """Open a project, or make one for a video / image folder / annotation file, on a worker
        thread (opening a video indexes the whole file). Returns False if nothing was started;
        `projectOpened` or `openFailed` follows otherwise. On failure the current project stays
        open and nothing is changed.

        With `ask_where`, a new project's file is the user's to place (Save as, in the folder
        they chose last, or beside the input); an annotation file is read and checked first,
        so a broken one is refused before anything is asked."""
        path = Path(path)
        new = (ask_where and path.suffix != ".pwproj" and project_path is None
               and not opening.default_project_path(path).exists())
        if not new:
            if self._is_open(opening.project_target(path, project_path)):
                return True
            return self.files.open(path, project_path)
        if path.suffix.lower() in opening.ANNOTATION_SUFFIXES:
            return self.files.check(path, lambda checked: self._open_new(path, checked))
        if not path.is_dir():  # not a video: say so before asking where its project goes
            try:
                check_video_file(path)
            except VideoError as exc:
                self.error("Could not open", str(exc))
                self.openFailed.emit(str(exc))
                return False
        return self._open_new(path, None)

    def _open_new(self, path: Path, checked) -> bool:
        """Ask where the new project for `path` goes, then make it there."""
        default = opening.default_project_path(path)
        last = QSettings().value("projects/folder", "", type=str)
        if opening.writable_folder(default.parent) and last:
            default = Path(last) / default.name  # beside the input is read-only: the folder used last
        chosen, _ = QFileDialog.getSaveFileName(self, f"New project for {path.name}: save as", str(default),
                                                "Projects (*.pwproj)")
        if not chosen:
            return False
        target = Path(chosen if chosen.endswith(".pwproj") else chosen + ".pwproj")
        why = opening.writable_folder(target.parent)
        if why:
            self.error("Could not open", why)
            self.openFailed.emit(why)
            return False
        QSettings().setValue("projects/folder", str(target.parent))
        if self._is_open(target):
            return True
        return self.files.open(path, target, checked)

    def save(self) -> None:
        """Ctrl+S from habit: every edit is on disk already; the .pwproj file is made whole now
        instead of a moment later (checkpointer.py), and the status bar says so."""
        if self.store is None:
            self.statusBar().showMessage("No project open: nothing to save.", 4000)
            return
        whole = self.session.checkpointer.now()
        self.statusBar().showMessage(f"Every edit is saved as you make it, in {self.store.path}"
                                     + ("" if whole else " (its journal file is merged into it in a moment)"), 6000)

    def open_demo(self) -> bool:
        from .demo import default_demo_path

        if self._is_open(default_demo_path()):
            return True
        return self.files.open_demo()

    def _is_open(self, project) -> bool:
        return self.store is not None and Path(project).resolve() == Path(self.store.path).resolve()

    def cancel_open(self) -> None:
        """Cancel the open, import or export running (its busy dialog's Cancel)."""
        self.files.cancel()

    def _show_opened(self, opened) -> None:
        self.close_project()
        self.set_store(opened.store, opened.frames)
        if opened.frames_error:
            self.error("Cannot read the frames", f"{opened.frames_error}\n\nThe labels are shown on a blank frame.")
        if opened.note:
            self.statusBar().showMessage(opened.note, 30000)
        self.projectOpened.emit(str(opened.store.path))
        if self.files.pending_imports:  # the other files of a multi-file import that opened a project
            rest, self.files.pending_imports = self.files.pending_imports, []
            QTimer.singleShot(0, lambda: self.import_files(rest))

    def set_store(self, store, frames=None) -> None:
        """Show an open project; `frames` are its first video's frames, opened already."""
        self.store = store
        self.session = Session(store, self)
        if self.session.video is None:
            self.error("Empty project", f"{store.path} holds no video: import one (File menu).")
        self.editor = Editor(self.session, self)
        self.canvas.layer.skeleton = self.session.skeleton
        if self.joints_panel.skeleton.joints != self.session.skeleton.joints:
            self.joints_panel.deleteLater()
            self.joints_panel = JointsPanel(self.session.skeleton)
            self.joints_panel.jointActivated.connect(self._joint_activated)
            self.joints_dock.setWidget(self.joints_panel)
            self._fit_side_bar()
        self.joints_panel.set_order(self.editor.order)
        self.runner = FillRunner(self.editor, functools.partial(open_frames, base_dir=store.base_dir), self)
        self.runner.method = self.fill_panel.method.currentText()
        self.runner.tune = self.fill_panel.tune.isChecked()
        self.runner.started.connect(lambda what: self.fill_panel.set_running(True, f"Filling {what}…"))
        self.runner.progress.connect(self.fill_panel.set_progress)
        self.runner.setupProgress.connect(self.fill_panel.set_setup_progress)
        self.runner.finished.connect(self._fill_finished)
        # the panel tells of this project's fills only (a trial saw another project's "undone")
        self._fill_text, self._fill_state = "", None
        self.fill_panel.set_running(False, "")
        ed = self.editor
        ed.frameChanged.connect(self._show_frame)
        ed.selectionChanged.connect(self._selection_changed)
        ed.message.connect(lambda m: self.statusBar().showMessage(m, 8000))
        ed.jointPlaced.connect(self._joint_placed)
        ed.undo_group.indexChanged.connect(self._history_changed)
        ed.undo_group.undoTextChanged.connect(lambda t: self.actions["undo"].setText(f"&Undo {t}" if t else "&Undo"))
        ed.undo_group.redoTextChanged.connect(lambda t: self.actions["redo"].setText(f"&Redo {t}" if t else "&Redo"))
        # as this project's history stands (a trial's Edit menu offered the last project's redo)
        self.actions["undo"].setText(f"&Undo {ed.undo_group.undoText()}".rstrip())
        self.actions["redo"].setText(f"&Redo {ed.undo_group.redoText()}".rstrip())
        self.session.posesChanged.connect(self._poses_changed)
        self.session.tracksChanged.connect(self._tracks_changed)
        self.session.videoChanged.connect(self._video_changed)
        self.session.videoRemoved.connect(lambda _: self._refresh_videos())
        self.session.videoAdded.connect(lambda _: self._refresh_videos())
        self._remember_recent(store.path)
        if frames is not None and self.session.video is not None:
            self._frames_video_id = self.session.video_id
            self._attach_frames(frames)
        self.suggestions.attach()
        self._video_changed()
        self._restore_view(viewstate.load(store))

    def _restore_view(self, state) -> None:
        """Back where the user left the project: video, frame, person, zoom and view centre."""
        if state is None or self.session.video is None:
            return
        ed = self.editor
        ed.left_at.update(state.left_at)
        if state.video_id != self.session.video_id and state.video_id in self.store.project.videos:
            self.select_video(state.video_id)
        if self.session.video_id == state.video_id:
            ed.seek(state.frame)
            if state.track in ed.video.tracks:
                ed.select_track(state.track)
            self.canvas.fit()
            self.canvas.zoom(state.zoom)
            if state.centre is not None:
                self.canvas.centerOn(*state.centre)
        if ed.frame or len(self.store.project.videos) > 1:
            self.statusBar().showMessage(f"Back where you left off: {video_label(self.session.video)}, "
                                         f"frame {ed.frame}.", 6000)

    def save_view(self) -> None:
        """Keep where the user is in the project file (reopening lands there)."""
        self.view_timer.stop()
        if self.session is None or self.session.video is None:
            return
        ed, vp = self.editor, self.canvas.viewport()
        centre = self.canvas.mapToScene(vp.width() // 2, vp.height() // 2)
        viewstate.save(self.store, viewstate.ViewState(
            self.session.video_id, ed.frame, {k: v for k, v in ed.left_at.items() if k != self.session.video_id},
            ed.track, self.canvas.zoom_level(), (round(centre.x(), 1), round(centre.y(), 1))))

    def _video_changed(self) -> None:
        self._refresh_videos()
        video = self.session.video
        if video is None:
            self._drop_frames()
            self._set_enabled(False)
            return
        if self._frames_video_id != self.session.video_id:
            self._open_frames_of(video)  # another video: its frames open in the background
        elif self.loader is not None:
            self.loader.stride = video.keyframe_stride
        self.setWindowTitle(f"{video.name or Path(video.source).name} — {Path(self.store.path).name} — "
                            "PoseWarper Annotate")
        self.frame_spin.blockSignals(True)
        self.frame_spin.setRange(0, video.num_frames - 1)
        self.frame_spin.blockSignals(False)
        self.frame_count.setText(f"/ {video.num_frames - 1}")
        self.fill_panel.stride.blockSignals(True)
        self.fill_panel.stride.setValue(video.keyframe_stride)
        self.fill_panel.stride.blockSignals(False)
        view = (str(self.store.path), self.session.video_id)
        if view != self._view:  # another video: a blank frame until its first frame is decoded
            self._view = view
            self.canvas.set_frame(None, (video.width, video.height))
            self.canvas.fit()
            QTimer.singleShot(0, self._notice_interrupted_fill)  # once the video is on screen
        self._set_enabled(True)
        self._tracks_changed()
        self._refresh_timeline()
        self._show_frame(self.editor.frame)
        self._selection_changed()

    def select_video(self, video_id: int) -> bool:
        """Show another video of the project, at the frame it was left at; its frames open in the
        background. Not while auto-fill runs: its results are merged into the video on screen."""
        if self.session is None or video_id not in self.store.project.videos or video_id == self.session.video_id:
            return False
        if self.runner is not None and self.runner.running:
            self.statusBar().showMessage("Auto-fill is running on this video: wait for it, or cancel it (Esc), "
                                         "then switch videos.", 8000)
            self._refresh_videos()  # the box goes back to the video shown
            return False
        self.session.select_video(video_id)
        return True

    def step_video(self, sign: int) -> None:
        if self.session is None:
            return
        ids = sorted(self.store.project.videos)
        i = ids.index(self.session.video_id) + sign if self.session.video_id in ids else 0
        if 0 <= i < len(ids):
            self.select_video(ids[i])
        else:
            self.statusBar().showMessage(f"This is the {'last' if sign > 0 else 'first'} video of the project.", 4000)

    def remove_video_dialog(self) -> None:
        if self.session is None or self.session.video is None:
            return
        video = self.session.video
        done = video.labelling_progress()
        answer = QMessageBox.question(
            self, "Remove video",
            f"Remove video {video_label(video)} from the project, with its "
            f"{video.pose_count()} poses ({done.keyframes} keyframes) on {done.frames_with_poses} frames?\n\n"
            "Edit → Undo (in the video shown next) puts it back while this window is open.",
            QMessageBox.Yes | QMessageBox.Cancel, QMessageBox.Cancel)
        if answer == QMessageBox.Yes:
            self._guard(lambda: self.remove_video(video.video_id))

    def remove_video(self, video_id: int) -> bool:
        """Take a video out of the project, as an undoable step: the shown one gives way to its
        neighbour first (the step belongs to the neighbour's history). Not the project's only
        video, and not while auto-fill runs."""
        if self.session is None or video_id not in self.store.project.videos:
            return False
        ids = sorted(self.store.project.videos)
        if len(ids) < 2:
            self.statusBar().showMessage("A project keeps at least one video.", 6000)
            return False
        if self.runner is not None and self.runner.running:
            self.statusBar().showMessage("Auto-fill is running: wait for it, or cancel it (Esc), then remove the "
                                         "video.", 8000)
            return False
        if video_id == self.session.video_id:
            i = ids.index(video_id)
            self.select_video(ids[i + 1] if i + 1 < len(ids) else ids[i - 1])
        self.editor.remove_video(video_id)
        self.statusBar().showMessage(f"Removed video {video_id}; {self.keys['undo']} brings it back.", 8000)
        return True

    def _refresh_videos(self) -> None:
        """The video box: every video of the project, the shown one selected."""
        videos = self.store.project.videos if self.store is not None else {}
        self.video_box.set_videos([videos[k] for k in sorted(videos)],
                                  self.session.video_id if self.session is not None else None)
        for widget in (self.video_label, self.video_box):
            widget.setVisible(len(videos) > 1)
        self.remove_video_action.setEnabled(self.session is not None and len(videos) > 1)

    def _open_frames_of(self, video) -> None:
        """Open the frames of `video` on a worker thread; the labels show on a blank frame meanwhile."""
        self._drop_frames()
        self._frames_video_id = video.video_id
        base_dir = self.store.base_dir
        job = OpenJob(lambda: open_frames(video, base_dir, max_cache_bytes=DECODER_CACHE_BYTES),
                      lambda frames: frames.close(), str(video.source), self)
        job.succeeded.connect(lambda: self._frames_opened(job, video.video_id))
        job.failed.connect(lambda message: self._frames_failed(job, message))
        self.files.track(job)
        self.frames_job = job
        job.start()

    def _frames_opened(self, job: OpenJob, video_id: int) -> None:
        frames = job.take()
        if frames is None:
            return
        if job is not self.frames_job or self.session is None or self.session.video_id != video_id:
            frames.close()  # the user moved on to another video or project
            return
        self.frames_job = None
        self._attach_frames(frames)
        self._show_frame(self.editor.frame)

    def _frames_failed(self, job: OpenJob, message: str) -> None:
        if job is self.frames_job:
            self.frames_job = None
            self.error("Cannot read the frames", f"{message}\n\nThe labels are shown on a blank frame.")

    def _attach_frames(self, frames) -> None:
        self.loader = FrameLoader(frames, parent=self)
        self.loader.stride = self.session.video.keyframe_stride
        self.loader.frameReady.connect(self._frame_ready)
        self.loader.failed.connect(lambda i, m: self.statusBar().showMessage(f"Frame {i}: {m}", 8000))
        self._start_proxy(self.loader)

    def _drop_frames(self) -> None:
        """Stop reading the current video's frames (and stop waiting for frames being opened)."""
        if self.frames_job is not None:
            self.frames_job.cancel()
            self.frames_job = None
        if self.loader is not None:
            self.loader.stop()
            self.loader = None
        self._frames_video_id = None

    def _start_proxy(self, loader: FrameLoader) -> None:
        """Seeks in a long-GOP video read a short-GOP copy once it is built (in the background)."""
        label = self.proxy_label
        label.setText("")
        loader.proxyProgress.connect(
            lambda done, total: label.setText(f"Preparing fast seeking {100 * done // total}%"))
        loader.proxyReady.connect(lambda path: (label.setText("Fast seeking"), label.setToolTip(path)))
        loader.proxyFailed.connect(lambda msg: (label.setText(""), self.statusBar().showMessage(
            f"Fast seeking is not available: {msg}", 8000)))
        loader.start_proxy()

    def close_project(self) -> None:
        self.suggestions.stop()
        if self.runner is not None and self.runner.running:
            self._guard(self.runner.abandon)
        if self.store is not None:
            self.save_view()
        self._drop_frames()
        if self.store is not None:
            for obj in (self.editor, self.session, self.runner):
                obj.deleteLater()
            self.store.close()
        self.store = self.session = self.editor = self.runner = None
        self._view = None
        self._refresh_videos()
        self.canvas.clear()
        self.joints_panel.show_pose(None, None)
        self._set_enabled(False)

    def closeEvent(self, event) -> None:
        QSettings().setValue("window/geometry", self.saveGeometry())
        self.cancel_open()
        # A thread must not outlive the window (indexing ends within seconds), and a cancelled
        # import takes its videos out of the project before the project closes.
        self.files.wait_all()
        self.close_project()
        super().closeEvent(event)

    def _remember_recent(self, path) -> None:
        settings = QSettings()
        recent = [p for p in (settings.value("recent") or []) if p != str(path)]
        settings.setValue("recent", [str(path)] + recent[: MAX_RECENT - 1])

    def _fill_recent(self) -> None:
        self.recent_menu.clear()
        for p in QSettings().value("recent") or []:
            self.recent_menu.addAction(p, lambda p=p: self.open_path(p))
        if self.recent_menu.isEmpty():
            self.recent_menu.addAction("(none yet)").setEnabled(False)

    # --- import / export ------------------------------------------------------------------
    def import_dialog(self) -> None:
        # the files to import are mostly exports: from where the last one went (export_folder)
        start = str(export_folder(self.store.path)) if self.store is not None else self._dialog_start()
        paths, _ = QFileDialog.getOpenFileNames(self, "Import PoseTrack18 / COCO files", start, "JSON (*.json)")
        if paths:
            self.import_files(paths)

    def import_file(self, path) -> bool:
        return self.import_files([path])

    def import_files(self, paths) -> bool:
        """Add the videos of annotation files to the open project, all or none (with no project
        open, the first file opens as a new one and the others follow), on a worker thread
        (projectfiles.py); `imported` or `importFailed` follows. Returns False if nothing was
        started."""
        paths = [Path(p) for p in paths]
        if self.store is None:
            started = self.open_path(paths[0])
            self.files.pending_imports = paths[1:] if started else []
            return started
        return self.files.import_into(self.store, paths)

    def _show_imported(self, what: str, ids: list[int], poses: int) -> None:
        if self.session is None:
            return
        self._refresh_videos()
        shown = self.select_video(ids[0])
        notes = []
        for new, olds in opening.same_frames(self.store, ids).items():
            for old in olds:
                if old not in self.store.project.videos:
                    continue  # the empty video another file of this import took the place of
                video = self.store.project.videos[old]
                label = f"video {old}" + (f" ({video.name})" if video.name else "")
                # nothing of the annotator's in it: the labelled copy takes its place (undoable)
                empty = not video.tracks and not video.pose_count()
                if empty and shown and self.remove_video(old):
                    notes.append(f"The {label} showed the same frames with no labels: the imported one "
                                 f"takes its place ({self.keys['undo']} brings it back).")
                elif empty:
                    notes.append(f"The {label} shows the same frames with no labels: File → Remove video from "
                                 "project takes it out.")
                else:
                    notes.append(f"Video {new} shows the same frames as {label}, which has labels "
                                 "of its own: both are kept (File → Remove video from project takes one out).")
        n = len(ids)
        self.inform("Imported", f"{count_of(n, 'video')} with {poses} poses from {what}." + (
            "" if shown else "\n\nChoose it in the Video box under the frame once auto-fill ends.")
            + "".join("\n\n" + note for note in notes))
        self.imported.emit(len(ids))

    def export_dialog(self, fmt: str) -> None:
        if self.store is None:
            return
        # what to write, in one dialog (only when there is something to choose), then where
        chosen = exportchoice.ask(self, FORMAT_NAMES[fmt], self.session.video, list(self.store.project.videos.values()),
                                  coco=fmt == "coco", base_dir=self.store.base_dir)
        if chosen is None:
            return
        every = chosen.every
        folder = export_folder(self.store.path)
        if every and fmt == "posetrack18":  # one file per video
            path = QFileDialog.getExistingDirectory(self, "Export PoseTrack18: a folder for one file per video",
                                                    str(folder))
        else:
            default = str(folder / Path(self.store.path).with_suffix(f".{fmt}.json").name)
            path, _ = QFileDialog.getSaveFileName(self, f"Export {fmt}", default, "JSON (*.json)")
        if not path:
            return
        QSettings().setValue("export/folder", str(Path(path) if every and fmt == "posetrack18" else Path(path).parent))
        self.export(path, fmt, chosen.auto, all_videos=every, frames=chosen.frames, images=chosen.images)

    def export(self, path, fmt: str, include_auto: bool | str = True, all_videos: bool = False,
               frames: str | None = None, images: str = "with-poses") -> bool:
        """Export the video shown (or all) on a worker thread (projectfiles.py), its auto-filled
        poses all, "reviewed" or "none" (`include_auto`, as in formats.prepare_export); with `frames`
        ("labelled" | "all") the frames are written as JPEG files too, where the JSON names them;
        `images` ("with-poses" | "all"): which frames a COCO file lists.
        `exported` (the summary) or `exportFailed` follows. Cancel writes nothing. Returns False
        if nothing was started."""
        if self.store is None:
            return False
        video_ids = None if all_videos else [self.session.video_id]
        return self.files.export(self.store.path, path, fmt, video_ids, include_auto, frames, images)

    def _show_exported(self, path: str, summary: dict) -> None:
        self.inform("Exported", describe_export(summary))
        self.exported.emit(summary)

    # --- auto-fill ------------------------------------------------------------------------
    def start_fill(self, scope: str) -> None:
        if self.runner is not None:
            self.runner.start(scope)

    def cancel_fill(self) -> None:
        if self.runner is not None and self.runner.running:
            self.runner.cancel()
            self.fill_panel.state.setText("Cancelling…")

    def _fill_finished(self, status: str, message: str) -> None:
        self._fill_text = f"Auto-fill {status}: {message}"
        self._fill_state = (self.runner.last_fill_state(), self.runner.redos_to_last_fill())
        self.fill_panel.set_running(False, self._fill_text)
        if status == "failed":
            self.error("Auto-fill failed", message)

    def _notice_interrupted_fill(self) -> None:
        """A fill of this video that started and never ended (the app was killed): say so, and
        offer to run it again on the same people and frames."""
        if self.session is None or self.session.video is None or (self.runner and self.runner.running):
            return
        rec = fillrecord.interrupted(self.store.notes, self.session.video_id)
        if rec is None:
            return
        text = fillrecord.describe(self.session.video, rec)
        self.fill_panel.state.setText("Last auto-fill interrupted: finish it?")
        self.statusBar().showMessage(text[0].upper() + text[1:], 30000)
        box = QMessageBox(QMessageBox.Warning, "Auto-fill was interrupted", text[0].upper() + text[1:] + ".",
                          QMessageBox.NoButton, self)
        box.setObjectName("interruptedFillNotice")
        finish = box.addButton("Finish it", QMessageBox.AcceptRole)
        box.addButton("Not now", QMessageBox.RejectRole)
        box.setAttribute(Qt.WA_DeleteOnClose)
        box.buttonClicked.connect(lambda b: self.finish_interrupted_fill(rec) if b is finish else None)
        box.setWindowModality(Qt.NonModal)  # not blocking: the window works meanwhile
        box.show()
        self.fill_notice = box

    def finish_interrupted_fill(self, rec: dict) -> bool:
        """Run the interrupted fill on, with its method and people, over the frames it had left
        (fillrecord.left_to_fill; joints placed by hand are never overwritten)."""
        if self.runner is None or rec.get("method") not in autofill.available_methods():
            return False
        self.fill_panel.method.setCurrentText(rec["method"])
        left = fillrecord.left_to_fill(rec, self.session.video.num_frames)
        return self.runner.start("frames", rec.get("tracks"), left)

    def _method_changed(self, method: str) -> None:
        if self.runner is not None:
            self.runner.method = method

    def _tune_changed(self, on: bool) -> None:
        QSettings().setValue("autofill/tune", on)
        if self.runner is not None:
            self.runner.tune = on

    def _stride_changed(self, k: int) -> None:
        if self.session is not None:
            self._guard(lambda: self.session.set_keyframe_stride(k))
            if self.loader is not None:
                self.loader.stride = k

    # --- views ----------------------------------------------------------------------------
    def _show_frame(self, frame: int) -> None:
        video = self.session.video
        image = self.loader.request(frame) if self.loader is not None else None
        if image is not None or self.loader is None:
            self.canvas.set_frame(image, (video.width, video.height))
        self.canvas.show_placed(None)  # that label belonged to the frame left
        self._update_onion()
        self.view_timer.start()
        if self.actions["follow_person"].isChecked():
            self.look_at_person()
        self.canvas.set_poses(self.editor.poses_here())
        self.timeline.set_current(frame)
        self.frame_spin.blockSignals(True)
        self.frame_spin.setValue(frame)
        self.frame_spin.blockSignals(False)
        # (The editor announced the selection for this frame just before: panels are up to date.)

    def _frame_ready(self, frame: int, image) -> None:
        if self.sender() is not self.loader:  # a frame of the video shown before, arriving late
            return
        if self.editor is not None and frame == self.editor.frame:
            video = self.session.video
            self.canvas.set_frame(image, (video.width, video.height))

    def _poses_changed(self, frames) -> None:
        if not frames or self.editor.frame in frames:
            self.canvas.set_poses(self.editor.poses_here())
            self._tracks_changed()
        if self.actions["onion_skin"].isChecked():
            self._update_onion()
        self.status_timer.start()

    def _refresh_timeline(self) -> None:
        session = self.session
        if session is None or session.video is None:
            return
        video = session.video
        track = self.editor.track if self.editor is not None else None
        suggested = session.suggested_pose()
        frame = suggested[0] if suggested else None
        if track is None or track not in video.tracks:  # nobody selected: every pose's marks
            self.timeline.set_status(session.frame_status(), video.keyframe_stride)
            self.timeline.set_review_marks(session.review_state()[1], frame)
        else:  # the selected person's marks, the others' apart (timeline.py)
            marks = session.person_marks(track)
            others = marks.others if len(video.tracks) > 1 else None
            self.timeline.set_status(marks.status, video.keyframe_stride, others, person=self.editor.person_name(track),
                                     absent=marks.absent, others_absent=marks.others_absent,
                                     colour=track_colour(track))
            self.timeline.set_review_marks(marks.reviewed, frame, marks.others_reviewed,
                                           suggested_is_selected=suggested is not None and suggested[1] == track)
        self.video_box.update_video(video)  # its counts follow the edits

    def _tracks_changed(self) -> None:
        ed = self.editor
        self.tracks_panel.set_tracks(ed.video.tracks, _present(ed.poses_here()), ed.track)

    def _selection_changed(self) -> None:
        ed = self.editor
        if ed.track != self.timeline_track:  # the timeline shows the selected person's marks
            self.timeline_track = ed.track
            self._refresh_timeline()
        self.canvas.set_selected(ed.track, ed.cursor)
        self.view_timer.start()
        if ed.track != self._followed and self.actions["follow_person"].isChecked():
            self.look_at_person()  # another person selected: go to them (not on each joint placed)
        pose = ed.pose()
        self.joints_panel.show_pose(pose, ed.cursor if ed.track is not None else None)
        self.tracks_panel.set_tracks(ed.video.tracks, _present(ed.poses_here()), ed.track)
        if ed.track is None:
            hint = "Add a person (Ctrl+N) to start labelling" if not ed.video.tracks else "Select a person (Tab)"
        elif pose is not None and (n := int((pose.provenance == Provenance.SUGGESTED).sum())):
            if ed.cursor is not None:  # say what a click does: re-place a suggested joint, or place one
                suggested = pose.labelled()[ed.cursor] and pose.provenance[ed.cursor] == Provenance.SUGGESTED
                verb = "re-places" if suggested else "places"
                hint = (f"Person {ed.track}: {n} suggested joints · click {verb} {ed.next_joint_name()} "
                        "· S: the next · A accepts them")
            else:
                hint = f"Person {ed.track}: {n} suggested joints · A accepts them · drag one to correct it"
        elif pose is not None and pose.is_absent_mark():
            hint = f"Person {ed.track}: not in view here (X marked it) · click to label them here"
        elif ed.cursor is None:
            hint = f"Person {ed.track}: all joints placed · drag to correct"
        else:
            place = f" ({ed.order.index(ed.cursor) + 1} of {len(ed.order)})" if ed.cursor in ed.order else ""
            hint = (f"Person {ed.track} · next: {ed.next_joint_name()}{place}   "
                    "(click: visible · right-click: occluded · S: skip)")
        self.canvas.set_overlay(hint)
        # A click places the next joint, even on an old one (a drag moves that), while there is
        # one to place for the selected person (or no person yet: the click adds one).
        self.canvas.placing = ed.cursor is not None and (ed.track is not None or not ed.video.tracks)
        v = ed.video
        slot = " · keyframe slot" if navigation.is_slot(ed.frame, v.num_frames, v.keyframe_stride) else ""
        self.frame_label.setText(f"Frame {ed.frame} / {v.num_frames - 1}{slot}")

    def _make_room(self, message: str) -> None:
        """A message too long to show beside the frame number and the saved mark hides them while
        it shows (trials saw long messages cut off at 1366 px); they come back when it goes."""
        bar = self.statusBar()
        labels = (self.proxy_label, self.saved_label, self.frame_label)
        beside = sum(label.sizeHint().width() + 12 for label in labels)
        fits = bar.fontMetrics().horizontalAdvance(message) + 24 <= bar.width() - beside
        for label in labels:
            label.setVisible(not message or fits)

    def look_at_person(self, fit: bool = False, box=None, only_if_hidden: bool = False) -> None:
        """Centre the view on the selected person here (or where they are in the nearest frame
        with their pose), or on `box`; with `fit`, zoom to them. With `only_if_hidden` the view
        moves only when the box is not wholly in it, and says nothing when there is no pose."""
        ed = self.editor
        if ed is None or ed.track is None:
            return
        box = box or navigation.person_box(ed.video, ed.track, ed.frame)
        if box is None:
            if not only_if_hidden:
                self.statusBar().showMessage(f"Person {ed.track} has no pose yet to look at.", 4000)
            return
        if only_if_hidden and self.canvas.shows(_within(box, ed.video.width, ed.video.height)):
            return  # (the part in the picture: a person at its edge would pan a fitted view off it)
        self.canvas.look_at(box, fit=fit)
        self._followed = ed.track

    def _set_marker_scale(self, scale: float) -> None:
        scale = min(max(scale, 0.5), 4.0)
        self.canvas.set_marker_scale(scale)
        QSettings().setValue("view/marker_scale", scale)
        self.statusBar().showMessage(f"Joint markers at {scale:.2f} x the default size", 3000)

    def _view_options_changed(self) -> None:
        for action_id in ("joint_names", "onion_skin"):
            QSettings().setValue(f"view/{action_id}", self.actions[action_id].isChecked())
        self.canvas.set_show_names(self.actions["joint_names"].isChecked())
        self._update_onion()

    def _update_onion(self) -> None:
        """The poses of each person's keyframes just before and after this frame, drawn faint."""
        ed = self.editor
        if ed is None or not self.actions["onion_skin"].isChecked():
            self.canvas.set_onion([])
            return
        self.canvas.set_onion([(tid, f, ed.video.pose(f, tid)) for tid, f in self.session.neighbour_keyframes(ed.frame)],
                              ed.frame)

    def _follow_changed(self) -> None:
        on = self.actions["follow_person"].isChecked()
        QSettings().setValue("view/follow_person", on)
        if on:
            self.look_at_person()

    def _joint_placed(self, track: int, joint: int) -> None:
        name = self.session.skeleton.joints[joint]
        self.canvas.show_placed((track, joint))
        self.statusBar().showMessage(f"Placed {name} of person {track}", 4000)

    def _hover(self, hit) -> None:
        if self.editor is not None:
            self.editor.hover = hit

    def _history_changed(self, _index: int) -> None:
        if self.store is None:
            return
        self.saved_label.setText("✓ saved")
        self.saved_label.setToolTip(f"Every edit is written to {self.store.path} at once")
        self._show_fill_standing()

    def _show_fill_standing(self) -> None:
        """The fill panel's "Auto-fill done: N poses" only while those poses are there: undoing
        the fill says so, a redo brings the text back. Only a change of the fill's standing
        touches the panel (its other texts stay)."""
        if self.runner is None or self.runner.running:
            return
        state = self.runner.last_fill_state()
        # how many redos: a trial's panel said one would do, with a step before the fill undone too
        redos = self.runner.redos_to_last_fill()
        if state is None or (state, redos) == self._fill_state:
            return
        self._fill_state = (state, redos)
        times = f" {redos} times" if redos > 1 else ""
        text = {"applied": self._fill_text,
                "undone": f"The last auto-fill was undone ({self.keys['redo']}{times} brings it back).",
                "gone": "The last auto-fill was undone."}[state]
        self.fill_panel.set_running(False, text)

    def _set_enabled(self, on: bool) -> None:
        for action_id, action in self.actions.items():
            if action_id not in ("open", "open_folder", "quit", "shortcuts"):
                action.setEnabled(on)
        for a in self.export_actions + [self.click_order_action]:
            a.setEnabled(on)
        self.fill_panel.setEnabled(on)
        self.tracks_panel.setEnabled(on)
        self.joints_panel.setEnabled(on)
        self.timeline.setEnabled(on)

    # --- dialogs and small handlers ---------------------------------------------------------
    def _place(self, x: float, y: float, visibility: int) -> None:
        if self.session is None:  # a trial clicked the empty window and got an AttributeError box
            self.statusBar().showMessage("Open a video, image folder or project first (File > Open…, or File > "
                                         "Open demo project).", 6000)
            return
        if self.suggestions.take_click(x, y):
            return  # a pose template dropped there
        v = self.session.video
        if not (-2 <= x <= v.width + 2 and -2 <= y <= v.height + 2):
            self.statusBar().showMessage("Click inside the frame to place a joint.", 4000)
            return
        self.editor.place(min(max(x, 0.0), v.width - 1.0), min(max(y, 0.0), v.height - 1.0), visibility)

    def _accept(self) -> None:
        """A: the selected person's suggested joints here (suggestions.py), or else their filled
        pose as reviewed (editor.accept, which goes on to the next pose to review)."""
        if self.suggestions.has_suggested():
            self.suggestions.accept(everyone=False)
        else:
            self._shown(lambda ed: ed.accept())()

    def _shown(self, call, joint: bool = False):
        """An action's handler that runs call(editor) and, when it went to another pose, brings
        that pose (with `joint`, its cursor joint: J's suspect label) into view where it is not
        wholly in it (a trial zoomed in on one person and pressed R: the next pose to review lay
        outside the view). A press that goes nowhere (A asking first) leaves the view alone."""
        def run():
            ed = self.editor
            was = None if ed is None else (ed.video.video_id, ed.frame, ed.track, ed.cursor)
            self._edit(call)
            ed = self.editor
            if ed is None or ed.track is None or (ed.video.video_id, ed.frame, ed.track, ed.cursor) == was:
                return
            pose = ed.pose()
            box = None
            if joint and pose is not None and ed.cursor is not None and pose.labelled()[ed.cursor]:
                x, y = pose.xy[ed.cursor]
                box = (x, y, x, y)
            self.look_at_person(box=box, only_if_hidden=True)
        return run

    def resizeEvent(self, event):
        super().resizeEvent(event)
        self._make_room(self.statusBar().currentMessage())  # the room beside a long message changed

    def _undo(self, redo: bool) -> None:
        if self.editor is None:
            return
        if self.runner is not None and self.runner.running:  # undo must not race the batches
            self.runner.cancel()
            self.runner.wait()
            QTimer.singleShot(0, lambda: self._undo(redo))
            return
        stack = self.editor.undo_stack
        if not (stack.canRedo() if redo else stack.canUndo()):
            self.statusBar().showMessage(f"Nothing to {'redo' if redo else 'undo'}", 4000)
            return
        command = stack.command(stack.index() if redo else stack.index() - 1)
        text = command.text()
        (stack.redo if redo else stack.undo)()
        frame = shown_frame(command)
        if frame is not None:  # show where it happened
            if self.editor.frame != frame:
                self.editor.seek(frame)
            if f"frame {frame}" not in text:
                text += f" (frame {frame})"
        self.statusBar().showMessage(f"{'Redid' if redo else 'Undid'}: {text}", 6000)

    def toggle_play(self) -> None:
        if self.editor is None:
            return
        if self.play_timer.isActive():
            self.play_timer.stop()
            self.play_button.setText("Play")
        else:
            fps = self.session.video.fps or 25.0
            self.play_timer.start(int(1000 / min(max(fps, 1.0), 60.0)))
            self.play_button.setText("Pause")

    def _play_tick(self) -> None:
        ed = self.editor
        if ed is None or ed.frame >= ed.video.num_frames - 1:
            self.toggle_play()
            return
        ed.step(1)

    def goto_dialog(self) -> None:
        if self.editor is None:
            return
        f, ok = QInputDialog.getInt(self, "Go to frame", "Frame number:", self.editor.frame, 0,
                                    self.session.video.num_frames - 1)
        if ok:
            self.editor.seek(f)

    def delete_person_dialog(self) -> None:
        ed = self.editor
        if ed is None or ed.track is None:
            return
        frames = ed.video.track_frames(ed.track)
        marks = sum(ed.video.pose(f, ed.track).is_absent_mark() for f in frames)  # not poses (a trial)
        n = len(frames) - marks
        poses = f"their {n} poses" if n != 1 else "their one pose"
        if marks:
            poses += f" and {count_of(marks, 'not-in-view mark')}"
        if QMessageBox.question(self, "Delete person", f"Delete {ed.person_name(ed.track)} and {poses}? "
                                "(Undo brings them back.)") == QMessageBox.Yes:
            self._guard(lambda: ed.delete_person(ed.track))

    def change_track_dialog(self) -> None:
        ed = self.editor
        if ed is None or ed.track is None:
            return
        ids = [str(t) for t in sorted(ed.video.tracks) if t != ed.track]
        new_id = str(max(ed.video.tracks, default=0) + 1)
        choice, ok = QInputDialog.getItem(
            self, "Change person id", f"Give person {ed.track}'s poses to id (an existing id swaps the two):",
            ids + [f"{new_id} (new)"], 0, True)
        if not ok:
            return
        try:
            dst = int(choice.split()[0])
        except (ValueError, IndexError):
            self.error("Change person id", f"{choice!r} is not a number")
            return
        scope, ok = QInputDialog.getItem(self, "Change person id", "Where:", ["From here on", "This frame only"],
                                         0, False)
        if ok:
            self._guard(lambda: ed.change_track(ed.track, dst, scope == "From here on"))

    def click_order_dialog(self) -> clickorder.ClickOrderDialog | None:
        """Set which joints clicks place, in what order, for this project (window-modal; the
        Joints table and the next joint follow on OK)."""
        if self.editor is None:
            return None
        dialog = clickorder.ClickOrderDialog(self.session.skeleton, self.editor.order, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)

        def accepted():
            self._guard(lambda: self.editor.set_click_order(dialog.order()))
            self.joints_panel.set_order(self.editor.order)

        dialog.accepted.connect(accepted)
        dialog.open()
        return dialog

    def fill_range_dialog(self):
        """Auto-fill the frames from..to (everyone, or the selected person), as `posewarper fill
        --frames` does. Window-modal; the fill starts on OK."""
        if self.editor is None:
            return None
        from .fillpanel import FillRangeDialog

        ed = self.editor
        lo, hi = navigation.gap_around(ed.video.gap_keyframes(ed.track) if ed.track is not None else [], ed.frame,
                                       ed.video.num_frames)
        dialog = FillRangeDialog(ed.video.num_frames, lo, hi, ed.track, self)
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self.runner.start(
            "frames", [ed.track] if dialog.person_only.isChecked() and ed.track is not None else None,
            (dialog.first.value(), dialog.last.value())))
        dialog.open()
        return dialog

    def delete_range_dialog(self):
        """Delete the poses of frames first..last (everyone, or the selected person), keeping the
        keyframe slots if asked: thinning dense labels to keyframes, or clearing a bad stretch, in
        one undoable step (a trial pressed Del 144 times). Window-modal; deletes on OK."""
        if self.editor is None:
            return None
        from PySide6.QtWidgets import QCheckBox

        from .fillpanel import FillRangeDialog

        ed = self.editor
        dialog = FillRangeDialog(ed.video.num_frames, ed.frame, ed.video.num_frames - 1, ed.track, self,
                                 title="Delete poses in a frame range", ok="Delete")
        k = max(1, ed.video.keyframe_stride)
        dialog.keep_slots = QCheckBox(f"Keep the keyframe slots (frames 0, {k}, {2 * k}, … and the last)")
        dialog.layout().insertRow(3, dialog.keep_slots)
        dialog.person_only.setChecked(ed.track is not None)  # deleting: the narrower choice first
        dialog.setAttribute(Qt.WA_DeleteOnClose)
        dialog.accepted.connect(lambda: self._guard(lambda: ed.delete_range(
            dialog.first.value(), dialog.last.value(),
            [ed.track] if dialog.person_only.isChecked() and ed.track is not None else None,
            dialog.keep_slots.isChecked())))
        dialog.open()
        return dialog

    def shortcuts_dialog(self) -> None:
        dialog = shortcuts.ShortcutsDialog(self.keys, self)
        if dialog.exec():
            self.keys = dialog.keys
            shortcuts.save(self.keys)
            for action_id, action in self.actions.items():
                action.setShortcut(QKeySequence(self.keys[action_id]))

    def inform(self, title: str, text: str) -> None:
        """A summary for the user: in a box, and its first line in the status bar."""
        self.statusBar().showMessage(f"{title}: {text.splitlines()[0]}", 8000)
        if not getattr(self, "quiet", False):
            QMessageBox.information(self, title, text)
        self.last_info = text

    def error(self, title: str, text: str) -> None:
        self.statusBar().showMessage(f"{title}: {text}", 10000)
        if not getattr(self, "quiet", False):
            QMessageBox.warning(self, title, text)
        self.last_error = text

    def _edit(self, call) -> None:
        """Run call(editor) as a user action, if a project is open."""
        if self.editor is not None:
            self._guard(lambda: call(self.editor))

    def _on_editor(self, call):
        """An action's handler that runs call(editor) (see _edit)."""
        return lambda: self._edit(call)

    def _guard(self, fn) -> None:
        """Run a user action; a refused edit is reported, never fatal."""
        try:
            fn()
        except PoseWarperError as exc:
            self.error("Not done", str(exc))


def _present(poses: dict) -> set:
    """The people with a pose here, less those marked not in view (the People list's "Here")."""
    return {t for t, p in poses.items() if not p.is_absent_mark()}


def export_folder(project_path) -> Path:
    """Where the export file dialog starts: the folder of the last export, where it still exists;
    else project_folder."""
    last = QSettings().value("export/folder", "", type=str)
    if last and Path(last).is_dir():
        return Path(last)
    return project_folder(project_path)


def project_folder(project_path) -> Path:
    """The project's folder for a file dialog to start in, unless that is the app's data folder
    (the demo's, hidden under ~/.local/share: a trial's first export dialog opened there), then
    the user's home."""
    from .demo import default_demo_path

    folder = Path(project_path).parent
    if folder.resolve() == default_demo_path().parent.resolve() and Path.home().is_dir():
        return Path.home()
    return folder


def _within(box, width: int, height: int):
    """The image box (x0, y0, x1, y1) clipped to the picture (as it is when its size is unknown)."""
    if not width or not height:
        return box
    x0, y0, x1, y1 = box
    return (min(max(x0, 0.0), width), min(max(y0, 0.0), height), min(max(x1, 0.0), width), min(max(y1, 0.0), height))
