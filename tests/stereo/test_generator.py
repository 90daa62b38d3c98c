"""The synthetic stereo generator gives the disparity it claims, is seeded, and the metrics are right."""

import numpy as np
import pytest

from jpq2hw.data.stereo import StereoConfig, d1, epe, make_pair, make_split, warp_right_to_left
from jpq2hw.data import stereo


def _warp_error(p, shift=0.0):
    w = warp_right_to_left(p["right"], p["disparity"] + shift)
    m = p["visible"] & ~np.isnan(w)
    return np.abs(w - p["left"])[m], m


@pytest.mark.parametrize("seed", range(8))
def test_integer_disparity_warp_is_exact(seed):
    p = make_pair(seed, StereoConfig(integer_disparity=True))
    err, m = _warp_error(p)
    assert m.mean() > 0.5
    assert err.max() == 0.0
    wrong, _ = _warp_error(p, 1.0)
    assert wrong.mean() > 0.02


@pytest.mark.parametrize("seed", range(8))
def test_slanted_warp_reconstructs_left_where_visible(seed):
    p = make_pair(seed)
    err, m = _warp_error(p)
    assert m.mean() > 0.5
    wrong, _ = _warp_error(p, 1.0)
    # interpolation error only (the texture is continuous), far below the error of a 1 px wrong disparity
    assert err.mean() < 0.05
    assert err.mean() < 0.5 * wrong.mean()


@pytest.mark.parametrize("seed", range(4))
def test_right_view_at_x_minus_d_is_the_same_surface_point(seed):
    """Render the right view exactly at the continuous column x - d: where visible it is the left pixel."""
    cfg = StereoConfig()
    p = make_pair(seed, cfg)
    layers = stereo._scene(np.random.default_rng(seed), cfg)
    y, x = np.mgrid[0:cfg.height, 0:cfg.width].astype(np.float64)
    _, _, _, at = stereo.render_front(layers, y, x - p["disparity"].astype(np.float64), right=True)
    v = p["visible"]
    assert np.allclose(at[v], p["left"][v], atol=1e-5)
    assert not np.allclose(at[~v & (x - p["disparity"] >= 0)], p["left"][~v & (x - p["disparity"] >= 0)], atol=1e-5) \
        or (~v).sum() == 0


def test_scenes_have_occlusions_slants_and_full_range():
    s = make_split("val", 64)
    disp = s["disparity"]
    assert disp.min() >= 0 and disp.max() <= 15
    assert 0.02 < 1 - s["visible"].mean() < 0.4  # occluded or out of view
    frac = disp - np.round(disp)
    assert np.abs(frac).max() > 0.1  # slanted / non-integer surfaces exist
    assert s["image"].shape == (64, 2, 32, 64) and s["image"].min() >= 0 and s["image"].max() <= 1


def test_seeded_and_splits_disjoint():
    a = make_split("train", 3)
    b = make_split("train", 3)
    c = make_split("test", 3)
    assert np.array_equal(a["image"], b["image"]) and np.array_equal(a["disparity"], b["disparity"])
    assert not np.array_equal(a["image"], c["image"])
    with pytest.raises(ValueError):
        make_split("nope", 1)


def test_metrics():
    gt = np.array([[10.0, 10.0, 100.0, 2.0]])
    pred = np.array([[10.0, 14.0, 104.0, 6.0]])
    assert epe(pred, gt) == pytest.approx(3.0)
    # 14 vs 10: 4 > 3 and > 0.5 -> bad; 104 vs 100: 4 > 3 but not > 5 -> ok; 6 vs 2: bad
    assert d1(pred, gt) == pytest.approx(0.5)
    valid = np.array([[True, True, False, False]])
    assert epe(pred, gt, valid) == pytest.approx(2.0) and d1(pred, gt, valid) == pytest.approx(0.5)
