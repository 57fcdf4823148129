"""The default `posewarper` auto-fill: DIS flow chains, drift removed, then the keyframe matcher.

1. Flow (flow.py) chains each keyframe's joints through the span, both ways.
2. Each chain ends near, not on, the other keyframe's joint; that miss (its drift) is taken out
   along the chain, growing linearly from its own keyframe (as the engine's "drift" fusion).
   A chain that missed the other keyframe by a lot is not to be trusted in between either: each
   joint falls back towards linear interpolation by min(1, drift / (GATE_SCALE x person size)),
   drift being the mean miss of its two chains (flow fails on blur, occlusion and limbs that
   cross; interpolation fails more gently). The two sides are then fused by temporal distance.
3. The matcher (nets/matcher.py) looks for each keyframe joint again in the filled frame,
   directly from the keyframe, in a window around the fused position; where it is confident
   (peak mass >= `min_confidence`) the joint moves part of the way to its match: `blend` x
   min(1, frames to the nearest keyframe / RAMP_FRAMES) (next to a keyframe, flow is better).
   Matches from both keyframes are averaged, each weighted by its temporal distance to the
   other keyframe, and only where they agree (within AGREEMENT x the person's size): two
   templates of the same joint that point to different places mean neither can be trusted.
0. Before the first span, the matcher is fine-tuned for `adapt_steps` on the video's own
   keyframes: each joint labelled in two consecutive keyframes of a track is a real
   correspondence of these very people (training/matcher_training.py, KeyframePairs). When the
   keyframes change, that tuning is continued for a third of the steps.

`learned=False` skips steps 0 and 3: flow with drift removal and the fall-back alone (the bench's
ablation). Blend, threshold, ramp, gate scale, agreement and adaptation length were chosen on the
Bonn dev clip only, at full and half resolution (the gate scale: 0.2 to 0.5 all gave +1.8 to +3.4
points at alpha=0.2 there, 0.3 taken; the agreement: 0.025 / 0.05 / 0.1 / 0.2 gave +0.5 / +0.8 /
+0.6 / 0.0 points on average over no agreement test, 0.05 taken; keeping the nearer keyframe's
match where they disagree: -0.6). With the agreement test in, a lower confidence threshold pays:
0.4 / 0.25 / 0.1 gave 91.7 / 92.1 / 92.1 on average at alpha=0.2, 0.1 losing 0.6 to 0.8 points at
alpha=0.5 with k=15; 0.25 taken (blend 1.0 or 0.85 instead of 0.7: -0.1 each).
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance
from .engine import Method, Side, Span
from .flow import FlowMethod

BLEND = 0.7
MIN_CONFIDENCE = 0.25
RAMP_FRAMES = 4
ADAPT_STEPS = 60
# Keyframes changed in a video tuned before: continue from that tuning for a third of the steps
# (Bonn, full and half resolution, tuned on k=15 then filled at k=7 and back: mean alpha=0.2
# 92.1 against 92.1 for 60 steps from the shipped model), until the video's tuning reaches
# RETUNE_LIMIT times the full length; then start again from the shipped model. (Longer runs
# drift: 60 + 5 x 20 steps on the same keyframes kept alpha=0.2 within 0.4 points, 60 + 15 x 20
# lost up to 0.9 points at alpha=0.5.)
RETUNE_FRACTION = 1 / 3
RETUNE_LIMIT = 3
GATE_SCALE = 0.3  # a chain drift of this fraction of the person's size -> linear interpolation
AGREEMENT = 0.05  # both keyframes' matches within this fraction of the person's size, or no correction


class MatchedFlowMethod(Method):
    name = "posewarper"
    provenance = Provenance.PROPAGATED
    half_life = 15.0
    needs_frames = True
    tunable = True
    uses_torch = True

    def __init__(self, matcher, device=None, *, learned: bool = True, blend: float = BLEND,
                 min_confidence: float = MIN_CONFIDENCE, ramp_frames: float = RAMP_FRAMES,
                 agreement: float = AGREEMENT, adapt_steps: int | None = None, batch_size: int = 32):
        import torch

        from .. import nets

        self.device = torch.device(device) if device is not None else nets.default_device()
        self.base = matcher.to(self.device).eval()
        self.matcher = _for_inference(self.base)
        self.config = matcher.config
        self.learned = learned
        self.blend = float(blend)
        self.min_confidence = float(min_confidence)
        self.ramp_frames = max(float(ramp_frames), 1e-6)
        self.agreement = float(agreement)
        self.adapt_steps = None if adapt_steps is None else int(adapt_steps)  # None: ADAPT_STEPS
        self.adapted_on = 0  # keyframe pairs the matcher was fine-tuned on (0: not adapted)
        self._adapted_for = None  # the signature of those pairs
        self._tuned = None  # (video key, tuned matcher before folding, its steps since the shipped model)
        self.batch_size = max(1, int(batch_size))
        self.flow = FlowMethod("dis")

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        fwd, bwd = self.flow.propagate(frames, span, before, after, check)
        if fwd is not None and bwd is not None and fwd.drift is not None and bwd.drift is not None:
            w = fallback_weights(before, after, fwd.drift, bwd.drift)[:, None, :, None]
            length = span.after - span.before
            t = (np.array(span.frames) - span.before)[None, :, None, None] / length  # 0 at before, 1 at after
            fwd = Side(fwd.xy - fwd.drift[:, None] * t, fwd.quality)
            bwd = Side(bwd.xy - bwd.drift[:, None] * (1 - t), bwd.quality)
            # Fall back towards linear interpolation where the chains drifted: each side is pulled
            # towards its own keyframe's joint, so the distance fusion blends with the lerp.
            for side, poses in ((fwd, before), (bwd, after)):
                side.xy[:] = (1 - w) * side.xy + w * np.stack([p.xy for p in poses])[:, None]
        return fwd, bwd

    def prepare(self, video, frames, gaps, check, progress=None) -> None:
        """Fine-tune the matcher on the video's keyframes (all tracks: filling one person and then
        another tunes once). Kept while those keyframes stay the same, so filling again after
        corrections costs no tuning; after the keyframes change, the last tuning of the same video
        is continued for a third of the steps. `progress(step, steps)` reports the tuning; nothing is
        reported when there is none to do."""
        steps = ADAPT_STEPS if self.adapt_steps is None else self.adapt_steps
        if not self.learned or steps <= 0:
            return
        from ..training.matcher_training import KeyframePairs, adapt_matcher

        pairs = KeyframePairs(self.config, video, frames)
        key = pairs.signature()
        if key == self._adapted_for:
            return
        self.matcher, self.adapted_on, self._adapted_for = _for_inference(self.base), 0, None
        if not len(pairs):
            return
        video_key = (video.video_id, str(video.source), video.num_frames)
        start, done = self.base, 0
        if self._tuned is not None and self._tuned[0] == video_key and self._tuned[2] < RETUNE_LIMIT * steps:
            _, start, done = self._tuned
            steps = max(1, round(steps * RETUNE_FRACTION))
        tuned = adapt_matcher(start, pairs, steps, seed=done, check=check, progress=progress)
        self._tuned = (video_key, tuned, done + steps)
        self.matcher = _for_inference(tuned)
        self.adapted_on, self._adapted_for = len(pairs), key

    def correct(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None,
                filled: dict[tuple[int, int], Pose], check) -> dict[tuple[int, int], Pose]:
        """Move joints of `filled` {(pose index, frame): pose} towards the keyframes' matches."""
        if not self.learned or not filled:
            return filled
        matches = self.match(frames, span, before, after, filled, check)
        out = {}
        for (i, frame), pose in filled.items():
            near = min(abs(frame - k) for k in (span.before, span.after) if k is not None)
            blend = self.blend * min(1.0, near / self.ramp_frames)
            new = pose.copy()
            for j in range(pose.num_joints):
                found = matches.get((i, frame, j))
                if found is not None and found[1] >= self.min_confidence:
                    new.xy[j] = pose.xy[j] + blend * found[0]
            out[(i, frame)] = new
        return out

    def match(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None,
              filled: dict[tuple[int, int], Pose], check) -> dict[tuple[int, int, int], tuple[np.ndarray, float]]:
        """{(pose index, frame, joint): (move to the match in image pixels, confidence)}, both
        keyframes' matches averaged, each weighted by its temporal distance to the other keyframe;
        a joint whose two matches are more than AGREEMENT x the person's size apart is left out."""
        import torch

        from ..nets.matcher import patch, to_tensor

        cfg = self.config
        anchors = [(key, poses) for key, poses in ((span.before, before), (span.after, after)) if poses is not None]
        images: dict[int, np.ndarray] = {}

        def image(i: int) -> np.ndarray:
            if i not in images:
                images[i] = np.ascontiguousarray(frames.frame(i))
            return images[i]

        def size(i: int) -> float | None:
            """Pose i's size in image pixels: the mean of its keyframes' joint-extent sides."""
            sizes = [max(e[2], e[3], 1.0) for e in (poses[i].joint_extent() for _, poses in anchors) if e]
            return float(np.mean(sizes)) if sizes else None

        sizes = [size(i) for i in range(len(anchors[0][1]))]
        sides = [None if s is None else cfg.template_fraction * s for s in sizes]  # template side
        # Template features: once per keyframe joint for the whole span.
        template_keys, template_patches = [], []
        for a, (key, poses) in enumerate(anchors):
            for i, anchor in enumerate(poses):
                if sides[i] is None:
                    continue
                for j in np.flatnonzero(anchor.labelled()):
                    template_keys.append((a, i, int(j)))
                    template_patches.append(patch(image(key), anchor.xy[j], sides[i], cfg.template)[0])
        # Search windows: one per filled joint, shared by both keyframes' templates. Frame by
        # frame, each decoded frame dropped once its windows are cut (long gaps of big frames).
        jobs, search_patches = [], []
        for (i, frame), pose in sorted(filled.items(), key=lambda item: (item[0][1], item[0][0])):
            for old in [f for f in images if f < frame and f not in (span.before, span.after)]:
                del images[old]
            if sides[i] is None:
                continue
            for j in np.flatnonzero(pose.labelled()):
                search, scale = patch(image(frame), pose.xy[j], 2 * sides[i], cfg.search)
                jobs.append((i, frame, int(j), scale))
                search_patches.append(search)
        if not jobs or not template_keys:
            return {}
        row = {k: n for n, k in enumerate(template_keys)}
        total: dict[tuple[int, int, int], list] = {}  # per keyframe: (move, confidence, weight)
        m = self.matcher

        def batch(patches: list[np.ndarray]) -> torch.Tensor:
            return to_tensor(patches).to(self.device).contiguous(memory_format=torch.channels_last)

        with torch.no_grad():
            templates = torch.cat([m.spectrum(m.template_features(batch(template_patches[b:b + self.batch_size])), conj=True)
                                   for b in range(0, len(template_patches), self.batch_size)])
            for b in range(0, len(jobs), self.batch_size):
                check()
                chunk = jobs[b:b + self.batch_size]
                fs = m.spectrum(m.search_features(batch(search_patches[b:b + len(chunk)])))
                pairs = [(n, a, row[(a, i, j)]) for n, (i, _, j, _) in enumerate(chunk)
                         for a in range(len(anchors)) if (a, i, j) in row]
                if not pairs:
                    continue
                idx_s = torch.tensor([p[0] for p in pairs], device=self.device)
                idx_t = torch.tensor([p[2] for p in pairs], device=self.device)
                offsets, conf = m.decode(m.correlate_spectra(templates[idx_t], fs[idx_s]))
                offsets, conf = offsets.cpu().numpy(), conf.cpu().numpy()
                for (n, a, _), move, c in zip(pairs, offsets, conf):
                    i, frame, j, scale = chunk[n]
                    key = anchors[a][0]
                    # a keyframe's match counts by the temporal distance to the other keyframe
                    weight = abs(frame - anchors[1 - a][0]) if len(anchors) == 2 else 1.0
                    total.setdefault((i, frame, j), []).append((move / scale, float(c), weight))
        return agreed_matches(total, sizes, self.agreement)


