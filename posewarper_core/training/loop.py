"""The training loop: one process on a CPU, or many under `torchrun` (DistributedDataParallel).

Under torchrun (WORLD_SIZE > 1) each process joins the group (gloo on CPU, nccl on CUDA), sees
its own shard of every epoch (DistributedSampler) and only rank 0 writes checkpoints and logs.
The objective is the propagation PoseWarper does at use time (mode (b)): warp the labelled
frame A's heatmaps into frame B, scored with the paper's weighted heatmap MSE against B's labels.

Checkpoints (`checkpoint.pt` in the output folder, written atomically) hold the model and
optimiser state, the step, both configs and the provenance (data, command, time), so an
interrupted run resumes where it stopped; the finished model is written with `nets.save_model`.
"""
from __future__ import annotations

import dataclasses
import datetime
import math
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn
from torch.utils.data import DataLoader, Dataset, DistributedSampler, RandomSampler

from ..atomic_file import replacing
from ..errors import Cancelled, ModelError


@dataclass
class TrainConfig:
    """How to train (not what to train: that is the model's ModelConfig)."""

    steps: int = 1000
    batch_size: int = 8  # per process
    lr: float = 1e-3
    weight_decay: float = 0.0
    warmup_steps: int = 50
    decay_at: tuple[float, ...] = (0.7, 0.9)  # fractions of `steps` where lr drops ×0.1
    freeze_backbone: bool = True  # the paper's second stage: only the warping head learns
    backbone_lr_scale: float = 1.0  # lr multiplier of the backbone when it is fine-tuned
    freeze_batchnorm: bool = False  # keep every BatchNorm's statistics (fine-tuning on little data)
    grad_clip: float = 5.0
    loss_scale: float = 1000.0  # heatmap MSE is tiny (peaks of 1 on mostly-zero maps)
    checkpoint_every: int = 200
    log_every: int = 25
    num_workers: int = 0
    seed: int = 0
    threads: int = 1

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        names = {f.name for f in dataclasses.fields(cls)}
        d = {k: (tuple(v) if isinstance(v, list) else v) for k, v in d.items() if k in names}
        return cls(**d)


def heatmap_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """The paper's JointsMSELoss: 0.5 · mean of squared error over joints weighted 0/1."""
    w = weight[:, :, None, None]
    return 0.5 * ((pred * w - target * w) ** 2).mean()


class PropagationObjective(nn.Module):
    """Wraps a PoseWarper so DDP sees the propagation step as `forward` and returns the loss."""

    def __init__(self, model: nn.Module, loss_scale: float):
        super().__init__()
        self.model = model
        self.loss_scale = loss_scale

    def forward(self, image_a, image_b, heatmaps_a, heatmaps_b, weight):
        pred = self.model.propagate(image_a, image_b, heatmaps_a)
        return heatmap_loss(pred, heatmaps_b, weight) * self.loss_scale


@dataclass
class Distributed:
    """This process's place in a torchrun job (world_size 1 when run alone)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1


def setup_distributed(device: str | torch.device | None = None) -> Distributed:
    """Join the process group when started by torchrun; pick CUDA when available, else CPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if device is not None:
        dev = torch.device(device)
    elif torch.cuda.is_available():
        dev = torch.device("cuda", local)
    else:
        dev = torch.device("cpu")
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    if world > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if dev.type == "cuda" else "gloo")
    return Distributed(rank, local, world, dev)


def _lr_factor(step: int, cfg: TrainConfig) -> float:
    warm = min(1.0, (step + 1) / max(cfg.warmup_steps, 1))
    drops = sum(step >= int(f * cfg.steps) for f in cfg.decay_at)
    return warm * (0.1 ** drops)


def _backbone_params(model: nn.Module) -> list[nn.Parameter]:
    if hasattr(model, "backbone_parameters"):
        return list(model.backbone_parameters())
    backbone = getattr(model, "backbone", None)
    return list(backbone.parameters()) if backbone is not None else []


