"""The PYNQ driver off the board: it imports without PYNQ, its word packing round-trips the build's saved vectors
and matches the documented layout, and with a stand-in `pynq` whose DMA answers like the core it passes the
right vectors and catches a wrong bit."""

import importlib.util
import sys
import types

import numpy as np
import pytest

from jpq2hw.synth.words import HARNESS_EXPECTED, HARNESS_INPUTS, input_words, output_words, write_harness_roms


def load_driver(out, monkeypatch, pynq_module=None):
    monkeypatch.setitem(sys.modules, "pynq", pynq_module)  # None: `import pynq` raises ImportError
    path = out / "board" / "driver" / "jpq2hw_driver.py"
    spec = importlib.util.spec_from_file_location(f"jpq2hw_driver_{id(pynq_module)}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def vectors(out):
    return np.load(out / "vectors" / "inputs.npy"), np.load(out / "vectors" / "expected.npy")


def test_imports_without_pynq(built, monkeypatch):
    driver = load_driver(built, monkeypatch)
    assert driver.pynq is None and driver.N_IN == 16 and driver.N_OUT == 10
    with pytest.raises(RuntimeError, match="pynq is not installed"):
        driver.Core()


def test_words_round_trip_the_saved_vectors(built, monkeypatch):
    driver = load_driver(built, monkeypatch)
    x, y = vectors(built)
    words_in = driver.pack_inputs(x)
    assert words_in.shape == (len(x), 16) and words_in.dtype == np.uint8 and driver.OUT_AXIS_BITS == 16
    back = driver.from_words(words_in, driver.IN_WIDTH, driver.IN_FRACTIONAL, driver.IN_SIGNED)
    assert np.array_equal(back.reshape(x.shape), x)
    words_out = driver.expected_words(y)
    assert np.array_equal(driver.unpack_outputs(words_out), y.reshape(len(y), -1))
    # The layout of docs/boards.md: x * 2^F in two's complement in the low bits; outputs sign-extended.
    frac, width = driver.IN_FRACTIONAL, driver.IN_WIDTH
    flat = x.reshape(-1)
    assert all(int(w) == (int(v * 2**frac) & ((1 << width) - 1)) for w, v in zip(words_in.reshape(-1), flat))
    negative = y.reshape(-1) < 0
    if negative.any():
        top = driver.OUT_AXIS_BITS - 1
        assert all((int(w) >> top) & 1 for w in words_out.reshape(-1)[negative])
    # The synth package packs exactly like the driver (one shared source).
    stream = __import__("json").loads((built / "board" / "stream.json").read_text())
    assert np.array_equal(input_words(stream["ports"]["input"], x), words_in)
    assert np.array_equal(output_words(stream["ports"]["output"], y), words_out)


def test_packing_refuses_values_the_type_cannot_hold(built, monkeypatch):
    driver = load_driver(built, monkeypatch)
    x, _ = vectors(built)
    bad = x.copy()
    bad.reshape(-1)[5] += 2.0 ** -(driver.IN_FRACTIONAL + 1)
    with pytest.raises(ValueError, match="element 5"):
        driver.pack_inputs(bad)


def test_compare_finds_one_flipped_bit(built, monkeypatch):
    driver = load_driver(built, monkeypatch)
    _, y = vectors(built)
    want = driver.expected_words(y)
    assert driver.compare(want, want) == ([], "")
    got = want.copy()
    got[7, 3] ^= 1
    bad, message = driver.compare(got, want)
    assert bad == [7] and message.startswith("vector 7 output 3")


def fake_pynq(expected_by_input, corrupt=None):
    """A stand-in pynq: allocate() gives numpy buffers; the DMA's S2MM returns the words the core would write
    for the input that MM2S sent (looked up from the build's vectors)."""

    class Buffer(np.ndarray):
        def flush(self):
            pass

        def invalidate(self):
            pass

    class Channel:
        def __init__(self, dma, direction):
            self.dma, self.direction = dma, direction

        def transfer(self, buffer):
            if self.direction == "send":
                self.dma.sent = bytes(np.asarray(buffer).tobytes())
                if self.dma.pending is not None:
                    self.dma.deliver()
            else:
                self.dma.pending = buffer
                if self.dma.sent is not None:
                    self.dma.deliver()

        def wait(self):
            pass

    class Dma:
        def __init__(self):
            self.sent, self.pending, self.count = None, None, 0
            self.sendchannel, self.recvchannel = Channel(self, "send"), Channel(self, "recv")

        def deliver(self):
            words = expected_by_input[self.sent].copy()
            if corrupt is not None and self.count == corrupt:
                words[0] ^= 1 << 2
            self.pending[:] = words
            self.sent, self.pending, self.count = None, None, self.count + 1

    class Overlay:
        def __init__(self, bitfile):
            self.bitfile = bitfile
            self.axi_dma = Dma()

    module = types.ModuleType("pynq")
    module.Overlay = Overlay
    module.allocate = lambda shape, dtype: np.zeros(shape, dtype=dtype).view(Buffer)
    return module


@pytest.mark.parametrize("corrupt", [None, 4])
def test_main_on_a_simulated_board(built, monkeypatch, capsys, corrupt):
    plain = load_driver(built, monkeypatch)
    x, y = vectors(built)
    lookup = {bytes(w.tobytes()): e for w, e in zip(plain.pack_inputs(x), plain.expected_words(y))}
    driver = load_driver(built, monkeypatch, fake_pynq(lookup, corrupt))
    code = driver.main(["--vectors", str(built / "vectors"), "--bit", "x.bit"])
    printed = capsys.readouterr().out
    if corrupt is None:
        assert code == 0 and f"{len(x)} vectors, bit-exact" in printed
    else:
        assert code == 1 and f"1 of {len(x)} vectors differ; first: vector 4 output 0" in printed


def test_harness_roms_hold_the_same_words(built, tmp_path, monkeypatch):
    driver = load_driver(built, monkeypatch)
    x, y = vectors(built)
    stream = __import__("json").loads((built / "board" / "stream.json").read_text())
    write_harness_roms(tmp_path, stream["ports"], x, y)
    rom_in = [int(line, 16) for line in (tmp_path / HARNESS_INPUTS).read_text().split()]
    rom_out = [int(line, 16) for line in (tmp_path / HARNESS_EXPECTED).read_text().split()]
    assert rom_in == [int(w) for w in driver.pack_inputs(x).reshape(-1)]
    assert rom_out == [int(w) for w in driver.expected_words(y).reshape(-1)]
    assert all(len(line) == 2 for line in (tmp_path / HARNESS_INPUTS).read_text().split())
    assert all(len(line) == 4 for line in (tmp_path / HARNESS_EXPECTED).read_text().split())
