"""Keyframe suggestions in the window: ask for a suggested pose (one person or the whole frame),
have one appear when a new keyframe is started (an option), accept it (per person or per frame),
or drop a pose template at a click. A thin layer over posewarper_core.suggest.

A suggestion takes a few tenths of a second per person (the flow chain from the previous
keyframe and the pose model), so it is computed on a worker thread from a snapshot of the video;
the result is applied on the UI thread as one undoable step, and only if the user is still on
that frame of that video (a late result for a frame left is dropped, and the status bar says so).
Most of a suggestion's time is the flow chain from the keyframe (on the demo's 1768 x 994 frames
40-56 ms a frame pair here; the model 70-100 ms), so work is done ahead while the user looks at a
frame (after PREFETCH_MS there, at low priority, stopped as soon as the user asks for something
else or leaves the frame): the selected person's suggestion here is computed and kept (not
applied; the key then shows it at once); then, while no auto-fill runs (it has the cores), the
selected person's keyframes are shown to the pose model once (their offsets are learned from all
of them: on the demo's late frames that took 1.4-3.1 s on request), and everyone's flow chains
are extended from this frame's keyframe up to the next keyframe (at most a keyframe interval
ahead; once the user has asked for a suggestion or turned them on for new keyframes): the
annotator labels forward, so a suggestion on arrival at a later frame then needs only the model.
Kept work is used only while the keyframe it was carried from is unchanged.
When the chain has not reached the frame (a jump far from any keyframe looked at), a first
suggestion from the pose model alone on the crop of the pose as far as the chain got (quick, on
the frame as the window shows it, with the offsets from the keyframes the model has seen) is
drawn at once, and when the chain arrives the full suggestion replaces the quick joints the user
has not touched (_refine): one undo step when nothing was done in between, else a second one.
Suggested joints fill only joints not labelled yet (place_suggestion) and stay SUGGESTED, drawn
hollow and dashed, until accepted (A / Shift+A) or dragged (a drag makes that joint the user's).
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from PySide6.QtCore import QObject, QSettings, QThread, QTimer, Signal

from posewarper_core import correction
from posewarper_core.annotation import PoseChange, Provenance, Track, on_picture
from posewarper_core.suggest import (BlazePose, Suggester, accept, detect_people, new_person_among,
                                     place_suggestion, runtime_missing, template)
from posewarper_core.suggest.carry import chain_keyframe, pose_digest, source_keyframe

from . import edits
from .commands import PoseChangesCommand, RefinableCommand, RefineCommand, SetTrackCommand
from .fillrun import snapshot
from .panels import count_of
from .workers import rgb_of

SETTING = "suggest/on_new_keyframe"
PREFETCH_MS = 400  # on a frame this long (an annotator looking at it, not stepping through): compute ahead
KEEP = 8  # suggestions computed ahead that are kept (the frames just visited)


@dataclass
class Request:
    """What the user asked for: `track_ids` on `frame` of video `video_id` (None: detect people)."""

    video_id: int
    frame: int
    track_ids: list[int] | None
    video: object  # a snapshot (fillrun.snapshot) the worker reads
    started: float = field(default_factory=time.perf_counter)
    auto: bool = False  # asked by starting a new keyframe, not by a key
    ahead: bool = False  # computed ahead of the key (kept, not applied) unless asked for meanwhile
    keys: tuple = ()  # per track: what the suggestion depends on (_input_key)
    upto: int | None = None  # a job that only extends the track_ids' flow chains on to this frame
    cancelled: bool = False  # set from the UI thread: work ahead no longer wanted (checked per frame pair)
    quick: bool = False  # a quick first suggestion (the model alone) when the chain has not reached the frame
    image: object = None  # the frame (QImage) as the window shows it: the quick suggestion decodes nothing
    warm: bool = False  # a job that only runs the pose model on the person's keyframes (learn ahead)
    new_person: int | None = None  # a person without a keyframe: detect people, give them the one not labelled
    load: bool = False  # a job that only loads the pose model


@dataclass
class Result:
    request: Request
    poses: dict = field(default_factory=dict)  # track id -> suggested Pose
    detected: list = field(default_factory=list)  # poses of people found on a frame nobody is labelled in
    message: str = ""
    seconds: float = 0.0  # on the worker
    reached: dict = field(default_factory=dict)  # _chain_key -> last frame its flow chain reached
    cancelled: bool = False
    quick: bool = False  # a first suggestion from the model alone, the full one still to come


@dataclass
class _Quick:
    """A first suggestion drawn while its full one is computed: the undo step that drew it and, per
    person, the pose it left and which joints it added (what the full one may replace)."""

    request: Request
    command: object
    placed: dict  # track id -> Pose as the quick suggestion left it
    added: dict  # track id -> (J,) bool: joints the quick suggestion added


class _Engine:
    """The worker's state, used by one job at a time: the suggester and the video's frames."""

    def __init__(self, skeleton, open_frames, model=None):
        """`model`: the pose model loaded already (kept from the engine this one replaces), else
        a load job loads it."""
        self.skeleton, self.open_frames = skeleton, open_frames
        self.model = model  # the pose model, loaded once and shared by the videos' suggesters
        self.load_tried = model is not None  # a load job ran (once: a model file that fails is not tried on every frame)
        self.suggester = None
        self.video_id = None
        self.frames = None

    def run(self, req: Request, early=None) -> Result:
        """Run one job; `early(Result)` gets a quick first suggestion when the chain is not there yet."""
        if req.load:
            self.load_tried = True
            if self.model is None and runtime_missing() is None:
                self.model = BlazePose()
            return Result(req)
        self.use(req.video_id, req.video)
        t0 = time.perf_counter()
        out = Result(req)
        if req.cancelled:  # waited while the user left its frame
            out.cancelled = True
            return out
        stop = lambda: req.cancelled  # noqa: E731
        if req.warm:  # the model on every keyframe of the person, for their offsets (stoppable between keyframes)
            for tid in req.track_ids:
                learned = self.suggester.learn(req.video, self.frames, tid, req.video.num_frames, stop=stop)
                out.cancelled = learned is None
            return out
        if req.quick and req.track_ids and req.upto is None and not req.ahead and self.suggester.model is not None:
            self._quick(req, early)
        if req.track_ids is not None:  # the chains first, stoppable per frame pair (their progress is kept)
            start, upto = (req.frame, req.upto) if req.upto is not None else (req.frame - 1, req.frame)
            for tid in req.track_ids:
                got = self.suggester.extend_ahead(req.video, self.frames, tid, start, upto, stop)
                if got is not None:
                    out.reached[(req.video_id, tid) + got[:2]] = got[2]
            out.cancelled = req.cancelled
        if req.upto is not None or out.cancelled:
            pass  # chains only, or the work ahead was no longer wanted
        elif req.track_ids is None:
            out.detected, out.message = detect_people(self.suggester, self.frames, req.frame)
        else:
            notes = []
            for tid, s in self.suggester.suggest_frame(req.video, self.frames, req.frame, req.track_ids).items():
                if s.pose is not None:
                    out.poses[tid] = s.pose
                if s.message and s.message not in notes:
                    notes.append(s.message)
            out.message = "; ".join(notes)
        out.seconds = time.perf_counter() - t0
        return out

    def use(self, video_id: int, video) -> None:
        """Work on this video: another one gets its own frames and suggester (learned offsets)."""
        if video_id != self.video_id:
            self.close()
            self.frames = self.open_frames(video)
            self.suggester = Suggester(self.skeleton, model=self.model)
            self.model = self.suggester.model
            self.video_id = video_id

    def _quick(self, req: Request, early) -> None:
        """The model alone for the people whose chain has not reached the frame (Suggester.quick)."""
        t0 = time.perf_counter()
        late = [t for t in req.track_ids if not self.suggester.chain_ready(req.video, self.frames, req.frame, t)]
        if not late:
            return
        out = Result(req, quick=True)
        rgb = rgb_of(req.image) if req.image is not None else None  # here, not on the UI thread
        for tid in late:
            if req.cancelled:
                return
            s = self.suggester.quick(req.video, self.frames, req.frame, tid, image=rgb)
            if s.pose is not None:
                out.poses[tid] = s.pose
        out.seconds = time.perf_counter() - t0
        if out.poses:
            early(out)

    def close(self) -> None:
        if self.frames is not None and hasattr(self.frames, "close"):
            self.frames.close()
        self.frames = None


class _Job(QThread):
    finished_with = Signal(object)  # Result, or an Exception's text
    quick_with = Signal(object)  # a quick first Result, before the full one

    def __init__(self, engine: _Engine, req: Request, parent=None):
        super().__init__(parent)
        self.engine, self.req = engine, req

    def run(self) -> None:
        try:
            self.finished_with.emit(self.engine.run(self.req, self.quick_with.emit))
        except Exception as exc:  # a broken frame or model file: said in the status bar, the app goes on
            self.finished_with.emit(f"{type(exc).__name__}: {exc}")


class Suggestions(QObject):
    """The window's suggestion actions. `window` gives the editor, the session and the status bar."""

    applied = Signal(object)  # the Result just applied (or dropped), for tests and timing
    shown = Signal(float)  # seconds from the request to the suggestion drawn
    first_shown = Signal(float)  # seconds from the request to a quick first suggestion drawn (the full one follows)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.engine: _Engine | None = None
        self.job: _Job | None = None
        self.pending: Request | None = None  # asked while a job runs: served next (only the latest)
        self.template_kind: str | None = None  # "keyframe" / "average": the next click drops a template
        self.missing = runtime_missing()  # None when the pose model can run
        self.last: Result | None = None
        self.kept: dict[tuple, object] = {}  # _input_key -> suggested Pose (or None), computed ahead
        self.reached: dict[tuple, int] = {}  # _chain_key -> last frame the worker's flow chain reached
        self.warmed: dict[tuple, tuple] = {}  # (video, person) -> _offsets_key the worker's pose model has seen
        self.in_use = False  # a suggestion was asked for in this window: chains are worth extending ahead
        self.quick_first = True  # a quick first suggestion when the chain is not there yet (off: the benchmark's baseline)
        self.quick: _Quick | None = None  # the quick suggestion drawn, waiting for its full one
        self.ahead_timer = QTimer(self)
        self.ahead_timer.setSingleShot(True)
        self.ahead_timer.setInterval(PREFETCH_MS)
        self.ahead_timer.timeout.connect(self._compute_ahead)

    # --- wiring (window.py) --------------------------------------------------------------------
    def handlers(self) -> dict:
        return {
            "suggest_pose": lambda: self.ask(everyone=False),
            "suggest_frame": lambda: self.ask(everyone=True),
            "accept_frame": lambda: self.accept(everyone=True),
            "template_keyframe": lambda: self.arm_template("keyframe"),
            "template_average": lambda: self.arm_template("average"),
            "suggest_on_new_keyframe": self._option_changed,
        }

    def setup_actions(self, actions: dict) -> None:
        option = actions["suggest_on_new_keyframe"]
        option.setCheckable(True)
        option.setChecked(QSettings().value(SETTING, False, type=bool))
        if self.missing:
            for key in ("suggest_pose", "suggest_frame"):
                actions[key].setToolTip(f"Carried pose only: {self.missing}")

    def attach(self) -> None:
        """A project is shown: a fresh worker state for it (its frames open on the first request)."""
        w = self.window
        self.reset()
        self.ahead_timer.start()  # the pose model loads a moment after the project opens (_compute_ahead)
        w.editor.jointPlaced.connect(self._joint_placed)
        w.session.posesChanged.connect(lambda _: self.ahead_timer.start() if self.job is None else None)
        w.editor.frameChanged.connect(self._frame_changed)
        w.editor.selectionChanged.connect(lambda: self.ahead_timer.start() if self.job is None else None)

    def reset(self, model=None) -> None:
        """A fresh worker state, nothing computed ahead; `model`: a pose model loaded already, kept."""
        self.stop()
        w = self.window
        self.engine = _Engine(w.session.skeleton, lambda video: _open(video, w.store.base_dir), model)
        self.kept.clear()
        self.reached.clear()
        self.warmed.clear()

    def _frame_changed(self, frame: int) -> None:
        """Another frame: work for the one left stops (a chain keeps what it reached), and the
        work ahead for this one starts after PREFETCH_MS."""
        self._disarm()
        for req in (self.job.req if self.job is not None else None, self.pending):
            if req is not None and req.upto is None and req.frame != frame:
                req.cancelled = True  # reported as "came after you left it" when it ends
        self.ahead_timer.start()

    def stop(self) -> None:
        """Wait for a running suggestion (a window or project closing); its result is dropped."""
        self.pending = None
        self.ahead_timer.stop()
        if self.job is not None:
            self.job.req.cancelled = True  # work ahead stops at its next frame pair
            self.job.finished_with.disconnect()
            self.job.quick_with.disconnect()
            self.job.wait()
            self.job = None
        if self.engine is not None:
            self.engine.close()
            self.engine = None

    @property
    def on_new_keyframe(self) -> bool:
        return self.window.actions["suggest_on_new_keyframe"].isChecked()

    def _option_changed(self) -> None:
        QSettings().setValue(SETTING, self.on_new_keyframe)
        self._say("Suggestions appear when you start a new keyframe" if self.on_new_keyframe
                  else "Suggestions only when asked (E / Shift+E)")

    def _say(self, text: str, ms: int = 8000) -> None:
        self.window.statusBar().showMessage(text, ms)

    # --- asking --------------------------------------------------------------------------------
    def ask(self, everyone: bool, auto: bool = False) -> bool:
        """Suggest the selected person's pose here (or everyone's); on a frame nobody is labelled
        in and with nobody labelled on any keyframe, the people the pose model finds."""
        ed = self.window.editor
        if ed is None or self.engine is None:
            return False
        self.in_use = True
        video = ed.video
        here = ed.pose()
        if not everyone and here is not None and here.is_absent_mark():
            self._say(f"Person {ed.track} is marked not in view on frame {ed.frame} (X); label a joint first to "
                      "start them here.")
            return False
        absent = {t for t, p in video.poses.get(ed.frame, {}).items() if p.is_absent_mark()}
        labelled = [t for t in sorted(video.tracks) if video.keyframes(t)]
        if everyone:
            ids = [t for t in labelled if _in_frame(video, ed.frame, t) and t not in absent]
        elif ed.track is not None and ed.track in labelled:
            ids = [ed.track]
        elif ed.track is not None and ed.poses_here() and self.missing:
            self._say(f"Person {ed.track} has no keyframe yet to carry a pose from: label one, or drop a "
                      "template (T, then click).")
            return False
        else:
            ids = []
        new_person = None
        if not ids and ed.track is not None and not everyone and not self.missing:
            ids, new_person = None, ed.track  # no keyframe yet: the pose model finds them (new_person_among)
        elif not ids:
            if video.poses.get(ed.frame):
                self._say("Nobody here has a keyframe to start from: label one, or drop a template (T, then click).")
                return False
            if self.missing:
                self._say(f"Nobody is labelled yet, and finding people needs the pose model: {self.missing}. "
                          "Drop a template instead (T, then click).", 12000)
                return False
            ids = None  # nobody labelled anywhere: the detector finds the people
        keys = tuple(_input_key(video, ed.frame, t) for t in ids) if ids is not None else ()
        if ids is not None and all(k in self.kept for k in keys):  # computed ahead: shown at once
            result = Result(Request(video.video_id, ed.frame, ids, None, auto=auto, keys=keys))
            result.poses = {t: self.kept[k] for t, k in zip(ids, keys) if self.kept[k] is not None}
            result.message = "; ".join(dict.fromkeys(self.kept[("message",) + k] for k in keys if self.kept.get(("message",) + k)))
            self._apply(result)
            return True
        running = self.job.req if self.job is not None else None
        if running is not None and running.ahead and running.keys == keys and not running.cancelled:
            running.ahead, running.auto, running.started = False, auto, time.perf_counter()
            return True  # being computed ahead already: applied when it ends
        if running is not None and (running.ahead or running.upto is not None):
            running.cancelled = True  # work ahead gives way (it stops at its next frame pair)
        req = Request(video.video_id, ed.frame, ids, snapshot(video), auto=auto, keys=keys,
                      quick=self.quick_first, image=self._shown(video) if self.quick_first else None,
                      new_person=new_person)
        who = f"person {new_person}" if new_person is not None else "the people on this frame" if ids is None else (
            f"person {ids[0]}" if len(ids) == 1 else f"{len(ids)} people")
        self._say(f"Suggesting a pose for {who}…", 4000)
        if self.job is not None:
            self.pending = req  # served when the running one ends; an older pending one is dropped
        else:
            self._start(req)
        return True

    def _shown(self, video):
        """The current frame as the window decoded it (a QImage the size of the video), or None;
        the worker makes it RGB only when a quick suggestion needs it."""
        loader = getattr(self.window, "loader", None)
        img = loader.cached(self.window.editor.frame) if loader is not None else None
        if img is None or (img.width(), img.height()) != (video.width, video.height):
            return None
        return img

    def _compute_ahead(self) -> None:
        """Work done while the user looks at a frame (see the module doc): the selected person's
        suggestion here, else the model's look at their keyframes, else everyone's flow chains
        extended ahead."""
        ed = self.window.editor
        if ed is None or ed.video is None or self.engine is None or self.job is not None or self.pending is not None:
            return
        tid, video, frame = ed.track, ed.video, ed.frame
        if not self.engine.load_tried and not self.missing:  # the pose model loaded first, before anyone
            # asks: loading it holds Python's lock for ~2 x 50 ms (a UI hiccup), better now than mid-task
            self._start(Request(video.video_id, frame, [], None, ahead=True, load=True))
            return
        if (tid is not None and source_keyframe(video, tid, frame) is not None
                and edits.next_joint(video.pose(frame, tid), ed.order) is not None):
            key = _input_key(video, frame, tid)  # some joint clicks place is free: a suggestion could add it
            if key not in self.kept:
                self._start(Request(video.video_id, frame, [tid], snapshot(video), ahead=True, keys=(key,)))
                return
        runner = getattr(self.window, "runner", None)
        if runner is not None and runner.running:
            return  # an auto-fill has the cores: nothing more ahead meanwhile (its poses changing restart this)
        if tid is not None and not self.missing and video.keyframes(tid):
            key = _offsets_key(video, tid)  # the pose model on all their keyframes: no suggestion waits for it
            if self.warmed.get(key[:2]) != key:
                self._start(Request(video.video_id, frame, [tid], snapshot(video), ahead=True, warm=True, keys=(key,)))
                return
        if not (self.in_use or self.on_new_keyframe):
            return  # chains ahead only for a user of suggestions (they cost ~50 ms a frame pair per person)
        upto = _ahead_until(video, frame)
        ids = sorted(video.tracks, key=lambda t: t != tid)  # the selected person first
        todo = [t for t in ids if (k := _chain_key(video, frame, t)) is not None and self.reached.get(k, -1) < upto]
        if todo:
            self._start(Request(video.video_id, frame, todo, snapshot(video), upto=upto))

    def _start(self, req: Request) -> None:
        self.job = _Job(self.engine, req, self)
        self.job.finished_with.connect(self._finished)
        self.job.quick_with.connect(self._quick_arrived)  # a bound method: queued to the UI thread
        self.job.start(QThread.LowPriority)

    def busy(self) -> bool:
        return self.job is not None or self.pending is not None

    def _finished(self, result) -> None:
        job, self.job = self.job, None
        if job is not None:
            job.wait()
            job.deleteLater()
        if isinstance(result, str):
            self._say(f"Suggestion failed: {result}", 12000)
            self.applied.emit(None)
        else:
            self.window._guard(lambda: self._apply(result))
        if self.pending is not None and self.engine is not None:
            req, self.pending = self.pending, None
            self._start(req)
        elif self.engine is not None and not isinstance(result, str):
            self.ahead_timer.start()  # more work ahead (not after a failure: it would fail again)

    def _keep(self, result: Result) -> None:
        req = result.request
        # What the worker holds (chains, the model's keyframe looks) is one video's: it switched to
        # this request's video and dropped the rest, so the records of the others go too.
        self.reached = {k: v for k, v in self.reached.items() if k[0] == req.video_id}
        self.warmed = {k: v for k, v in self.warmed.items() if k[0] == req.video_id}
        self.reached.update(result.reached)
        while len(self.reached) > 4 * KEEP:
            self.reached.pop(next(iter(self.reached)))
        if req.warm:
            if not result.cancelled:
                self.warmed[req.keys[0][:2]] = req.keys[0]
            return
        if result.cancelled or req.upto is not None:
            return  # chains only: no suggestion to keep
        for tid, key in zip(req.track_ids or [], req.keys):
            self.kept[key] = result.poses.get(tid)
            self.kept[("message",) + key] = result.message
        while len(self.kept) > 2 * KEEP:
            self.kept.pop(next(iter(self.kept)))

    def _apply(self, result: Result) -> None:
        w, req = self.window, result.request
        if req.video is not None:
            self._keep(result)
        if req.ahead or req.upto is not None:
            return
        ed = w.editor
        self.last = result
        quick = self.quick if self.quick is not None and self.quick.request is req else None
        if quick is not None:
            self.quick = None  # its full suggestion is here (or was dropped): the quick one stays as it is
        if result.cancelled:  # the user left the frame meanwhile (_frame_changed)
            self._say(f"The suggestion for frame {req.frame} stopped when you left that frame: not applied.", 5000)
            self.applied.emit(result)
            return
        if ed is None or w.session.video_id != req.video_id or ed.frame != req.frame:
            self._say(f"The suggestion for frame {req.frame} came after you left it: not applied.", 5000)
            self.applied.emit(result)
            return
        video = ed.video
        if quick is not None:
            self._refine(result, quick)
            return
        changes = [PoseChange(req.video_id, req.frame, tid, new) for tid, (new, _) in self._placed(result).items()]
        added = []
        tid = req.new_person
        if tid is not None and tid in video.tracks:
            others = [p for t, p in video.poses.get(req.frame, {}).items() if t != tid and p.labelled().any()]
            found = new_person_among(result.detected, others, video.pose(req.frame, tid))
            if found is not None:
                changes.append(PoseChange(req.video_id, req.frame, tid, place_suggestion(video.pose(req.frame, tid),
                                                                                         _only(found, ed.order, video))))
            elif result.detected:
                result.message = (f"the pose model found nobody here but the people labelled: label person {tid}, "
                                  "or drop a template (T, then click)")
        elif result.detected and not video.poses.get(req.frame):
            first = max(video.tracks, default=0) + 1
            for n, pose in enumerate(result.detected):
                added.append(first + n)
                changes.append(PoseChange(req.video_id, req.frame, first + n, place_suggestion(None, _only(pose, ed.order, video))))
        n_joints = sum(_new_suggested(video.pose(c.frame, c.track_id), c.pose) for c in changes)
        if not changes or not n_joints:
            self._say(f"No suggestion on frame {req.frame}: {result.message or self._why_nothing(result)}", 10000)
            self.applied.emit(result)
            return
        self._push(f"Suggest {count_of(n_joints, 'joint')} on frame {req.frame}", changes, new_tracks=added)
        if added and ed.track is None:
            ed.select_track(added[0])
        took = time.perf_counter() - req.started
        note = f" ({result.message})" if result.message else ""
        self._say(f"Suggested {count_of(n_joints, 'joint')} in {_seconds(took)}: drag to correct, A accepts the person, "
                  f"Shift+A the frame{note}", 12000)
        self.applied.emit(result)
        self.shown.emit(took)

    def _why_nothing(self, result: Result) -> str:
        """Why a suggestion added no joint, person by person, as the Joints table would confirm: the
        joints clicks place are all labelled already, or the suggestion has none of those still free
        (on the demo's frame 170 the jumper's fill has 9 joints: keyframe 160 has only 6, and the
        pose model finds nothing sure in the blur; E never writes over filled joints)."""
        ed, req = self.window.editor, result.request
        video, names = ed.video, self.window.session.skeleton.joints
        says = []
        for tid in result.request.track_ids or list(result.poses):
            if tid not in video.tracks:
                continue
            pose = video.pose(req.frame, tid)
            who = ed.person_name(tid)
            free = [j for j in ed.order if pose is None or not pose.labelled()[j]]
            if not free:
                filled = pose is not None and pose.auto_joints().any()
                says.append(f"every joint of {who} is labelled already" + (
                    " (filled: drag what is off, or Del then E for a fresh suggestion)" if filled else ""))
                continue
            listed = ", ".join(names[j] for j in free[:3]) + (", …" if len(free) > 3 else "")
            key = source_keyframe(video, tid, req.frame)
            if key is None:
                source = "there is no keyframe to carry them from"
            elif video.pose(key, tid).labelled()[free].all():
                source = f"the flow from keyframe {key} lost them"
            elif video.pose(key, tid).labelled()[free].any():
                source = f"keyframe {key} lacks some, the flow from it lost the rest,"
            else:
                source = f"keyframe {key} has none of them"
            says.append(f"none for {who}'s {len(free)} joints not labelled ({listed}): {source} and the pose model "
                        "found none here. Click to place them")
        return "; ".join(says) or "nothing to add"

    def _placed(self, result: Result) -> dict:
        """Per person of the result still in the video whose pose the suggestion adds to: (their
        pose here with it placed, which joints it adds); joints labelled already are kept."""
        ed, frame = self.window.editor, result.request.frame
        out = {}
        for tid, pose in result.poses.items():
            if tid not in ed.video.tracks:
                continue  # deleted meanwhile
            old = ed.video.pose(frame, tid)
            new = place_suggestion(old, _only(pose, ed.order, ed.video))
            mine = _suggested_anew(old, new)
            if mine.any():  # else every joint it suggests is labelled already (and not doubted)
                out[tid] = (new, mine)
        return out

    def _quick_arrived(self, result: Result) -> None:
        self.window._guard(lambda: self._apply_quick(result))

    def _apply_quick(self, result: Result) -> None:
        """Draw a quick first suggestion (one undo step), if the user is still on its frame."""
        w, req = self.window, result.request
        ed = w.editor
        if req.cancelled or ed is None or w.session.video_id != req.video_id or ed.frame != req.frame:
            return
        found = self._placed(result)
        if not found:
            return
        changes = [PoseChange(req.video_id, req.frame, tid, new) for tid, (new, _) in found.items()]
        placed = {tid: new for tid, (new, _) in found.items()}
        added = {tid: mine for tid, (_, mine) in found.items()}
        n_joints = sum(int(m.sum()) for m in added.values())
        command = self._push(f"Suggest {count_of(n_joints, 'joint')} on frame {req.frame}", changes,
                             command=RefinableCommand(w.session, "", changes))
        self.quick = _Quick(req, command, placed, added)
        took = time.perf_counter() - req.started
        self._say(f"Suggested {count_of(n_joints, 'joint')} in {_seconds(took)} from the pose model alone; the full suggestion "
                  "follows when the flow from the keyframe is there (joints you move are kept)", 12000)
        self.first_shown.emit(took)

    def _refine(self, result: Result, quick: _Quick) -> None:
        """The full suggestion after a quick one: it replaces the quick joints still untouched (still
        suggested, where the quick one put them) and fills joints still free; never a joint the
        user moved, accepted or placed. Part of the quick one's undo step when nothing was done
        since (what the user sees as one suggestion), else its own step: undo goes back in order,
        so the edit made in between stays undoable on its own."""
        req, ed = result.request, self.window.editor
        video = ed.video
        changes, n_joints = [], 0
        for tid, pose in result.poses.items():
            now = video.pose(req.frame, tid)
            if tid not in video.tracks:
                continue
            base = now.copy() if now is not None else None
            if tid in quick.placed:
                if now is None:
                    continue  # removed meanwhile
                left = quick.placed[tid]
                untouched = (quick.added[tid] & (now.provenance == Provenance.SUGGESTED) & now.labelled()
                             & (now.xy == left.xy).all(axis=1))
                if not untouched.any():
                    continue  # every quick joint moved, accepted or undone: the user's call stands
                base.xy[untouched], base.visibility[untouched] = 0.0, 0
                base.provenance[untouched] = Provenance.NONE
            new = place_suggestion(base, _only(pose, ed.order, video))
            if now is not None and np.array_equal(new.xy, now.xy) and np.array_equal(new.visibility, now.visibility) \
                    and np.array_equal(new.provenance, now.provenance):
                continue
            n_joints += _new_suggested(base, new)
            changes.append(PoseChange(req.video_id, req.frame, tid, new))
        took = time.perf_counter() - req.started
        if changes:
            # the quick and the full suggestion as one step (when they merge): what it suggests
            was = {c.track_id: c.pose for c in quick.command.before}
            final = {c.track_id: c.pose for c in quick.command.changes + changes}
            n = sum(_new_suggested(was[t] if t in was else video.pose(req.frame, t), p) for t, p in final.items())
            self._push(f"Refine the suggestion on frame {req.frame} ({count_of(n_joints, 'joint')})", changes,
                       command=RefineCommand(self.window.session, "", changes, quick.command,
                                             f"Suggest {count_of(n, 'joint')} on frame {req.frame}"))
            self._say(f"Full suggestion in {_seconds(took)}: {count_of(n_joints, 'suggested joint')} (those you moved kept)", 12000)
        else:
            self._say(f"Full suggestion in {_seconds(took)}: nothing to change (the quick joints were moved, "
                      "accepted or undone)", 8000)
        self.applied.emit(result)
        self.shown.emit(took)

    def _joint_placed(self, track: int, joint: int) -> None:
        """The first joint of a new keyframe placed: suggest the rest, when the option is on."""
        ed = self.window.editor
        if not self.on_new_keyframe or ed is None:
            return
        pose = ed.video.pose(ed.frame, track)
        if pose is None or not pose.keyframe or int(pose.labelled().sum()) != 1:
            return
        others = [f for f in ed.video.keyframes(track) if f != ed.frame]
        if others:
            self.ask(everyone=False, auto=True)

    # --- accepting -----------------------------------------------------------------------------
    def has_suggested(self) -> bool:
        """Whether the selected person's pose here has suggested joints (A then accepts those)."""
        ed = self.window.editor
        pose = ed.pose() if ed is not None else None
        return pose is not None and bool((pose.provenance == Provenance.SUGGESTED).any())

    def accept(self, everyone: bool) -> None:
        """The selected person's suggested joints (or the whole frame's) become the annotator's,
        and the filled frames around carry them (correction.accept_suggested): one undo step."""
        ed = self.window.editor
        if ed is None:
            return
        here = ed.poses_here()
        tids = sorted(here) if everyone else ([ed.track] if ed.track in here else [])
        changes, n = [], 0
        for t in tids:
            suggested = np.flatnonzero(here[t].provenance == Provenance.SUGGESTED)
            if len(suggested):
                n += len(suggested)
                changes += correction.accept_suggested(ed.video, ed.frame, t, accept(here[t]), suggested)
        if not changes:
            self._say("No suggested joints to accept here" + ("" if everyone else " for the selected person") + ".")
            return
        what = f"frame {ed.frame}" if everyone else f"person {ed.track}"
        refilled = len({(c.frame, c.track_id) for c in changes if c.frame != ed.frame})
        also = f" (re-fills {count_of(refilled, 'frame')})" if refilled else ""
        self._push(f"Accept {count_of(n, 'suggested joint')} of {what}{also}", changes)
        self._say(f"Accepted {count_of(n, 'suggested joint')} of {what}{also}.", 4000)

    # --- templates -----------------------------------------------------------------------------
    def arm_template(self, kind: str) -> None:
        if self.window.editor is None:
            return
        self.template_kind = kind
        what = "the previous keyframe's pose" if kind == "keyframe" else "an average pose"
        self._say(f"Click where to drop {what} (then drag its joints); another frame cancels.", 10000)

    def _disarm(self) -> None:
        if self.template_kind is not None:  # the "Click where to drop" prompt is no longer true
            self._say("Template dropped nowhere: another frame cancels it.", 4000)
        self.template_kind = None

    def take_click(self, x: float, y: float) -> bool:
        """A click while a template waits to be dropped: drop it there (True), else False."""
        kind, self.template_kind = self.template_kind, None
        ed = self.window.editor
        if kind is None or ed is None:
            return False
        video = ed.video
        tid = ed.track
        here = video.pose(ed.frame, tid) if tid is not None else None
        # For the selected person where they have no pose, or only the fill's or a "not in view"
        # mark (the template takes its place, as Del then T would); a pose the annotator made
        # stays (two trials' T over their person's pose made a new person they did not ask for).
        instead = here is not None and (edits.untouched_fill(here) or here.is_absent_mark())
        if tid is None:
            tid = max(video.tracks, default=0) + 1
        elif here is not None and not instead:
            self._say(f"{ed.person_name(tid)} already has a pose on frame {ed.frame}: drag its joints, or Del it "
                      "and press T again (Ctrl+N first drops one for a new person).", 10000)
            return True
        pose = template.from_keyframe(video, ed.track, ed.frame, (x, y)) if (
            kind == "keyframe" and ed.track is not None) else None
        key = source_keyframe(video, ed.track, ed.frame) if pose is not None else None
        # which keyframe it is (before this frame, else after: a trial read "previous" for the next)
        what = f"keyframe {key}'s pose" if key is not None else ""
        if pose is None:
            what = ("an average pose (the selected person has no keyframe)" if kind == "keyframe"
                    else "an average pose")
            pose = template.average(video, ed.session.skeleton, (x, y))
        change = PoseChange(video.video_id, ed.frame, tid, place_suggestion(None, _only(pose, ed.order, video)))
        self._push(f"Drop a pose template on frame {ed.frame}", [change],
                   new_tracks=[] if tid in video.tracks else [tid])
        ed.select_track(tid)
        placed = video.pose(ed.frame, tid)
        n = int(placed.suggested_joints().sum()) if placed is not None else 0
        where = f"frame {ed.frame}" + (" in place of the filled pose" if instead and not here.is_absent_mark() else "")
        self._say(f"Dropped {what} for {ed.person_name(tid)} on {where}: {count_of(n, 'suggested joint')}. Drag them to fit "
                  "(Shift+drag moves the whole pose, Ctrl+Shift+drag a joint turns and scales it); A accepts them.",
                  12000)
        return True

    def _push(self, text: str, changes, new_tracks=(), command=None):
        """The pose changes as one undo step, with the people they add (`new_tracks`) made first;
        `command`: the step to push (default a PoseChangesCommand), its text set here."""
        session, stack = self.window.session, self.window.editor.undo_stack
        if command is None:
            command = PoseChangesCommand(session, text, changes)
        command.setText(text)
        command.frame = self.window.editor.frame  # undo shows this frame (commands.shown_frame)
        if new_tracks:
            stack.beginMacro(text)
            for tid in new_tracks:
                stack.push(SetTrackCommand(session, Track(tid, f"person {tid}")))
            stack.push(command)
            stack.endMacro()
        else:
            stack.push(command)
        if command.failed is not None:
            raise command.failed
        return command


