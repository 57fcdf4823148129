"""Training the keyframe matcher (nets/matcher.py) on pairs with exactly known correspondences.

Each item is a point seen in two images, a template around it in the first and a search
window in the second, centred where a drifting flow chain would have put it (the true position
plus noise of up to 8 % of the person's size). Two sources, half each:
- synthetic figures moving as people in the label-only Bonn sequences moved (1-8 frames apart:
  real articulated motion), drawn over frames of the demo videos, the second one degraded;
- random smooth warps (camera motion, non-rigid fields, local rotations about the point) of
  regions of real demo-video frames, the warped one degraded (blur, light, noise, occluders).
The loss: cross-entropy of the correlation softmax against a Gaussian at the true offset, plus
a smooth-L1 on its expected offset. Resumable: a checkpoint in the output folder.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from ..autofill.engine import anchor
from ..atomic_file import replacing
from ..errors import Cancelled, ModelError
from ..nets.matcher import KeyframeMatcher, MatcherConfig, patch, save_matcher, to_tensor
from . import figures, warps
from .datasets import pick_motion_pair
from .loop import load_checkpoint

POSITION_NOISE = 0.08  # sd of the search window's centre around the truth, x person size
FIGURE_SHARE = 0.5


@dataclass(frozen=True)
class MatcherTraining:
    steps: int = 1600
    batch_size: int = 48
    lr: float = 2e-3
    warmup_steps: int = 50
    decay_at: float = 0.8  # lr x0.1 from this fraction of the steps on
    checkpoint_every: int = 100
    seed: int = 0
    threads: int = 1


class MatchPairs:
    """Random (template, search, true offset) batches from real frames and real motion."""

    def __init__(self, config: MatcherConfig, frames: Sequence[np.ndarray], motion: Sequence[figures.MotionTrack]):
        if not frames or not motion:
            raise ModelError("matcher training needs video frames and motion tracks")
        self.config = config
        self.frames = list(frames)
        self.motion = [m for m in motion if len(m.xy) >= 2]

    def _figure_pair(self, rng: np.random.Generator):
        track, ta, tb = pick_motion_pair(self.motion, rng, (1, 8))
        xa, va, xb, vb = track.xy[ta], track.visible[ta], track.xy[tb], track.visible[tb]
        lo, hi = xa[va].min(0), xa[va].max(0)
        size = rng.uniform(100, 250)
        k = size / max(float((hi - lo).max()), 1.0)
        canvas = 320
        offset = canvas / 2 - (lo + hi) / 2 * k
        pa, pb = xa * k + offset, xb * k + offset
        bg = self._region(rng, canvas)
        shift = rng.normal(size=2) * 3  # a little camera motion
        bg_b = cv2.warpAffine(bg, np.float64([[1, 0, shift[0]], [0, 1, shift[1]]]), (canvas, canvas),
                              borderMode=cv2.BORDER_REFLECT)
        style = figures.random_style(rng, figures.torso_length(pa, va))
        image_a = figures.draw_figure(bg, pa, va, style)
        image_b = warps.degrade(figures.draw_figure(bg_b, pb, vb, style), rng)
        both = np.flatnonzero(va & vb)
        j = int(both[int(rng.integers(len(both)))])
        return image_a, image_b, pa[j], pb[j], size

    def _warp_pair(self, rng: np.random.Generator):
        size = rng.uniform(80, 400)  # the person's size this region stands for
        side = min(256, int(self.config.template_fraction * size * 4.8))
        region = self._region(rng, side)
        field = warps.random_field((side, side), rng, rng.uniform(0.01, 0.06) * side,
                                   side / 2 + rng.normal(size=(3, 2)) * side * 0.15, limb_prob=0.8)
        warped = warps.degrade(warps.warp_image(region, field), rng)
        centre = np.array([side / 2, side / 2])
        scale = side / (self.config.template_fraction * size * 4.8)
        return region, warped, centre, warps.map_points(field, centre)[0], size * scale

    def _region(self, rng: np.random.Generator, side: int) -> np.ndarray:
        img = self.frames[int(rng.integers(len(self.frames)))]
        h, w = img.shape[:2]
        crop = int(min(h, w, side * rng.uniform(1.0, 2.0)))
        x0, y0 = int(rng.integers(0, w - crop + 1)), int(rng.integers(0, h - crop + 1))
        return cv2.resize(np.ascontiguousarray(img[y0:y0 + crop, x0:x0 + crop]), (side, side),
                          interpolation=cv2.INTER_AREA)

    def batch(self, n: int, rng: np.random.Generator):
        cfg = self.config
        templates, searches, targets = [], [], []
        for _ in range(n):
            pair = self._figure_pair if rng.random() < FIGURE_SHARE else self._warp_pair
            image_a, image_b, pa, pb, size = pair(rng)
            side = cfg.template_fraction * size * rng.uniform(0.85, 1.15)  # person sizes are rough
            estimate = pb + np.clip(rng.normal(size=2) * POSITION_NOISE * size, -0.45 * side, 0.45 * side)
            t, _ = patch(image_a, pa, side, cfg.template)
            s, scale = patch(image_b, estimate, 2 * side, cfg.search)
            templates.append(t)
            searches.append(s)
            targets.append((pb - estimate) * scale)
        return to_tensor(templates), to_tensor(searches), torch.tensor(np.array(targets), dtype=torch.float32)


def matcher_loss(model: KeyframeMatcher, logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    offsets = model.offsets
    d2 = ((offsets[None] - target[:, None]) ** 2).sum(-1)
    soft = torch.exp(-d2 / (2 * model.config.stride ** 2))
    soft = soft / soft.sum(1, keepdim=True).clamp_min(1e-12)
    logp = logits.log_softmax(1)
    expected = logp.exp() @ offsets
    return -(soft * logp).sum(1).mean() + 0.1 * F.smooth_l1_loss(expected, target)


def train_matcher(config: MatcherConfig, pairs: MatchPairs, training: MatcherTraining, out_dir: str | Path,
                  *, provenance: dict | None = None, resume: bool = True, show_bar: bool = False,
                  device=None,
                  progress: Callable[[int, int, float], None] | None = None,
                  cancel: Callable[[], bool] | None = None) -> dict:
    """Train (or resume) a matcher; writes out_dir/checkpoint.pt as it goes and out_dir/model.pt at the end."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, training.threads))
    torch.manual_seed(training.seed)
    from ..nets import default_device

    device = torch.device(device) if device is not None else default_device()
    model = KeyframeMatcher(config).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=training.lr)
    ckpt_path = out / "checkpoint.pt"
    start, history, seconds = 0, [], 0.0
    if resume and ckpt_path.exists():
        try:
            ckpt = load_checkpoint(ckpt_path)  # weights-only: never runs code from the file
            if ckpt.get("config") != config.to_dict():
                raise ModelError(f"{ckpt_path}: checkpoint of another matcher configuration; use a new --out")
            model.load_state_dict(ckpt["model_state"])
            opt.load_state_dict(ckpt["optimizer_state"])
            start, history, seconds = ckpt["step"], ckpt["history"], ckpt["seconds"]
        except (OSError, RuntimeError, EOFError, KeyError) as exc:
            raise ModelError(f"{ckpt_path}: cannot resume from this checkpoint ({exc})") from None
    bar = None
    if show_bar:
        from tqdm import tqdm

        bar = tqdm(total=training.steps, initial=start, desc="train matcher", unit="step")
    model.train()
    t0 = time.perf_counter() - seconds

    def save_checkpoint(step: int) -> None:
        with replacing(ckpt_path, binary=True) as out:
            torch.save({"config": config.to_dict(), "model_state": model.state_dict(),
                        "optimizer_state": opt.state_dict(), "step": step, "history": history,
                        "seconds": time.perf_counter() - t0}, out)

    for step in range(start, training.steps):
        if cancel is not None and cancel():
            save_checkpoint(step)
            raise Cancelled(f"matcher training cancelled at step {step} of {training.steps} (resumable)")
        factor = min(1.0, (step + 1) / training.warmup_steps) * (0.1 if step >= training.decay_at * training.steps else 1.0)
        for group in opt.param_groups:
            group["lr"] = training.lr * factor
        rng = np.random.default_rng([training.seed, step])  # resuming replays the same batches
        template, search, target = (x.to(device) for x in pairs.batch(training.batch_size, rng))
        loss = matcher_loss(model, model(template, search), target)
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
        if bar is not None:
            bar.update(1)
            bar.set_postfix(loss=f"{np.mean(history[-50:]):.3f}")
        if progress is not None:
            progress(step + 1, training.steps, float(loss))
        if (step + 1) % training.checkpoint_every == 0:
            save_checkpoint(step + 1)
    if bar is not None:
        bar.close()
    seconds = time.perf_counter() - t0
    model.eval().cpu()
    prov = dict(provenance or {})
    prov.update(steps=training.steps, batch_size=training.batch_size, lr=training.lr,
                final_loss=round(float(np.mean(history[-50:])), 4) if history else None, seconds=round(seconds))
    save_checkpoint(training.steps)
    save_matcher(out / "model.pt", model, prov)
    return {"steps": training.steps, "final_loss": float(np.mean(history[-50:])) if history else float("nan"),
            "seconds": seconds}


