"""Building models from a ModelConfig, and model files.

Our model file: torch.save of {"format": FORMAT, "version": 1, "config": ModelConfig.to_dict(),
"provenance": {...how it was trained, data, command...}, "state_dict": ...}, written to a
temporary file and renamed. `load_model` also accepts an official PoseWarper/HRNet
checkpoint (a bare state dict with the official keys) and then uses OFFICIAL_CONFIG.
"""
from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ..atomic_file import replacing
from ..errors import ModelError
from .backbones import build_backbone
from .config import OFFICIAL_CONFIG, ModelConfig
from .warper import PoseWarper, WarpingHead

FORMAT = "posewarper-annotate/model"
VERSION = 1


def default_device() -> torch.device:
    """CUDA when available, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def build_model(config: ModelConfig = OFFICIAL_CONFIG, pretrained: bool = False,
                deform_impl: str = "auto") -> PoseWarper:
    """A PoseWarper for `config`, initialised as the official code does before training:
    backbone convs N(0, 0.001^2) (HRNet), head at identity (offsets 0, identity kernels).
    `pretrained` loads ImageNet weights for light backbones from an installed package file."""
    backbone = build_backbone(config, pretrained=pretrained)
    if config.backbone.startswith("hrnet"):
        _init_official(backbone)
    head = WarpingHead(config.num_joints, config.head_channels, config.head_blocks,
                       config.dilations, deform_impl=deform_impl)
    return PoseWarper(backbone, head, config)


def _init_official(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.normal_(m.weight, std=0.001)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)


def count_parameters(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def save_model(path, model: PoseWarper, config: ModelConfig | None = None,
               provenance: dict | None = None) -> Path:
    """Write model + config + provenance atomically. provenance should say how the model was
    trained (recipe, data, command, date); it is stored as given (plain JSON-like values)."""
    config = config or model.config
    if config is None:
        raise ModelError(f"{path}: no model config to save with the weights")
    return write_model_file(path, config.to_dict(), model, provenance)


def write_model_file(path, config: dict, model: nn.Module, provenance: dict | None = None) -> Path:
    """Our model file format (see the module doc) for any of our models, through a temporary
    file renamed into place: a crash never leaves half a model."""
    path = Path(path)
    payload = {"format": FORMAT, "version": VERSION, "config": config, "provenance": dict(provenance or {}),
               "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()}}
    path.parent.mkdir(parents=True, exist_ok=True)
    with replacing(path, binary=True) as out:
        torch.save(payload, out)
    return path


def _read(path: Path):
    if not path.is_file():
        raise ModelError(f"{path}: model file not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - corrupt or foreign file
        raise ModelError(f"{path}: not a readable model file ({exc.__class__.__name__}: {exc})") from None


def _load_state(model: nn.Module, state: dict, path: Path) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    wrong = [f"{k} {tuple(state[k].shape)} != {tuple(v.shape)}" for k, v in own.items()
             if k in state and tuple(state[k].shape) != tuple(v.shape)]
    if missing or unexpected or wrong:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing (e.g. {', '.join(missing[:3])})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected (e.g. {', '.join(unexpected[:3])})")
        if wrong:
            parts.append(f"{len(wrong)} with other shapes (e.g. {'; '.join(wrong[:2])})")
        raise ModelError(f"{path}: weights do not match the model config: " + ", ".join(parts))
    model.load_state_dict(state, strict=True)


def load_model(path, device=None, deform_impl: str = "auto") -> tuple[PoseWarper, ModelConfig]:
    """Rebuild the model saved in `path` (ours, or an official PoseWarper state dict), in eval
    mode on `device` (default: default_device()). ModelError naming the file when it is
    missing, unreadable, has no/invalid config, or its weights do not fit the config."""
    path = Path(path)
    data = _read(path)
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a model file")
    if data.get("format") == FORMAT and isinstance(data.get("config"), dict) and data["config"].get("kind") == "keyframe_matcher":
        raise ModelError(f"{path}: a keyframe matcher model (the default posewarper model: it tunes itself on "
                         "the keyframes when it fills), not a PoseWarper network; `adapt` and the network's "
                         "modes need a PoseWarper network file such as resources/models/posewarper_base.pt")
    if data.get("format") == FORMAT:
        if "config" not in data or "state_dict" not in data:
            raise ModelError(f"{path}: model file has no config or no weights")
        config = ModelConfig.from_dict(data["config"], source=str(path))
        state = data["state_dict"]
    elif "offset_feats.0.conv1.weight" in data or "state_dict" in data:
        state = data.get("state_dict", data)  # official checkpoint: bare state dict
        state = {k.removeprefix("module."): v for k, v in state.items()}
        config = OFFICIAL_CONFIG
    else:
        raise ModelError(f"{path}: neither a posewarper-annotate model nor a PoseWarper checkpoint "
                         "(an HRNet-only checkpoint loads with nets.load_official_checkpoint)")
    model = build_model(config, deform_impl=deform_impl)
    _load_state(model, state, path)
    model.provenance = dict(data.get("provenance", {"source": "official PoseWarper checkpoint"}))
    return model.to(device or default_device()).eval(), config


def load_official_checkpoint(model: PoseWarper, path, backbone_only: bool | None = None) -> list[str]:
    """Load an official HRNet (e.g. `pretrained_coco_model.pth`, backbone + final_layer only) or
    PoseWarper `final_state.pth` into `model`. With a backbone-only file the head keeps its
    identity initialisation; returns the keys that stayed as they were. Shapes must match."""
    path = Path(path)
    state = _read(path)
    if isinstance(state, dict) and "state_dict" in state:
        state = state["state_dict"]
    state = {k.removeprefix("module."): v for k, v in state.items()}
    own = model.state_dict()
    if backbone_only is None:
        backbone_only = not any(k.startswith("offset_feats.") for k in state)
    if backbone_only:
        head = tuple(model._head_names)
        own_needed = {k: v for k, v in own.items() if not k.startswith(tuple(h + "." for h in head))}
        state = {k: v for k, v in state.items() if k in own_needed}
        kept = [k for k in own if k not in state]
        wrong = [k for k, v in state.items() if tuple(v.shape) != tuple(own[k].shape)]
        missing = [k for k in own_needed if k not in state]
        if missing or wrong:
            raise ModelError(f"{path}: backbone weights do not match ({len(missing)} missing, "
                             f"{len(wrong)} with other shapes, e.g. {(missing + wrong)[:3]})")
        model.load_state_dict(state, strict=False)
        return kept
    _load_state(model, state, path)
    return []


def flow_seed(model) -> str | None:
    """"flow" when the model was trained on flow-seeded pairs (its provenance says so), else None:
    auto-fill then seeds each warp step with DIS flow (autofill/posewarper_method.py)."""
    return (getattr(model, "provenance", None) or {}).get("data", {}).get("seed")
