"""The few definitions every layer of jpq2hw shares and that import nothing of jpq2hw but errors: exact fixed-point
types and ranges (fixed.py), ONNX attribute reading (attrs.py), node names in messages (node_names.py)."""
