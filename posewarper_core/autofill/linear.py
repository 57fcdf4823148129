"""Linear interpolation, what CVAT does: each side keeps the keyframe's joints where they are;
the engine's distance-weighted fusion of the two sides is then exactly the per-joint lerp. Its
confidence between two keyframes: confidence.linear_confidence (a joint that moved far between the
keyframes is least sure mid-span)."""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance
from .confidence import linear_confidence
from .engine import Method, Side, Span


class LinearMethod(Method):
    name = "linear"
    provenance = Provenance.INTERPOLATED
    half_life = 8.0  # linear motion is a rough guess: confidence halves 8 frames from a keyframe
    needs_frames = False

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        fwd, bwd = _constant(before, len(span.frames)), _constant(after, len(span.frames))
        if fwd is not None and bwd is not None:
            both = np.stack([p.labelled() & q.labelled() for p, q in zip(before, after)])[:, None]
            fwd.confidence = bwd.confidence = np.where(both, linear_confidence(span, before, after, self.half_life), 1.0)
        return fwd, bwd


def _constant(poses: list[Pose] | None, num_frames: int) -> Side | None:
    if poses is None:
        return None
    xy = np.stack([p.xy for p in poses])[:, None].repeat(num_frames, axis=1)
    return Side(xy=xy, quality=np.ones(xy.shape[:3]))
