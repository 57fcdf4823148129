"""PoseWarper propagation (the paper's mode b), chained frame to frame from each keyframe.

Each step warps the current pose from frame t to its neighbour: both frames are cropped with the
same transform, built from the person's box (the keyframe's box, moved with the pose) grown x1.25
at the model's aspect; the current joints are rendered as heatmaps in that crop and the network
moves them into the neighbour. All tracks and both directions of a span go through the network
together, in batches. The crop geometry is the training code's (training.samples), so what the
network sees at use time is what it was trained on.

Flow-seeded (`seed="flow"`, chosen automatically for models trained on flow-seeded pairs, see
training/flow_seeded.py): each step first moves the joints by DIS flow, pulls frame t onto frame
t+1 with the reverse flow, and lets the network move the heatmaps rendered at the flow's
joints; its move (decoded output minus decoded input, so decoding bias cancels) is added to the
flow's result, times `residual_gain` (0: the flow result exactly).
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance
from ..errors import ModelError
from .engine import Method, Side, Span

CROP_PAD = 1.25


class PoseWarperMethod(Method):
    name = "posewarper"
    provenance = Provenance.PROPAGATED
    half_life = 15.0
    needs_frames = True
    uses_torch = True

    def __init__(self, model_path=None, device=None, *, model=None, config=None, batch_size: int = 8,
                 seed: str | None = "auto", residual_gain: float = 1.0):
        if model is None and model_path is None:
            raise ModelError("the posewarper method needs a model file")
        import torch

        from .. import nets

        self.device = torch.device(device) if device is not None else nets.default_device()
        if model is None:
            model, config = nets.load_model(model_path, device=self.device)
        if config is None:
            raise ModelError("a posewarper model was given without its configuration")
        self.model = model.to(self.device).eval()
        self.config = config
        self.input_size = tuple(int(v) for v in config.input_size)  # (W, H)
        self.sigma = float(getattr(config, "sigma", 2.0))
        self.batch_size = max(1, int(batch_size))
        if seed == "auto":  # a model trained on flow-seeded pairs records it (training/flow_seeded.py)
            seed = nets.flow_seed(model)
        if seed not in (None, "flow"):
            raise ModelError(f"unknown seed {seed!r}; choose flow or none")
        self.seed = seed
        self.residual_gain = float(residual_gain)

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        joints = (before or after)[0].num_joints
        if joints != self.config.num_joints:
            raise ModelError(f"the model predicts {self.config.num_joints} joints, the video's skeleton has {joints}")
        chains = []
        if before:
            end = span.after if after else span.last  # run on to the far keyframe to measure drift
            chains.append(_Chain(before, [(t, t + 1) for t in range(span.before, end)], span, after))
        if after:
            end = span.before if before else span.first
            chains.append(_Chain(after, [(t, t - 1) for t in range(span.after, end, -1)], span, before))
        images: dict[int, np.ndarray] = {}
        self._field = None
        if self.seed == "flow":
            from .flow import FlowField

            self._field = FlowField(frames, [p for ps in (before, after) if ps for p in ps],
                                    one_sided=not (before and after), check=check)

        def image(i: int) -> np.ndarray:
            if i not in images:
                images[i] = frames.frame(i)
            return images[i]

        for step in range(max((len(c.steps) for c in chains), default=0)):
            check()
            needed = {t for c in chains if step < len(c.steps) for t in c.steps[step]}
            for t in [t for t in images if t not in needed]:
                del images[t]
            work = [(c, p) for c in chains if step < len(c.steps) for p in range(c.num_poses)]
            for b in range(0, len(work), self.batch_size):
                self._step(work[b:b + self.batch_size], step, image)
            for c in chains:
                if step < len(c.steps):
                    c.record(step)
        out = [c.side() for c in chains]
        fwd = out.pop(0) if before else None
        bwd = out.pop(0) if after else None
        return fwd, bwd

    def _step(self, items, step: int, image) -> None:
        """Warp each (chain, pose) item one step, updating its joints and quality in place."""
        import torch

        from .. import heatmaps
        from ..crops import HEATMAP_STRIDE, crop_image, crop_transform, normalise
        from .flow_seed import aligned_crop

        hm_w, hm_h = self.input_size[0] // HEATMAP_STRIDE, self.input_size[1] // HEATMAP_STRIDE
        mats, crops_a, crops_b, hms, masks = [], [], [], [], []
        field = self._field
        seeds = []
        for chain, p in items:
            src, dst = chain.steps[step]
            m = crop_transform(chain.box(p), self.input_size, pad=CROP_PAD)
            start = chain.pts[p] if field is None else field.move(src, dst, chain.pts[p])
            seeds.append(start)
            xy_hm = (start @ m[:, :2].T + m[:, 2]) / HEATMAP_STRIDE
            inside = chain.labelled[p] & (xy_hm >= 0).all(axis=1) & (xy_hm[:, 0] <= hm_w - 1) & (xy_hm[:, 1] <= hm_h - 1)
            # sub-pixel Gaussians: a chain must not round its joints to the heatmap grid every step
            hm = heatmaps.render(xy_hm, inside, size=(hm_h, hm_w), sigma=self.sigma, subpixel=True)
            mats.append(m)
            if field is None:
                crops_a.append(normalise(crop_image(image(src), m, self.input_size)))
            else:  # frame src pulled onto frame dst by the flow: the network sees only what flow missed
                crops_a.append(normalise(aligned_crop(field, image(src), src, dst, m, self.input_size)))
            crops_b.append(normalise(crop_image(image(dst), m, self.input_size)))
            hms.append(torch.from_numpy(hm))
            masks.append(inside)
        with torch.no_grad():
            out = self.model.propagate(
                torch.stack(crops_a).to(self.device), torch.stack(crops_b).to(self.device),
                torch.stack(hms).to(self.device),
            )
        xy_hm, peak = heatmaps.decode_subpixel(out.float().cpu().numpy())
        if field is not None:  # the network's move of the seeded heatmaps, decoded the same way
            xy_in, _ = heatmaps.decode_subpixel(torch.stack(hms).numpy())
        for n, ((chain, p), m, inside, xy, pk) in enumerate(zip(items, mats, masks, xy_hm, peak)):
            inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
            if field is None:
                new = (np.asarray(xy, np.float64) * HEATMAP_STRIDE) @ inv[:, :2].T + inv[:, 2]
            else:
                residual = (np.asarray(xy, np.float64) - xy_in[n]) * HEATMAP_STRIDE @ inv[:, :2].T
                new = seeds[n] + self.residual_gain * residual
            # joints off the crop stay put (or follow the flow alone)
            chain.pts[p] = np.where(inside[:, None], new, chain.pts[p] if field is None else seeds[n])
            chain.quality[p] = np.minimum(chain.quality[p], np.where(inside, np.clip(pk, 0.0, 1.0), 0.0))


class _Chain:
    """One direction of a span: the current joints of each pose and their running quality."""

    def __init__(self, poses: list[Pose], steps: list[tuple[int, int]], span: Span, far: list[Pose] | None):
        self.steps = steps
        self.far = far
        self.span = span
        self.num_poses = len(poses)
        self.anchor = np.stack([p.xy for p in poses])
        self.labelled = np.stack([p.labelled() for p in poses])
        self.boxes = [p.box_or_extent() or (0.0, 0.0, 1.0, 1.0) for p in poses]
        self.pts = self.anchor.copy()
        self.quality = np.ones(self.labelled.shape)
        n = len(span.frames)
        self.xy = np.zeros((self.num_poses, n) + self.anchor.shape[1:])
        self.q = np.ones((self.num_poses, n, self.anchor.shape[1]))

    def box(self, p: int) -> tuple[float, float, float, float]:
        """The anchor's box moved by the mean motion of the labelled joints so far."""
        m = self.labelled[p]
        dx, dy = (self.pts[p][m] - self.anchor[p][m]).mean(axis=0) if m.any() else (0.0, 0.0)
        x, y, w, h = self.boxes[p]
        return (x + dx, y + dy, w, h)

    def record(self, step: int) -> None:
        dst = self.steps[step][1]
        if self.span.first <= dst <= self.span.last:
            self.xy[:, dst - self.span.first] = self.pts
            self.q[:, dst - self.span.first] = self.quality

    def side(self) -> Side:
        drift = None
        if self.far and self.steps:  # the chain ended on the far keyframe
            drift = np.stack([np.where(f.labelled()[:, None], self.pts[i] - f.xy, 0.0) for i, f in enumerate(self.far)])
        return Side(xy=self.xy, quality=self.q, drift=drift)


