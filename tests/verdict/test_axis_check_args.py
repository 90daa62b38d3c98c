"""check_axis_wrapper hands its timeout to the testbench run as a timeout, and runs hls4ml's top beside the
wrapper on every vector (it once passed timeout_s by position into direct_vectors: a 1200-vector cut-off and
the default hour-long timeout)."""

from types import SimpleNamespace

from jpq2hw.writer import axis_check


def test_check_axis_wrapper_passes_its_timeout_by_name(monkeypatch):
    calls = []
    monkeypatch.setattr(axis_check, "build_testbench", lambda out_dir, info, timeout_s: SimpleNamespace(ok=True))
    monkeypatch.setattr(axis_check, "run_testbench",
                        lambda *args, **kwargs: calls.append((args, kwargs)) or "ran")
    assert axis_check.check_axis_wrapper("out", "info", [[0.0]], None, timeout_s=7) == "ran"
    (args, kwargs), = calls
    bound = dict(zip(["out_dir", "info", "inputs", "expected", "direct_vectors", "timeout_s"], args), **kwargs)
    assert bound.get("timeout_s") == 7
    assert bound.get("direct_vectors") is None  # the top is compared with the wrapper on every vector
