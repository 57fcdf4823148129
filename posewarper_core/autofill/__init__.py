"""Auto-fill: fill the frames between an annotator's keyframes.

    changes = fill(video, frames, method="flow", progress=..., cancel=...)
    store.apply(changes)

Methods: "linear" (per-joint lerp, what CVAT does), "flow" (OpenCV DIS, medium preset),
"flow-farneback" (the paper's flow baseline), "detector" (the BlazePose model on every frame,
pseudo-labelling; needs ai-edge-litert), "posewarper" (the network; the shipped default model unless a model file is given).
Every filled frame uses both neighbouring keyframes; joints an annotator placed or corrected are
never overwritten. See engine.py for the rules.
"""
from __future__ import annotations

import importlib
from collections import OrderedDict
from typing import Callable, Iterable

from ..annotation import PoseChange, Video
from ..errors import PoseWarperError
from .engine import FUSIONS, Gap, Method, Span, plan_gaps, run_fill
from .flow import FlowMethod
from .linear import LinearMethod

# Every method name, in the order the CLI and the GUI list them: (module, class, positional
# arguments of its constructor). The module is imported only when the method is asked for (the
# network and the detector pull in torch and the model runtime). "posewarper" is made from its
# model file (posewarper_from_file); the class named is the one of the shipped model.
_METHOD_TABLE: dict[str, tuple[str, str, tuple]] = {
    "linear": ("linear", "LinearMethod", ()),
    "flow": ("flow", "FlowMethod", ("dis",)),
    "flow-farneback": ("flow", "FlowMethod", ("farneback",)),
    "posewarper": ("keyframe_match", "MatchedFlowMethod", ()),
    "detector": ("detector", "DetectorMethod", ()),  # the pose model on every frame (needs ai-edge-litert)
}
METHODS = tuple(_METHOD_TABLE)
# What the CLI and the GUI start on: the method that measured best on our benches today.
DEFAULT_METHOD = "posewarper"


def available_methods() -> list[str]:
    """Method names `fill` accepts."""
    return list(METHODS)


def make_method(name: str, *, model_path=None, device=None, tune: bool = True, **options) -> Method:
    """A new method object for a name. `options` go to its constructor (e.g. max_side, roi for flow);
    `tune=False` makes a tunable method skip its tuning on the keyframes (posewarper: the shipped
    matcher as it is); methods that do not tune ignore it."""
    cls = method_class(name)
    if name == "posewarper":
        from ..resources import default_model_path

        return posewarper_from_file(model_path or default_model_path(), device=device, tune=tune, **options)
    if cls is LinearMethod:  # nothing to set
        return LinearMethod()
    return cls(*_METHOD_TABLE[name][2], **options)


def method_class(name: str) -> type[Method]:
    """The class behind a method name with the shipped model, for its flags (needs_frames,
    tunable, uses_torch) before any object is made."""
    if name not in _METHOD_TABLE:
        raise PoseWarperError(f"unknown auto-fill method {name!r}; choose from {', '.join(METHODS)}")
    module, class_name, _ = _METHOD_TABLE[name]
    return getattr(importlib.import_module(f".{module}", __name__), class_name)


def posewarper_from_file(model_path, device=None, tune: bool = True, **options) -> Method:
    """The posewarper method for a model file: a keyframe matcher file (the shipped default) gives
    flow + drift removal + matching (keyframe_match.py), tuned on the keyframes unless `tune` is
    False; a PoseWarper network file gives the network's chained warp (posewarper_method.py),
    which has no tuning before a fill (`posewarper adapt` fine-tunes such a model)."""
    from ..nets.matcher import is_matcher_file, matcher_from_payload, read_model_file

    data = read_model_file(model_path)
    if is_matcher_file(data):
        from .keyframe_match import MatchedFlowMethod

        if not tune:
            options["adapt_steps"] = 0
        return MatchedFlowMethod(matcher_from_payload(data, model_path), device=device, **options)
    from .posewarper_method import PoseWarperMethod

    return PoseWarperMethod(model_path, device=device, **options)


