"""Quantized, maskable layers and the conversion of a float model into them.

Each weight layer holds a `weight_mask` buffer (1 = kept) and computes its effective weight as
quantize(weight * mask). Two switches per layer:
  - `quant_enabled`: weight/bias fake quantization on (stage 2) or off (float stage 1);
  - `mask_ste`: False -> pruned weights get zero gradient (masked fine-tuning);
                True  -> the gradient reaches the latent pruned weights (regrow: a pruned weight
                         keeps learning and can come back when the masks are recomputed).
Activations go through `QuantAct` (ReLU optional) with a power-of-two scale from a running max.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

from jpq2hw.compress.quantizers import bias_scale, fake_quantize, pow2_scale_for_max, weight_scale


def _mask_straight_through(weight: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    # forward: weight * mask; backward: identity, so pruned latent weights still see dL/dw_eff
    return weight + (weight * mask - weight).detach()


class QuantWeightLayer:
    """Mixin for Conv2d / Linear / ConvTranspose2d."""

    def _init_quant(self, weight_bits: int, bias_bits: int = 8):
        self.weight_bits = weight_bits
        self.bias_bits = bias_bits
        self.weight_narrow = True  # symmetric range: the sign flip of a weight is representable
        self.quant_enabled = False
        self.mask_ste = False
        self.register_buffer("weight_mask", torch.ones_like(self.weight))
        # The activation quantizer feeding this layer (set by bind_input_quantizers); kept in a
        # list so it is not registered as a submodule.
        self._input_quant = [None]

    def input_scale(self) -> float | None:
        source = self._input_quant[0]
        return None if source is None else source.scale

    def current_weight_scale(self) -> float:
        return weight_scale(self.weight * self.weight_mask, self.weight_bits, self.weight_mask, self.weight_narrow)

    def effective_weight(self) -> torch.Tensor:
        if self.mask_ste:
            weight = _mask_straight_through(self.weight, self.weight_mask)
        else:
            weight = self.weight * self.weight_mask
        if self.quant_enabled:
            weight = fake_quantize(weight, self.current_weight_scale(), self.weight_bits, True, self.weight_narrow)
        return weight

    def effective_bias(self) -> torch.Tensor | None:
        if self.bias is None or not self.quant_enabled:
            return self.bias
        s_in = self.input_scale()
        if s_in is None:
            return self.bias  # export refuses this case with a clear message
        scale = self.bias_quant_scale(s_in, self.current_weight_scale())
        return fake_quantize(self.bias, scale, self.bias_bits, True, False)

    def bias_quant_scale(self, s_in: float, s_w: float) -> float:
        return bias_scale(self.bias, s_in * s_w, self.bias_bits)


class QuantConv2d(QuantWeightLayer, nn.Conv2d):
    def __init__(self, *args, weight_bits: int = 8, bias_bits: int = 8, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_quant(weight_bits, bias_bits)

    def forward(self, x):
        return self._conv_forward(x, self.effective_weight(), self.effective_bias())


class QuantLinear(QuantWeightLayer, nn.Linear):
    def __init__(self, *args, weight_bits: int = 8, bias_bits: int = 8, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_quant(weight_bits, bias_bits)

    def forward(self, x):
        return F.linear(x, self.effective_weight(), self.effective_bias())


class QuantConvTranspose2d(QuantWeightLayer, nn.ConvTranspose2d):
    def __init__(self, *args, weight_bits: int = 8, bias_bits: int = 8, **kwargs):
        super().__init__(*args, **kwargs)
        self._init_quant(weight_bits, bias_bits)

    def forward(self, x):
        return F.conv_transpose2d(x, self.effective_weight(), self.effective_bias(), self.stride, self.padding,
                                  self.output_padding, self.groups, self.dilation)


WEIGHT_LAYERS = (QuantConv2d, QuantLinear, QuantConvTranspose2d)


class QuantAct(nn.Module):
    """An optional activation (ReLU; a clamp for ReLU6/Hardtanh; LeakyReLU) followed by a power-of-two
    fixed-point quantizer (unsigned when the activation's output is >= 0).

    The scale comes from `running_max`: the max over calibration batches, then an exponential
    moving average of batch maxima while training. In eval mode it is frozen, so the quantized
    forward is deterministic and identical to the exported graph. Quantizers whose outputs meet in an
    add or a concatenation share one scale (`share_scale`): the sum is then exact on one grid."""

    def __init__(self, bits: int = 8, signed: bool = False, relu: bool = True, momentum: float = 0.1,
                 clip: tuple[float, float] | None = None, slope: float | None = None):
        super().__init__()
        self.bits = bits
        self.signed = signed
        self.relu = relu
        self.clip = clip  # (min, max): ReLU6 is (0, 6)
        self.slope = slope  # LeakyReLU's negative slope
        self.narrow = False
        self.momentum = momentum
        self.quant_enabled = False
        self.calibrating = False
        self.register_buffer("running_max", torch.zeros(()))
        self._group = [self]  # quantizers sharing the scale (a plain list: not submodules)

    def own_scale(self) -> float:
        return pow2_scale_for_max(self.running_max.item(), self.bits, self.signed, self.narrow)

    @property
    def scale(self) -> float:
        return max(q.own_scale() for q in self._group)  # the coarsest: no member saturates

    def activation(self, x):
        if self.relu:
            x = F.relu(x)
        if self.clip is not None:
            x = torch.clamp(x, *self.clip)
        if self.slope is not None:
            x = F.leaky_relu(x, self.slope)
        return x

    @torch.no_grad()
    def _observe(self, x: torch.Tensor) -> None:
        batch_max = x.detach().abs().max()
        if self.calibrating:
            self.running_max.copy_(torch.maximum(self.running_max, batch_max))
        elif self.running_max.item() == 0:
            self.running_max.copy_(batch_max)
        else:
            self.running_max.mul_(1 - self.momentum).add_(self.momentum * batch_max)

    def forward(self, x):
        x = self.activation(x)
        if self.calibrating or (self.training and self.quant_enabled):
            self._observe(x)
        if not self.quant_enabled:
            return x
        return fake_quantize(x, self.scale, self.bits, self.signed, self.narrow)

    def extra_repr(self):
        extra = (f", clip={self.clip}" if self.clip else "") + (f", slope={self.slope}" if self.slope else "")
        return f"bits={self.bits}, signed={self.signed}, relu={self.relu}{extra}"


class QuantBatchNorm2d(nn.BatchNorm2d):
    """A BatchNorm that could not be folded into a layer: a normal BatchNorm while float; once quantization is
    on, the per-channel affine of its running statistics, y = k_q * x + c_q, with k = gamma / sqrt(var + eps)
    and c = beta - mean * k rounded to power-of-two grids (8 and 16 bits): dyadic constants, so the exported
    BatchNormalization (k_q, c_q, mean 0, var 1, eps 0) is exact in fixed point and in float32."""

    quant_enabled = False

    def affine_q(self) -> tuple[torch.Tensor, torch.Tensor]:
        from jpq2hw.compress.quantizers import quantize

        k = (self.weight if self.affine else 1.0) / torch.sqrt(self.running_var + self.eps)
        c = (self.bias if self.affine else 0.0) - self.running_mean * k
        k_q = quantize(k, pow2_scale_for_max(k.detach().abs().max().item(), 8, True, False), 8, True, False)
        c_q = quantize(c, pow2_scale_for_max(c.detach().abs().max().item(), 16, True, False), 16, True, False)
        return k_q, c_q

    def forward(self, x):
        if not self.quant_enabled:
            return super().forward(x)
        k_q, c_q = self.affine_q()
        shape = (1, -1) + (1,) * (x.dim() - 2)
        return x * k_q.reshape(shape) + c_q.reshape(shape)


def _quant_batchnorm(m: nn.BatchNorm2d) -> QuantBatchNorm2d:
    new = QuantBatchNorm2d(m.num_features, m.eps, m.momentum, m.affine, m.track_running_stats)
    new.load_state_dict(m.state_dict())
    if m.affine:
        new.weight, new.bias = m.weight, m.bias
    return new


def share_scale(quantizers) -> None:
    """Make `quantizers` (and the groups they are already in) use one scale."""
    group = []
    for q in quantizers:
        for member in q._group:
            if member not in group:
                group.append(member)
    for q in group:
        q._group = group


class QuantModel(nn.Module):
    """input quantizer + the user's network (with its layers swapped for quantized ones)."""

    def __init__(self, net: nn.Module, input_quant: QuantAct):
        super().__init__()
        self.input_quant = input_quant
        self.net = net

    def forward(self, x):
        return self.net(self.input_quant(x))


def weight_layers(model: nn.Module) -> dict[str, QuantWeightLayer]:
    return {name: m for name, m in model.named_modules() if isinstance(m, WEIGHT_LAYERS)}


def act_quantizers(model: nn.Module) -> dict[str, QuantAct]:
    return {name: m for name, m in model.named_modules() if isinstance(m, QuantAct)}


def set_quant_enabled(model: nn.Module, enabled: bool) -> None:
    for m in model.modules():
        if isinstance(m, (QuantAct, QuantBatchNorm2d, *WEIGHT_LAYERS)):
            m.quant_enabled = enabled


def set_mask_ste(model: nn.Module, enabled: bool) -> None:
    for m in weight_layers(model).values():
        m.mask_ste = enabled


# activation module -> its QuantAct (the activation is applied, then quantized)
ACTIVATIONS = {
    nn.ReLU: lambda m, bits: QuantAct(bits, signed=False, relu=True),
    nn.ReLU6: lambda m, bits: QuantAct(bits, signed=False, relu=False, clip=(0.0, 6.0)),
    nn.Hardtanh: lambda m, bits: QuantAct(bits, signed=m.min_val < 0, relu=False,
                                          clip=(float(m.min_val), float(m.max_val))),
    nn.LeakyReLU: lambda m, bits: QuantAct(bits, signed=True, relu=False, slope=float(m.negative_slope)),
}


def _swap(module: nn.Module, bits_for) -> nn.Module:
    """The quantized twin of a float layer, with the same parameters (shared, not copied). An
    already quantized layer (a model prepared before) just takes the bit widths of this config."""
    if isinstance(module, WEIGHT_LAYERS):
        module.weight_bits, module.bias_bits = bits_for("weight"), bits_for("bias")
        return module
    if isinstance(module, QuantAct):
        module.bits = bits_for("act")
        return module
    if isinstance(module, nn.Conv2d) and not isinstance(module, WEIGHT_LAYERS):
        new = QuantConv2d(module.in_channels, module.out_channels, module.kernel_size, module.stride, module.padding,
                          module.dilation, module.groups, module.bias is not None, module.padding_mode,
                          weight_bits=bits_for("weight"), bias_bits=bits_for("bias"))
    elif isinstance(module, nn.ConvTranspose2d) and not isinstance(module, WEIGHT_LAYERS):
        new = QuantConvTranspose2d(module.in_channels, module.out_channels, module.kernel_size, module.stride,
                                   module.padding, module.output_padding, module.groups, module.bias is not None,
                                   module.dilation, weight_bits=bits_for("weight"), bias_bits=bits_for("bias"))
    elif isinstance(module, nn.Linear) and not isinstance(module, WEIGHT_LAYERS):
        new = QuantLinear(module.in_features, module.out_features, module.bias is not None,
                          weight_bits=bits_for("weight"), bias_bits=bits_for("bias"))
    elif type(module) in ACTIVATIONS:
        return ACTIVATIONS[type(module)](module, bits_for("act"))
    elif type(module) is nn.BatchNorm2d and module.running_var is not None:  # left after folding
        return _quant_batchnorm(module)
    else:
        return module
    new.weight = module.weight
    if module.bias is not None:
        new.bias = module.bias
    new.weight_mask = torch.ones_like(module.weight)
    return new


WEIGHT_KINDS = (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)


def check_layer_names(model: nn.Module, config) -> None:
    """Names in layer_bits / layer_sparsity / exclude must be the model's own layers of the right kind."""
    from jpq2hw.errors import JpqError

    modules = dict(model.named_modules())
    weights = [n for n, m in modules.items() if isinstance(m, WEIGHT_KINDS)]
    acts = [n for n, m in modules.items() if type(m) in ACTIVATIONS or isinstance(m, QuantAct)]

    def unknown(option, name):
        near = ", ".join(weights[:8]) + (" ..." if len(weights) > 8 else "")
        raise JpqError(f"compress config: {option}: no layer named {name!r} in the model (its Conv/Linear "
                       f"layers: {near})")

    for option in ("layer_sparsity", "exclude", "allow_dead_channels"):
        for name in getattr(config, option):
            if name not in modules:
                unknown(f"{option}.{name}" if option == "layer_sparsity" else option, name)
            if name not in weights:
                raise JpqError(f"compress config: {option}: {name!r} is a {type(modules[name]).__name__}; only "
                               f"Conv/Linear layers are pruned")
    for name, bits in config.layer_bits.items():
        if name not in modules:
            unknown(f"layer_bits.{name}", name)
        if "weight" in bits and name not in weights:
            raise JpqError(f"compress config: layer_bits.{name}.weight: {name!r} is a {type(modules[name]).__name__}, "
                           f"which has no weights")
        if "act" in bits and name not in acts:
            after = [a for a in acts if weights and a > name][:1] if name in weights else []
            hint = (f"; set it on the activation that quantizes this layer's output, e.g. {after[0]!r}" if after
                    else "; set it on an activation layer (ReLU, ReLU6, Hardtanh, LeakyReLU)")
            raise JpqError(f"compress config: layer_bits.{name}.act: {name!r} is a {type(modules[name]).__name__}, "
                           f"not an activation{hint}")


def prepare_model(model: nn.Module, config, example: torch.Tensor | None = None) -> QuantModel:
    """Fold BatchNorms, swap Conv2d/Linear/ConvTranspose2d and the activations for their quantized twins
    (in place inside `model`), add the quantizers compress needs (jpq2hw/compress/graph.py) and put an input
    quantizer in front. Quantization starts disabled (float behaviour). With `example`, every layer is
    checked against what export and build support, and all problems are raised at once."""
    from jpq2hw.compress.batchnorm import fold_batchnorms
    from jpq2hw.compress.graph import add_quantizers, bind_input_quantizers, propagate_shapes, trace, unsupported
    from jpq2hw.errors import JpqError

    if isinstance(model, WEIGHT_KINDS):
        model = nn.Sequential(model)
    check_layer_names(model, config)
    fold_batchnorms(model)
    layer_order = [name for name, m in model.named_modules() if isinstance(m, WEIGHT_KINDS)]

    def bits_lookup(name: str):
        def bits_for(kind: str) -> int:
            if kind == "bias":
                return config.bias_bits
            override = config.layer_bits.get(name, {})
            if kind in override:
                return override[kind]
            if kind == "weight":
                if layer_order and name == layer_order[0] and config.first_layer_weight_bits:
                    return config.first_layer_weight_bits
                if layer_order and name == layer_order[-1] and config.last_layer_weight_bits:
                    return config.last_layer_weight_bits
                return config.weight_bits
            return config.act_bits
        return bits_for

    def recurse(parent: nn.Module, prefix: str):
        for child_name, child in list(parent.named_children()):
            full = f"{prefix}{child_name}"
            new = _swap(child, bits_lookup(full))
            if new is not child:
                setattr(parent, child_name, new)
            else:
                recurse(child, full + ".")

    recurse(model, "")
    gm = trace(model)
    if example is not None:
        propagate_shapes(gm, example)  # shapes decide some checks (view -> flatten, adaptive pools, cat axis)
    gm = add_quantizers(gm, config.act_bits)
    if example is not None:
        propagate_shapes(gm, example)
        problems = unsupported(gm)
        if problems:
            raise JpqError(f"{len(problems)} layer(s) cannot be compressed and exported: " + "; ".join(problems))
    quant_model = QuantModel(gm, QuantAct(config.input_bits, signed=config.input_signed, relu=False))
    bind_input_quantizers(quant_model)
    return quant_model