AGGREGATE_MIN_PEAK = 0.2  # the paper keeps a network joint only above this heatmap peak (its §4.4)
AGGREGATE_MAX_SHIFT = 0.1  # refinement moves a joint by at most this fraction of the person's size


def aggregate_joints(method: PoseWarperMethod, frames, num_frames: int, poses: list[tuple[int, Pose]],
                     check=None) -> list[tuple[np.ndarray, np.ndarray]]:
    """The network's temporal aggregation (mode c) at each (frame, pose): crops of frames t, t-1,
    t-2, t+1, t+2 (clipped to the video) cut with the pose's box, warped to t and weighted
    0.3 / 0.25 / 0.1. Returns per pose (xy (J, 2) image pixels, peak (J,))."""
    import torch

    from .. import heatmaps
    from ..crops import HEATMAP_STRIDE, crop_image, crop_transform, normalise

    out = []
    for b in range(0, len(poses), method.batch_size):
        if check:
            check()
        batch, mats = [], []
        for frame, pose in poses[b:b + method.batch_size]:
            m = crop_transform(pose.box_or_extent() or (0.0, 0.0, 1.0, 1.0), method.input_size, pad=CROP_PAD)
            order = [min(max(frame + d, 0), num_frames - 1) for d in (0, -1, -2, 1, 2)]
            batch.append(torch.stack([normalise(crop_image(frames.frame(i), m, method.input_size)) for i in order]))
            mats.append(m)
        with torch.no_grad():
            hm = method.model.aggregate(torch.stack(batch).to(method.device))
        xy_hm, peak = heatmaps.decode_subpixel(hm.float().cpu().numpy())
        for m, xy, pk in zip(mats, xy_hm, peak):
            inv = np.linalg.inv(np.vstack([m, [0.0, 0.0, 1.0]]))[:2]
            out.append(((np.asarray(xy, np.float64) * HEATMAP_STRIDE) @ inv[:, :2].T + inv[:, 2], np.asarray(pk)))
    return out
