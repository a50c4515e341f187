"""Import rules the suite checks by module name (import-linter's contracts in `make lint`
say the same for the modules they list): no app's modules import each other in a
circle, and no page or API module imports another app's models."""

from __future__ import annotations

import re

import grimp
import pytest


@pytest.fixture(scope="module")
def graph() -> grimp.ImportGraph:
    return grimp.build_graph("rapport")


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


def test_no_app_imports_itself_in_a_circle(graph: grimp.ImportGraph) -> None:
    cycles = {app: _cycles(graph, app) for app in sorted(graph.find_children("rapport"))}
    assert {app: found for app, found in cycles.items() if found} == {}


def test_pages_and_api_import_no_other_apps_models(graph: grimp.ImportGraph) -> None:
    """`views`, `api`, `views_*` and `api_*` of an app go through another app's selectors,
    services or core.registry; core's models are the shared kernel."""
    found = []
    for module in sorted(graph.modules):
        parts = module.split(".")
        if len(parts) != 3 or not re.fullmatch(r"(views|api)(_\w+)?", parts[2]):
            continue
        for imported in graph.find_modules_directly_imported_by(module):
            other = imported.split(".")
            if len(other) >= 3 and other[2] == "models" and other[1] not in (parts[1], "core"):
                found.append(f"{module} -> {imported}")
    assert sorted(found) == []
