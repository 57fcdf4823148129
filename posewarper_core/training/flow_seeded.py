"""Training pairs for the flow-seeded warp: the network learns only what DIS flow misses.

Each sample of an inner dataset (crops A and B, A's joints) is rewritten the way auto-fill's
flow-seeded step (autofill/flow_seed.py) feeds the network: A's joints moved by the DIS flow
A -> B become the input heatmaps, and crop A is pulled onto B's geometry with the flow B -> A.
The target is B's true joints, so the loss is the flow's own error until the head learns to
correct it (an identity head returns the flow result exactly). Both maps are rendered with
sub-pixel Gaussians, as auto-fill renders them: the residual to learn is often smaller than one
heatmap pixel, so rounding the joints to the grid would drown it.
"""
from __future__ import annotations

import cv2
import numpy as np
import torch
from torch.utils.data import Dataset

from ..autofill.flow import make_flow_function, sample_flow
from .. import heatmaps
from .samples import HEATMAP_STRIDE, IMAGENET_MEAN, IMAGENET_STD, normalise


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """Inverse of samples.normalise: (3, H, W) tensor -> HxWx3 uint8 RGB."""
    x = image.numpy().transpose(1, 2, 0) * IMAGENET_STD + IMAGENET_MEAN
    return np.clip(np.rint(x * 255.0), 0, 255).astype(np.uint8)


def render_subpixel(xy_crop: np.ndarray, visible: np.ndarray, input_size: tuple[int, int],
                    sigma: float) -> tuple[torch.Tensor, np.ndarray]:
    """Sub-pixel heatmaps (J, H/4, W/4) of crop-pixel joints and the mask of those inside."""
    w, h = input_size[0] // HEATMAP_STRIDE, input_size[1] // HEATMAP_STRIDE
    xy_hm = np.asarray(xy_crop, np.float64) / HEATMAP_STRIDE
    inside = (np.asarray(visible, bool) & (xy_hm >= 0).all(axis=1)
              & (xy_hm[:, 0] <= w - 1) & (xy_hm[:, 1] <= h - 1))
    hm = heatmaps.render(xy_hm.astype(np.float32), inside, size=(h, w), sigma=sigma, subpixel=True)
    return torch.from_numpy(np.ascontiguousarray(hm, dtype=np.float32)), inside


def pull(image: np.ndarray, flow_back: np.ndarray) -> np.ndarray:
    """Image a pulled onto b's geometry with the flow b -> a (same size as the flow)."""
    h, w = flow_back.shape[:2]
    u, v = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(image, u + flow_back[..., 0], v + flow_back[..., 1], cv2.INTER_LINEAR,
                     borderMode=cv2.BORDER_CONSTANT, borderValue=(0, 0, 0))


class FlowSeededPairs(Dataset):
    """Wraps a pair dataset (items with image_a, image_b, xy_a, vis_a, heatmaps_b, weight)."""

    def __init__(self, inner: Dataset, input_size: tuple[int, int], sigma: float):
        self.inner = inner
        self.input_size = tuple(input_size)
        self.sigma = sigma
        self._flow = None  # made lazily: OpenCV objects do not pickle into DataLoader workers

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.inner, "set_epoch"):
            self.inner.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.inner)

    def __getitem__(self, index: int) -> dict:
        item = dict(self.inner[index])
        if self._flow is None:
            self._flow = make_flow_function("dis")
        a, b = to_uint8(item["image_a"]), to_uint8(item["image_b"])
        ga, gb = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY), cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
        xy_a = item["xy_a"].numpy().astype(np.float64)
        seed = xy_a + sample_flow(self._flow(ga, gb), xy_a)
        hm_a, in_a = render_subpixel(seed, item["vis_a"].numpy(), self.input_size, self.sigma)
        had_b = item["heatmaps_b"].flatten(1).amax(1).numpy() > 0
        hm_b, in_b = render_subpixel(item["xy_b"].numpy(), had_b, self.input_size, self.sigma)
        item["image_a"] = normalise(pull(a, self._flow(gb, ga)))
        item["heatmaps_a"], item["heatmaps_b"] = hm_a, hm_b
        item["weight"] = item["weight"] * torch.from_numpy((in_a & in_b).astype(np.float32))
        return item
