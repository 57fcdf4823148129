"""`posewarper train`: train a PoseWarper model from a recipe, on one CPU or under torchrun.

    posewarper train --recipe default --out runs/default --export resources/models/posewarper_default.pt
    posewarper train --recipe posetrack --data a.json b.json --out runs/pt --init base.pt
    torchrun --nproc_per_node=4 -m posewarper_core train --recipe posetrack --data ...

Re-running the same command with the same --out resumes from its checkpoint.
"""
from __future__ import annotations

import argparse
import shutil
from dataclasses import replace
from pathlib import Path

from ..atomic_file import replacing
from ..errors import ModelError


def register(subparsers) -> None:
    p = subparsers.add_parser("train", help="train a PoseWarper model (resumable; torchrun for many GPUs)",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--recipe", default="default",
                   help="named recipe: default (the shipped keyframe matcher), synthetic, flowseed, tiny, posetrack")
    p.add_argument("--data", nargs="+", default=[], metavar="JSON", help="PoseTrack18 files with labelled frames")
    p.add_argument("--out", type=Path, default=None, help="output folder (default runs/<recipe>)")
    p.add_argument("--export", type=Path, default=None, help="also copy the finished model here")
    p.add_argument("--init", type=Path, default=None, help="start from this model file (its config wins)")
    p.add_argument("--steps", type=int, default=None)
    p.add_argument("--batch-size", type=int, default=None, help="per process")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--delta", type=int, nargs=2, default=None, metavar=("MIN", "MAX"),
                   help="frames between the two frames of a pair")
    p.add_argument("--fine-tune-backbone", action="store_true",
                   help="train the backbone too (default: frozen, as in the paper's second stage)")
    p.add_argument("--frames", nargs="+", default=None, metavar="VIDEO",
                   help="videos whose frames serve as backgrounds and warp sources")
    p.add_argument("--motion", type=Path, default=None, help="label-only motion file (Bonn sequences JSON)")
    p.add_argument("--no-resume", action="store_true", help="start over even if --out has a checkpoint")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:1 (default: CUDA when available)")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads per process")
    p.add_argument("--seed", type=int, default=None)
    p.set_defaults(run=run)


def command_line(args) -> str:
    """The command as a user would type it, rebuilt from the parsed options."""
    parts = ["posewarper", "train"]
    for key, value in vars(args).items():
        if key in ("run", "command") or value in (None, False, []):
            continue
        flag = "--" + key.replace("_", "-")
        if value is True:
            parts.append(flag)
        elif isinstance(value, (list, tuple)):
            parts += [flag, *map(str, value)]
        else:
            parts += [flag, str(value)]
    return " ".join(parts)


def run(args) -> int:
    from .. import nets
    from ..safe_output import check_not_a_project
    from ..training import get_recipe

    if args.export is not None:
        check_not_a_project(args.export, "exported model")  # before the training, not after it
    if get_recipe(args.recipe).kind == "matcher":
        return run_matcher(args)
    from ..training import build_dataset, setup_distributed, train

    recipe = get_recipe(args.recipe)
    cfg = recipe.train
    overrides = {k: v for k, v in {
        "steps": args.steps, "batch_size": args.batch_size, "lr": args.lr, "threads": args.threads,
        "seed": args.seed}.items() if v is not None}
    if args.fine_tune_backbone:
        overrides["freeze_backbone"] = False
    cfg = replace(cfg, **overrides)
    if args.delta:
        lo, hi = sorted(args.delta)
        recipe = replace(recipe, delta_range=(max(lo, 0), hi))
    out = args.out or Path("runs") / recipe.name

    d = setup_distributed(args.device)
    if args.init is not None:
        model, model_config = nets.load_model(args.init, device=d.device)
    else:
        model_config = nets.ModelConfig(**recipe.model)
        model = nets.build_model(model_config, pretrained=recipe.pretrained)
    sigma = float(getattr(model_config, "sigma", 2.0))
    dataset, prov = build_dataset(recipe, tuple(model_config.input_size), sigma, data_files=args.data,
                                  frame_videos=args.frames, motion_file=args.motion, seed=cfg.seed)
    if args.init is not None:
        prov["init"] = str(Path(args.init).resolve())
    result = train(model, model_config, dataset, cfg, out, resume=not args.no_resume, data_provenance=prov,
                   show_bar=True, dist_info=d, command=command_line(args))
    if d.is_main:
        model_path = export(out / "model.pt", args.export)
        print(f"trained {result['steps']} steps, final loss {result['final_loss']:.4f}, "
              f"{result['seconds']:.0f} s on {result['world_size']} process(es); model: {model_path}")
    if d.enabled:
        import torch.distributed as dist

        dist.barrier()
        dist.destroy_process_group()
    if not (out / "model.pt").exists() and d.is_main:
        raise ModelError(f"{out}: training finished without writing model.pt")
    return 0


def run_matcher(args) -> int:
    """The keyframe matcher recipe (training/matcher_training.py): one process, CPU or CUDA."""
    from ..nets.matcher import MatcherConfig
    from ..training import get_recipe
    from ..training.datasets import read_frames
    from ..training.figures import load_bonn_motion
    from ..training.loop import provenance
    from ..training.matcher_training import MatcherTraining, MatchPairs, train_matcher
    from ..training.recipes import DEFAULT_FRAMES, DEFAULT_MOTION, dev_clip_sequences

    recipe = get_recipe(args.recipe)
    unused = [flag for flag, v in (("--data", args.data), ("--init", args.init), ("--delta", args.delta),
                                   ("--fine-tune-backbone", args.fine_tune_backbone)) if v]
    if unused:
        raise ModelError(f"recipe {recipe.name!r} trains the keyframe matcher; it takes no {', '.join(unused)}")
    training = MatcherTraining()
    overrides = {k: v for k, v in {"steps": args.steps, "batch_size": args.batch_size, "lr": args.lr,
                                   "threads": args.threads, "seed": args.seed}.items() if v is not None}
    training = replace(training, **overrides)
    videos = list(args.frames or DEFAULT_FRAMES)
    motion_file = args.motion or DEFAULT_MOTION
    frames = [f for v in videos for f in read_frames(v, recipe.frames_per_video)]
    left_out = sorted(dev_clip_sequences())
    motion = load_bonn_motion(motion_file, exclude=left_out)
    config = MatcherConfig()
    data = {"recipe": recipe.name, "frames": [f"{Path(v).name} ({recipe.frames_per_video} frames)" for v in videos],
            "motion": f"{Path(motion_file).name} ({len(motion)} tracks; dev clip sequences left out: "
                      f"{', '.join(left_out) or 'none'})"}
    out = args.out or Path("runs") / recipe.name
    result = train_matcher(config, MatchPairs(config, frames, motion), training, out,
                           provenance=provenance(data, command_line(args)), resume=not args.no_resume, show_bar=True,
                           device=args.device)
    model_path = export(out / "model.pt", args.export)
    print(f"trained {result['steps']} steps, final loss {result['final_loss']:.4f}, "
          f"{result['seconds']:.0f} s; model: {model_path}")
    return 0


def export(model_path: Path, target: Path | None) -> Path:
    """Copy the trained model to `target` (through a temporary file); the path users should use."""
    if target is None:
        return model_path
    target.parent.mkdir(parents=True, exist_ok=True)
    with replacing(target, binary=True) as out, open(model_path, "rb") as source:
        shutil.copyfileobj(source, out)
    return target
