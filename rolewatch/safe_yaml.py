"""YAML read safely: `yaml.safe_load` that refuses a document whose aliases would blow it up.

Its own module so that what imports the configuration's models without reading a file (the crawl
worker, which is handed its sources already resolved) does not import PyYAML: ~10 ms of each
worker's start, on the way to a cold `rolewatch crawl`'s first request.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml import YAMLError

__all__ = ["MAX_ALIAS_NODES", "YAMLError", "load_yaml"]

#: How many nodes YAML aliases may add to a document by repetition; beyond it the file is refused.
MAX_ALIAS_NODES = 100_000


def load_yaml(text: str) -> Any:
    """`yaml.safe_load`, refusing a document whose aliases expand past MAX_ALIAS_NODES nodes.

    PyYAML shares an aliased node rather than copying it, so even a "billion laughs" loads at once;
    what blows up is everything that walks the result afterwards (validation, the environment
    overlay). The expanded size is counted on the composed node graph, before anything is built.

    The document is parsed by libyaml when PyYAML has it (a file of 200 sources in 10 ms rather
    than 70); a document it refuses is parsed again by PyYAML's own parser, whose messages and
    positions are the ones users have always been shown.
    """
    if _FAST_LOADER is yaml.SafeLoader:
        return _load_yaml(text, yaml.SafeLoader)
    try:
        return _load_yaml(text, _FAST_LOADER)
    except yaml.YAMLError:
        return _load_yaml(text, yaml.SafeLoader)


#: libyaml's safe loader when PyYAML was built with it; the same constructors and resolver.
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def _load_yaml(text: str, loader_class: type[yaml.SafeLoader]) -> Any:
    loader = loader_class(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        _check_alias_expansion(node)
        return loader.construct_document(node)
    finally:
        loader.dispose()


def _check_alias_expansion(root: yaml.Node) -> None:
    """Raise when aliases would repeat more than MAX_ALIAS_NODES nodes, or an alias contains itself.

    One pass over the distinct nodes: each node's expanded size is one plus its children's, kept
    per node so a node aliased a million times is still measured once.
    """
    sizes: dict[int, int] = {}
    entered: set[int] = set()  # the ancestors of the node being looked at
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _children(node)
        if finished:
            entered.discard(id(node))
            sizes[id(node)] = 1 + sum(sizes[id(child)] for child in children)
            continue
        if id(node) in sizes:
            continue
        if id(node) in entered:
            raise yaml.composer.ComposerError(
                None, None, "an alias refers to a node that contains it", node.start_mark
            )
        entered.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children)
    if sizes[id(root)] - len(sizes) > MAX_ALIAS_NODES:
        raise yaml.composer.ComposerError(
            None,
            None,
            f"its aliases expand it by more than {MAX_ALIAS_NODES:,} nodes; write the repeated parts out",
            None,
        )


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []
