"""`posewarper adapt`: fine-tune a model on one project's own keyframes.

    posewarper adapt project.pwproj --model resources/models/posewarper_base.pt --out adapted.pt
    posewarper adapt labels.json --model base.pt --out adapted.pt --steps 200   # a PoseTrack18 file

Pairs of keyframes of the same track and random smooth warps of keyframe crops (exact targets)
teach the model this video's people, camera and motion. Writes a new model file; the input
model is not changed.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import PoseWarperError


def register(subparsers) -> None:
    p = subparsers.add_parser("adapt", help="fine-tune a model on a project's own keyframes",
                              description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("source", type=Path, help="a project (.pwproj) or a PoseTrack18 JSON file")
    p.add_argument("--model", type=Path, required=True, help="model file to start from")
    p.add_argument("--out", type=Path, required=True, help="where to write the adapted model")
    p.add_argument("--video-id", type=int, default=None, help="project video to adapt to (default: first)")
    p.add_argument("--steps", type=int, default=100)
    p.add_argument("--batch-size", type=int, default=4)
    p.add_argument("--lr", type=float, default=2e-4)
    p.add_argument("--max-delta", type=int, default=None,
                   help="farthest keyframe pair, in frames (default: twice the keyframe stride)")
    p.add_argument("--all-labelled", action="store_true",
                   help="treat every labelled pose as a keyframe (PoseTrack18 files mark none)")
    p.add_argument("--device", default=None)
    p.add_argument("--threads", type=int, default=1)
    p.set_defaults(run=run)


def _load_video(args):
    if args.source.suffix == ".pwproj":
        from ..store import ProjectStore

        with ProjectStore.open(args.source) as store:
            project = store.project
            base = store.base_dir
        if not project.videos:
            raise PoseWarperError(f"{args.source}: the project has no video")
        vid = args.video_id if args.video_id is not None else min(project.videos)
        return project.video(vid), project.skeleton, base
    from ..formats import read_posetrack18

    skeleton, video = read_posetrack18(args.source)
    return video, skeleton, None


def run(args) -> int:
    import torch
    from tqdm import tqdm

    from .. import nets
    from ..training import adapt
    from ..training.loop import provenance
    from ..video import open_frames
    from ..safe_output import check_not_a_project

    check_not_a_project(args.out, "adapted model")  # before the work, not after it
    if args.threads:
        torch.set_num_threads(args.threads)
    video, skeleton, base = _load_video(args)
    if args.all_labelled:
        video = _all_keyframes(video)
    device = torch.device(args.device) if args.device else nets.default_device()
    model, config = nets.load_model(args.model, device=device)
    flip = skeleton.flip_permutation() if skeleton.flip_pairs else None
    with open_frames(video, base) as frames, tqdm(total=args.steps, desc="adapt", unit="step") as bar:
        adapted = adapt(model, config, video, frames, steps=args.steps, batch_size=args.batch_size,
                        lr=args.lr, max_delta=args.max_delta, flip_perm=flip, device=device,
                        progress=lambda done, total: bar.update(done - bar.n))
    n_key = sum(p.keyframe for by in video.poses.values() for p in by.values())
    prov = provenance({"adapted_from": str(args.model.resolve()), "source": str(args.source.resolve()),
                       "video": video.name or str(video.source), "keyframes": n_key, "steps": args.steps})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    nets.save_model(args.out, adapted, config, prov)
    print(f"adapted on {n_key} keyframes for {args.steps} steps: {args.out}")
    return 0


def _all_keyframes(video):
    """A shallow copy of the video whose labelled poses all count as keyframes."""
    import copy

    v = copy.copy(video)
    v.poses = {f: {t: _as_key(p) for t, p in by.items()} for f, by in video.poses.items()}
    return v


def _as_key(pose):
    p = pose.copy()
    p.keyframe = p.labelled().any()
    return p
