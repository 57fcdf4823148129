"""The PoseWarper network (spec 1.2-1.7): a backbone producing heatmaps and a warping head
that moves a heatmap stack from a source frame into a target frame, steered by the
difference of the two frames' heatmaps.

Module names equal the official `pose_hrnet.py`: backbone layers at the top level (conv1 ...
final_layer), then offset_feats, offsets1..5 and deform_conv1..5, so an official checkpoint
loads with strict=True into the official configuration.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .deform import DeformConv
from .hrnet import BasicBlock, make_layer

# 5-frame aggregation (spec 1.5): frames in order (t, t-1, t-2, t+1, t+2)
AGGREGATION_WEIGHTS = (0.3, 0.25, 0.1, 0.25, 0.1)


class WarpingHead(nn.Module):
    """difference (N,J,h,w), source (N,J,h,w) -> source warped to the target frame (N,J,h,w).

    offset_feats: `blocks` BasicBlocks of `channels` channels on the difference; per dilation d
    an offset conv (3x3, dilation d, 2*J*9 channels, no bias) and a deformable 3x3 conv
    (J->J, dilation d, J offset groups, no bias); the outputs are averaged.
    """

    def __init__(self, num_joints: int = 17, channels: int = 128, blocks: int = 20,
                 dilations: Sequence[int] = (3, 6, 12, 18, 24), deform_impl: str = "auto"):
        super().__init__()
        self.num_joints = num_joints
        self.dilations = tuple(dilations)
        self.offset_feats = make_layer(BasicBlock, num_joints, channels, blocks)
        for i, d in enumerate(self.dilations, start=1):
            setattr(self, f"offsets{i}", nn.Conv2d(channels, 2 * num_joints * 9, 3, padding=d,
                                                   dilation=d, bias=False))
        for i, d in enumerate(self.dilations, start=1):  # official order: offsets, then DCNs
            setattr(self, f"deform_conv{i}", DeformConv(num_joints, num_joints, 3, padding=d,
                                                        dilation=d, deformable_groups=num_joints,
                                                        impl=deform_impl))
        self.reset_parameters()

    def offset_convs(self) -> list[nn.Conv2d]:
        return [getattr(self, f"offsets{i}") for i in range(1, len(self.dilations) + 1)]

    def deform_convs(self) -> list[DeformConv]:
        return [getattr(self, f"deform_conv{i}") for i in range(1, len(self.dilations) + 1)]

    def reset_parameters(self) -> None:
        """The official start (spec 1.7): trunk convs N(0, 0.001^2), BN 1/0, offset convs 0,
        deformable kernels identity, so the untrained head returns its source exactly."""
        for m in self.offset_feats.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.normal_(m.weight, std=0.001)
            elif isinstance(m, nn.BatchNorm2d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        for conv in self.offset_convs():
            nn.init.zeros_(conv.weight)
        for dcn in self.deform_convs():
            dcn.set_identity()

    def set_deform_impl(self, impl: str) -> None:
        for dcn in self.deform_convs():
            dcn.impl = impl

    def forward(self, difference: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        feats = self.offset_feats(difference)
        scale = 1.0 / len(self.dilations)
        out = None
        for conv, dcn in zip(self.offset_convs(), self.deform_convs()):
            warped = dcn(source, conv(feats)) * scale
            out = warped if out is None else out + warped
        return out


class PoseWarper(nn.Module):
    """Backbone + warping head with the three PoseWarper modes.

    Images are normalised crops (N,3,H,W) (ImageNet mean/std, RGB); heatmaps are
    (N,J,H/4,W/4). The backbone's and the head's layers are registered directly on this
    module (not under a prefix) so the state-dict keys are the official ones.
    """

    def __init__(self, backbone: nn.Module, head: WarpingHead, config=None):
        super().__init__()
        for part in (backbone, head):
            for name, child in part.named_children():
                if name in self._modules:
                    raise ValueError(f"backbone and head both have a layer named {name!r}")
                self.add_module(name, child)
        # the parts share the layers registered above; kept outside the module tree
        object.__setattr__(self, "_backbone", backbone)
        object.__setattr__(self, "_head", head)
        self.config = config
        self._backbone_names = [n for n, _ in backbone.named_children()]
        self._head_names = [n for n, _ in head.named_children()]

    # ---- parts -------------------------------------------------------------------------
    @property
    def head(self) -> WarpingHead:
        return self._head

    @property
    def backbone(self) -> nn.Module:
        return self._backbone

    def backbone_parameters(self):
        return (p for n in self._backbone_names for p in self._modules[n].parameters())

    def head_parameters(self):
        return (p for n in self._head_names for p in self._modules[n].parameters())

    def freeze_backbone(self, frozen: bool = True) -> None:
        """Stage 2 of the official training: backbone and final_layer get no gradient (their
        BN statistics still update in train mode, as in the official code)."""
        for p in self.backbone_parameters():
            p.requires_grad_(not frozen)

    def train(self, mode: bool = True):
        super().train(mode)
        self._backbone.training = mode
        self._head.training = mode
        return self

    # ---- building blocks ---------------------------------------------------------------
    def heatmaps(self, images: torch.Tensor) -> torch.Tensor:
        """Backbone heatmaps (N,J,H/4,W/4) of normalised crops (N,3,H,W)."""
        return self._backbone(images)

    def warp(self, difference: torch.Tensor, source: torch.Tensor) -> torch.Tensor:
        """The warping head: move `source` heatmaps by offsets predicted from `difference`."""
        return self._head(difference, source)

    def _pair_heatmaps(self, image_a: torch.Tensor, image_b: torch.Tensor):
        # both frames in one backbone batch, first all A then all B (as the official code)
        f = self.heatmaps(torch.cat([image_a, image_b], dim=0))
        return f[: image_a.shape[0]], f[image_a.shape[0]:]

    # ---- the three modes ---------------------------------------------------------------
    def forward(self, image_a: torch.Tensor, image_b: torch.Tensor | None = None,
                return_heatmaps: bool = False):
        """Mode (a), training pairs: predict labelled frame A's heatmaps by warping unlabelled
        frame B's (d = f_A - f_B, warp f_B). `image_b` may be omitted when image_a is the
        official 6-channel input [A | B]."""
        if image_b is None:
            if image_a.shape[1] != 6:
                raise ValueError("forward needs image_b, or a 6-channel [A | B] input")
            image_a, image_b = image_a[:, :3], image_a[:, 3:]
        f_a, f_b = self._pair_heatmaps(image_a, image_b)
        out = self.warp(f_a - f_b, f_b)
        return (out, f_a, f_b) if return_heatmaps else out

    def propagate(self, image_a: torch.Tensor, image_b: torch.Tensor,
                  heatmaps_a: torch.Tensor) -> torch.Tensor:
        """Mode (b), propagation in the reverse direction: warp A's (ground-truth) heatmaps into
        frame B with d = f_B - f_A. Both crops use A's box; returns B's heatmaps in that crop."""
        f_a, f_b = self._pair_heatmaps(image_a, image_b)
        if heatmaps_a.shape != f_a.shape:
            raise ValueError(f"heatmaps_a has shape {tuple(heatmaps_a.shape)}, expected "
                             f"{tuple(f_a.shape)}")
        return self.warp(f_b - f_a, heatmaps_a.to(f_a.dtype))

    def aggregate(self, frames, weights: Sequence[float] = AGGREGATION_WEIGHTS) -> torch.Tensor:
        """Mode (c), temporal aggregation: frames (N,K,3,H,W) or a list of K (N,3,H,W) crops in
        the order (t, t-1, t-2, t+1, t+2), all cropped with frame t's box. Every frame k
        (t too, with d = 0) is warped to t with d = f_t - f_k; returns sum_k weights[k] * w_k."""
        if isinstance(frames, (list, tuple)):
            frames = torch.stack(list(frames), dim=1)
        n, k = frames.shape[:2]
        if k != len(weights):
            raise ValueError(f"{k} frames but {len(weights)} weights")
        f = self.heatmaps(frames.transpose(0, 1).reshape(k * n, *frames.shape[2:]))
        f_t = f[:n].repeat(k, 1, 1, 1)
        warped = self.warp(f_t - f, f).view(k, n, *f.shape[1:])
        w = torch.as_tensor(weights, dtype=warped.dtype, device=warped.device).view(k, 1, 1, 1, 1)
        return (warped * w).sum(0)
