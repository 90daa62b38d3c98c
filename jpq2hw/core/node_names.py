"""Node names as the user wrote them. qonnx's cleanup renames every node (Op_N); normalize keeps the file's name
in the node's metadata_props under SOURCE_NAME_KEY so that errors and reports can name both. A node normalization
made or remade (a Transpose of qonnx's channels-last conversion) has no name in the file: its label names the
nearest node that has one, so every message points into the user's file."""

SOURCE_NAME_KEY = "jpq2hw.source_name"


def _recorded(node) -> str | None:
    return next((p.value for p in node.metadata_props if p.key == SOURCE_NAME_KEY), None)


def source_name(node) -> str:
    name = node.name or (node.output[0] if node.output else "?")
    recorded = _recorded(node)
    return name if recorded is None else recorded


def nearest_source_name(model, node) -> tuple[str, str] | None:
    """("after" | "before", the file's name) of the closest node upstream (else downstream) that has one."""
    for step in ("up", "down"):
        frontier, seen = [node], set()
        while frontier:
            current = frontier.pop(0)
            tensors = current.input if step == "up" else current.output
            for t in tensors:
                found = [model.find_producer(t)] if step == "up" else (model.find_consumers(t) or [])
                for n in found:
                    if n is None or id(n) in seen:
                        continue
                    seen.add(id(n))
                    if _recorded(n) is not None:
                        return ("after" if step == "up" else "before"), _recorded(n)
                    frontier.append(n)
    return None


def node_label(node, model=None) -> str:
    """"node 'Conv_0' (Conv)", plus the file's name when cleanup renamed it; with `model`, a node normalization
    made or remade (no name recorded, though the file's nodes have theirs) is placed after (or before) the nearest
    node of the file."""
    name = node.name or (node.output[0] if node.output else "?")
    source = source_name(node)
    if source != name:
        return f"node '{name}' ({node.op_type}, '{source}' in the file)"
    if model is not None and _recorded(node) is None and any(_recorded(n) is not None for n in model.graph.node):
        near = nearest_source_name(model, node)
        if near is not None:
            return f"node '{name}' ({node.op_type}, {near[0]} '{near[1]}' in the file)"
    return f"node '{name}' ({node.op_type})"
