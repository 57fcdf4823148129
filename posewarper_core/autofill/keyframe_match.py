"""The default `posewarper` auto-fill: DIS flow chains, drift removed, a fall-back to the straight
line weighed by the chains' own errors, the keyframe matcher, then the pose model.

1. Flow (flow.py) chains each keyframe's joints through the span, both ways.
2. Each chain ends near, not on, the other keyframe's joint; that miss (its drift) is taken out
   along the chain, growing linearly from its own keyframe (as the engine's "drift" fusion).
   Per joint and frame, the drift-corrected chains are weighed against the raw ones by how far
   the two chains disagree in each form (drift_trust): a chain that slid off gradually is
   corrected; one that jumped late (the joint hidden behind a leg) keeps its path up to the jump.
3. Fall-back: per joint, the chains' result is blended with linear interpolation by
   D^2 / (D^2 + M^2) (fallback_weights): D the largest disagreement of the two chains over the
   span (per frame, in the form, raw or drift-corrected, they agree in better), M the largest
   distance of their fused result from the straight line.
   Each guess is weighted by the other's error (inverse variance), with no constant: limbs the
   two chains agree swung off the line (fast punches) keep their path, joints the chains lose
   while they barely move fall back to the line. The sides are then fused by temporal distance.
4. The matcher (nets/matcher.py) looks for each keyframe joint again in the filled frame,
   directly from the keyframe, in a window around the fused position; where it is confident
   (peak mass >= `min_confidence`) the joint moves part of the way to its match: `blend` x
   min(1, frames to the nearest keyframe / RAMP_FRAMES) (next to a keyframe, flow is better).
   Matches from both keyframes are averaged, each weighted by its temporal distance to the
   other keyframe, and only where they agree (within AGREEMENT x the person's size): two
   templates of the same joint that point to different places mean neither can be trusted.
5. The pose model (pose_model_fusion.py, BlazePose; needs ai-edge-litert, else skipped and said
   once): it looks at each filled frame around the result, and per joint the result and the
   model's joint are weighed by the error each is expected to make (the carried one's from its
   confidence, the model's as measured on the span's two keyframes; the model's correction is
   averaged over the filled frames within 2 of each one); the confidence falls with
   the distance between the two. Past the last keyframe the model's error cannot be checked, so
   there it only lowers the confidence where it disagrees (the joints are where the chain put them).
0. Before the first span, the matcher is fine-tuned for `adapt_steps` on the video's own
   keyframes: each joint labelled in two consecutive keyframes of a track is a real
   correspondence of these very people (training/matcher_training.py, KeyframePairs). When the
   keyframes change, that tuning is continued for a third of the steps.

Confidence (confidence.joint_confidence): exp(-u / (0.1 x person size)), u the chains'
disagreement (as in step 3) plus a quarter of their drift (x 4t(1-t)); the bench reports its
AUROC for joints off by more than alpha = 0.5.

`model_others=False` lets step 5 use model joints that lie on another person (the bench's
ablation row posewarper-noothers); `model_window=0` weighs the model's correction of each frame
alone in step 5 instead of its mean over nearby frames (posewarper-unsmoothed, which also has
model_others=False); `pose_model=False` skips
step 5 (posewarper-nomodel; the rows after it skip it too); `learned=False` skips steps 0 and 4
(posewarper-unlearned, and with `fallback=False` also step 3: posewarper-nofallback;
`drift_trust=False` then takes the drift out whole: posewarper-wholedrift; `tune=False`,
posewarper-untuned, skips step 0).

How the parts were chosen (leave-one-clip-out, Bonn and JHMDB dev clips, k = 7 and 15, alpha=0.2
unless said; the stress clips keep every 2nd / 3rd frame, for faster motion):
- the fall-back: the earlier gate, min(1, mean end drift / (0.3 x person size)), was chosen on Bonn
  only; it pulled fast limbs onto the line (JHMDB every 3rd frame, k=7: 90.3 without it, 82.5 with
  it; on unseen sparring footage it cost wrists 5.6 points at alpha=0.5 against flow). The D/M
  weight (no constant) against the gate, without the matcher (offline on the same chains): Bonn
  96.8 / 86.1 vs 96.4 / 83.9, JHMDB 84.2 / 89.3 vs 84.4 / 88.5, Bonn every 2nd / 3rd frame 86.2 /
  77.3 vs 83.7 / 74.5, JHMDB 82.1 / 90.3 vs 83.0 / 82.5. A factor b on M (D^2 / (D^2 + b^2 M^2)),
  b = 0.5 / 1 / 2, per frame: chosen on Bonn 0.5 (mean 91.25 / 91.2 / 89.8; JHMDB then 84.2 /
  89.1), on JHMDB 1 or 2 (86.65 / 86.75 / 86.75; Bonn then 96.6 / 85.8 for 1); within 0.2 points
  where they disagree, so none (b=1). D and M as the span's largest value per joint rather than
  per frame: Bonn +0.2 / +0.3, JHMDB the same.
- the drift's weighing (drift_trust, no constant; model card, round 6), against the drift taken
  out whole, full default, alpha=0.2 (0.5 for the demo in brackets): Bonn 97.3 / 89.8 vs 97.3 /
  89.7, JHMDB 85.5 / 90.7 vs 85.5 / 90.9 (median 6.80 vs 7.11 px at k=15), the demo clip (k=20,
  chains that jump behind a leg or a tree) 45.9 (73.0) vs 44.2 (69.5). Leave-one-clip-out: held
  out the demo, the dev clips pick the whole drift by 0.025 points (a tie); held out either dev
  clip, the other and the demo pick the weighing.
- the matcher's constants (blend, threshold, ramp, agreement) were chosen on the Bonn
  clip only, at full and half resolution (agreement 0.025 / 0.05 / 0.1 / 0.2 gave +0.5 / +0.8 /
  +0.6 / 0.0 points on average over no agreement test; threshold 0.4 / 0.25 / 0.1 gave 91.7 / 92.1
  / 92.1, 0.1 losing 0.6 to 0.8 points at alpha=0.5 with k=15; blend 1.0 or 0.85 instead of 0.7:
  -0.1 each); what the matcher adds on each clip is the bench's ablation (README, model card).
"""
from __future__ import annotations

