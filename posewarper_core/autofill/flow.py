"""Dense optical flow, chained frame to frame from each keyframe (OpenCV DIS or Farneback).

Per span (the frames between two keyframes) each frame pair's flow t -> t+1 is computed once and
serves every track of the span and both directions: the forward chain follows it, the backward
chain inverts it (solves p + F(p) = q for p). `bidirectional=True` computes the reverse flows
t+1 -> t as well for the backward chain (twice the work). Flow runs on a region around the
people (the keyframe boxes, grown) and, when that region is large, on a downscaled copy: both
only for speed. OpenCV releases the GIL while it computes, so a GUI thread stays responsive.

Confidence: where a chain reaches the other keyframe (between two keyframes), how far it lands
from that keyframe's joint is its drift; a side's quality at a frame is exp(-drift so far /
(DRIFT_SCALE x person size)), the drift assumed to grow linearly along the chain (used where only
one keyframe bounds the span). Between two keyframes a joint's confidence is the two chains'
disagreement and drift (confidence.joint_confidence, as the default's), which picks the joints off
by alpha=0.2 (originals) and 0.5 (every 2nd / 3rd frame kept) better than the quality did on both
dev clips (model card, issue 17).
"""
from __future__ import annotations

from collections import OrderedDict

import cv2
import numpy as np

from ..annotation import Pose, Provenance
from ..errors import PoseWarperError
from .confidence import joint_confidence, person_sizes, span_fraction
from .engine import Method, Side, Span

ROI_MARGIN = 0.25  # the region around the people grows by this fraction of its width/height on each side
ROI_MARGIN_ONE_SIDED = 0.5  # ... when only one keyframe bounds where people go (extrapolation)
ROI_MIN_MARGIN = 32  # ... and by at least this many pixels
ROI_MAX_AREA = 0.6  # above this fraction of the frame, flow runs on the whole frame
INVERSE_ITERATIONS = 10  # fixed-point steps to invert a flow at a point (converges for smooth flow)
DRIFT_SCALE = 0.1  # drift of a tenth of the person's size -> quality 1/e
FLOW_CACHE_BYTES = 512 * 2**20  # flows kept for a span's second chain; beyond, they are recomputed
GRAY_CACHE_BYTES = 128 * 2**20


def make_flow_function(algorithm: str):
    """A function (gray_a, gray_b) -> flow (H, W, 2) float32 moving pixels of a onto b."""
    if algorithm == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        return lambda a, b: dis.calc(a, b, None)
    if algorithm == "farneback":
        # OpenCV's sample parameters, the usual choice for the classic Farneback baseline.
        return lambda a, b: cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise PoseWarperError(f"unknown flow algorithm {algorithm!r}; choose dis or farneback")


