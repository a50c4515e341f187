"""Every public service function is named by a test (issue 12 §3).

A service function is a business action (STYLE.md): one that no test calls is an action
nobody has proved writes what it should, audits and emits. This test lists the public
functions defined in each app's `services.py` (or in the modules of its `services/`
package; `__init__` re-exports do not count twice) and fails for any that no test file
under `rapport/<app>/tests/` names through that app's services: `services.name(...)`,
`from rapport.<app>.services import name`, or a patch target "rapport.<app>.services.name".
A name that only appears in a comment, or on another app's services, does not count.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from pathlib import Path

import rapport

ROOT = Path(rapport.__file__).parent


def service_modules(root: Path = ROOT) -> list[Path]:
    return sorted([*root.glob("*/services.py"), *root.glob("*/services/*.py")])


def public_functions(path: Path) -> list[str]:
    """Functions defined (not imported) at the top of the module, without a leading _."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    return [
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
        and not node.name.startswith("_")
    ]


def _services_app(module: str, package: str = "") -> str | None:
    """ "rapport.customers.services[.x]" -> "customers"; otherwise None."""
    parts = (f"{package}.{module}" if package else module).split(".")
    if len(parts) >= 3 and parts[0] == "rapport" and parts[2] == "services":
        return parts[1]
    return None


def named_services(source: str, filename: str = "<test>") -> set[tuple[str, str]]:
    """(app, function name) pairs a test module names through an app's services."""
    tree = ast.parse(source, filename=filename)
    aliases: dict[str, str] = {}  # local name -> app whose services it is
    named: set[tuple[str, str]] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            app = _services_app(node.module)
            for alias in node.names:
                if app is not None:
                    # from rapport.app.services import name / import a submodule
                    named.add((app, alias.name))
                    if alias.name not in ("*",):
                        aliases[alias.asname or alias.name] = app
                elif alias.name == "services":
                    sub = _services_app(f"{node.module}.services")
                    if sub is not None:
                        aliases[alias.asname or "services"] = sub
        elif isinstance(node, ast.Import):
            for alias in node.names:
                app = _services_app(alias.name)
                if app is not None and alias.asname:
                    aliases[alias.asname] = app
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            base = node.value
            if isinstance(base, ast.Name) and base.id in aliases:
                named.add((aliases[base.id], node.attr))
            else:
                app = _services_app(ast.unparse(base))
                if app is not None:
                    named.add((app, node.attr))
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            head, _, name = node.value.rpartition(".")
            app = _services_app(head)
            if app is not None:
                named.add((app, name))
    return named


def untested(root: Path = ROOT, tests: Iterable[Path] | None = None) -> list[str]:
    test_files = tests if tests is not None else root.glob("*/tests/**/*.py")
    named: set[tuple[str, str]] = set()
    for path in test_files:
        named |= named_services(path.read_text(encoding="utf-8"), str(path))
    missing = []
    for module in service_modules(root):
        app = module.relative_to(root).parts[0]
        for name in public_functions(module):
            if (app, name) not in named:
                missing.append(f"{module.relative_to(root.parent)}: {name}")
    return missing


def test_every_public_service_function_is_named_by_a_test() -> None:
    missing = untested()
    assert not missing, (
        "These service functions are named by no test; give each a test of what it "
        "writes (rapport/<app>/tests/services/test_<action>.py):\n  " + "\n  ".join(missing)
    )


def test_the_check_reads_service_packages_and_tells_apps_apart(tmp_path: Path) -> None:
    shop = tmp_path / "rapport" / "shop"
    (shop / "services").mkdir(parents=True)
    (shop / "services" / "__init__.py").write_text(
        "from rapport.shop.services.products import product_update, product_delete\n"
    )
    (shop / "services" / "products.py").write_text(
        "def product_update(): ...\ndef product_delete(): ...\n"
        "def _helper(): ...\nfrom os import path\n"
    )
    (tmp_path / "rapport" / "till" / "services").mkdir(parents=True)
    (tmp_path / "rapport" / "till" / "services" / "__init__.py").write_text(
        "def product_delete(): ...\ndef till_open(): ...\ndef till_close(): ...\n"
    )
    test = tmp_path / "rapport" / "shop" / "tests" / "test_products.py"
    test.parent.mkdir()
    test.write_text(
        "from rapport.shop import services\n"
        "from rapport.till import services as till\n"
        "from rapport.till.services import till_open\n"
        "# product_delete is named here only in a comment\n"
        "def test_it(monkeypatch):\n"
        "    services.product_update()\n"
        "    till.product_delete()\n"
        "    monkeypatch.setattr('rapport.till.services.till_close', None)\n"
    )
    assert untested(tmp_path / "rapport") == ["rapport/shop/services/products.py: product_delete"]