class KeyframePairs:
    """The annotator's own correspondences: each joint labelled in two consecutive keyframes of a
    track, seen from either side (real motion and appearance change of the very people to fill).

    At most `max_frame_pairs` pairs of keyframes, spread evenly over the video: their frames are
    decoded and kept while tuning, and a tuning run draws only ~2,000 samples anyway."""

    MAX_FRAME_PAIRS = 24

    def __init__(self, config: MatcherConfig, video, frames, track_ids=None, max_frame_pairs: int = MAX_FRAME_PAIRS):
        self.config = config
        self.frames = frames
        self.items = []
        tids = sorted(video.tracks if track_ids is None else track_ids)
        # suggestions nobody accepted are no correspondences: a keyframe of them only is skipped,
        # a suggested joint of a keyframe is left out (they never anchor a fill either)
        keys = {tid: video.gap_keyframes(tid) for tid in tids}
        by_track = {tid: list(zip(keys[tid], keys[tid][1:])) for tid in tids}
        frame_pairs = sorted({pair for pairs in by_track.values() for pair in pairs})
        if len(frame_pairs) > max_frame_pairs:
            keep = np.linspace(0, len(frame_pairs) - 1, max_frame_pairs).round().astype(int)
            frame_pairs = [frame_pairs[i] for i in sorted(set(keep.tolist()))]
        chosen = set(frame_pairs)
        for tid in tids:
            for a, b in by_track[tid]:
                if (a, b) not in chosen:
                    continue
                pa, pb = video.pose(a, tid), video.pose(b, tid)
                extents = [p.joint_extent() for p in (pa, pb)]
                if any(e is None for e in extents):
                    continue
                size = float(np.mean([max(e[2], e[3], 1.0) for e in extents]))
                accepted = anchor(pa).labelled() & anchor(pb).labelled()
                for j in np.flatnonzero(accepted):
                    self.items.append((a, pa.xy[j].copy(), b, pb.xy[j].copy(), size))
                    self.items.append((b, pb.xy[j].copy(), a, pa.xy[j].copy(), size))
        self._images: dict[int, np.ndarray] = {}

    def __len__(self) -> int:
        return len(self.items)

    def signature(self) -> str:
        """Changes when any pair's frames or joint positions change."""
        import hashlib

        h = hashlib.sha1()
        for fa, pa, fb, pb, size in self.items:
            h.update(np.array([fa, fb, *pa, *pb, size], np.float64).tobytes())
        return h.hexdigest()

    def _image(self, i: int) -> np.ndarray:
        if i not in self._images:
            self._images[i] = np.ascontiguousarray(self.frames.frame(i))
        return self._images[i]

    def batch(self, n: int, rng: np.random.Generator):
        cfg = self.config
        templates, searches, targets = [], [], []
        for _ in range(n):
            fa, pa, fb, pb, size = self.items[int(rng.integers(len(self.items)))]
            side = cfg.template_fraction * size * rng.uniform(0.9, 1.1)
            estimate = pb + np.clip(rng.normal(size=2) * POSITION_NOISE * size, -0.45 * side, 0.45 * side)
            image_b, origin = self._image(fb), np.zeros(2)
            if rng.random() < 0.5:  # degrade only the search window's part of the frame (fast)
                x0, y0 = np.floor(estimate - side).astype(int) - 2
                x1, y1 = np.ceil(estimate + side).astype(int) + 3
                h, w = image_b.shape[:2]
                x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(max(x1, 1), w), min(max(y1, 1), h)
                x0, y0 = min(x0, x1 - 1), min(y0, y1 - 1)
                image_b = warps.degrade(image_b, rng, 0.5, window=(x0, y0, x1, y1))
                origin = np.array([x0, y0], np.float64)
            templates.append(patch(self._image(fa), pa, side, cfg.template)[0])
            s, scale = patch(image_b, estimate - origin, 2 * side, cfg.search)
            searches.append(s)
            targets.append((pb - estimate) * scale)
        return to_tensor(templates), to_tensor(searches), torch.tensor(np.array(targets), dtype=torch.float32)


