"""Deformable convolution (DCNv1) with torchvision's semantics, and a fast CPU path.

Semantics (spec 1.8, = `torchvision.ops.deform_conv2d` = the mmdetection-v1 op PoseWarper used):
offset has shape (N, 2*G*kh*kw, Ho, Wo), group-major; inside group g, kernel tap t = i*kw + j
has channel 2t = dy (rows) and 2t+1 = dx (cols). Input channel c belongs to offset group
c // (C/G). Tap t of output pixel (h, w) samples the input at
    (h*stride - pad + i*dil + dy, w*stride - pad + j*dil + dx)
by bilinear interpolation where corners outside the map count as 0 (so any sample with
y <= -1, x <= -1, y >= H or x >= W is 0).

The CPU path gathers all taps of all groups with one `F.grid_sample` call per chunk of the
batch (align_corners=True, zeros padding, coordinates normalised as 2p/(size-1)-1; the taps
are folded into the output rows and the offset groups into the batch), followed by one matrix
product with the kernel. A custom autograd Function calls grid_sample's backward directly
(only for what needs a gradient) and two matrix products for the kernel and the samples.
"""
from __future__ import annotations

import ctypes
import math
import os
import sys

import torch
import torch.nn.functional as F
from torch import nn

_IMPLS = ("auto", "grid", "torchvision")


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int, float)) else (int(v[0]), int(v[1]))


