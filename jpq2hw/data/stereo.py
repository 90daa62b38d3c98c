"""Seeded synthetic stereo pairs with exact per-pixel disparity, and the stereo metrics (EPE, D1).

A scene is a stack of textured planar layers seen by a rectified stereo pair: a slanted background plane
covering everything and a few foreground shapes (rectangles and ellipses), each a plane with its own
disparity d(y, x) = a + b*x + c*y (b = c = 0: fronto-parallel, else slanted), given in LEFT-image
coordinates. A larger disparity is closer, so at every pixel the layer with the largest disparity wins
(z-buffer): foreground shapes occlude what is behind them, differently in each view.

The right image is rendered from the same layers: the surface point that the left image sees at column x
appears in the right image at column x - d. For a plane, the left column that lands on right column xr is
x = (xr + a + c*y) / (1 - b), so both views are rendered analytically at every pixel and every layer's
texture is a continuous function of its left-image coordinates (bilinear value noise plus random dots),
sampled where the surface point is. Hence left(y, x) == right(y, x - d(y, x)) wherever the point is
visible in both views (the generator's test checks this by warping right -> left).

Everything is a function of (seed, index): split "train"/"val"/"test" are disjoint seed ranges, so anyone
regenerates the same data.

Metrics (as in KITTI 2015): EPE = mean |d_pred - d_gt| in pixels; D1 = share of pixels whose error is
> 3 px AND > 5% of the true disparity. Both over a `valid` mask when given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLIT_OFFSETS = {"train": 0, "val": 1_000_000, "test": 2_000_000}


@dataclass(frozen=True)
class StereoConfig:
    height: int = 32
    width: int = 64
    max_disp: int = 16           # disparities lie in [0, max_disp - 1]
    min_shapes: int = 2
    max_shapes: int = 5
    slant_prob: float = 0.35     # probability that a foreground shape is slanted (the background always may be)
    integer_disparity: bool = False  # True: fronto-parallel planes at whole-pixel disparities only
    noise_std: float = 0.0       # per-view sensor noise (0: views agree exactly where visible)


@dataclass
class _Layer:
    a: float
    b: float
    c: float
    kind: str            # "all" | "rect" | "ellipse"
    shape: tuple         # rect: (y0, y1, x0, x1); ellipse: (cy, cx, ry, rx) in left coordinates
    tex: np.ndarray      # value-noise lattice
    tex_step: float      # lattice spacing in pixels
    dots: np.ndarray     # fine random-dot lattice (step 1 px)
    mean: float
    contrast: float

    def disparity(self, y, x):
        return self.a + self.b * x + self.c * y

    def covers(self, y, x):
        if self.kind == "all":
            return np.ones(np.broadcast(y, x).shape, dtype=bool)
        if self.kind == "rect":
            y0, y1, x0, x1 = self.shape
            return (y >= y0) & (y < y1) & (x >= x0) & (x < x1)
        cy, cx, ry, rx = self.shape
        return ((y - cy) / ry) ** 2 + ((x - cx) / rx) ** 2 <= 1.0

    def left_x(self, y, xr):
        """The left column of the surface point this layer shows at right-image column xr."""
        return (xr + self.a + self.c * y) / (1.0 - self.b)

    def texture(self, y, x):
        v = _bilinear(self.tex, y / self.tex_step, x / self.tex_step)
        d = _bilinear(self.dots, y, x)
        return np.clip(self.mean + self.contrast * (0.6 * v + 0.4 * d), 0.0, 1.0)


def _bilinear(lattice: np.ndarray, y, x):
    """Bilinear interpolation of `lattice` at real coordinates (continuous in x and y); coordinates are
    offset so negative positions (left of the image) still land inside the lattice."""
    h, w = lattice.shape
    y = np.clip(y + 4.0, 0, h - 1.001)
    x = np.clip(x + 4.0, 0, w - 1.001)
    y0, x0 = np.floor(y).astype(int), np.floor(x).astype(int)
    fy, fx = y - y0, x - x0
    top = lattice[y0, x0] * (1 - fx) + lattice[y0, x0 + 1] * fx
    bot = lattice[y0 + 1, x0] * (1 - fx) + lattice[y0 + 1, x0 + 1] * fx
    return top * (1 - fy) + bot * fy


def _plane(rng, cfg: StereoConfig, lo: float, hi: float, slanted: bool, integer: bool):
    """A plane whose disparity stays within [lo, hi] over the whole image."""
    if integer or not slanted:
        a = float(rng.integers(int(np.ceil(lo)), int(np.floor(hi)) + 1)) if integer else float(rng.uniform(lo, hi))
        return a, 0.0, 0.0
    d_tl, d_tr, d_bl = rng.uniform(lo, hi, size=3)
    b = (d_tr - d_tl) / (cfg.width - 1)
    c = (d_bl - d_tl) / (cfg.height - 1)
    # keep d(y, x) = d_tl + b*x + c*y inside [lo, hi] at the 4th corner too
    d_br = d_tl + b * (cfg.width - 1) + c * (cfg.height - 1)
    if not lo <= d_br <= hi:
        c = 0.0
    return float(d_tl), float(b), float(c)


def _texture(rng, cfg: StereoConfig):
    step = float(rng.uniform(1.5, 4.0))
    span_x = cfg.width + 2 * cfg.max_disp + 16
    lat = rng.uniform(-1, 1, size=(int(cfg.height / step) + 12, int(span_x / step) + 12))
    dots = rng.uniform(-1, 1, size=(cfg.height + 12, span_x + 12))
    return lat, step, dots


def _scene(rng, cfg: StereoConfig) -> list[_Layer]:
    dmax = cfg.max_disp - 1
    layers = []
    a, b, c = _plane(rng, cfg, 0.0, dmax * 0.45, slanted=True, integer=cfg.integer_disparity)
    tex, step, dots = _texture(rng, cfg)
    layers.append(_Layer(a, b, c, "all", (), tex, step, dots, rng.uniform(0.3, 0.7), rng.uniform(0.3, 0.6)))
    for _ in range(int(rng.integers(cfg.min_shapes, cfg.max_shapes + 1))):
        slanted = rng.random() < cfg.slant_prob
        a, b, c = _plane(rng, cfg, dmax * 0.25, dmax, slanted, cfg.integer_disparity)
        tex, step, dots = _texture(rng, cfg)
        h = rng.uniform(0.25, 0.7) * cfg.height
        w = rng.uniform(0.15, 0.45) * cfg.width
        cy = rng.uniform(0, cfg.height)
        cx = rng.uniform(0, cfg.width + dmax)
        if rng.random() < 0.5:
            kind, shape = "rect", (cy - h / 2, cy + h / 2, cx - w / 2, cx + w / 2)
        else:
            kind, shape = "ellipse", (cy, cx, h / 2, w / 2)
        layers.append(_Layer(a, b, c, kind, shape, tex, step, dots, rng.uniform(0.2, 0.8), rng.uniform(0.3, 0.7)))
    return layers


def render_front(layers: list[_Layer], y: np.ndarray, xv: np.ndarray, right: bool):
    """Front layer (or any surface with left_x, disparity, covers and texture), its disparity, its left-coordinate
    and intensity at view columns xv (rows y)."""
    best_d = np.full(xv.shape, -np.inf)
    best_k = np.zeros(xv.shape, dtype=int)
    best_x = np.zeros(xv.shape)
    for k, layer in enumerate(layers):
        xl = layer.left_x(y, xv) if right else xv
        d = layer.disparity(y, xl)
        hit = layer.covers(y, xl) & (d > best_d)
        best_d = np.where(hit, d, best_d)
        best_k = np.where(hit, k, best_k)
        best_x = np.where(hit, xl, best_x)
    img = np.zeros(xv.shape)
    for k, layer in enumerate(layers):
        sel = best_k == k
        if np.any(sel):
            img[sel] = layer.texture(y[sel], best_x[sel])
    return best_k, best_d, best_x, img


def make_pair(seed: int, cfg: StereoConfig = StereoConfig()) -> dict:
    """One stereo pair: left, right (H, W) in [0, 1], disparity (H, W) in pixels (left view), and
    `visible` (H, W): the left pixel's surface point is seen in the right view, inside the image."""
    rng = np.random.default_rng(seed)
    layers = _scene(rng, cfg)
    y, x = np.mgrid[0:cfg.height, 0:cfg.width].astype(np.float64)
    k_left, disp, _, left = render_front(layers, y, x, right=False)
    _, _, _, right = render_front(layers, y, x, right=True)
    xr = x - disp
    k_at_right, _, _, _ = render_front(layers, y, xr, right=True)
    visible = (xr >= 0) & (k_at_right == k_left)
    if cfg.noise_std > 0:
        left = np.clip(left + rng.normal(0, cfg.noise_std, left.shape), 0, 1)
        right = np.clip(right + rng.normal(0, cfg.noise_std, right.shape), 0, 1)
    return {"left": left.astype(np.float32), "right": right.astype(np.float32),
            "disparity": disp.astype(np.float32), "visible": visible}


