"""The photo-textured stereo scene generator: seeded, exact where both views see a point, disparities over the
whole range, a ground plane that rises toward the camera, textures from scikit-image's photographs."""

import numpy as np
import pytest

pytest.importorskip("skimage")

from jpq2hw.data import stereo_scenes as G  # noqa: E402
from jpq2hw.data.stereo import warp_right_to_left  # noqa: E402

SMALL = G.SceneConfig(height=48, width=96, max_disp=16)


@pytest.fixture(scope="module")
def scenes():
    return [G.make_scene(1000 + i, SMALL) for i in range(24)]


def test_seeded_and_splits_differ():
    a, b = G.make_scene(7, SMALL), G.make_scene(7, SMALL)
    for k in ("left", "right", "disparity", "visible"):
        assert np.array_equal(a[k], b[k])
    assert not np.array_equal(a["left"], G.make_scene(8, SMALL)["left"])
    tr, te = G.make_split("train", 2, SMALL), G.make_split("test", 2, SMALL)
    assert not np.array_equal(tr["image"], te["image"])
    with pytest.raises(ValueError, match="split 'dev'"):
        G.make_split("dev", 1, SMALL)


@pytest.mark.parametrize("seed", range(4))
def test_right_view_at_x_minus_d_is_the_left_pixel_where_visible(seed):
    """Without the cameras' photometric differences, warping the right view by the true disparity gives the
    left view wherever the point is visible in both (half-occlusions excluded, and only those)."""
    cfg = G.SceneConfig(height=48, width=96, max_disp=16, photometric=False)
    p = G.make_scene(seed, cfg)
    w = warp_right_to_left(p["right"], p["disparity"])
    m = p["visible"] & ~np.isnan(w)
    assert m.mean() > 0.6
    err = np.abs(w - p["left"])[m]
    wrong = np.abs(warp_right_to_left(p["right"], p["disparity"] + 1.5) - p["left"])
    wrong = wrong[m & ~np.isnan(wrong)]
    assert np.median(err) < 0.02      # interpolation error of a continuous texture only
    assert err.mean() < 0.4 * wrong.mean()


def test_disparities_cover_the_range(scenes):
    d = np.concatenate([s["disparity"].ravel() for s in scenes])
    assert d.min() >= 0 and d.max() <= SMALL.max_disp - 1
    share = np.bincount(np.floor(d).astype(int), minlength=SMALL.max_disp)[:SMALL.max_disp - 1] / d.size
    assert share.min() > 0.005, share   # every whole-pixel bin 0..14 holds at least 0.5% of the pixels
    assert np.mean(d >= 10) > 0.05      # near objects are common, not rare


def test_ground_plane_rises_toward_the_camera(scenes):
    with_ground = [s for s in scenes if s["ground"].sum() > 0.1 * s["ground"].size]
    assert len(with_ground) >= 0.3 * len(scenes)
    for s in with_ground:
        g, d = s["ground"], s["disparity"]
        below = g[1:] & g[:-1]   # ground pixel with a ground pixel right below it
        assert below.sum() > 50
        step = (d[1:] - d[:-1])[below]
        assert np.all(step > 0) and np.median(step) > 0.05, "ground disparity must grow toward the bottom row"


def test_textures_are_scikit_image_photographs(scenes):
    used = set().union(*(s["photos"] for s in scenes))
    assert used <= set(G.PHOTOS) | {"grating"}
    assert "stereo_motorcycle" not in G.PHOTOS
    assert len(used & set(G.PHOTOS)) >= 8           # many different photographs, not one
    assert np.median([s["left"].std() for s in scenes]) > 0.08   # textured, not flat
    # the sampled texture is the photo itself: a surface mapped 1:1 shows the photo's pixels
    surf = G._photo_surface(np.random.default_rng(0), SMALL, 5.0, 0.0, 0.0, "all", (), weak=False)
    surf.affine = np.array([[1.0, 0.0, 10.0], [0.0, 1.0, 20.0]])
    surf.mean, surf.contrast = 0.5, 1.0
    y, x = np.mgrid[0:8, 0:8].astype(float)
    assert np.allclose(surf.texture(y, x), np.clip(surf.level[10:18, 20:28], 0, 1))
