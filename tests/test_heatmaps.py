"""Heatmap targets and decoders, and the person-crop geometry (spec 3.1, 3.3, 4.2)."""
import math

import cv2
import numpy as np
import pytest
import torch

from posewarper_core import crops, heatmaps


# ---- rendering -------------------------------------------------------------------------
def test_official_target_is_integer_centred_gaussian_in_19x19_window():
    maps, weights = heatmaps.render_with_weights([[10.4, 20.6]], [True], size=(96, 72), sigma=3)
    m = maps[0]
    assert m.shape == (96, 72) and m.dtype == np.float32
    assert m[21, 10] == 1.0  # int(10.4 + .5) = 10, int(20.6 + .5) = 21
    ys, xs = np.nonzero(m)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (12, 30, 1, 19)
    assert m[21, 13] == pytest.approx(math.exp(-9 / 18), rel=1e-6)
    assert weights[0] == 1.0


def test_invisible_and_off_map_joints_get_zero_maps_and_weights():
    xy = [[5, 5], [-20, 5], [71.2, 95.4], [80, 10]]
    maps, weights = heatmaps.render_with_weights(xy, [False, True, True, True], (96, 72), 3)
    assert maps[0].max() == 0 and weights[0] == 0  # invisible
    assert maps[1].max() == 0 and weights[1] == 0  # window entirely left of the map
    assert maps[2].max() > 0 and weights[2] == 1  # clipped window still counts
    assert maps[3].max() > 0 and weights[3] == 1  # centre outside, window reaches in


def test_subpixel_rendering_centres_the_gaussian_exactly():
    m = heatmaps.render([[30.3, 40.7]], [True], (96, 72), sigma=2, subpixel=True)[0]
    for x, y in [(30, 41), (31, 40), (27, 44)]:
        expected = math.exp(-((x - 30.3) ** 2 + (y - 40.7) ** 2) / (2 * 2 ** 2))
        assert m[y, x] == pytest.approx(expected, rel=1e-5)
    assert m.max() < 1.0  # the peak falls between pixels


# ---- decoding --------------------------------------------------------------------------
def _official_decode(hm):
    """Straight port of lib/core/inference.py get_max_preds + the quarter-pixel post-process."""
    n, j, h, w = hm.shape
    flat = hm.reshape(n, j, -1)
    idx = np.argmax(flat, 2).reshape(n, j, 1)
    maxvals = np.amax(flat, 2).reshape(n, j, 1)
    preds = np.tile(idx, (1, 1, 2)).astype(np.float32)
    preds[:, :, 0] = preds[:, :, 0] % w
    preds[:, :, 1] = np.floor(preds[:, :, 1] / w)
    preds *= np.tile(np.greater(maxvals, 0.0), (1, 1, 2)).astype(np.float32)
    for a in range(n):
        for b in range(j):
            m = hm[a][b]
            px = int(math.floor(preds[a][b][0] + 0.5))
            py = int(math.floor(preds[a][b][1] + 0.5))
            if 1 < px < w - 1 and 1 < py < h - 1:
                diff = np.array([m[py][px + 1] - m[py][px - 1], m[py + 1][px] - m[py - 1][px]])
                preds[a][b] += np.sign(diff) * .25
    return preds, maxvals[..., 0]


def test_argmax_decoder_equals_the_official_one():
    rng = np.random.default_rng(0)
    hm = rng.random((3, 17, 24, 18)).astype(np.float32)
    hm[0, 0] = 0.0  # empty map -> (0, 0)
    hm[1, 2] = -1.0
    hm[2, 3, 1, 5] = 5.0  # peak near the border: no shift
    hm[2, 4, 10, 9] = 5.0
    hm[2, 4, 10, 10] = 4.0  # larger right neighbour: +0.25 in x
    xy, maxval = heatmaps.decode_argmax(hm)
    ref_xy, ref_max = _official_decode(hm)
    assert np.array_equal(xy, ref_xy)
    assert np.allclose(maxval, ref_max)
    assert tuple(xy[2, 4]) == (9.25, 10.0) or xy[2, 4, 0] == 9.25


def _round_trip_errors(sigma, n=400, seed=1):
    rng = np.random.default_rng(seed)
    xy = np.column_stack([rng.uniform(4, 68, n), rng.uniform(4, 92, n)])
    maps = np.stack([heatmaps.render(p[None], [True], (96, 72), sigma, subpixel=True)[0]
                     for p in xy])[:, None]
    arg, _ = heatmaps.decode_argmax(maps)
    sub, _ = heatmaps.decode_subpixel(maps)
    exact, _ = heatmaps.decode_subpixel(maps, blur=0)
    return tuple(np.linalg.norm(d[:, 0] - xy, axis=1) for d in (arg, sub, exact))


@pytest.mark.parametrize("sigma", [2.0, 3.0])
def test_subpixel_decoder_is_far_better_than_argmax(sigma):
    # measured on 1000 random positions: argmax mean 0.19 px (max 0.35); Taylor without blur
    # mean 1e-6 px (exact for Gaussians); with the default blur mean 0.004 px (the blur of a
    # window-truncated Gaussian near the border shifts a little)
    err_arg, err_sub, err_exact = _round_trip_errors(sigma)
    assert 0.1 < err_arg.mean() < 0.4
    assert err_exact.max() < 1e-3
    assert err_sub.mean() < 0.01 and np.percentile(err_sub, 95) < 0.05
    assert err_sub.mean() < err_arg.mean() / 20


