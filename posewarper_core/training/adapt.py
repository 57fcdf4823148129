"""Per-project adaptation: fine-tune a model on the video being annotated.

The paper's point is learning from sparse labels; here the sparse labels are the annotator's own
keyframes. Two kinds of pairs are mixed:
- keyframe pairs: two keyframes of the same track (up to `max_delta` frames apart), both labelled;
- self-supervised pairs: a keyframe crop and a random smooth warp of it, whose target heatmaps
  are exactly known, so even a single keyframe teaches the model this person's appearance.
"""
from __future__ import annotations

import copy
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
from torch import nn
from torch.utils.data import Dataset

from ..annotation import Video
from ..errors import PoseWarperError
from ..nets import flow_seed  # noqa: F401 - the flag lives in the core; kept importable here
from .datasets import Mixture, VideoPairs, WarpPairs, keyframe_anchors
from .loop import Distributed, TrainConfig, train
from .samples import Augment


def adapt(model: nn.Module, config, video: Video, frames, *, steps: int = 100, batch_size: int = 4,
          lr: float = 2e-4, max_delta: int | None = None, warp_share: float = 0.5,
          flip_perm: np.ndarray | None = None, freeze_backbone: bool = True, device=None, seed: int = 0,
          progress: Callable[[int, int], None] | None = None,
          cancel: Callable[[], bool] | None = None) -> nn.Module:
    """Return a copy of `model` fine-tuned on `video`'s keyframes (the input model is untouched).

    `config` is the model's ModelConfig (input size, heatmap sigma); `frames` reads the video's
    frames (`frame(i) -> RGB array`). Keyframe pairs up to `max_delta` frames apart (default:
    twice the video's keyframe stride) and warped keyframes (`warp_share` of the items) are
    trained for `steps` steps with every BatchNorm's statistics kept (one video is too little data
    to re-estimate them). `progress(done, total)` after each step; `cancel()` true raises
    Cancelled. PoseWarperError if the video has no labelled keyframe.

    Called as `adapt(model_path, video, frames, device=...)` (a model file first, as the bench's
    `--adapt` does), it loads the file and returns the path of the adapted model (`adapt_file`).
    """
    if isinstance(model, (str, Path)):
        return adapt_file(model, config, video, steps=steps, device=device, progress=progress, cancel=cancel)
    input_size = tuple(config.input_size)
    sigma = float(getattr(config, "sigma", 2.0))
    max_delta = max_delta or max(2 * int(video.keyframe_stride or 10), 2)
    videos = [(video, frames)]
    anchor, n_anchors = keyframe_anchors(videos)
    aug = Augment(scale=0.15, rotation=15.0, rotation_prob=0.3, shift=0.05, flip=flip_perm is not None)
    n = max(steps * batch_size, 8)
    parts = []
    try:
        pairs = VideoPairs(videos, input_size, sigma, delta_range=(1, max_delta), aug=aug,
                           flip_perm=flip_perm, keyframes_only=True, seed=seed,
                           length=int(n * (1 - warp_share)))
        parts.append(pairs)
    except PoseWarperError:
        warp_share = 1.0  # a single keyframe per track: only self-supervised pairs
    parts.append(WarpPairs(anchor, input_size, sigma, length=max(int(n * warp_share), 1), aug=aug,
                           flip_perm=flip_perm, seed=seed + 1))
    data: Dataset = Mixture(parts)
    if flow_seed(model) == "flow":  # a flow-seeded model learns the residual on flow-seeded pairs
        from .flow_seeded import FlowSeededPairs

        data = FlowSeededPairs(data, input_size, sigma)
    adapted = copy.deepcopy(model)
    cfg = TrainConfig(steps=steps, batch_size=batch_size, lr=lr, warmup_steps=min(20, steps // 5 + 1),
                      decay_at=(0.8,), freeze_backbone=freeze_backbone, freeze_batchnorm=True,
                      checkpoint_every=10 ** 9,
                      seed=seed, threads=0)
    import torch

    dev = torch.device(device) if device is not None else next(model.parameters()).device
    train(adapted, config, data, cfg, out_dir=None,
          progress=(lambda s, t, _loss: progress(s, t)) if progress else None,
          cancel=cancel, dist_info=Distributed(device=dev))
    adapted.eval()
    return adapted


def adapt_file(model_path: str | Path, video: Video, frames, *, out_path: str | Path | None = None,
               steps: int = 100, device=None, progress: Callable[[int, int], None] | None = None,
               cancel: Callable[[], bool] | None = None, **options) -> Path:
    """Load a model file, adapt it to `video`'s keyframes and save the result (by default to a
    temporary file); returns the adapted model's path. `options` go to `adapt`."""
    from .. import nets
    from ..skeleton import POSETRACK17
    from .loop import provenance

    dev = device if device is not None else nets.default_device()
    model, config = nets.load_model(model_path, device=dev)
    if options.get("flip_perm") is None and getattr(config, "num_joints", 17) == POSETRACK17.num_joints:
        options["flip_perm"] = POSETRACK17.flip_permutation()
    adapted = adapt(model, config, video, frames, steps=steps, device=dev, progress=progress,
                    cancel=cancel, **options)
    if out_path is None:
        fd, name = tempfile.mkstemp(prefix="posewarper-adapted-", suffix=".pt")
        os.close(fd)
        out_path = name
    nets.save_model(out_path, adapted, config,
                    provenance({"adapted_from": str(model_path), "video": video.name or str(video.source),
                                "steps": steps, "seed": flow_seed(model)}))
    return Path(out_path)
