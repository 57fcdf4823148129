"""Named training recipes: a model configuration, a TrainConfig and a data mix, so that one
command (`posewarper train --recipe NAME`) reproduces a model.

Data sources a recipe may mix (all optional, weighted by item counts):
- `posetrack`: pairs of labelled frames from PoseTrack18 files given with --data;
- `figures`: synthetic figures moving as people in the label-only Bonn sequences moved,
  drawn over frames of the demo videos;
- `warps`: random smooth warps of demo-video frames (exact self-supervised correspondences).
The dev clips are never a training source.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from torch.utils.data import Dataset

from ..errors import PoseWarperError
from ..resources import DEMO_DIR
from ..skeleton import POSETRACK17
from .datasets import FigurePairs, Mixture, VideoPairs, WarpPairs, motion_anchors, read_frames
from .figures import load_bonn_motion
from .loop import TrainConfig
from .samples import Augment

REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"
DEFAULT_MOTION = SHARED_DATA / "dev" / "bonn_59_sequences_labels_only.json"


def dev_clip_sequences() -> set[str]:
    """The Bonn sequence ids of the dev clips with frames (folders `bonn_<id>`): the label-only
    motion set holds their labels too, and those stay out of training."""
    dev = SHARED_DATA / "dev"
    return {p.name.split("_", 1)[1] for p in dev.glob("bonn_*") if p.is_dir()} if dev.is_dir() else set()


DEFAULT_FRAMES = (DEMO_DIR / "sports2d_demo.mp4", SHARED_DATA / "demo" / "opencv_vtest.avi")


@dataclass
class Recipe:
    """What to build and how to train it."""

    name: str
    description: str
    model: dict = field(default_factory=dict)  # ModelConfig fields that differ from its defaults
    train: TrainConfig = field(default_factory=TrainConfig)
    mix: dict = field(default_factory=dict)  # source -> items per epoch
    delta_range: tuple[int, int] = (1, 2)  # frames between A and B for labelled / figure pairs
    warp_amplitude: float = 0.06
    pretrained: bool = False  # start the backbone from ImageNet weights shipped in a package
    frames_per_video: int = 60
    flow_seeded: bool = False  # pairs as the flow-seeded warp sees them (training/flow_seeded.py)
    kind: str = "warper"  # "warper": a PoseWarper network; "matcher": the keyframe matcher (nets/matcher.py)


TINY_MODEL = {"name": "tiny", "backbone": "tiny", "input_size": (64, 96), "head_channels": 16,
              "head_blocks": 2, "dilations": (1, 2, 4), "sigma": 2.0}
# A stride-4 conv backbone (no ImageNet start): motion between neighbouring frames is local, and
# it runs at ~10 ms per person-frame on one CPU core (MobileNetV2 at the same crop: ~5x slower).
DEFAULT_MODEL = {"name": "default", "backbone": "tiny", "input_size": (96, 128), "head_channels": 32,
                 "head_blocks": 3, "dilations": (1, 2, 4, 8), "sigma": 2.0}

RECIPES: dict[str, Recipe] = {
    "tiny": Recipe(
        "tiny", "a small model on synthetic data in a few minutes (smoke test, tests)",
        model=TINY_MODEL,
        train=TrainConfig(steps=300, batch_size=8, lr=1e-3, freeze_backbone=False, checkpoint_every=100),
        mix={"figures": 400, "warps": 400}, delta_range=(1, 2), frames_per_video=20,
    ),
    "posetrack": Recipe(
        "posetrack", "the paper's second stage on PoseTrack18 files given with --data (pairs |delta| <= 2); "
        "start from a pose-trained model with --init",
        model={}, train=TrainConfig(steps=20000, batch_size=8, lr=1e-4, decay_at=(0.5, 0.75)),
        mix={"posetrack": 0}, delta_range=(1, 2),
    ),
    "default": Recipe(
        "default", "the shipped model: the keyframe matcher that corrects DIS flow (nets/matcher.py), trained "
        "on synthetic figures moving with real (Bonn) motion and on random warps of the demo videos' frames "
        "(training/matcher_training.py)",
        kind="matcher", frames_per_video=60,
    ),
    "synthetic": Recipe(
        "synthetic", "a PoseWarper network: small conv backbone + warping head, trained on synthetic figures "
        "moving with real (Bonn) motion and on random warps of the demo videos' frames (the earlier "
        "default, kept as resources/models/posewarper_base.pt)",
        model=DEFAULT_MODEL,
        train=TrainConfig(steps=2000, batch_size=8, lr=2e-3, freeze_backbone=False, checkpoint_every=250),
        mix={"figures": 4000, "warps": 4000}, delta_range=(1, 2),
    ),
    "flowseed": Recipe(
        "flowseed", "the flow-seeded warp: DIS flow moves the joints and aligns the frames, the network "
        "learns the residual; same data as synthetic; it started from "
        "resources/models/posewarper_base.pt (--init)",
        model=DEFAULT_MODEL,
        train=TrainConfig(steps=1200, batch_size=8, lr=5e-4, freeze_backbone=False, checkpoint_every=200),
        mix={"figures": 4000, "warps": 4000}, delta_range=(1, 2), flow_seeded=True,
    ),
}


def get_recipe(name: str) -> Recipe:
    try:
        r = RECIPES[name]
        return replace(r, model=dict(r.model), mix=dict(r.mix))
    except KeyError:
        raise PoseWarperError(f"unknown recipe {name!r}; known: {', '.join(RECIPES)}") from None


def build_dataset(recipe: Recipe, input_size: tuple[int, int], sigma: float, *,
                  data_files: list[str | Path] = (), frame_videos: list[str | Path] | None = None,
                  motion_file: str | Path | None = None, seed: int = 0) -> tuple[Dataset, dict]:
    """The recipe's training mix and a provenance record naming every input."""
    flip = POSETRACK17.flip_permutation()
    aug = Augment()
    parts, prov = [], {"recipe": recipe.name}
    mix = dict(recipe.mix)
    if data_files and "posetrack" not in mix:
        mix["posetrack"] = 0
    if "posetrack" in mix:
        if not data_files:
            raise PoseWarperError(f"recipe {recipe.name!r} trains on PoseTrack18 files: give them with --data")
        from ..formats import read_posetrack18
        from ..video import open_frames

        videos = []
        for f in data_files:
            _, video = read_posetrack18(f)
            videos.append((video, open_frames(video)))
        parts.append(VideoPairs(videos, input_size, sigma, recipe.delta_range, aug, flip,
                                length=mix["posetrack"] or None, seed=seed))
        prov["posetrack"] = [str(Path(f).resolve()) for f in data_files]
    needs_frames = bool(mix.get("figures") or mix.get("warps"))
    if needs_frames:
        frame_videos = list(frame_videos or DEFAULT_FRAMES)
        frames = []
        for v in frame_videos:
            frames += read_frames(v, recipe.frames_per_video)
        motion = load_bonn_motion(motion_file or DEFAULT_MOTION, exclude=dev_clip_sequences())
        prov["frames"] = [f"{Path(v).name} ({recipe.frames_per_video} frames)" for v in frame_videos]
        prov["motion"] = f"{Path(motion_file or DEFAULT_MOTION).name} ({len(motion)} tracks)"
        if mix.get("figures"):
            parts.append(FigurePairs(motion, frames, input_size, sigma, mix["figures"],
                                     recipe.delta_range, aug, flip, seed=seed + 1))
        if mix.get("warps"):
            parts.append(WarpPairs(motion_anchors(frames, motion), input_size, sigma, mix["warps"],
                                   recipe.warp_amplitude, aug, flip, seed=seed + 2))
    prov["items_per_epoch"] = {k: v for k, v in mix.items()}
    data: Dataset = Mixture(parts)
    if recipe.flow_seeded:
        from .flow_seeded import FlowSeededPairs

        data = FlowSeededPairs(data, input_size, sigma)
        prov["seed"] = "flow"  # auto-fill reads this: the model corrects DIS flow, it must get it
    return data, prov