def adapt_matcher(model: KeyframeMatcher, pairs: KeyframePairs, steps: int = 60, batch_size: int = 32,
                  lr: float = 5e-4, seed: int = 0, check: Callable[[], None] | None = None,
                  progress: Callable[[int, int], None] | None = None) -> KeyframeMatcher:
    """A copy of `model` fine-tuned on the annotator's keyframe pairs (BatchNorm statistics kept:
    a few hundred pairs are too few to re-estimate them). `model` is left as it was.
    `progress(step, steps)` after each step; `check()` before each (raises to cancel)."""
    import copy

    if len(pairs) == 0:
        return model
    tuned = copy.deepcopy(model)
    tuned.train()
    for m in tuned.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    # Adam written out: the first torch.optim optimizer of a process imports modules for ~1.3 s
    # while holding the GIL in 100+ ms pieces, which froze the GUI when a fill started.
    params = [p for p in tuned.parameters() if p.requires_grad]
    moments = [(torch.zeros_like(p), torch.zeros_like(p)) for p in params]
    beta1, beta2, eps = 0.9, 0.999, 1e-8
    rng = np.random.default_rng(seed)
    device = params[0].device
    for step in range(1, steps + 1):
        if check is not None:
            check()
        template, search, target = (x.to(device) for x in pairs.batch(batch_size, rng))
        loss = matcher_loss(tuned, tuned(template, search), target)
        for p in params:
            p.grad = None
        loss.backward()
        with torch.no_grad():
            for p, (m, v) in zip(params, moments):
                m.mul_(beta1).add_(p.grad, alpha=1 - beta1)
                v.mul_(beta2).addcmul_(p.grad, p.grad, value=1 - beta2)
                denom = (v / (1 - beta2 ** step)).sqrt_().add_(eps)
                p.addcdiv_(m, denom, value=-lr / (1 - beta1 ** step))
        if progress is not None:
            progress(step, steps)
    return tuned.eval()
