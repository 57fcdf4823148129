"""HRNet pose backbone (Sun et al. 2019) with the module names of the official pose code, so
official checkpoints (HRNet-W48 PoseTrack/COCO, PoseWarper) load key for key.

Layout (spec 1.1): stem of two stride-2 3x3 convs -> layer1 (4 Bottlenecks, 256 channels) ->
transition1 -> stage2 -> transition2 -> stage3 -> transition3 -> stage4 (only the fused
highest-resolution branch leaves the last module) -> final_layer (1x1 conv with bias) giving
the heatmaps at stride 4. `HRNetSpec` holds the widths and module counts: W48 is the official
one, W32 and W18 are the standard smaller widths.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

BN_MOMENTUM = 0.1


def _conv3x3(cin: int, cout: int, stride: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, 3, stride=stride, padding=1, bias=False)


class BasicBlock(nn.Module):
    """3x3 conv-BN-ReLU, 3x3 conv-BN, plus the shortcut, ReLU."""

    expansion = 1

    def __init__(self, cin: int, cout: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = _conv3x3(cin, cout, stride)
        self.bn1 = nn.BatchNorm2d(cout, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = _conv3x3(cout, cout)
        self.bn2 = nn.BatchNorm2d(cout, momentum=BN_MOMENTUM)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + shortcut)


class Bottleneck(nn.Module):
    """1x1 reduce, 3x3, 1x1 expand (x4), plus the shortcut, ReLU."""

    expansion = 4

    def __init__(self, cin: int, width: int, stride: int = 1, downsample: nn.Module | None = None):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, width, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(width, momentum=BN_MOMENTUM)
        self.conv2 = _conv3x3(width, width, stride)
        self.bn2 = nn.BatchNorm2d(width, momentum=BN_MOMENTUM)
        self.conv3 = nn.Conv2d(width, width * 4, 1, bias=False)
        self.bn3 = nn.BatchNorm2d(width * 4, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + shortcut)


def make_layer(block, cin: int, width: int, blocks: int, stride: int = 1) -> nn.Sequential:
    """`blocks` blocks; the first one gets a 1x1 conv + BN shortcut when the shape changes."""
    cout = width * block.expansion
    downsample = None
    if stride != 1 or cin != cout:
        downsample = nn.Sequential(nn.Conv2d(cin, cout, 1, stride=stride, bias=False),
                                   nn.BatchNorm2d(cout, momentum=BN_MOMENTUM))
    layers = [block(cin, width, stride, downsample)]
    layers += [block(cout, width) for _ in range(1, blocks)]
    return nn.Sequential(*layers)


class HighResolutionModule(nn.Module):
    """Parallel branches of BasicBlocks, then every output branch sums all inputs brought to
    its resolution (1x1 conv + BN + nearest upsampling from lower resolutions; chains of
    stride-2 3x3 conv + BN from higher ones), then ReLU."""

    def __init__(self, widths: list[int], blocks: int, multi_scale_output: bool = True):
        super().__init__()
        self.num_branches = len(widths)
        self.branches = nn.ModuleList(make_layer(BasicBlock, w, w, blocks) for w in widths)
        n_out = self.num_branches if multi_scale_output else 1
        self.fuse_layers = nn.ModuleList(
            nn.ModuleList(self._fuse(widths, i, j) for j in range(self.num_branches))
            for i in range(n_out)) if self.num_branches > 1 else None
        self.relu = nn.ReLU(inplace=True)

    @staticmethod
    def _fuse(widths: list[int], i: int, j: int) -> nn.Module | None:
        if j == i:
            return None
        if j > i:
            return nn.Sequential(nn.Conv2d(widths[j], widths[i], 1, bias=False),
                                 nn.BatchNorm2d(widths[i], momentum=BN_MOMENTUM),
                                 nn.Upsample(scale_factor=2 ** (j - i), mode="nearest"))
        steps = []
        for k in range(i - j):
            last = k == i - j - 1
            cout = widths[i] if last else widths[j]
            layers = [_conv3x3(widths[j], cout, stride=2), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM)]
            if not last:
                layers.append(nn.ReLU(inplace=True))
            steps.append(nn.Sequential(*layers))
        return nn.Sequential(*steps)

    def forward(self, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        xs = [branch(x) for branch, x in zip(self.branches, xs)]
        if self.fuse_layers is None:
            return xs
        outs = []
        for i, fuse in enumerate(self.fuse_layers):
            y = xs[i]
            for j in range(self.num_branches):
                if j != i:
                    y = y + fuse[j](xs[j])
            outs.append(self.relu(y))
        return outs


@dataclass(frozen=True)
class HRNetSpec:
    """Widths of the 4 resolutions and HR-module counts of stages 2-4 (4 blocks per branch)."""

    width: int = 48
    modules: tuple[int, int, int] = (1, 4, 3)
    blocks: int = 4

    @property
    def widths(self) -> list[int]:
        return [self.width * 2 ** i for i in range(4)]


class HRNet(nn.Module):
    """HRNet pose network: image (N,3,H,W) -> heatmaps (N,J,H/4,W/4). Attribute names follow
    the official `PoseHighResolutionNet`."""

    def __init__(self, spec: HRNetSpec = HRNetSpec(), num_joints: int = 17):
        super().__init__()
        self.spec = spec
        self.conv1 = nn.Conv2d(3, 64, 3, stride=2, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.conv2 = nn.Conv2d(64, 64, 3, stride=2, padding=1, bias=False)
        self.bn2 = nn.BatchNorm2d(64, momentum=BN_MOMENTUM)
        self.relu = nn.ReLU(inplace=True)
        self.layer1 = make_layer(Bottleneck, 64, 64, 4)
        widths = spec.widths
        self.transition1 = self._transition([256], widths[:2])
        self.stage2 = self._stage(widths[:2], spec.modules[0], spec.blocks)
        self.transition2 = self._transition(widths[:2], widths[:3])
        self.stage3 = self._stage(widths[:3], spec.modules[1], spec.blocks)
        self.transition3 = self._transition(widths[:3], widths[:4])
        self.stage4 = self._stage(widths, spec.modules[2], spec.blocks, multi_scale_output=False)
        self.final_layer = nn.Conv2d(widths[0], num_joints, 1)

    @staticmethod
    def _transition(before: list[int], after: list[int]) -> nn.ModuleList:
        """Adapt existing branches whose width changes; create each new branch from the lowest
        resolution by stride-2 3x3 convs. Unchanged branches pass through (None)."""
        layers: list[nn.Module | None] = []
        for i, cout in enumerate(after):
            if i < len(before):
                layers.append(None if before[i] == cout else nn.Sequential(
                    _conv3x3(before[i], cout), nn.BatchNorm2d(cout, momentum=BN_MOMENTUM),
                    nn.ReLU(inplace=True)))
                continue
            steps = []
            for k in range(i + 1 - len(before)):
                cin = before[-1]
                width = cout if k == i - len(before) else cin
                steps.append(nn.Sequential(_conv3x3(cin, width, stride=2),
                                           nn.BatchNorm2d(width, momentum=BN_MOMENTUM),
                                           nn.ReLU(inplace=True)))
            layers.append(nn.Sequential(*steps))
        return nn.ModuleList(layers)

    @staticmethod
    def _stage(widths: list[int], modules: int, blocks: int,
               multi_scale_output: bool = True) -> nn.Sequential:
        return nn.Sequential(*(
            HighResolutionModule(widths, blocks, multi_scale_output or m < modules - 1)
            for m in range(modules)))

    @staticmethod
    def _apply_transition(transition: nn.ModuleList, xs: list[torch.Tensor]) -> list[torch.Tensor]:
        out = []
        for i, layer in enumerate(transition):
            if i < len(xs):
                out.append(xs[i] if layer is None else layer(xs[i]))
            else:
                out.append(layer(xs[-1]))
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.relu(self.bn2(self.conv2(x)))
        xs = [self.layer1(x)]
        xs = self.stage2(self._apply_transition(self.transition1, xs))
        xs = self.stage3(self._apply_transition(self.transition2, xs))
        xs = self.stage4(self._apply_transition(self.transition3, xs))
        return self.final_layer(xs[0])