def _open(video, base_dir):
    from posewarper_core.video import open_frames

    return open_frames(video, base_dir=base_dir)


def _suggested_anew(old, new) -> np.ndarray:
    """(J,) bool: the joints `new` suggests that `old` did not."""
    added = new.suggested_joints()
    return added & (old.provenance != Provenance.SUGGESTED) if old is not None else added


def _new_suggested(old, new) -> int:
    return int(_suggested_anew(old, new).sum())


def _input_key(video, frame: int, track_id: int) -> tuple:
    """What a person's suggestion on `frame` depends on: the keyframe it is carried from
    (source_keyframe) and that keyframe's pose."""
    key = source_keyframe(video, track_id, frame)
    pose = video.pose(key, track_id) if key is not None else None
    return (video.video_id, frame, track_id, key) + pose_digest(pose)


def _offsets_key(video, track_id: int) -> tuple:
    """What a person's learned offsets depend on: their keyframes and those keyframes' poses."""
    keys = video.keyframes(track_id)
    return (video.video_id, track_id) + tuple((k,) + pose_digest(video.pose(k, track_id)) for k in keys)


def _chain_key(video, frame: int, track_id: int) -> tuple | None:
    """The flow chain that serves a person's suggestions after `frame` (carry.chain_keyframe), as
    the worker names it (Carrier.extend); None without one."""
    key = chain_keyframe(video, track_id, frame)
    if key is None:
        return None
    return (video.video_id, track_id, key, pose_digest(video.pose(key, track_id)))