class MethodCache:
    """The method objects a caller (a GUI session, a CLI run) fills with, kept between its fills:
    a tuned method holds its tuning on a video's keyframes, which a fill of the same keyframes
    (e.g. again, after corrections) then reuses. The last KEPT kinds are kept, so a fill with
    another method in between does not cost the tuning again (a trial filled with posewarper, then
    flow, then posewarper, and waited ~15 s for the same tuning). Owned by whoever fills."""

    KEPT = 3  # the panel's usual three: linear, flow, posewarper

    def __init__(self):
        self._kept: OrderedDict = OrderedDict()  # key -> method, least recently used first

    @property
    def current(self) -> Method | None:
        """The method the last get() gave (the most recently used)."""
        return next(reversed(self._kept.values()), None)

    def get(self, name: str, *, model_path=None, device=None, tune: bool = True, **options) -> Method:
        """The kept method for this name, model file (path and modification time), device, tuning
        and options; otherwise a new one (make_method), kept instead of the least recently used."""
        from pathlib import Path

        path = None
        if name == "posewarper":
            from ..resources import default_model_path

            path = Path(model_path or default_model_path())
        key = (name, str(path.resolve()) if path else None,
               path.stat().st_mtime_ns if path is not None and path.is_file() else None,
               str(device), bool(tune), tuple(sorted(options.items())))
        method = self._kept.pop(key, None)
        if method is None:
            method = make_method(name, model_path=model_path, device=device, tune=tune, **options)
        self._kept[key] = method
        while len(self._kept) > self.KEPT:
            self._kept.popitem(last=False)
        return method


def fill(
    video: Video,
    frames,
    method: str | Method = DEFAULT_METHOD,
    *,
    track_ids: Iterable[int] | None = None,
    frame_range: tuple[int, int] | None = None,
    extrapolate: int = 0,
    model_path=None,
    device=None,
    fusion: str = "distance",
    progress: Callable[[int, int], None] | None = None,
    cancel: Callable[[], bool] | None = None,
    on_changes: Callable[[list[PoseChange]], None] | None = None,
    setup_progress: Callable[[int, int], None] | None = None,
    tune: bool = True,
    on_unchanged: Callable[[int, int], None] | None = None,
    resume_from: Callable[[int], None] | None = None,
) -> list[PoseChange]:
    """Fill every frame between consecutive keyframes of each track (and up to `extrapolate`
    frames beyond the first and last keyframe) and return the changes; `video` is not modified.

    `frames` is the video's frame source (`frame(i)` -> RGB array, `width`, `height`); linear
    needs none. `progress(done, total)` counts person-frames; `cancel()` returning True stops the
    work with Cancelled (changes already passed to `on_changes` stay valid). `setup_progress(step,
    steps)` reports the method's one-off work before filling (posewarper: tuning on the keyframes);
    `tune=False` skips that tuning (the shipped matcher as it is). `on_unchanged(frame, track_id)`:
    each person-frame left as it was, `resume_from(frame)` where what is left starts (run_fill).
    """
    m = make_method(method, model_path=model_path, device=device, tune=tune) if isinstance(method, str) else method
    if m.needs_frames and frames is None:
        raise PoseWarperError(f"auto-fill method {m.name!r} needs the video's frames")
    gaps = plan_gaps(video, track_ids=track_ids, frame_range=frame_range, extrapolate=extrapolate)
    return run_fill(video, frames, m, gaps, progress=progress, cancel=cancel, on_changes=on_changes, fusion=fusion,
                    setup_progress=setup_progress, on_unchanged=on_unchanged, resume_from=resume_from)


__all__ = [
    "DEFAULT_METHOD", "FUSIONS", "FlowMethod", "Gap", "LinearMethod", "METHODS", "Method", "Span", "available_methods",
    "MethodCache", "fill", "make_method", "method_class", "plan_gaps",
]
