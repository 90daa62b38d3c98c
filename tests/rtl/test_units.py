"""Fast checks without yosys/iverilog: rounding of the traced requantizer, Yosys output parsing, hex packing."""

import numpy as np

from jpq2hw.rtl.design import pack, unpack
from jpq2hw.rtl.graph import Requant
from jpq2hw.rtl.kernels import requantize
from jpq2hw.rtl.synth import parse_sta, parse_stat


def _trace_requant(rq, k, i, f):
    from da4ml.trace import FixedVariableArray, comb_trace

    inp = FixedVariableArray.from_kif(np.array([k]), np.array([i]), np.array([f]))
    out = FixedVariableArray(np.array([requantize(inp._vars[0], rq)]), inp.solver_options, hwconf=inp.hwconf)
    return comb_trace(inp, out)


def _qonnx(x, rq):
    lo, hi = rq.int_bounds()
    r = np.round(x * 2.0**rq.frac) if rq.rounding == "ROUND" else np.floor(x * 2.0**rq.frac)
    return np.clip(r, lo, hi) * 2.0**-rq.frac


def test_requantize_is_round_half_even_and_saturates():
    # every value of a signed 9-bit input with 4 fractional bits, to 4 bits with 1 fractional bit
    for rq in (Requant(4, True, False, -1, "ROUND"), Requant(3, True, True, 0, "ROUND"),
               Requant(4, False, False, -2, "ROUND"), Requant(5, True, False, -2, "FLOOR")):
        sol = _trace_requant(rq, 1, 4, 4)
        xs = np.arange(-256, 256) / 16.0
        got = np.array([sol([x])[0] for x in xs])
        assert np.array_equal(got, _qonnx(xs, rq)), rq


def test_parse_stat_and_sta():
    stat = {"design": {"num_cells_by_type": {"LUT2": 10, "LUT6": 5, "CARRY4": 3, "FDRE": 7, "FDSE": 1,
                                              "DSP48E1": 2, "RAMB18E1": 1, "INV": 4, "MUXF7": 2}}}
    s = parse_stat(stat)
    assert (s["lut"], s["ff"], s["carry"], s["dsp"], s["bram"], s["muxf"]) == (15, 8, 3, 2, 1, 2)
    assert parse_sta("Latest arrival time in 'top' is 6932:\n") == 6.932
    assert parse_sta("nothing") is None


def test_pack_unpack_round_trip():
    vals = [-3, 0, 5, -8, 7]
    assert unpack(pack(vals, 4), 5, 4, True) == vals
    assert unpack(pack([1, 255], 8), 2, 8, False) == [1, 255]
