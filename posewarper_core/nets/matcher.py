"""The keyframe matcher: finds an annotator's keyframe joint again in another frame.

Auto-fill chains optical flow from each keyframe; the chain drifts, most on fast limbs. The
matcher looks straight back at the keyframe: a template around the keyframe's joint (side
TEMPLATE_FRACTION x the person's size, resampled to `template` pixels) is compared with a
search window twice as wide around where flow put the joint. Both go through the same small
conv net; the template's features are weighted by a learned map centred on the joint (the
keyframe's joint heatmap, in effect) and cross-correlated with the search features. The
softmax over the correlation is a heatmap of where the keyframe's joint is in the new frame:
the keyframe's joint heatmap warped by learned appearance matching, decoded to a position and
a confidence (the probability mass around the peak).

File format: nets.checkpoint's model file with config {"kind": "keyframe_matcher", ...}.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..errors import ModelError

KIND = "keyframe_matcher"
IMAGENET_MEAN = np.array([0.485, 0.456, 0.406], np.float32) * 255
IMAGENET_STD = np.array([0.229, 0.224, 0.225], np.float32) * 255


@dataclass(frozen=True)
class MatcherConfig:
    template: int = 32  # template side in pixels; the search window is twice as wide
    template_fraction: float = 0.2  # template side in the image = this x the person's size
    width: int = 32  # feature channels (the last layers have twice as many)
    kind: str = KIND

    @property
    def stride(self) -> int:
        return 2

    @property
    def search(self) -> int:
        return 2 * self.template

    @property
    def response(self) -> int:
        """Side of the correlation map: one cell per feature-pixel offset."""
        return (self.search - self.template) // self.stride + 1

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict, source: str = "") -> "MatcherConfig":
        try:
            cfg = cls(**data)
        except TypeError as exc:
            raise ModelError(f"{source}: not a keyframe matcher configuration ({exc})") from None
        if cfg.kind != KIND or cfg.template % 4 or cfg.template < 8 or cfg.template_fraction <= 0:
            raise ModelError(f"{source}: invalid keyframe matcher configuration {data}")
        return cfg


def _conv(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout),
                         nn.ReLU(inplace=True))


class KeyframeMatcher(nn.Module):
    """(template patches (B,3,T,T), search patches (B,3,2T,2T)) -> logits over offsets (B, R*R)."""

    def __init__(self, config: MatcherConfig = MatcherConfig()):
        super().__init__()
        self.config = config
        w = config.width
        self.features = nn.Sequential(_conv(3, w), _conv(w, w, 2), _conv(w, 2 * w), _conv(2 * w, 2 * w),
                                      nn.Conv2d(2 * w, 2 * w, 3, 1, 1))
        n = config.template // config.stride
        yy, xx = torch.meshgrid(torch.arange(n) - (n - 1) / 2, torch.arange(n) - (n - 1) / 2, indexing="ij")
        centred = torch.exp(-(xx ** 2 + yy ** 2) / (2 * (n / 4) ** 2)).clamp_min(0.05)
        self.joint_weight = nn.Parameter(torch.log(torch.expm1(centred)))  # softplus^-1
        self.log_temperature = nn.Parameter(torch.tensor(math.log(10.0)))
        r = config.response
        steps = (torch.arange(r, dtype=torch.float32) - (r - 1) / 2) * config.stride
        oy, ox = torch.meshgrid(steps, steps, indexing="ij")
        self.register_buffer("offsets", torch.stack([ox.reshape(-1), oy.reshape(-1)], 1), persistent=False)

    def forward(self, template: torch.Tensor, search: torch.Tensor) -> torch.Tensor:
        return self.correlate(self.template_features(template), self.search_features(search))

    def template_features(self, template: torch.Tensor) -> torch.Tensor:
        """Unit feature vectors of the template, weighted by the learned joint map."""
        return F.normalize(self.features(template), dim=1) * F.softplus(self.joint_weight)

    def search_features(self, search: torch.Tensor) -> torch.Tensor:
        return F.normalize(self.features(search), dim=1)

    def correlate(self, ft: torch.Tensor, fs: torch.Tensor) -> torch.Tensor:
        """Logits over offsets (B, R*R) of template features (B, C, m, m) in search features (B, C, n, n)."""
        # Cross-correlation by FFT: on the CPU a grouped conv's backward is ~10x slower.
        return self.correlate_spectra(self.spectrum(ft, conj=True), self.spectrum(fs))

    def spectrum(self, features: torch.Tensor, conj: bool = False) -> torch.Tensor:
        """2-D FFT at the search size: computed once per template or search window at use time."""
        n = self.config.search // self.config.stride
        spec = torch.fft.rfft2(features, s=(n, n))
        return spec.conj() if conj else spec

    def correlate_spectra(self, template_spec: torch.Tensor, search_spec: torch.Tensor) -> torch.Tensor:
        n, r = self.config.search // self.config.stride, self.config.response
        # offsets 0..n-m (the ones kept) never wrap around
        response = torch.fft.irfft2((search_spec * template_spec).sum(1), s=(n, n))[:, :r, :r]
        return response.reshape(len(response), -1) / F.softplus(self.joint_weight).sum() * self.log_temperature.exp()

    def fold_batchnorm(self) -> "KeyframeMatcher":
        """For use after training: each BatchNorm folded into its conv (same outputs in eval mode,
        ~10 % faster on the CPU). Returns self."""
        layers = []
        for block in self.features:
            if isinstance(block, nn.Sequential) and len(block) == 3 and isinstance(block[1], nn.BatchNorm2d):
                conv, bn = block[0], block[1]
                scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
                fused = nn.Conv2d(conv.in_channels, conv.out_channels, conv.kernel_size, conv.stride, conv.padding)
                with torch.no_grad():
                    fused.weight.copy_(conv.weight * scale[:, None, None, None])
                    fused.bias.copy_(bn.bias - bn.running_mean * scale)
                layers.append(nn.Sequential(fused, block[2]))
            else:
                layers.append(block)
        self.features = nn.Sequential(*layers).to(self.joint_weight.device)
        return self

    def decode(self, logits: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(offsets (B, 2) in search pixels from the window's centre, confidence (B,)): the mean of
        the 3x3 cells around the peak, and the probability mass there."""
        r = self.config.response
        prob = logits.softmax(1).reshape(-1, 1, r, r)
        peak = prob.reshape(len(prob), -1).argmax(1)
        near = F.max_pool2d(torch.zeros_like(prob).reshape(len(prob), -1).scatter(1, peak[:, None], 1.0)
                            .reshape(-1, 1, r, r), 3, 1, 1).reshape(len(prob), -1)
        mass = prob.reshape(len(prob), -1) * near
        conf = mass.sum(1)
        return (mass @ self.offsets) / conf.clamp_min(1e-12)[:, None], conf


