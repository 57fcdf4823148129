"""The grid_sample deformable convolution equals torchvision's op, forward and gradients."""
import pytest
import torch
from torchvision.ops import deform_conv2d as tv_deform_conv2d

from posewarper_core.nets import deform
from posewarper_core.nets.deform import DeformConv, deform_conv2d, deform_conv2d_grid


def _case(n, c, h, w, off_groups, kh=3, kw=3, out_c=None, conv_groups=1, stride=1, pad=1,
          dil=1, spread=6.0, dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    out_c = out_c or c
    oh = (h + 2 * pad - dil * (kh - 1) - 1) // stride + 1
    ow = (w + 2 * pad - dil * (kw - 1) - 1) // stride + 1
    x = torch.randn(n, c, h, w, generator=g, dtype=dtype)
    # large offsets: many samples fall partly or wholly outside the map
    off = torch.randn(n, 2 * off_groups * kh * kw, oh, ow, generator=g, dtype=dtype) * spread
    weight = torch.randn(out_c, c // conv_groups, kh, kw, generator=g, dtype=dtype)
    return x, off, weight


def _compare(x, off, weight, stride, pad, dil, groups=1, atol=1e-4):
    leaves = [t.clone().requires_grad_() for t in (x, off, weight)]
    mine = [t.clone().requires_grad_() for t in (x, off, weight)]
    ref = tv_deform_conv2d(leaves[0], leaves[1], leaves[2], stride=(stride, stride),
                           padding=(pad, pad), dilation=(dil, dil))
    out = deform_conv2d_grid(mine[0], mine[1], mine[2], None, stride, pad, dil, groups)
    scale = ref.abs().max().item() + 1.0
    assert out.shape == ref.shape
    assert (out - ref).abs().max().item() <= atol * scale
    grad = torch.randn_like(ref)
    g_ref = torch.autograd.grad(ref, leaves, grad)
    g_out = torch.autograd.grad(out, mine, grad)
    for name, a, b in zip(("input", "offset", "weight"), g_out, g_ref):
        tol = atol * (b.abs().max().item() + 1.0)
        assert (a - b).abs().max().item() <= tol, name


@pytest.mark.parametrize("dil", [1, 3, 6])
def test_posewarper_layout_matches_torchvision(dil):
    # 17 channels, 17 offset groups (one per joint), as the PoseWarper head uses it
    x, off, w = _case(2, 17, 24, 18, 17, pad=dil, dil=dil)
    _compare(x, off, w, 1, dil, dil)


@pytest.mark.parametrize("kwargs", [
    dict(n=1, c=6, h=11, w=9, off_groups=3, stride=2, pad=1, dil=1),
    dict(n=2, c=4, h=7, w=13, off_groups=1, kh=3, kw=2, pad=0, dil=2, out_c=5),
    dict(n=3, c=8, h=10, w=10, off_groups=2, pad=2, dil=2, spread=20.0),
])
def test_general_shapes_match_torchvision(kwargs):
    stride, pad, dil = kwargs.get("stride", 1), kwargs["pad"], kwargs["dil"]
    x, off, w = _case(**kwargs)
    _compare(x, off, w, stride, pad, dil)


def test_float64_is_exact_to_rounding():
    x, off, w = _case(1, 17, 12, 10, 17, pad=3, dil=3, dtype=torch.float64)
    _compare(x, off, w, 1, 3, 3, atol=1e-10)


def test_samples_outside_the_map_are_zero_and_integer_shifts_move_the_map():
    x = torch.rand(1, 1, 6, 7)
    w = torch.zeros(1, 1, 3, 3)
    w[0, 0, 1, 1] = 1.0
    off = torch.zeros(1, 18, 6, 7)
    off[:, 8], off[:, 9] = 1.0, -1.0  # centre tap: dy=+1, dx=-1
    out = deform_conv2d_grid(x, off, w, padding=1)
    assert torch.allclose(out[0, 0, :-1, 1:], x[0, 0, 1:, :-1], atol=1e-6)
    assert out[0, 0, -1].abs().max() < 1e-6 and out[0, 0, :, 0].abs().max() < 1e-6
    off[:, 8] = -1.0  # exactly y = -1 on the first row: zero, as torchvision
    assert deform_conv2d_grid(x, off, w, padding=1)[0, 0, 0].abs().max() < 1e-6


def test_batch_chunks_give_the_same_result(monkeypatch):
    x, off, w = _case(5, 17, 9, 8, 17, pad=1)
    whole = deform_conv2d_grid(x, off, w, padding=1)
    monkeypatch.setattr(deform, "_CHUNK_VALUES", 1)  # one image per chunk
    x2, off2 = x.clone().requires_grad_(), off.clone().requires_grad_()
    chunked = deform_conv2d_grid(x2, off2, w, padding=1)
    assert torch.allclose(whole, chunked, atol=1e-6)
    chunked.sum().backward()
    assert off2.grad.shape == off.shape and torch.isfinite(off2.grad).all()
    _compare(x, off, w, 1, 1, 1)


def test_module_has_official_parameter_and_identity_init():
    m = DeformConv(17, 17, 3, padding=6, dilation=6, deformable_groups=17)
    assert [n for n, _ in m.named_parameters()] == ["weight"]
    assert m.weight.shape == (17, 17, 3, 3)
    m.set_identity()
    x = torch.rand(2, 17, 16, 12)
    out = m(x, torch.zeros(2, 306, 16, 12))
    assert (out - x).abs().max() < 1e-5
    with pytest.raises(ValueError):
        m(x, torch.zeros(2, 18, 16, 12))


def test_dispatch_uses_grid_on_cpu_and_honours_explicit_choice():
    assert deform.use_grid_path("auto", torch.device("cpu"))
    assert not deform.use_grid_path("auto", torch.device("cuda"))
    assert not deform.use_grid_path("torchvision", torch.device("cpu"))
    with pytest.raises(ValueError):
        deform.use_grid_path("fast", torch.device("cpu"))
    x, off, w = _case(1, 4, 8, 8, 2)
    a = deform_conv2d(x, off, w, padding=1, impl="torchvision")
    b = deform_conv2d(x, off, w, padding=1, impl="auto")
    assert torch.allclose(a, b, atol=1e-4)