def test_subpixel_decoder_survives_noise_and_batches():
    rng = np.random.default_rng(2)
    xy = np.column_stack([rng.uniform(8, 60, 17), rng.uniform(8, 80, 17)])
    maps = heatmaps.render(xy, np.ones(17, bool), (96, 72), 2.0, subpixel=True)
    noisy = maps + rng.normal(0, 0.02, maps.shape).astype(np.float32)
    batch = np.stack([noisy, noisy])  # (2, 17, 96, 72)
    sub, maxval = heatmaps.decode_subpixel(torch.from_numpy(batch))
    arg, _ = heatmaps.decode_argmax(batch)
    assert sub.shape == (2, 17, 2) and maxval.shape == (2, 17)
    err_sub = np.linalg.norm(sub[0] - xy, axis=1)
    err_arg = np.linalg.norm(arg[0] - xy, axis=1)
    # measured: argmax ~0.3 px, subpixel (blur 2) ~0.03 px, without blur ~0.23 px
    assert err_sub.mean() < err_arg.mean() / 3 and err_sub.max() < 0.3
    unblurred, _ = heatmaps.decode_subpixel(batch, blur=0)
    assert err_sub.mean() < np.linalg.norm(unblurred[0] - xy, axis=1).mean()


def test_decoders_return_origin_for_empty_maps():
    hm = np.zeros((2, 5, 6), np.float32)
    for decode in (heatmaps.decode_argmax, heatmaps.decode_subpixel):
        xy, maxval = decode(hm)
        assert np.all(xy == 0) and np.all(maxval == 0)
    with pytest.raises(ValueError):
        heatmaps.decode(hm, "mean")


# ---- crops -----------------------------------------------------------------------------
def _official_affine(center, scale, rot, output_size, inv=False):
    """Port of lib/utils/transforms.py get_affine_transform (shift 0)."""
    scale_tmp = np.asarray(scale) * 200.0
    src_w = scale_tmp[0]
    dst_w, dst_h = output_size
    rot_rad = np.pi * rot / 180

    def get_dir(p, r):
        sn, cs = np.sin(r), np.cos(r)
        return [p[0] * cs - p[1] * sn, p[0] * sn + p[1] * cs]

    def third(a, b):
        d = a - b
        return b + np.array([-d[1], d[0]], np.float32)

    src_dir = get_dir([0, src_w * -0.5], rot_rad)
    dst_dir = np.array([0, dst_w * -0.5], np.float32)
    src = np.zeros((3, 2), np.float32)
    dst = np.zeros((3, 2), np.float32)
    src[0, :] = center
    src[1, :] = center + np.asarray(src_dir)
    dst[0, :] = [dst_w * 0.5, dst_h * 0.5]
    dst[1, :] = np.array([dst_w * 0.5, dst_h * 0.5]) + dst_dir
    src[2:, :] = third(src[0, :], src[1, :])
    dst[2:, :] = third(dst[0, :], dst[1, :])
    if inv:
        return cv2.getAffineTransform(np.float32(dst), np.float32(src))
    return cv2.getAffineTransform(np.float32(src), np.float32(dst))


def test_box_to_center_scale_fixes_aspect_and_adds_a_quarter():
    c, s = crops.box_to_center_scale([100, 50, 40, 200], aspect=288 / 384)
    assert np.allclose(c, [120, 150])
    assert np.allclose(s, [150 / 200 * 1.25, 200 / 200 * 1.25])  # width grown to 0.75 * 200
    c, s = crops.box_to_center_scale([0, 0, 300, 100], aspect=0.75)
    assert np.allclose(s, [300 / 200 * 1.25, 400 / 200 * 1.25])


@pytest.mark.parametrize("rot", [0.0, 30.0, -75.0])
def test_affine_equals_the_official_construction(rot):
    center, scale = np.array([321.5, 187.25]), np.array([1.3, 1.7333])
    for size in [(288, 384), (72, 96)]:
        for inv in (False, True):
            ours = crops.affine_transform(center, scale, size, rot, inverse=inv)
            ref = _official_affine(center, scale, rot, size, inv)
            assert np.allclose(ours, ref, atol=1e-3)


def test_crop_puts_image_points_where_the_transform_says():
    img = np.zeros((360, 640, 3), np.uint8)
    img[200, 300] = 255  # one bright pixel at (x=300, y=200)
    center, scale = crops.box_to_center_scale([250, 120, 100, 160], aspect=0.75)
    crop = crops.crop_image(img, center, scale, (96, 128), rotation=20)
    assert crop.shape == (128, 96, 3)
    ys, xs = np.nonzero(crop[..., 0])
    w = crop[ys, xs, 0].astype(float)
    found = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    expected = crops.transform_points([300, 200], crops.affine_transform(center, scale, (96, 128), 20))
    assert np.linalg.norm(found - expected) < 0.5


def test_heatmap_coordinates_map_back_as_the_official_decoder():
    center, scale = np.array([400.0, 300.0]), np.array([1.5, 2.0])
    xy_hm = np.array([[36.0, 48.0], [10.25, 70.5]])
    img = crops.heatmap_to_image(xy_hm, center, scale, (72, 96))
    assert np.allclose(img[0], center)
    assert np.allclose(img[1], [400 + (10.25 - 36) * 200 * 1.5 / 72,
                                300 + (70.5 - 48) * 200 * 1.5 / 72])
    back = crops.image_to_heatmap(img, center, scale, (72, 96))
    assert np.allclose(back, xy_hm)


def test_normalise_uses_imagenet_statistics():
    crop = np.full((4, 3, 3), 255, np.uint8)
    t = crops.normalise(crop)
    assert t.shape == (3, 4, 3)
    assert torch.allclose(t[:, 0, 0], torch.tensor([(1 - .485) / .229, (1 - .456) / .224,
                                                    (1 - .406) / .225]))
