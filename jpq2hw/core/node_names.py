"""Node names as the user wrote them. qonnx's cleanup renames every node (Op_N); normalize keeps the file's name
in the node's metadata_props under SOURCE_NAME_KEY so that errors and reports can name both."""

SOURCE_NAME_KEY = "jpq2hw.source_name"


def source_name(node) -> str:
    name = node.name or (node.output[0] if node.output else "?")
    return next((p.value for p in node.metadata_props if p.key == SOURCE_NAME_KEY), name)


def node_label(node) -> str:
    """"node 'Conv_0' (Conv)", plus the file's name when cleanup renamed it."""
    name = node.name or (node.output[0] if node.output else "?")
    source = source_name(node)
    return f"node '{name}' ({node.op_type})" if source == name else f"node '{name}' ({node.op_type}, '{source}' in the file)"