import numpy as np

from ..annotation import Pose, Provenance
from .confidence import joint_confidence, person_sizes
from .engine import Method, Side, Span
from .flow import FlowMethod

BLEND = 0.7
MIN_CONFIDENCE = 0.25
RAMP_FRAMES = 4
# Tuning steps on the keyframes, 0 / 20 / 60 (1 thread; alpha=0.2 at k=7 and 15; median px):
# Bonn 96.7, 88.3 / 97.0, 89.0 / 96.5, 89.0 (1.93 / 1.92 / 1.89 px mean median); JHMDB 84.0, 89.1 /
# 84.0, 88.9 / 84.0, 88.7 (7.77 / 7.73 / 7.55 px). Chosen on Bonn, alpha=0.2 picks 20 (JHMDB then
# 84.0 / 88.9); chosen on JHMDB it picks 0 (Bonn then 96.7 / 88.3); the median picks 60 on both.
# 20: a third of the time of 60 (the demo's tuning ~13 s instead of ~38 s) at no loss at alpha=0.2.
ADAPT_STEPS = 20
# Keyframes changed in a video tuned before: continue from that tuning for a third of the steps
# (Bonn, full and half resolution, tuned on k=15 then filled at k=7 and back: mean alpha=0.2
# 92.1 against 92.1 for 60 steps from the shipped model), until the video's tuning reaches
# RETUNE_LIMIT times the full length; then start again from the shipped model. (Longer runs
# drift: 60 + 5 x 20 steps on the same keyframes kept alpha=0.2 within 0.4 points, 60 + 15 x 20
# lost up to 0.9 points at alpha=0.5.)
RETUNE_FRACTION = 1 / 3
RETUNE_LIMIT = 3
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
                 agreement: float = AGREEMENT, adapt_steps: int | None = None, batch_size: int = 32,
                 fallback: bool = True, pose_model: bool = True, model_window: int | None = None,
                 model_others: bool = True, drift_trust: bool = True):
        import torch

        from .. import nets

        self.device = torch.device(device) if device is not None else nets.default_device()
        self.base = matcher.to(self.device).eval()
        self.matcher = _for_inference(self.base)
        self.config = matcher.config
        self.learned = learned
        self.fallback = bool(fallback)
        self.drift_trust = bool(drift_trust)
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
        # Step 5, the pose model (pose_model_fusion.py): skipped, and said once, without ai-edge-litert.
        self.pose_model = None
        self.pose_model_missing = None if pose_model else "the pose model step is switched off"
        if pose_model:
            from ..suggest.blazepose import runtime_missing

            self.pose_model_missing = runtime_missing()
            if self.pose_model_missing is None:
                from .pose_model_fusion import WINDOW, PoseModelFusion

                self.pose_model = PoseModelFusion(window=WINDOW if model_window is None else model_window,
                                                  others=model_others)

    @property
    def notice(self) -> str | None:
        """What the user should know once about this fill: the pose model step missing."""
        if self.pose_model is None and self.pose_model_missing and "switched off" not in self.pose_model_missing:
            return f"auto-fill runs without its pose model step: {self.pose_model_missing}"
        return None

    def propagate(self, frames, span: Span, before: list[Pose] | None, after: list[Pose] | None, check):
        fwd, bwd = self.flow.propagate(frames, span, before, after, check)
        if fwd is None or bwd is None or fwd.drift is None or bwd.drift is None:
            return fwd, bwd  # extrapolation: the flow chain alone
        t = ((np.array(span.frames) - span.before) / (span.after - span.before))[None, :, None, None]
        xa = fwd.xy - fwd.drift[:, None] * t  # drift taken out, growing from each chain's keyframe
        xb = bwd.xy - bwd.drift[:, None] * (1 - t)
        raw = np.linalg.norm(fwd.xy - bwd.xy, axis=-1)  # (P, T, J)
        corrected = np.linalg.norm(xa - xb, axis=-1)
        if self.drift_trust:
            w = drift_trust(raw, corrected)[..., None]
            xa = w * xa + (1 - w) * fwd.xy
            xb = w * xb + (1 - w) * bwd.xy
        a = np.stack([p.xy for p in before])[:, None]
        b = np.stack([p.xy for p in after])[:, None]
        both = np.stack([p.labelled() & q.labelled() for p, q in zip(before, after)])[:, None]  # (P, 1, J)
        # the chains' disagreement, in the form they agree in better where both forms are weighed
        disagreement = np.minimum(raw, corrected) if self.drift_trust else corrected
        confidence = np.where(both, joint_confidence(disagreement, fwd.drift, bwd.drift, t[..., 0],
                                                     person_sizes(before, after)), 1.0)
        if self.fallback:
            # Each side is pulled towards its own keyframe's joint: the distance fusion then blends
            # the chains' result with the linear interpolation by the same weight.
            fused = (1 - t) * xa + t * xb
            off_line = np.linalg.norm(fused - ((1 - t) * a + t * b), axis=-1)
            w = np.where(both, fallback_weights(disagreement, off_line), 0.0)[..., None]
            xa = (1 - w) * xa + w * a
            xb = (1 - w) * xb + w * b
        return Side(xa, fwd.quality, confidence=confidence), Side(xb, bwd.quality, confidence=confidence)

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
                filled: dict[tuple[int, int], Pose], check, around=lambda frame: []) -> dict[tuple[int, int], Pose]:
        """Move joints of `filled` {(pose index, frame): pose} towards the keyframes' matches, then
        weigh each joint against the pose model's (step 5)."""
        if not filled:
            return filled
        if self.learned:
            filled = self._match_correct(frames, span, before, after, filled, check)
        if self.pose_model is not None:
            sizes = person_sizes(before or after, after or before)[:, 0, 0]
            filled = self.pose_model.correct(frames, span, before, after, filled, sizes, check, around)
        return filled

    def _match_correct(self, frames, span: Span, before, after, filled, check):
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


def drift_trust(raw: np.ndarray, corrected: np.ndarray) -> np.ndarray:
    """Per joint and frame, the weight of the drift-corrected chains against the raw ones, from how
    far the two chains disagree in each form: raw^2 / (raw^2 + corrected^2) (1 where both agree
    exactly).

    Taking the drift out linearly suits a chain that slid off its joint gradually; a chain that
    jumped (the joint hidden behind a leg or a tree for a frame) was right until the jump, and
    spreading its miss over the whole span spoils the frames before it. Where the raw chains agree
    better than the corrected ones, neither has jumped yet from its side, so the raw ones are
    trusted there. Each form is weighted by the other's disagreement (inverse variance, as the
    fall-back), with no constant."""
    return _share(raw ** 2, corrected ** 2, both_zero=1.0)


def _share(a: np.ndarray, b: np.ndarray, both_zero: float) -> np.ndarray:
    """a / (a + b) (of two squared errors, the weight of the guess b belongs to), `both_zero`
    where both are 0."""
    return np.where(a + b > 0, a / np.maximum(a + b, 1e-12), both_zero)


def fallback_weights(disagreement: np.ndarray, off_line: np.ndarray) -> np.ndarray:
    """(P, 1, J) weights of linear interpolation against the chains' fused result, from the span's
    largest (over its frames, T) disagreement D of the two chains (step 3: per frame the smaller of
    it before and after drift removal) and largest distance M of their fused result from the
    straight line between the keyframes: D^2 / (D^2 + M^2).

    Both are read as the errors each guess may make: chains that disagree by D may each be off by
    about D; the straight line is off by about as far as the chains say the joint left it. Each
    guess is weighted by the other's squared error (inverse variance), with no constant to choose:
    a limb the chains agree swung far off the line keeps their path (fast motion), a joint they lose
    while it barely moves falls back to the line."""
    return _share(disagreement.max(axis=1, keepdims=True) ** 2, off_line.max(axis=1, keepdims=True) ** 2,
                  both_zero=0.0)


def _for_inference(matcher):
    """A copy with BatchNorm folded, channels-last: ~2x faster convolutions on the CPU (measured)."""
    import copy

    import torch

    return copy.deepcopy(matcher).eval().fold_batchnorm().to(memory_format=torch.channels_last)
