"""Seeded stereo scenes that look like the world: planes textured with natural photographs, exact disparity.

A scene is a set of planar surfaces seen by a rectified stereo pair, each with its disparity
d(y, x) = a + b*x + c*y in LEFT-image coordinates (larger = closer) and a region where it exists:

- a far background (fronto-parallel or slanted, disparity near 0),
- often a ground plane below a horizon whose disparity rises linearly toward the bottom row (the camera
  looks over a floor), textured in perspective (the texture shrinks with distance),
- sometimes a side wall (a plane strongly slanted in x, receding toward the image centre),
- objects (rectangles, ellipses, triangles) at any depth over the full disparity range, some slanted.

Every surface is textured with a photograph that scikit-image ships (`skimage.data`: brick, grass, gravel,
text, camera, coffee, chelsea, astronaut, rocket, ...), mapped by a random similarity transform (scale,
rotation, offset) of its left-image coordinates; some surfaces are weakly textured (contrast cut to a few
percent, the photo magnified until it is smooth) and some repetitive (brick, text, a grating).
`skimage.data.stereo_motorcycle` is NOT among them: it is the one real pair, kept out of training and
selection entirely.

Both views are rendered analytically at every pixel with a z-buffer (the surface with the largest disparity
wins), the right view at column xr showing the point whose left column is x = (xr + a + c*y) / (1 - b) on
each plane, so half-occlusions are exact: `visible` marks left pixels whose surface point is the front one in
the right view too, inside the image. Then the views differ photometrically as two cameras do: gain, offset,
blur and sensor noise drawn per view.

Everything is a function of (seed, index); splits "train"/"val"/"test" are disjoint seed ranges.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from jpq2hw.data.stereo import render_front, stack_pairs

SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "test": 2_000_000}

# photographs shipped inside scikit-image's wheel (no download); stereo_motorcycle is deliberately absent
PHOTOS = ("brick", "grass", "gravel", "text", "camera", "coffee", "chelsea", "astronaut", "rocket", "moon",
          "page", "coins", "clock", "hubble_deep_field", "immunohistochemistry", "cell", "colorwheel")
REPETITIVE = ("brick", "text", "page", "grating")


@dataclass(frozen=True)
class SceneConfig:
    height: int = 120
    width: int = 160
    max_disp: int = 16               # disparities lie in [0, max_disp - 1]
    min_objects: int = 2
    max_objects: int = 7
    ground_prob: float = 0.6
    wall_prob: float = 0.3
    weak_texture_prob: float = 0.12  # share of surfaces with almost no texture
    photometric: bool = True         # per-view gain, offset, blur, noise


@lru_cache(maxsize=None)
def _pyramid(name: str) -> tuple:
    """The photo as float grayscale in [0, 1], local contrast equalized, at full, half and quarter size
    (pre-blurred, so a minified texture does not alias)."""
    from scipy.ndimage import gaussian_filter
    from skimage import data

    if name == "grating":
        y, x = np.mgrid[0:256, 0:256]
        img = 0.5 + 0.5 * np.sign(np.sin(x * 2 * np.pi / 9.0)) * 0.8
    else:
        img = np.asarray(getattr(data, name)(), dtype=np.float64)
        if img.ndim == 3:
            img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
        img = img / max(img.max(), 1e-9)
        # local contrast equalized (CLAHE): a small patch of a photo is rarely a flat grey then
        from skimage.exposure import equalize_adapthist

        img = equalize_adapthist(img, clip_limit=0.02)
    levels = [img]
    for _ in range(2):
        levels.append(gaussian_filter(levels[-1], 1.0)[::2, ::2])
    return tuple(levels)


@dataclass
class _Surface:
    a: float
    b: float
    c: float
    kind: str                     # "all" | "below" | "wall" | "rect" | "ellipse" | "triangle"
    shape: tuple
    photo: str
    level: np.ndarray             # the pyramid level sampled
    affine: np.ndarray            # 2x3: (y, x, 1) in left coords -> (row, col) in the level
    mean: float
    contrast: float
    perspective: tuple = ()       # ground: (x_vanish, k*B*f, k*B): texture coordinates divide by the disparity
    tags: set = field(default_factory=set)

    def disparity(self, y, x):
        return self.a + self.b * x + self.c * y

    def covers(self, y, x):
        if self.kind == "all":
            return np.ones(np.broadcast(y, x).shape, dtype=bool)
        if self.kind == "below":
            return y >= self.shape[0]
        if self.kind == "wall":
            x0, side = self.shape
            return (x < x0) if side < 0 else (x >= x0)
        if self.kind == "rect":
            y0, y1, x0, x1 = self.shape
            return (y >= y0) & (y < y1) & (x >= x0) & (x < x1)
        if self.kind == "ellipse":
            cy, cx, ry, rx = self.shape
            return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0
        (y0, x0), (y1, x1), (y2, x2) = self.shape
        s0 = (x1 - x0) * (y - y0) - (y1 - y0) * (x - x0)
        s1 = (x2 - x1) * (y - y1) - (y2 - y1) * (x - x1)
        s2 = (x0 - x2) * (y - y2) - (y0 - y2) * (x - x2)
        return ((s0 >= 0) & (s1 >= 0) & (s2 >= 0)) | ((s0 <= 0) & (s1 <= 0) & (s2 <= 0))

    def left_x(self, y, xr):
        """The left column of the surface point this plane shows at right-image column xr."""
        return (xr + self.a + self.c * y) / (1.0 - self.b)

    def texture(self, y, x):
        from scipy.ndimage import map_coordinates

        if self.perspective:
            # ground plane: world (lateral, depth) ~ (x / d, 1 / d); keeps the texture continuous in (y, x)
            d = np.maximum(self.disparity(y, x), 0.35)
            u, v = (x - self.perspective[0]) / d, 1.0 / d
            y, x = v * self.perspective[1], u * self.perspective[2]
        m = self.affine
        rows = m[0, 0] * y + m[0, 1] * x + m[0, 2]
        cols = m[1, 0] * y + m[1, 1] * x + m[1, 2]
        t = map_coordinates(self.level, [rows.ravel(), cols.ravel()], order=1, mode="mirror").reshape(rows.shape)
        return np.clip(self.mean + self.contrast * (t - 0.5), 0.0, 1.0)


def _photo_surface(rng, cfg: SceneConfig, a, b, c, kind, shape, weak=None, repetitive=False, perspective=()):
    name = str(rng.choice(REPETITIVE if repetitive else PHOTOS))
    weak = bool(rng.random() < cfg.weak_texture_prob) if weak is None else weak
    # image pixels per scene pixel: < 1 magnifies (smooth), > 1 minifies (busy); weak surfaces are magnified
    scale = float(rng.uniform(0.15, 0.4)) if weak else float(np.exp(rng.uniform(np.log(0.7), np.log(4.0))))
    lvl = 0 if scale < 1.5 else (1 if scale < 3.0 else 2)
    level = _pyramid(name)[lvl]
    s = scale / 2 ** lvl
    th = rng.uniform(-0.5, 0.5) if rng.random() < 0.5 else 0.0
    rot = np.array([[np.cos(th), -np.sin(th)], [np.sin(th), np.cos(th)]]) * s
    off = rng.uniform(0, np.array(level.shape) * 0.8)
    affine = np.concatenate([rot, off[:, None]], 1)
    contrast = float(rng.uniform(0.03, 0.12)) if weak else float(rng.uniform(0.8, 1.6))
    surf = _Surface(a, b, c, kind, shape, name, level, affine, float(rng.uniform(0.25, 0.75)), contrast,
                    perspective)
    surf.tags.update({"weak"} if weak else set())
    surf.tags.update({"repetitive"} if repetitive else set())
    return surf


def _plane_in_range(rng, cfg: SceneConfig, lo: float, hi: float, slant: float):
    """A plane whose disparity stays within [lo, hi] over the whole image (the corners bound a plane)."""
    h, w = cfg.height - 1, cfg.width + cfg.max_disp - 1
    for _ in range(20):
        a = rng.uniform(lo, hi)
        b = rng.uniform(-slant, slant) * (hi - lo) / w
        c = rng.uniform(-slant, slant) * (hi - lo) / h
        corners = [a, a + b * w, a + c * h, a + b * w + c * h]
        if lo <= min(corners) and max(corners) <= hi:
            return float(a), float(b), float(c)
    return float(rng.uniform(lo, hi)), 0.0, 0.0


def _scene(rng, cfg: SceneConfig) -> list[_Surface]:
    h, w, dmax = cfg.height, cfg.width, cfg.max_disp - 1
    surfaces = []
    a, b, c = _plane_in_range(rng, cfg, 0.0, min(3.0, dmax), 0.5)
    surfaces.append(_photo_surface(rng, cfg, a, b, c, "all", ()))
    if rng.random() < cfg.ground_prob:
        # floor: d = 0 at the horizon row, d_bottom at the last row, a slight roll allowed
        horizon = rng.uniform(0.15, 0.6) * h
        d_bottom = rng.uniform(0.5, 0.88) * dmax
        c = d_bottom / (h - 1 - horizon)
        roll = rng.uniform(-0.1, 0.1) * c
        a = -c * horizon - roll * w / 2
        x_vanish = rng.uniform(0.2, 0.8) * w
        # world (lateral, depth) = k*B*((x - x_vanish) / d, f / d) with focal length f ~ the image width: the
        # texture is foreshortened vertically by f / (y - horizon), as a floor seen from above is
        kb = rng.uniform(0.3, 0.8) * dmax
        persp = (x_vanish, w * kb, kb)
        surfaces.append(_photo_surface(rng, cfg, float(a), float(roll), float(c), "below", (horizon,),
                                       perspective=persp))
        surfaces[-1].tags.add("ground")
    if rng.random() < cfg.wall_prob:
        # a side wall receding toward the image centre: near at the image border, far at x0
        side = -1 if rng.random() < 0.5 else 1
        x0 = rng.uniform(0.15, 0.45) * w if side < 0 else rng.uniform(0.55, 0.85) * w
        d_near, d_far = rng.uniform(0.4, 1.0) * dmax, rng.uniform(0.0, 0.3) * dmax
        edge = 0.0 if side < 0 else w + dmax
        b = (d_near - d_far) / (edge - x0)
        a = d_far - b * x0
        surfaces.append(_photo_surface(rng, cfg, float(a), float(b), 0.0, "wall", (x0, side),
                                       repetitive=rng.random() < 0.4))
        surfaces[-1].tags.add("wall")
    for k in range(int(rng.integers(cfg.min_objects, cfg.max_objects + 1))):
        # depth spread uniformly over the full range; the first object lands in the upper third so the near
        # disparities appear in every scene
        lo, hi = (2 * dmax / 3, dmax) if k == 0 else (0.0, dmax)
        centre = rng.uniform(lo, hi)
        half = min(centre - lo, hi - centre, rng.uniform(0, 2.0))
        a, b, c = _plane_in_range(rng, cfg, centre - half, centre + half, 1.0) if rng.random() < 0.4 else (centre, 0.0, 0.0)
        oh = rng.uniform(0.1, 0.6) * h
        ow = rng.uniform(0.08, 0.4) * w
        cy, cx = rng.uniform(0, h), rng.uniform(0, w + dmax)
        kind = str(rng.choice(["rect", "ellipse", "triangle"]))
        if kind == "rect":
            shape = (cy - oh / 2, cy + oh / 2, cx - ow / 2, cx + ow / 2)
        elif kind == "ellipse":
            shape = (cy, cx, oh / 2, ow / 2)
        else:
            shape = tuple((cy + rng.uniform(-oh, oh), cx + rng.uniform(-ow, ow)) for _ in range(3))
        surfaces.append(_photo_surface(rng, cfg, a, b, c, kind, shape, repetitive=rng.random() < 0.15))
    return surfaces


def _render(surfaces, y, xv, right: bool):
    """Front surface index, its disparity and intensity at view columns xv (rows y): the layered generator's
    renderer (a surface answers left_x, disparity, covers and texture as its layers do)."""
    best_k, best_d, _, img = render_front(surfaces, y, xv, right)
    return best_k, best_d, img


def _camera(rng, img):
    """One camera's photometric response: gain, offset, blur, noise (drawn per view)."""
    from scipy.ndimage import gaussian_filter

    sigma = rng.uniform(0.0, 0.9)
    if sigma > 0.2:
        img = gaussian_filter(img, sigma)
    img = img * rng.uniform(0.8, 1.2) + rng.uniform(-0.08, 0.08)
    return np.clip(img + rng.normal(0, rng.uniform(0.0, 0.02), img.shape), 0, 1)