def freeze_backbone(model: nn.Module) -> int:
    """Freeze the model's backbone and keep it in eval mode (BN statistics fixed: the cleaner
    choice of spec 3.5); returns the number of frozen parameters (0 without a backbone)."""
    params = _backbone_params(model)
    for p in params:
        p.requires_grad_(False)
    backbone = getattr(model, "backbone", None)
    if backbone is not None:
        for m in backbone.modules():
            m.eval()
    return sum(p.numel() for p in params)


def provenance(data: dict | None = None, command: str | None = None) -> dict:
    """What a checkpoint records about its making: data, command line, time, versions."""
    return {
        "data": data or {},
        "command": command or " ".join([Path(sys.argv[0]).name] + sys.argv[1:]),
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "torch": str(torch.__version__),
    }


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else exc.__class__.__name__


def _atomic_save(obj, path: Path) -> None:
    with replacing(path, binary=True) as out:
        torch.save(obj, out)


def load_checkpoint(path: str | Path) -> dict:
    """Read a training checkpoint (ours or the matcher's); ModelError naming the file if it is
    not one. Loaded weights-only: a checkpoint holds tensors and plain data (numbers, strings,
    lists, dicts) and nothing else, so a file that would need pickle to build other objects, which
    could run code, is refused unread rather than executed."""
    path = Path(path)
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        raise ModelError(f"{path}: refused: this checkpoint holds more than tensors and plain data "
                         f"(a file from an older version, or crafted to run code), and is not "
                         f"loaded; delete it or train into another --out ({_first_line(exc)})") from None
    except (OSError, RuntimeError, EOFError, ValueError) as exc:
        raise ModelError(f"{path}: cannot read training checkpoint ({_first_line(exc)})") from None
    if not isinstance(ckpt, dict) or "model_state" not in ckpt or "step" not in ckpt:
        raise ModelError(f"{path}: not a training checkpoint")
    return ckpt


