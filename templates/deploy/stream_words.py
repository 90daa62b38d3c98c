# ---- AXI-Stream words <-> values (docs/boards.md, "Word format"). Shared verbatim by jpq2hw/synth/words.py and
# ---- the PYNQ driver (included by templates/deploy/driver.py.j2), so the host and the board pack alike.
# One word per element: the element's `width` bits in data[width-1:0]; a value x travels as the integer
# x * 2^fractional in two's complement. Inputs: bits above `width` are ignored (we send zeros).
# Outputs: bits above `width` are the sign extension (zero extension for unsigned types).

WORD_DTYPES = {8: "uint8", 16: "uint16", 32: "uint32", 64: "uint64"}


def word_dtype(axis_bits):
    """numpy dtype name of one AXI-Stream word (what the DMA buffer holds)."""
    if axis_bits not in WORD_DTYPES:
        raise ValueError("AXI-Stream words of %d bits: the driver handles 8, 16, 32 or 64" % axis_bits)
    return WORD_DTYPES[axis_bits]


def to_words(values, width, fractional, signed, axis_bits):
    """Values (any shape) -> flat array of words. Refuses a value that the element type cannot hold exactly."""
    import numpy as np

    if width > 52:
        raise ValueError("elements of %d bits do not fit a float64 exactly" % width)
    scaled = np.asarray(values, dtype=np.float64).reshape(-1) * 2.0 ** fractional
    ints = np.rint(scaled)
    low, high = (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2 ** width - 1)
    bad = np.nonzero((ints != scaled) | (ints < low) | (ints > high))[0]
    if len(bad):
        raise ValueError("value %r (element %d) is not a %s %d-bit number with %d fractional bits"
                         % (float(np.asarray(values, dtype=np.float64).reshape(-1)[bad[0]]), int(bad[0]),
                            "signed" if signed else "unsigned", width, fractional))
    return (ints.astype(np.int64) & ((1 << width) - 1)).astype(word_dtype(axis_bits))


def extend_words(words, width, signed, axis_bits):
    """The words as the core writes them: element bits sign- (or zero-) extended to the full word."""
    import numpy as np

    w = np.asarray(words).astype(np.uint64) & np.uint64((1 << width) - 1)
    if signed and width < axis_bits:
        negative = (w >> np.uint64(width - 1)) & np.uint64(1)
        fill = np.uint64(((1 << axis_bits) - 1) ^ ((1 << width) - 1))
        w = np.where(negative == 1, w | fill, w)
    return w.astype(word_dtype(axis_bits))


def from_words(words, width, fractional, signed):
    """Words -> float64 values (only the element's low `width` bits are read)."""
    import numpy as np

    w = np.asarray(words).astype(np.uint64) & np.uint64((1 << width) - 1)
    ints = w.astype(np.int64)
    if signed:
        ints = np.where(ints >= (1 << (width - 1)), ints - (1 << width), ints)
    return ints.astype(np.float64) / 2.0 ** fractional
