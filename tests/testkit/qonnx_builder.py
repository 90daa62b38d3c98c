"""Build small QONNX models node by node, with every constant on its power-of-two grid.

Used by the tests, the benchmarks and the example; each method adds nodes and returns the name of the tensor
it produced. Shapes follow ONNX (NCHW); the build pipeline converts to channels-last itself.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper
from qonnx.core.modelwrapper import ModelWrapper
from qonnx.transformation.infer_shapes import InferShapes

QUANT_DOMAIN = "qonnx.custom_op.general"


class QonnxBuilder:
    def __init__(self, input_shape, in_bits=8, in_signed=True, in_scale_exp=-4, seed=0, name="model"):
        self.rng = np.random.default_rng(seed)
        self.nodes, self.inits = [], []
        self.shapes: dict[str, list[int]] = {}
        self.name = name
        self.input_shape = list(input_shape)
        self._n = 0
        self.input = "x"
        self.shapes["x"] = self.input_shape
        self.x = self.quant("x", in_bits, in_signed, in_scale_exp)

    # --- helpers ---------------------------------------------------------------------------------
    def _name(self, base: str) -> str:
        self._n += 1
        return f"{base}_{self._n}"

    def _const(self, base: str, value) -> str:
        name = self._name(base)
        self.inits.append(helper.make_tensor(name, TensorProto.FLOAT, np.shape(value),
                                             np.asarray(value, dtype=np.float32).ravel().tolist()))
        return name

    def quant(self, x: str, bits: int, signed: bool = True, scale_exp: int = -4, narrow: bool = False,
              rounding: str = "ROUND") -> str:
        out = self._name("q")
        self.nodes.append(helper.make_node(
            "Quant", [x, self._const("scale", np.float32(2.0**scale_exp)), self._const("zeropt", np.float32(0)),
                      self._const("bits", np.float32(bits))], [out], domain=QUANT_DOMAIN,
            signed=int(signed), narrow=int(narrow), rounding_mode=rounding, name=self._name("Quant")))
        self.shapes[out] = self.shapes.get(x)
        return out

    def random_weights(self, shape, bits: int, scale_exp: int, sparsity: float, narrow: bool = True) -> np.ndarray:
        hi = (1 << (bits - 1)) - 1
        lo = -hi if narrow else -hi - 1
        ints = self.rng.integers(lo, hi + 1, size=shape)
        if sparsity > 0:
            n_zero = int(round(sparsity * ints.size))
            flat = ints.reshape(-1)
            flat[self.rng.permutation(ints.size)[:n_zero]] = 0
            if n_zero < ints.size and not np.any(flat):
                flat[0] = hi
        return ints.astype(np.float64) * 2.0**scale_exp

    def _weight(self, shape, bits, scale_exp, sparsity, weights=None) -> str:
        if weights is None:
            w = self.random_weights(shape, bits, scale_exp, sparsity)
        else:  # explicit values (already on the grid, e.g. all zeros or a single nonzero weight)
            w = np.asarray(weights, dtype=np.float64)
            if list(w.shape) != list(shape):
                raise ValueError(f"weights of shape {list(w.shape)}, expected {list(shape)}")
        return self.quant(self._const("w", w), bits, True, scale_exp, narrow=True)

    def _bias(self, n, bias_scale_exp, bias_values=None):
        if bias_values is not None:
            return np.asarray(bias_values, dtype=np.float64).reshape(n)
        return self.rng.integers(-64, 64, size=[n]) * 2.0**bias_scale_exp

    # --- layers ----------------------------------------------------------------------------------
    def conv(self, x, cout, k=3, stride=1, pad=1, wbits=4, w_scale_exp=-3, sparsity=0.0, bias=False,
             bias_scale_exp=-6, weights=None, bias_values=None, group=1) -> str:
        n, cin, h, w = self.shapes[x]
        wq = self._weight([cout, cin // group, k, k], wbits, w_scale_exp, sparsity, weights)
        inputs = [x, wq]
        if bias:
            b = self._bias(cout, bias_scale_exp, bias_values)
            inputs.append(self._const("b", b))
        out = self._name("conv")
        self.nodes.append(helper.make_node("Conv", inputs, [out], name=self._name("Conv"), kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[pad] * 4, dilations=[1, 1], group=group))
        ho, wo = (h + 2 * pad - k) // stride + 1, (w + 2 * pad - k) // stride + 1
        self.shapes[out] = [n, cout, ho, wo]
        return out

    def dense(self, x, nout, wbits=4, w_scale_exp=-3, sparsity=0.0, bias=False, bias_scale_exp=-6,
              weights=None, bias_values=None) -> str:
        n, nin = self.shapes[x]
        wq = self._weight([nin, nout], wbits, w_scale_exp, sparsity, weights)
        out = self._name("mm")
        self.nodes.append(helper.make_node("MatMul", [x, wq], [out], name=self._name("MatMul")))
        self.shapes[out] = [n, nout]
        if bias:
            b = self._bias(nout, bias_scale_exp, bias_values)
            out2 = self._name("add")
            self.nodes.append(helper.make_node("Add", [out, self._const("b", b)], [out2], name=self._name("Add")))
            self.shapes[out2] = [n, nout]
            out = out2
        return out

    def leaky_relu(self, x, alpha: float) -> str:
        out = self._name("leaky")
        self.nodes.append(helper.make_node("LeakyRelu", [x], [out], name=self._name("LeakyRelu"), alpha=alpha))
        self.shapes[out] = self.shapes[x]
        return out

    def relu(self, x) -> str:
        out = self._name("relu")
        self.nodes.append(helper.make_node("Relu", [x], [out], name=self._name("Relu")))
        self.shapes[out] = self.shapes[x]
        return out

    def maxpool(self, x, k=2, stride=2) -> str:
        n, c, h, w = self.shapes[x]
        out = self._name("pool")
        self.nodes.append(helper.make_node("MaxPool", [x], [out], name=self._name("MaxPool"), kernel_shape=[k, k],
                                           strides=[stride, stride], pads=[0, 0, 0, 0]))
        self.shapes[out] = [n, c, (h - k) // stride + 1, (w - k) // stride + 1]
        return out

    def avgpool(self, x, k=2, stride=2) -> str:
        n, c, h, w = self.shapes[x]
        out = self._name("avg")
        self.nodes.append(helper.make_node("AveragePool", [x], [out], name=self._name("AveragePool"),
                                           kernel_shape=[k, k], strides=[stride, stride], pads=[0, 0, 0, 0]))
        self.shapes[out] = [n, c, (h - k) // stride + 1, (w - k) // stride + 1]
        return out

    def global_avgpool(self, x) -> str:
        n, c = self.shapes[x][:2]
        out = self._name("gap")
        self.nodes.append(helper.make_node("GlobalAveragePool", [x], [out], name=self._name("GlobalAveragePool")))
        self.shapes[out] = [n, c, 1, 1]
        return out

    def clip(self, x, lo=0.0, hi=6.0) -> str:
        out = self._name("clip")
        self.nodes.append(helper.make_node("Clip", [x, self._const("min", np.float32(lo)),
                                                    self._const("max", np.float32(hi))], [out], name=self._name("Clip")))
        self.shapes[out] = self.shapes[x]
        return out

    def concat(self, xs) -> str:
        out = self._name("cat")
        self.nodes.append(helper.make_node("Concat", list(xs), [out], name=self._name("Concat"), axis=1))
        self.shapes[out] = [self.shapes[xs[0]][0], sum(self.shapes[t][1] for t in xs), *self.shapes[xs[0]][2:]]
        return out

    def add(self, a, b) -> str:
        out = self._name("res")
        self.nodes.append(helper.make_node("Add", [a, b], [out], name=self._name("Add")))
        self.shapes[out] = self.shapes[a]
        return out

    def batchnorm(self, x, scale_bits=3, scale_exp=-2, bias_exp=-4) -> str:
        """BatchNormalization with dyadic parameters (what folding a trained BN onto a grid leaves)."""
        c = self.shapes[x][1]
        scale = self.rng.integers(1, 1 << scale_bits, size=[c]) * 2.0**scale_exp
        bias = self.rng.integers(-8, 8, size=[c]) * 2.0**bias_exp
        out = self._name("bn")
        self.nodes.append(helper.make_node(
            "BatchNormalization", [x, self._const("gamma", scale), self._const("beta", bias),
                                   self._const("mean", np.zeros(c)), self._const("var", np.ones(c))],
            [out], name=self._name("BatchNormalization"), epsilon=0.0))
        self.shapes[out] = self.shapes[x]
        return out

    def flatten(self, x) -> str:
        out = self._name("flat")
        self.nodes.append(helper.make_node("Flatten", [x], [out], name=self._name("Flatten"), axis=1))
        self.shapes[out] = [self.shapes[x][0], int(np.prod(self.shapes[x][1:]))]
        return out

    def build(self, output: str) -> ModelWrapper:
        graph = helper.make_graph(
            self.nodes, self.name,
            [helper.make_tensor_value_info(self.input, TensorProto.FLOAT, self.input_shape)],
            [helper.make_tensor_value_info(output, TensorProto.FLOAT, self.shapes[output])],
            self.inits,
        )
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13), helper.make_opsetid(QUANT_DOMAIN, 1)])
        model.ir_version = 8
        return ModelWrapper(model).transform(InferShapes())

    def save(self, output: str, path) -> ModelWrapper:
        m = self.build(output)
        onnx.save(m.model, str(path))
        return m
