"""The rule builder's form: a segment's rule tree as plain form fields, so the builder is a
server-rendered, keyboard-friendly form that works without JavaScript (htmx only adds the
live count).

Each node has a path ("" the top group, "0", "1.2", …); its fields are named
``n:<path>:<param>`` (``n:1.2:kind``, ``n:1:op``). Buttons post ``action`` =
``add:<group path>:<kind or group>`` or ``remove:<path>``. Validation errors from
`segment_rules` ("rules.1.2.value") come back keyed by node path and param.
"""

from __future__ import annotations

import re
from typing import Any

from django.http import QueryDict

from rapport.marketing.segment_rules import empty_rules

PARAMS = (
    "kind",
    "op",
    "field",
    "value",
    "channel",
    "purpose",
    "type",
    "product_sku",
    "days",
    "min_count",
    "measure",
    "negate",
)
_NAME = re.compile(r"^n:([0-9.]*):([a-z_]+)$")
NEW_CONDITIONS: dict[str, dict[str, Any]] = {
    "field": {"kind": "field", "field": "country", "value": ""},
    "consent": {"kind": "consent", "channel": "email", "purpose": "marketing"},
    "event": {"kind": "event", "type": "product_view", "days": 7},
    "order": {"kind": "order", "measure": "count", "op": "gte", "value": 1},
}


def _key(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in path.split(".")) if path else ()


def tree_from_post(post: QueryDict) -> dict[str, Any]:
    """The rule tree the form describes (not validated: `segment_rules.validate` does)."""
    nodes: dict[str, dict[str, Any]] = {}
    for name in post:
        match = _NAME.match(name)
        if match is None or match.group(2) not in PARAMS:
            continue
        path, param = match.groups()
        if param == "negate":
            nodes.setdefault(path, {})["negate"] = post.get(name) in ("1", "on", "true")
        else:
            nodes.setdefault(path, {})[param] = post.get(name, "")
    root = {"op": nodes.get("", {}).get("op", "and"), "rules": []}
    built: dict[str, dict[str, Any]] = {"": root}
    for path in sorted((p for p in nodes if p), key=_key):
        node = nodes[path]
        parent = built.get(path.rpartition(".")[0] if "." in path else "")
        if parent is None or "rules" not in parent:
            continue
        if node.get("kind") == "group":
            group: dict[str, Any] = {"op": node.get("op", "and"), "rules": []}
            if node.get("negate"):
                group["negate"] = True
            parent["rules"].append(group)
            built[path] = group
        else:
            parent["rules"].append({k: v for k, v in node.items() if v not in ("", None)})
    return root


def apply_action(tree: dict[str, Any], action: str) -> dict[str, Any]:
    """Add a condition or group under a group, or remove a node; unknown actions: no-op."""
    verb, _, rest = action.partition(":")
    if verb == "add":
        path, _, kind = rest.rpartition(":")
        group = _node(tree, path)
        if group is not None and "rules" in group:
            new = {"op": "and", "rules": []} if kind == "group" else NEW_CONDITIONS.get(kind)
            if new is not None:
                group["rules"].append(dict(new))
    elif verb == "remove" and rest:
        parent_path, _, index = rest.rpartition(".") if "." in rest else ("", "", rest)
        parent = _node(tree, parent_path)
        if parent is not None and index.isdigit() and int(index) < len(parent["rules"]):
            del parent["rules"][int(index)]
    return tree


def _node(tree: dict[str, Any], path: str) -> dict[str, Any] | None:
    node: Any = tree
    for part in _key(path):
        rules = node.get("rules") if isinstance(node, dict) else None
        if not isinstance(rules, list) or part >= len(rules):
            return None
        node = rules[part]
    return node if isinstance(node, dict) else None


def errors_by_node(message_dict: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """{"rules.1.0.value": [...]} → {"1.0": {"value": [...]}}; a group's own errors under
    its path with param "" ("rules" → {"": {"": [...]}})."""
    out: dict[str, dict[str, list[str]]] = {}
    for key, messages in message_dict.items():
        if key != "rules" and not key.startswith("rules."):
            continue
        parts = key.split(".")[1:]
        digits = [p for p in parts if p.isdigit()]
        param = parts[-1] if parts and not parts[-1].isdigit() else ""
        out.setdefault(".".join(digits), {}).setdefault(param, []).extend(messages)
    return out


def fresh() -> dict[str, Any]:
    return empty_rules()


def render_tree(
    tree: dict[str, Any], errors: dict[str, dict[str, list[str]]], path: str = ""
) -> dict[str, Any]:
    """The tree with each node's path and errors, for the recursive template."""
    children = []
    for i, child in enumerate(tree.get("rules", [])):
        child_path = f"{path}.{i}" if path else str(i)
        if isinstance(child, dict) and "rules" in child:
            children.append(render_tree(child, errors, child_path))
        else:
            if isinstance(child, dict) and isinstance(child.get("value"), list):
                child = {**child, "value": ", ".join(str(v) for v in child["value"])}
            node_errors = errors.get(child_path, {})
            children.append(
                {
                    "path": child_path,
                    "is_group": False,
                    "node": child,
                    "errors": node_errors,
                    "messages": [m for ms in node_errors.values() for m in ms],
                }
            )
    own = errors.get(path, {})
    return {
        "path": path,
        "is_group": True,
        "op": tree.get("op", "and"),
        "negate": bool(tree.get("negate")),
        "children": children,
        "messages": [m for ms in own.values() for m in ms],
    }
