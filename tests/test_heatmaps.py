"""Heatmap targets and decoders, and the person-crop geometry (spec 3.1, 3.3, 4.2)."""
import math

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
def test_crop_transform_grows_the_box_to_the_aspect_and_pads_it():
    m = crops.crop_transform((100, 50, 40, 200), (96, 128), pad=1.25)  # a tall box, 3:4 crop
    corners = crops.transform_points(m, [[120 - 75 * 1.25, 150 - 100 * 1.25], [120 + 75 * 1.25, 150 + 100 * 1.25]])
    assert np.allclose(corners, [[0, 0], [96, 128]])  # width grown to 150 px, then x1.25, centre kept


def test_crop_puts_image_points_where_the_transform_says():
    img = np.zeros((360, 640, 3), np.uint8)
    img[200, 300] = 255  # one bright pixel at (x=300, y=200)
    m = crops.crop_transform((250, 120, 100, 160), (96, 128), rotation=20)
    crop = crops.crop_image(img, m, (96, 128))
    assert crop.shape == (128, 96, 3)
    ys, xs = np.nonzero(crop[..., 0])
    w = crop[ys, xs, 0].astype(float)
    found = np.array([(xs * w).sum() / w.sum(), (ys * w).sum() / w.sum()])
    assert np.linalg.norm(found - crops.transform_points(m, [300, 200])[0]) < 0.5


def test_normalise_uses_imagenet_statistics():
    crop = np.full((4, 3, 3), 255, np.uint8)
    t = crops.normalise(crop)
    assert t.shape == (3, 4, 3)
    assert torch.allclose(t[:, 0, 0], torch.tensor([(1 - .485) / .229, (1 - .456) / .224,
                                                    (1 - .406) / .225]))