def _base_positions(out_h: int, out_w: int, kh: int, kw: int, stride, padding, dilation,
                    device, dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Undeformed sampling rows and columns, each (K, Ho, Wo) with K = kh*kw taps (row-major)."""
    (sh, sw), (ph, pw), (dh, dw) = stride, padding, dilation
    rows = torch.arange(out_h, device=device, dtype=dtype) * sh - ph
    cols = torch.arange(out_w, device=device, dtype=dtype) * sw - pw
    tap_r = (torch.arange(kh, device=device, dtype=dtype) * dh).repeat_interleave(kw)
    tap_c = (torch.arange(kw, device=device, dtype=dtype) * dw).repeat(kh)
    base_y = (tap_r[:, None, None] + rows[None, :, None]).expand(kh * kw, out_h, out_w)
    base_x = (tap_c[:, None, None] + cols[None, None, :]).expand(kh * kw, out_h, out_w)
    return base_y, base_x


def _coordinate_maps(offset: torch.Tensor, in_h: int, in_w: int, kh: int, kw: int, stride,
                     padding, dilation) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[float, float], bool]:
    """The affine map p -> a*p + b from pixel to grid_sample units, with the undeformed tap
    positions already mapped: returns ((b_y, b_x) each (K, Ho, Wo), (a_y, a_x), align_corners).

    align_corners=True (2p/(size-1) - 1) except for a map of height or width 1, where that is
    undefined and align_corners=False ((2p + 1)/size - 1) is used instead.
    """
    out_h, out_w = offset.shape[2:]
    key = (out_h, out_w, in_h, in_w, kh, kw, stride, padding, dilation, offset.device,
           offset.dtype)
    hit = _MAPS_CACHE.get(key)
    if hit is not None:
        return hit
    base_y, base_x = _base_positions(out_h, out_w, kh, kw, stride, padding, dilation,
                                     offset.device, offset.dtype)
    align = in_h > 1 and in_w > 1
    if align:
        ay, ax, by, bx = 2.0 / (in_h - 1), 2.0 / (in_w - 1), -1.0, -1.0
    else:
        ay, ax, by, bx = 2.0 / in_h, 2.0 / in_w, 1.0 / in_h - 1.0, 1.0 / in_w - 1.0
    maps = ((base_y * ay + by).contiguous(), (base_x * ax + bx).contiguous()), (ay, ax), align
    if len(_MAPS_CACHE) >= 32:  # a handful of shapes in practice; never grow without bound
        _MAPS_CACHE.clear()
    _MAPS_CACHE[key] = maps
    return maps


# (shapes, conv parameters, device, dtype) -> _coordinate_maps result; these maps depend on
# nothing else and the head asks for the same five again and again
_MAPS_CACHE: dict = {}


def _grid(offset: torch.Tensor, shifts, scales, k: int) -> torch.Tensor:
    """grid_sample grid (N*G, K*Ho, Wo, 2) of (x, y): written in one pass per coordinate straight
    into the interleaved layout grid_sample reads fastest."""
    n, ch, out_h, out_w = offset.shape
    groups = ch // (2 * k)
    off = offset.view(n, groups, k, 2, out_h, out_w)
    grid = torch.empty(n, groups, k, out_h, out_w, 2, device=offset.device, dtype=offset.dtype)
    torch.add(shifts[1], off[:, :, :, 1], alpha=scales[1], out=grid[..., 0])
    torch.add(shifts[0], off[:, :, :, 0], alpha=scales[0], out=grid[..., 1])
    return grid.view(n * groups, k * out_h, out_w, 2)


def _check(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor, groups: int) -> int:
    n, c = x.shape[:2]
    kh, kw = weight.shape[2:]
    if offset.dim() != 4 or offset.shape[0] != n or offset.shape[1] % (2 * kh * kw):
        raise ValueError(f"offset shape {tuple(offset.shape)} does not fit input {tuple(x.shape)} "
                         f"and a {kh}x{kw} kernel")
    off_groups = offset.shape[1] // (2 * kh * kw)
    if c % off_groups or c % groups or weight.shape[1] * groups != c:
        raise ValueError(f"{c} input channels do not split into {off_groups} offset groups / "
                         f"{groups} groups with weight {tuple(weight.shape)}")
    return off_groups


def _grid_grad_to_offset_grad(grad_grid, out, k, scales) -> None:
    """grid gradient (n*G, K*Ho, Wo, 2) of (x, y) -> `out` (n, G*K*2, Ho, Wo) in the offset's
    layout of (dy, dx), back in pixel units."""
    n, ch, out_h, out_w = out.shape
    groups = ch // (2 * k)
    gg = grad_grid.view(n, groups, k, out_h, out_w, 2)
    dst = out.view(n, groups, k, 2, out_h, out_w)
    torch.mul(gg[..., 1], scales[0], out=dst[:, :, :, 0])
    torch.mul(gg[..., 0], scales[1], out=dst[:, :, :, 1])


# Images per chunk: about this many offset values (one 96x72 image) at a time, so the
# temporaries (grid, samples, their gradients) stay a few MB each whatever the batch.
_CHUNK_VALUES = 1 << 21


class _DeformConvGridFunction(torch.autograd.Function):
    """grid_sample gathers every tap of every offset group, a matrix product applies the
    kernel; chunk by chunk of the batch. The backward calls grid_sample's backward directly
    (only for what needs a gradient) with the saved grids, and writes the offset gradient of
    each chunk straight into the full-size result."""

    @staticmethod
    def forward(ctx, x, offset, weight, stride, padding, dilation, groups):
        n, c, h, w = x.shape
        out_ch, _, kh, kw = weight.shape
        k = kh * kw
        out_h, out_w = offset.shape[2:]
        off_groups = offset.shape[1] // (2 * k)
        shifts, scales, align = _coordinate_maps(offset, h, w, kh, kw, stride, padding, dilation)
        w_g = weight.reshape(groups, out_ch // groups, (c // groups) * k)
        step = max(1, _CHUNK_VALUES // max(offset[0].numel(), 1))
        out = x.new_empty(n, out_ch, out_h, out_w)
        grids, samples = [], []
        for i in range(0, n, step):
            xc, oc = x[i:i + step], offset[i:i + step]
            m = xc.shape[0]
            grid = _grid(oc, shifts, scales, k)
            s = F.grid_sample(xc.reshape(m * off_groups, c // off_groups, h, w), grid,
                              mode="bilinear", padding_mode="zeros", align_corners=align)
            s = s.view(m, groups, (c // groups) * k, out_h * out_w)  # memory order (m, C, K, L)
            torch.matmul(w_g, s, out=out[i:i + step].view(m, groups, out_ch // groups, -1))
            grids.append(grid)
            samples.append(s)
        ctx.save_for_backward(x, offset, weight, *grids, *samples)
        ctx.conv = (groups, align, scales, step, len(grids))
        return out

    @staticmethod
    @torch.autograd.function.once_differentiable
    def backward(ctx, grad_out):
        groups, align, scales, step, chunks = ctx.conv
        x, offset, weight, *rest = ctx.saved_tensors
        grids, samples = rest[:chunks], rest[chunks:]
        n, c, h, w = x.shape
        out_ch, _, kh, kw = weight.shape
        k = kh * kw
        out_h, out_w = offset.shape[2:]
        off_groups = offset.shape[1] // (2 * k)
        need_x, need_off, need_w = ctx.needs_input_grad[:3]
        w_g = weight.reshape(groups, out_ch // groups, (c // groups) * k)
        grad_x = torch.empty_like(x) if need_x else None
        grad_off = torch.empty_like(offset) if need_off else None
        grad_w = torch.zeros_like(w_g) if need_w else None
        for j, i in enumerate(range(0, n, step)):
            g = grad_out[i:i + step].reshape(-1, groups, out_ch // groups, out_h * out_w)
            m = g.shape[0]
            if need_w:
                grad_w += torch.matmul(g, samples[j].transpose(2, 3)).sum(0)
            if need_x or need_off:
                grad_s = torch.matmul(w_g.transpose(1, 2), g)  # (m, groups, C/groups*K, L)
                gx, gg = torch.ops.aten.grid_sampler_2d_backward(
                    grad_s.view(m * off_groups, c // off_groups, k * out_h, out_w),
                    x[i:i + step].reshape(m * off_groups, c // off_groups, h, w), grids[j],
                    0, 0, align, [need_x, need_off])
                if need_x:
                    grad_x[i:i + step] = gx.view(m, c, h, w)
                if need_off:
                    _grid_grad_to_offset_grad(gg, grad_off[i:i + step], k, scales)
        if need_w:
            grad_w = grad_w.view_as(weight)
        return grad_x, grad_off, grad_w, None, None, None, None


def deform_conv2d_grid(x: torch.Tensor, offset: torch.Tensor, weight: torch.Tensor,
                       bias: torch.Tensor | None = None, stride=1, padding=0, dilation=1,
                       groups: int = 1) -> torch.Tensor:
    """Deformable convolution equal to `torchvision.ops.deform_conv2d(x, offset, weight, bias,
    stride, padding, dilation)` (forward and gradients), computed with one `grid_sample` and
    one matrix product per chunk of the batch."""
    stride, padding, dilation = _pair(stride), _pair(padding), _pair(dilation)
    _check(x, offset, weight, groups)
    _keep_freed_memory()
    out = _DeformConvGridFunction.apply(x.contiguous(), offset.contiguous(), weight, stride,
                                        padding, dilation, groups)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out


_MALLOC_TUNED = False


def _keep_freed_memory() -> None:
    """Ask glibc to keep freed blocks up to 32 MB in the heap instead of returning them to the
    system. Each step of the grid path allocates several multi-MB temporaries; fresh pages
    cost a page fault each, measured at a third of the CPU time of a 96x72 warp here
    (about 9,000 faults per forward+backward). Once per process, Linux/glibc only; set
    POSEWARPER_NO_MALLOPT=1 to leave the allocator alone."""
    global _MALLOC_TUNED
    if _MALLOC_TUNED:
        return
    _MALLOC_TUNED = True
    if os.environ.get("POSEWARPER_NO_MALLOPT") or not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL("libc.so.6")
        m_trim_threshold, m_mmap_threshold = -1, -3
        libc.mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest allowed value
        libc.mallopt(m_trim_threshold, 512 << 20)
    except (OSError, AttributeError):  # not glibc
        pass


def use_grid_path(impl: str, device: torch.device) -> bool:
    """'auto' picks the grid_sample path on the CPU and torchvision's kernel elsewhere (CUDA)."""
    if impl not in _IMPLS:
        raise ValueError(f"unknown deformable-conv implementation {impl!r}; use one of {_IMPLS}")
    return impl == "grid" or (impl == "auto" and device.type == "cpu")


def deform_conv2d(x, offset, weight, bias=None, stride=1, padding=0, dilation=1,
                  impl: str = "auto") -> torch.Tensor:
    """Deformable convolution dispatching to our grid_sample path or to torchvision's op."""
    if use_grid_path(impl, x.device):
        return deform_conv2d_grid(x, offset, weight, bias, stride, padding, dilation)
    from torchvision.ops import deform_conv2d as tv_deform_conv2d

    return tv_deform_conv2d(x, offset, weight, bias, stride=_pair(stride), padding=_pair(padding),
                            dilation=_pair(dilation))


class DeformConv(nn.Module):
    """DCNv1 layer as in PoseWarper (`deform_conv.DeformConv`): parameter `weight` of shape
    (out, in/groups, kh, kw), no bias; offsets come from outside (`forward(x, offset)`).
    `impl`: 'auto' (grid_sample on CPU, torchvision on CUDA), 'grid' or 'torchvision'."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size=3, stride=1, padding=0,
                 dilation=1, deformable_groups: int = 1, bias: bool = False, impl: str = "auto"):
        super().__init__()
        if bias:
            raise ValueError("DeformConv has no bias (as in PoseWarper's DCNv1 layer)")
        use_grid_path(impl, torch.device("cpu"))  # validates the name
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size = _pair(kernel_size)
        self.stride, self.padding, self.dilation = _pair(stride), _pair(padding), _pair(dilation)
        self.deformable_groups = deformable_groups
        self.impl = impl
        self.weight = nn.Parameter(torch.empty(out_channels, in_channels, *self.kernel_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        n = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        bound = 1.0 / math.sqrt(n)
        nn.init.uniform_(self.weight, -bound, bound)

    def set_identity(self) -> None:
        """Identity kernel: W[k, k, centre] = 1 (PoseWarper's initialisation)."""
        with torch.no_grad():
            self.weight.zero_()
            ci, cj = self.kernel_size[0] // 2, self.kernel_size[1] // 2
            for k in range(min(self.in_channels, self.out_channels)):
                self.weight[k, k, ci, cj] = 1.0

    @property
    def offset_channels(self) -> int:
        return 2 * self.deformable_groups * self.kernel_size[0] * self.kernel_size[1]

    def forward(self, x: torch.Tensor, offset: torch.Tensor) -> torch.Tensor:
        if offset.shape[1] != self.offset_channels:
            raise ValueError(f"expected {self.offset_channels} offset channels, got {offset.shape[1]}")
        return deform_conv2d(x, offset, self.weight, None, self.stride, self.padding, self.dilation,
                             impl=self.impl)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"padding={self.padding}, dilation={self.dilation}, "
                f"deformable_groups={self.deformable_groups}, impl={self.impl!r}")
