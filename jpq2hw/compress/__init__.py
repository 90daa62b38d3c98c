"""Joint pruning & quantization (Yu et al. 2020 style): Taylor-scored unstructured pruning with a
sparsity schedule, then power-of-two fixed-point quantization-aware fine-tuning, and an exact
QONNX export. See docs/compress.md. Needs the compress extra (torch, scikit-learn)."""

from jpq2hw.extras import require_extra

require_extra("compress", "jpq2hw.compress")

from jpq2hw.compress.config import CompressConfig
from jpq2hw.compress.export import to_qonnx
from jpq2hw.compress.pipeline import compress
from jpq2hw.compress.qmodules import prepare_model

__all__ = ["CompressConfig", "compress", "prepare_model", "to_qonnx"]
