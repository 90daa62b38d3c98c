"""ONNX node attributes by name (qonnx's get_by_name), with the ONNX default when the node omits one."""

from onnx import helper
from qonnx.util.basic import get_by_name


def attr(node, name: str, default=None):
    a = get_by_name(node.attribute, name)
    return default if a is None else helper.get_attribute_value(a)