def train(model: nn.Module, model_config, dataset: Dataset, config: TrainConfig,
          out_dir: str | Path | None = None, *, resume: bool = True, data_provenance: dict | None = None,
          progress: Callable[[int, int, float], None] | None = None,
          cancel: Callable[[], bool] | None = None, show_bar: bool = False,
          dist_info: Distributed | None = None, command: str | None = None) -> dict:
    """Train `model` on `dataset` for `config.steps` steps; returns a summary with the loss history.

    With `out_dir`, checkpoints go to out_dir/checkpoint.pt every `checkpoint_every` steps and at
    the end, and the final model to out_dir/model.pt; an existing checkpoint there is resumed
    (its model config must match). `progress(step, steps, loss)` is called after every step;
    `cancel()` returning true saves a checkpoint and raises Cancelled. `command` is recorded in
    the provenance (default: this process's command line).
    """
    torch.manual_seed(config.seed)
    if config.threads:
        torch.set_num_threads(config.threads)
    d = dist_info or setup_distributed()
    model.to(d.device)
    model.train()
    if config.freeze_backbone:
        freeze_backbone(model)
    if config.freeze_batchnorm:
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.eval()
    params = [p for p in model.parameters() if p.requires_grad]
    if not params:
        raise ModelError("the model has no trainable parameter")
    backbone_ids = {id(p) for p in _backbone_params(model)}
    groups = [
        {"params": [p for p in params if id(p) not in backbone_ids], "lr_scale": 1.0},
        {"params": [p for p in params if id(p) in backbone_ids], "lr_scale": config.backbone_lr_scale},
    ]
    opt = torch.optim.Adam([g for g in groups if g["params"]], lr=config.lr, weight_decay=config.weight_decay)
    out = Path(out_dir) if out_dir is not None else None
    ckpt_path = out / "checkpoint.pt" if out is not None else None
    model_cfg_dict = _config_dict(model_config)
    prov = provenance(data_provenance, command)
    step, history = 0, []
    if resume and ckpt_path is not None and ckpt_path.exists():
        ckpt = load_checkpoint(ckpt_path)
        if ckpt.get("model_config") != model_cfg_dict:
            raise ModelError(f"{ckpt_path}: written for a different model configuration; "
                             "use another output folder or --no-resume")
        model.load_state_dict(ckpt["model_state"])
        opt.load_state_dict(ckpt["optimizer_state"])
        step, history = int(ckpt["step"]), list(ckpt.get("history", []))
        prov["resumed_from_step"] = step
    if out is not None and d.is_main:
        out.mkdir(parents=True, exist_ok=True)

    objective: nn.Module = PropagationObjective(model, config.loss_scale)
    if d.enabled:
        objective = nn.parallel.DistributedDataParallel(
            objective, device_ids=[d.device.index] if d.device.type == "cuda" else None,
            find_unused_parameters=True)  # parts of a model (e.g. an unused head) may get no gradient

    def save(final: bool) -> None:
        if ckpt_path is None or not d.is_main:
            return
        _atomic_save({
            "model_state": model.state_dict(), "optimizer_state": opt.state_dict(), "step": step,
            "history": history, "model_config": model_cfg_dict, "train_config": config.to_dict(),
            "provenance": prov, "world_size": d.world_size,
        }, ckpt_path)
        if final:
            from ..nets import save_model

            save_model(out / "model.pt", model, model_config,
                       {**prov, "train_config": config.to_dict(), "steps": step,
                        "final_loss": _recent(history)})

    sampler_epoch = step // max(1, math.ceil(len(dataset) / (config.batch_size * d.world_size)))
    bar = None
    if show_bar and d.is_main:
        from tqdm import tqdm

        bar = tqdm(total=config.steps, initial=step, desc="train", unit="step", dynamic_ncols=True)
    t0 = time.monotonic()
    try:
        while step < config.steps:
            if hasattr(dataset, "set_epoch"):
                dataset.set_epoch(sampler_epoch)
            if d.enabled:
                sampler = DistributedSampler(dataset, num_replicas=d.world_size, rank=d.rank,
                                             shuffle=True, seed=config.seed, drop_last=True)
                sampler.set_epoch(sampler_epoch)
            else:
                g = torch.Generator().manual_seed(config.seed * 1000003 + sampler_epoch)
                sampler = RandomSampler(dataset, generator=g)
            loader = DataLoader(dataset, batch_size=config.batch_size, sampler=sampler, drop_last=True,
                                num_workers=config.num_workers, persistent_workers=False)
            for batch in loader:
                if step >= config.steps:
                    break
                if cancel is not None and cancel():
                    save(final=False)
                    raise Cancelled(f"training stopped at step {step}")
                for g_ in opt.param_groups:
                    g_["lr"] = config.lr * g_.get("lr_scale", 1.0) * _lr_factor(step, config)
                b = {k: v.to(d.device, non_blocking=True) for k, v in batch.items()}
                loss = objective(b["image_a"], b["image_b"], b["heatmaps_a"], b["heatmaps_b"], b["weight"])
                opt.zero_grad(set_to_none=True)
                loss.backward()
                if config.grad_clip:
                    torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
                opt.step()
                step += 1
                value = float(loss.detach())
                if d.enabled:  # report the mean over ranks
                    t = torch.tensor([value], device=d.device)
                    dist.all_reduce(t)
                    value = float(t) / d.world_size
                history.append(value)
                if bar is not None:
                    bar.update(1)
                    if step % config.log_every == 0:
                        bar.set_postfix(loss=f"{_recent(history):.4f}")
                if progress is not None:
                    progress(step, config.steps, value)
                if step % config.checkpoint_every == 0 and step < config.steps:
                    save(final=False)
            sampler_epoch += 1
        save(final=True)
    finally:
        if bar is not None:
            bar.close()
    return {"steps": step, "history": history, "seconds": time.monotonic() - t0,
            "final_loss": _recent(history), "world_size": d.world_size}


def _recent(history: list[float], n: int = 50) -> float:
    tail = history[-n:]
    return float(sum(tail) / len(tail)) if tail else float("nan")


def _config_dict(model_config) -> dict:
    if dataclasses.is_dataclass(model_config):
        return _plain(dataclasses.asdict(model_config))
    if hasattr(model_config, "to_dict"):
        return _plain(model_config.to_dict())
    return _plain(dict(model_config))


def _plain(v):
    """Tuples -> lists so a config compares equal after a round trip through a file."""
    if isinstance(v, dict):
        return {k: _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v