def make_scene(seed: int, cfg: SceneConfig = SceneConfig()) -> dict:
    """One pair: left, right (H, W) in [0, 1]; disparity (H, W) in px (left view; 0 <= d <= max_disp - 1);
    visible (H, W); ground (H, W): the ground plane is the front surface; photos: the photographs used."""
    rng = np.random.default_rng(seed)
    surfaces = _scene(rng, cfg)
    y, x = np.mgrid[0:cfg.height, 0:cfg.width].astype(np.float64)
    k_left, disp, left = _render(surfaces, y, x, right=False)
    _, _, right = _render(surfaces, y, x, right=True)
    xr = x - disp
    k_at_right, _, _ = _render(surfaces, y, xr, right=True)
    visible = (xr >= 0) & (k_at_right == k_left)
    if cfg.photometric:
        left, right = _camera(rng, left), _camera(rng, right)
    ground = np.zeros(disp.shape, dtype=bool)
    for k, s in enumerate(surfaces):
        if "ground" in s.tags:
            ground = k_left == k
    return {"left": left.astype(np.float32), "right": right.astype(np.float32),
            "disparity": np.clip(disp, 0, cfg.max_disp - 1).astype(np.float32), "visible": visible,
            "ground": ground, "photos": sorted({s.photo for s in surfaces})}


def make_split(split: str, n: int, cfg: SceneConfig = SceneConfig(), seed: int = 0) -> dict:
    """n pairs of a split, stacked: image (n, 2, H, W) left in channel 0, right in 1; disparity, visible (n, H, W)."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"split {split!r}: choose one of {', '.join(SPLIT_OFFSETS)}")
    base = SPLIT_OFFSETS[split] + seed * 10_000_000
    pairs = [make_scene(base + i, cfg) for i in range(n)]
    return stack_pairs(pairs)
