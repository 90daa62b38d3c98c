# ---- The host side around the core (included by templates/deploy/driver.py.j2): the float head, the input
# ---- quantizer, the output's affine map (float scales) and the float tail, from driver/host/ (written by
# ---- jpq2hw/writer/host_files.py). The same steps and order as the build's check (jpq2hw/pipeline/steps.py).


def load_host(host_dir):
    import json

    with open(os.path.join(host_dir, "host.json")) as f:
        spec = json.load(f)
    spec["dir"] = host_dir
    return spec


def run_onnx(path, xs):
    """Each sample (first axis) through an ONNX part in onnxruntime (float32), as the build's check ran it."""
    try:
        import onnxruntime as ort
    except ImportError:
        raise RuntimeError("this model has a float head or tail (%s): pip install onnxruntime" % path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    return np.stack([session.run(None, {name: x[None].astype(np.float32)})[0][0] for x in xs]).astype(np.float64)


def quantize_input(x, q):
    """The model's input Quant (qonnx int_quant, zero point 0): integer codes, clipped, then rounded."""
    y = np.asarray(x, dtype=np.float64) / q["scale"]
    if q["bits"] == 1 and q["signed"]:
        return np.where(y >= 0, 1.0, -1.0)
    if q["signed"]:
        lo, hi = -(2 ** (q["bits"] - 1)) + (1 if q["narrow"] else 0), 2 ** (q["bits"] - 1) - 1
    else:
        lo, hi = 0, 2 ** q["bits"] - 1
    y = np.clip(y, lo, hi)
    return np.floor(y) if q["rounding"] == "FLOOR" else np.round(y)


def host_before(spec, x):
    """Raw inputs (n, ...) -> the values the core takes (n, ...)."""
    if spec["head"]:
        x = run_onnx(os.path.join(spec["dir"], spec["head"]), np.asarray(x, dtype=np.float64))
    codes = quantize_input(x, spec["input"])
    return codes if spec["core_takes_codes"] else codes * spec["input"]["scale"]


def host_after(spec, y, out_shape):
    """The core's output values (n, N_OUT) -> the model's outputs."""
    y = np.asarray(y, dtype=np.float64).reshape(len(y), *out_shape)
    aff = spec["output_affine"]
    if aff is not None:
        y = y * np.asarray(aff["alpha"]) + np.asarray(aff["beta"])
        if aff["relu"]:
            y = np.maximum(y, 0)
    if spec["tail"]:
        y = run_onnx(os.path.join(spec["dir"], spec["tail"]), y)
    return y