def sample_flow(flow: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Bilinear flow at points (N, 2) in the flow's pixel grid; points outside use the border."""
    h, w = flow.shape[:2]
    x = np.clip(pts[:, 0], 0, w - 1)
    y = np.clip(pts[:, 1], 0, h - 1)
    x0 = np.clip(np.floor(x).astype(np.int64), 0, max(w - 2, 0))
    y0 = np.clip(np.floor(y).astype(np.int64), 0, max(h - 2, 0))
    x1, y1 = np.minimum(x0 + 1, w - 1), np.minimum(y0 + 1, h - 1)
    fx, fy = (x - x0)[:, None], (y - y0)[:, None]
    top = flow[y0, x0] * (1 - fx) + flow[y0, x1] * fx
    bottom = flow[y1, x0] * (1 - fx) + flow[y1, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float64)


def invert_step(flow: np.ndarray, q: np.ndarray, iterations: int = INVERSE_ITERATIONS) -> np.ndarray:
    """Points p with p + flow(p) = q: where the pixels now at q came from."""
    p = q - sample_flow(flow, q)
    for _ in range(iterations):
        p = q - sample_flow(flow, p)
    return p


class _BoundedCache:
    """Arrays by key, least recently used dropped beyond a byte budget (long spans stay bounded)."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.items: OrderedDict = OrderedDict()
        self.nbytes = 0

    def get(self, key, make):
        if key in self.items:
            self.items.move_to_end(key)
            return self.items[key]
        value = make()
        self.items[key] = value
        self.nbytes += value.nbytes
        while self.nbytes > self.max_bytes and len(self.items) > 1:
            self.nbytes -= self.items.popitem(last=False)[1].nbytes
        return value


def working_gray(frames, i: int, region, scale: float) -> np.ndarray:
    """Frame `i`'s `region` (x0, y0, x1, y1) in grey, scaled by `scale`: what the flow sees."""
    x0, y0, x1, y1 = region
    g = cv2.cvtColor(np.ascontiguousarray(frames.frame(i)[y0:y1, x0:x1]), cv2.COLOR_RGB2GRAY)
    if scale != 1.0:
        size = (max(1, round(g.shape[1] * scale)), max(1, round(g.shape[0] * scale)))
        g = cv2.resize(g, size, interpolation=cv2.INTER_AREA)
    return g


def flow_region(frames, poses: list[Pose], one_sided: bool, roi: bool = True,
                max_side: int | None = 960) -> tuple[tuple[int, int, int, int], float]:
    """The pixel region (x0, y0, x1, y1) that flow runs on (around the poses' boxes, grown), and
    the working scale (its longer side at most `max_side`)."""
    w, h = frames.width, frames.height
    region = (0, 0, w, h)
    boxes = [b for b in (p.box_or_extent() for p in poses) if b is not None] if roi else []
    if boxes:
        x0 = min(b[0] for b in boxes)
        y0 = min(b[1] for b in boxes)
        x1 = max(b[0] + b[2] for b in boxes)
        y1 = max(b[1] + b[3] for b in boxes)
        grow = ROI_MARGIN_ONE_SIDED if one_sided else ROI_MARGIN
        mx = max(grow * (x1 - x0), ROI_MIN_MARGIN)
        my = max(grow * (y1 - y0), ROI_MIN_MARGIN)
        cand = (max(0, int(x0 - mx)), max(0, int(y0 - my)),
                min(w, int(np.ceil(x1 + mx))), min(h, int(np.ceil(y1 + my))))
        cw, ch = cand[2] - cand[0], cand[3] - cand[1]
        if cw >= 32 and ch >= 32 and cw * ch <= ROI_MAX_AREA * w * h:
            region = cand
    longer = max(region[2] - region[0], region[3] - region[1])
    scale = min(1.0, max_side / longer) if max_side else 1.0
    return region, scale


class FlowField:
    """The dense flows between frames of one span, each pair computed once (bounded caches) and
    shared by every track and both chains; used by the flow method and the flow-seeded warp.

    Flows are in working pixels (the region around the people, downscaled); `to_work` and
    `to_image` convert points, `move` moves image points by the flow."""

    def __init__(self, frames, anchors: list[Pose], one_sided: bool, check=None, algorithm: str = "dis",
                 max_side: int | None = 960, roi: bool = True, flow_function=None):
        self.region, self.scale = flow_region(frames, anchors, one_sided, roi=roi, max_side=max_side)
        self.origin = np.array(self.region[:2], np.float64)
        self._flow_fn = flow_function or make_flow_function(algorithm)
        self._frames = frames
        self._check = check
        self._gray = _BoundedCache(GRAY_CACHE_BYTES)
        self._flows = _BoundedCache(FLOW_CACHE_BYTES)

    def _load(self, i: int) -> np.ndarray:
        return working_gray(self._frames, i, self.region, self.scale)

    def flow(self, src: int, dst: int) -> np.ndarray:
        """Flow src -> dst in working pixels."""
        def compute():
            if self._check:
                self._check()
            a = self._gray.get(src, lambda: self._load(src))
            b = self._gray.get(dst, lambda: self._load(dst))
            return self._flow_fn(a, b)
        return self._flows.get((src, dst), compute)

    def to_work(self, xy: np.ndarray) -> np.ndarray:
        return (np.asarray(xy, np.float64) - self.origin) * self.scale

    def to_image(self, pts: np.ndarray) -> np.ndarray:
        return pts / self.scale + self.origin

    def displacement(self, src: int, dst: int, pts: np.ndarray) -> np.ndarray:
        """Image-pixel motion src -> dst at image points (N, 2)."""
        return sample_flow(self.flow(src, dst), self.to_work(pts)) / self.scale

    def move(self, src: int, dst: int, pts: np.ndarray) -> np.ndarray:
        """Image points (N, 2) of frame src moved into frame dst by the flow."""
        return np.asarray(pts, np.float64) + self.displacement(src, dst, pts)


class FlowMethod(Method):
    """Propagate joints by chaining dense flow from each keyframe through the span's frames.

    `max_side`: flow runs on the region around the people downscaled so that its longer side is
    at most this many pixels. `roi`: restrict flow to that region (False: always the whole
    frame). `bidirectional`: compute reverse flows for the backward chain instead of inverting.
    """

    provenance = Provenance.PROPAGATED
    half_life = 15.0
    needs_frames = True

    def __init__(self, algorithm: str = "dis", max_side: int = 960, roi: bool = True,
                 bidirectional: bool = False, name: str | None = None):
        self.algorithm = algorithm
        self.name = name or ("flow" if algorithm == "dis" else f"flow-{algorithm}")
        self.max_side = max_side
        self.roi = roi
        self.bidirectional = bidirectional
        self._flow = make_flow_function(algorithm)

    def field(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check) -> FlowField:
        """The span's flows, as this method computes them."""
        anchors = [p for ps in (before, after) if ps for p in ps]
        return FlowField(frames, anchors, one_sided=not (before and after), check=check,
                         max_side=self.max_side, roi=self.roi, flow_function=self._flow)

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        field = self.field(frames, span, before, after, check)
        flow = field.flow
        # Each chain runs to the far keyframe when there is one, to measure its drift there.
        fwd = bwd = None
        if before:
            end = span.after if after else span.last
            fwd = self._chain(before, after, range(span.before, end), +1, span,
                              lambda t, pts: pts + sample_flow(flow(t, t + 1), pts), field.to_work, field.to_image)
        if after:
            end = span.before if before else span.first
            if self.bidirectional:
                def back(t, pts):
                    return pts + sample_flow(flow(t, t - 1), pts)
            else:
                def back(t, pts):
                    return invert_step(flow(t - 1, t), pts)
            bwd = self._chain(after, before, range(span.after, end, -1), -1, span, back, field.to_work, field.to_image)
        if fwd is not None and bwd is not None:  # between two keyframes: the chains' own confidence
            t = span_fraction(span)
            both = np.stack([p.labelled() & q.labelled() for p, q in zip(before, after)])[:, None]
            disagreement = np.linalg.norm(fwd.xy - bwd.xy, axis=-1)
            fwd.confidence = bwd.confidence = np.where(
                both, joint_confidence(disagreement, fwd.drift, bwd.drift, t, person_sizes(before, after)), 1.0)
        return fwd, bwd

    @staticmethod
    def _chain(poses, far_poses, starts: range, direction: int, span: Span, step, to_work, to_image) -> Side:
        """Move the anchor joints one frame at a time from starts[0], recording the span's frames."""
        num_poses, num_joints = len(poses), poses[0].num_joints
        pts = to_work(np.concatenate([p.xy for p in poses]))
        xy = np.zeros((num_poses, len(span.frames), num_joints, 2))
        for t in starts:
            pts = step(t, pts)
            dst = t + direction
            if span.first <= dst <= span.last:
                xy[:, dst - span.first] = to_image(pts).reshape(num_poses, num_joints, 2)
        quality = np.ones((num_poses, len(span.frames), num_joints))
        drift_xy = None
        if far_poses:  # the chain ended on the far keyframe: its drift there rates the whole chain
            arrived = to_image(pts).reshape(num_poses, num_joints, 2)
            length = len(starts)
            drift_xy = np.stack([np.where((p.labelled() & far.labelled())[:, None], arrived[i] - far.xy, 0.0)
                                 for i, (p, far) in enumerate(zip(poses, far_poses))])
            for i, (p, far) in enumerate(zip(poses, far_poses)):
                m = p.labelled() & far.labelled()
                ext = p.joint_extent()
                size = max(ext[2], ext[3], 1.0) if ext else 1.0
                drift = np.where(m, np.linalg.norm(arrived[i] - far.xy, axis=1), 0.0)
                dist = np.abs(np.array(span.frames) - starts[0])[:, None]  # frames from the anchor
                quality[i] = np.exp(-drift[None, :] * dist / length / (DRIFT_SCALE * size))
        return Side(xy=xy, quality=quality, drift=drift_xy)
