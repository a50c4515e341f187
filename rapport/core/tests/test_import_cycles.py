"""No app's modules import each other in a circle (import-linter's acyclic contract says
the same in `make lint`; this test says it in the suite, with the cycle spelled out)."""

from __future__ import annotations

import grimp


def _cycles(graph: grimp.ImportGraph, app: str) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), tests and
    migrations left out. grimp records imports inside functions and under TYPE_CHECKING
    too, so a circle cannot hide in a function body."""
    modules = {
        m
        for m in graph.find_descendants(app) | {app}
        if ".tests" not in m and ".migrations" not in m
    }
    edges = {m: sorted(graph.find_modules_directly_imported_by(m) & modules) for m in modules}
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        for other in edges[module]:
            if other not in index:
                visit(other)
                low[module] = min(low[module], low[other])
            elif other in stack:
                low[module] = min(low[module], index[other])
        if low[module] == index[module]:
            component = []
            while True:
                top = stack.pop()
                component.append(top)
                if top == module:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_app_imports_itself_in_a_circle() -> None:
    graph = grimp.build_graph("rapport")
    cycles = {app: _cycles(graph, app) for app in sorted(graph.find_children("rapport"))}
    assert {app: found for app, found in cycles.items() if found} == {}
