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

from typing import Callable, Iterable

from ..annotation import PoseChange, Video
from ..errors import PoseWarperError
from .engine import FUSIONS, Gap, Method, Span, plan_gaps, run_fill
from .flow import FlowMethod
from .linear import LinearMethod

METHODS = ("linear", "flow", "flow-farneback", "posewarper", "detector")
# What the CLI and the GUI start on: the method that measured best on our benches today.
DEFAULT_METHOD = "posewarper"


def available_methods() -> list[str]:
    """Method names `fill` accepts."""
    return list(METHODS)


def make_method(name: str, *, model_path=None, device=None, tune: bool = True, **options) -> Method:
    """The method object for a name. `options` go to its constructor (e.g. max_side, roi for flow);
    `tune=False` makes posewarper skip its tuning on the keyframes (the shipped matcher as it is)."""
    if name == "linear":
        return LinearMethod()
    if name == "flow":
        return FlowMethod("dis", **options)
    if name == "flow-farneback":
        return FlowMethod("farneback", **options)
    if name == "detector":  # the pose model on every frame (needs the optional ai-edge-litert)
        from .detector import DetectorMethod

        return DetectorMethod(**options)
    if name == "posewarper":
        from ..resources import default_model_path

        if not tune:
            options["adapt_steps"] = 0
        return posewarper_from_file(model_path or default_model_path(), device=device, **options)
    raise PoseWarperError(f"unknown auto-fill method {name!r}; choose from {', '.join(METHODS)}")


_last_matcher_method: dict = {}


def posewarper_from_file(model_path, device=None, **options) -> Method:
    """The posewarper method for a model file: a keyframe matcher file (the shipped default) gives
    flow + drift removal + matching (keyframe_match.py); a PoseWarper network file gives the
    network's chained warp (posewarper_method.py)."""
    from pathlib import Path

    from ..nets.matcher import is_matcher_file, matcher_from_payload, read_model_file

    path = Path(model_path)
    # The last matcher method is kept: it holds its tuning on a video's keyframes, which a fill
    # of the same keyframes (e.g. again, after corrections) then reuses.
    key = (str(path.resolve()), path.stat().st_mtime_ns if path.is_file() else None, str(device),
           tuple(sorted(options.items())))
    if _last_matcher_method.get("key") == key:
        return _last_matcher_method["method"]
    data = read_model_file(path)
    if is_matcher_file(data):
        from .keyframe_match import MatchedFlowMethod

        method = MatchedFlowMethod(matcher_from_payload(data, path), device=device, **options)
        _last_matcher_method.update(key=key, method=method)
        return method
    from .posewarper_method import PoseWarperMethod

    return PoseWarperMethod(model_path, device=device, **options)


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
) -> list[PoseChange]:
    """Fill every frame between consecutive keyframes of each track (and up to `extrapolate`
    frames beyond the first and last keyframe) and return the changes; `video` is not modified.

    `frames` is the video's frame source (`frame(i)` -> RGB array, `width`, `height`); linear
    needs none. `progress(done, total)` counts person-frames; `cancel()` returning True stops the
    work with Cancelled (changes already passed to `on_changes` stay valid). `setup_progress(step,
    steps)` reports the method's one-off work before filling (posewarper: tuning on the keyframes);
    `tune=False` skips that tuning (the shipped matcher as it is).
    """
    m = make_method(method, model_path=model_path, device=device, tune=tune) if isinstance(method, str) else method
    if m.needs_frames and frames is None:
        raise PoseWarperError(f"auto-fill method {m.name!r} needs the video's frames")
    gaps = plan_gaps(video, track_ids=track_ids, frame_range=frame_range, extrapolate=extrapolate)
    return run_fill(video, frames, m, gaps, progress=progress, cancel=cancel, on_changes=on_changes, fusion=fusion,
                    setup_progress=setup_progress)


__all__ = [
    "DEFAULT_METHOD", "FUSIONS", "FlowMethod", "Gap", "LinearMethod", "METHODS", "Method", "Span", "available_methods",
    "fill", "make_method", "plan_gaps",
]