def _ahead_until(video, frame: int) -> int:
    """How far ahead of `frame` chains are extended: to the next keyframe of anyone (a suggestion
    there comes from this one), at most a keyframe interval, within the video."""
    later = [f for f in video.poses if f > frame and any(p.keyframe for p in video.poses[f].values())]
    upto = min([frame + max(video.keyframe_stride, 1)] + later)
    return min(upto, video.num_frames - 1)


def _in_frame(video, frame: int, track_id: int) -> bool:
    """Whether a person is to be suggested on `frame` with everyone's: they have a pose here, or a
    keyframe before it, or one within a keyframe interval after it (a person who only appears
    later, e.g. from behind a tree, gets none)."""
    if video.pose(frame, track_id) is not None:
        return True
    keys = video.keyframes(track_id)
    return any(k < frame for k in keys) or any(frame < k <= frame + video.keyframe_stride for k in keys)


def _only(pose, order: list[int], video):
    """The suggested pose with only the joints clicks place (the project's click order: a joint
    the annotator does not label, as the demo's ears, is not suggested either) and that lie on
    the picture (a template dropped near its edge, a person found there: a trial accepted joints
    past it, and the export wrote them)."""
    out = pose.copy()
    drop = ~np.isin(np.arange(out.num_joints), order) | ~on_picture(out.xy, video.width, video.height)
    out.xy[drop], out.visibility[drop], out.provenance[drop] = 0.0, 0, Provenance.NONE
    return out


def _seconds(took: float) -> str:
    """"0.12 s", or "under 0.01 s" (a trial read "Suggested 15 joints in 0.00 s": a suggestion
    kept from before)."""
    return f"{took:.2f} s" if took >= 0.005 else "under 0.01 s"
