"""jpq2hw: joint pruning & quantization to bit-exact FPGA hardware."""

__version__ = "0.1.0"