def agreed_matches(found: dict[tuple[int, int, int], list[tuple[np.ndarray, float, float]]],
                   sizes: list[float | None], agreement: float) -> dict[tuple[int, int, int], tuple[np.ndarray, float]]:
    """{(pose index, frame, joint): (move, confidence)} from each keyframe's (move, confidence,
    weight): the weighted means, where the keyframes' moves lie within `agreement` x the pose's
    size of each other (two templates of one joint pointing to different places: trust neither)."""
    out = {}
    for key, matches in found.items():
        weight = sum(m[2] for m in matches)
        if weight <= 0:
            continue
        moves = [m[0] for m in matches]
        if len(moves) == 2 and np.linalg.norm(moves[0] - moves[1]) > agreement * sizes[key[0]]:
            continue
        out[key] = (sum(m[2] * m[0] for m in matches) / weight, sum(m[2] * m[1] for m in matches) / weight)
    return out


def fallback_weights(before: list[Pose], after: list[Pose], fwd_drift: np.ndarray, bwd_drift: np.ndarray,
                     scale: float | None = None) -> np.ndarray:
    """(P, J) weights of linear interpolation: the mean drift of a joint's two chains over
    `scale` (default GATE_SCALE) x the person's size (the mean of its keyframe extents), capped at 1.
    A person whose keyframes give no size (a single joint labelled) keeps the flow (weights 0)."""
    scale = GATE_SCALE if scale is None else scale
    sizes = []
    for a, b in zip(before, after):
        extents = [max(e[2], e[3]) for e in (a.joint_extent(), b.joint_extent()) if e]
        sizes.append(np.mean(extents) if extents else 0.0)
    sizes = np.array(sizes)[:, None]
    drift = (np.linalg.norm(fwd_drift, axis=-1) + np.linalg.norm(bwd_drift, axis=-1)) / 2
    return np.where(sizes >= 1.0, np.clip(drift / (scale * np.maximum(sizes, 1.0)), 0.0, 1.0), 0.0)


def _for_inference(matcher):
    """A copy with BatchNorm folded, channels-last: ~2x faster convolutions on the CPU (measured)."""
    import copy

    import torch

    return copy.deepcopy(matcher).eval().fold_batchnorm().to(memory_format=torch.channels_last)