def patch(image: np.ndarray, centre, side_px: float, out: int) -> tuple[np.ndarray, float]:
    """A square of `side_px` image pixels around `centre`, resampled to out x out (replicated
    border); returns it and the scale (patch pixels per image pixel)."""
    s = out / max(float(side_px), 1e-6)
    cx, cy = float(centre[0]), float(centre[1])
    m = np.array([[s, 0.0, (out - 1) / 2 - s * cx], [0.0, s, (out - 1) / 2 - s * cy]])
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    return cv2.warpAffine(image, m, (out, out), flags=interp, borderMode=cv2.BORDER_REPLICATE), s


def to_tensor(patches: list[np.ndarray]) -> torch.Tensor:
    x = (np.stack(patches).astype(np.float32) - IMAGENET_MEAN) / IMAGENET_STD
    return torch.from_numpy(x).permute(0, 3, 1, 2).contiguous()


def save_matcher(path, model: KeyframeMatcher, provenance: dict | None = None) -> Path:
    """Write the matcher as a model file (config + provenance + weights), atomically."""
    from .checkpoint import write_model_file

    return write_model_file(path, model.config.to_dict(), model, provenance)


def is_matcher_file(data) -> bool:
    return isinstance(data, dict) and isinstance(data.get("config"), dict) and data["config"].get("kind") == KIND


def read_model_file(path) -> dict:
    """The payload of a model file; ModelError naming the file if it cannot be read."""
    from .checkpoint import _read

    data = _read(Path(path))
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a model file")
    return data


def load_matcher(path, device=None) -> KeyframeMatcher:
    """The keyframe matcher saved in `path`, in eval mode; ModelError naming the file otherwise."""
    data = read_model_file(path)
    if not is_matcher_file(data) or "state_dict" not in data:
        raise ModelError(f"{path}: not a keyframe matcher model file")
    return matcher_from_payload(data, Path(path), device)


def matcher_from_payload(data: dict, path: Path, device=None) -> KeyframeMatcher:
    config = MatcherConfig.from_dict(data["config"], source=str(path))
    model = KeyframeMatcher(config)
    try:
        model.load_state_dict(data["state_dict"], strict=True)
    except (RuntimeError, KeyError) as exc:
        raise ModelError(f"{path}: keyframe matcher weights do not fit its config ({exc})") from None
    model.provenance = dict(data.get("provenance", {}))
    return model.to(device or "cpu").eval()
