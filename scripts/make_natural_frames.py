"""Write jpq2hw/data/natural_frames.npz: small crops of three photographs scikit-image ships, the natural frames
`jpq2hw build` checks image models on (jpq2hw/verify/vectors.py). Run once by a developer; the build itself
needs no scikit-image. Provenance and licences: jpq2hw/data/NATURAL_FRAMES.md.

    python scripts/make_natural_frames.py
"""

from pathlib import Path

import numpy as np
import skimage.data

SIDE = 96  # pixels; a model's frame is sampled from these (nearest neighbour)
SOURCES = ("coffee", "chelsea", "astronaut")  # CC0, CC0, public domain (see NATURAL_FRAMES.md)


def square_crop(img: np.ndarray, side: int) -> np.ndarray:
    """The centred square of the image, shrunk to side x side by averaging whole blocks (no resampling library)."""
    h, w = img.shape[:2]
    s = min(h, w) // side * side
    top, left = (h - s) // 2, (w - s) // 2
    crop = img[top:top + s, left:left + s].astype(np.float64)
    k = s // side
    return crop.reshape(side, k, side, k, -1).mean(axis=(1, 3)).round().astype(np.uint8)


def main() -> None:
    frames = np.stack([square_crop(getattr(skimage.data, name)(), SIDE) for name in SOURCES])
    out = Path(__file__).resolve().parent.parent / "jpq2hw" / "data" / "natural_frames.npz"
    np.savez_compressed(out, frames=frames, sources=np.array(SOURCES))
    print(f"{out}: {frames.shape} uint8, {out.stat().st_size} bytes")


if __name__ == "__main__":
    main()