def make_split(split: str, n: int, cfg: StereoConfig = StereoConfig(), seed: int = 0) -> dict:
    """n pairs of a split, stacked: image (n, 2, H, W) with left in channel 0 and right in channel 1,
    disparity (n, H, W), visible (n, H, W)."""
    if split not in SPLIT_OFFSETS:
        raise ValueError(f"split {split!r}: choose one of {', '.join(SPLIT_OFFSETS)}")
    base = SPLIT_OFFSETS[split] + seed * 10_000_000
    pairs = [make_pair(base + i, cfg) for i in range(n)]
    return stack_pairs(pairs)


def stack_pairs(pairs: list[dict]) -> dict:
    """Pairs stacked: image (n, 2, H, W) with left in channel 0 and right in 1, disparity and visible (n, H, W)."""
    return {
        "image": np.stack([np.stack([p["left"], p["right"]]) for p in pairs]),
        "disparity": np.stack([p["disparity"] for p in pairs]),
        "visible": np.stack([p["visible"] for p in pairs]),
    }


def warp_right_to_left(right: np.ndarray, disparity: np.ndarray) -> np.ndarray:
    """left_hat(y, x) = right(y, x - d(y, x)), linear interpolation along the row (NaN outside the image)."""
    h, w = right.shape
    xs = np.arange(w)[None, :] - disparity
    x0 = np.floor(xs).astype(int)
    f = xs - x0
    inside = (x0 >= 0) & (x0 + 1 <= w - 1) | ((x0 == w - 1) & (f == 0))
    x0c, x1c = np.clip(x0, 0, w - 1), np.clip(x0 + 1, 0, w - 1)
    rows = np.arange(h)[:, None]
    out = right[rows, x0c] * (1 - f) + right[rows, x1c] * f
    return np.where(inside, out, np.nan)


def epe(pred, gt, valid=None) -> float:
    """End-point error: mean absolute disparity error in pixels (over `valid` pixels if given)."""
    err = np.abs(np.asarray(pred, dtype=np.float64) - np.asarray(gt, dtype=np.float64))
    return float(err[valid].mean() if valid is not None else err.mean())


def d1(pred, gt, valid=None) -> float:
    """Share of pixels with error > 3 px and > 5% of the true disparity (KITTI D1)."""
    gt = np.asarray(gt, dtype=np.float64)
    err = np.abs(np.asarray(pred, dtype=np.float64) - gt)
    bad = (err > 3.0) & (err > 0.05 * np.abs(gt))
    return float(bad[valid].mean() if valid is not None else bad.mean())
