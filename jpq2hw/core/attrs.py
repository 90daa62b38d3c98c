"""ONNX node attributes by name (qonnx's get_by_name), with the ONNX default when the node omits one."""

from onnx import helper
from qonnx.util.basic import get_by_name


def attr(node, name: str, default=None):
    """The attribute's value (a string attribute as str), or `default`."""
    a = get_by_name(node.attribute, name)
    if a is None:
        return default
    value = helper.get_attribute_value(a)
    return value.decode() if isinstance(value, bytes) else value
