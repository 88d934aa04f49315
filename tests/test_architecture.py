"""The house rules, read from the imports of the tree (``ast``, no import is executed).

Data flows one way: pages -> components -> data_access.models, pages -> data_access; nothing in
data_access knows Dash, Flask or a screen. The app's one write, operator actions (actions/), is
called by pages only: neither data_access nor components import it, and it knows no Dash, Flask,
page or component. Every import statement counts, also one inside a function,
a method or an ``if TYPE_CHECKING:`` block, and ``importlib.import_module("literal")``. tests/ may import
anything, but nothing else may import tests/. Each failure names file:line and the import.

The checker itself is tested on synthetic sources at the end of the file, so it cannot pass by
finding nothing.
"""
from __future__ import annotations

import ast
import os
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIPPED_DIRS = {"__pycache__", "node_modules", "var", "build", "dist", "shots"}  # and every hidden folder (.venv, .git)
TESTS = "tests"

ALLOWED_FROM_DATA_ACCESS = "data_access.models"  # the one module of data_access that components may import
WEB_AND_SCREEN = ("dash", "flask", "flask_caching", "werkzeug", "components", "pages")  # not in data_access
DEMO_AND_IMPORT = ("feeder", "importers")  # not in pages
ACTIONS = "actions"  # imported by pages (and tests) only
NOT_IN_ACTIONS = ("dash", "flask", "flask_caching", "werkzeug", "components", "pages", "security.web",
                  "security.auth")


@dataclass(frozen=True)
class Import:
    path: str  # relative to the root, with "/"
    line: int
    module: str  # the absolute dotted module imported
    statement: str  # the statement as written (unparsed)

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.statement}"


# --- reading the tree -------------------------------------------------------------------------------

def python_sources(root: Path = ROOT) -> dict[str, str]:
    """Every .py file of the tree: {relative path: source}; hidden folders (.venv, .git) and build output skipped."""
    sources: dict[str, str] = {}
    for folder, dirs, files in os.walk(root):
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and d not in SKIPPED_DIRS
                         and not d.endswith(".egg-info"))
        for name in sorted(files):
            if name.endswith(".py"):
                path = Path(folder, name)
                sources[path.relative_to(root).as_posix()] = path.read_text(encoding="utf-8")
    return sources


def module_of(path: str) -> str:
    """``components/wall.py`` -> ``components.wall``; ``data_access/__init__.py`` -> ``data_access``."""
    parts = path.removesuffix(".py").split("/")
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def unit_of(module: str) -> str:
    """The top-level package or module a dotted name belongs to (``data_access.db`` -> ``data_access``)."""
    return module.split(".", 1)[0]


def imports_in(path: str, source: str, known_modules: Iterable[str]) -> list[Import]:
    """Every import of ``source`` (the file ``path``) as absolute module names, anywhere in the file.

    ``from pkg import name`` imports the module ``pkg.name`` when that is a module of the tree, else ``pkg``.
    """
    known = set(known_modules)
    module = module_of(path)
    package = module if path.endswith("__init__.py") else module.rpartition(".")[0]
    found: list[Import] = []
    for node in ast.walk(ast.parse(source, filename=path)):
        if isinstance(node, ast.Import):
            found += [Import(path, node.lineno, alias.name, ast.unparse(node)) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                anchor = package.split(".") if package else []
                anchor = anchor[:len(anchor) - (node.level - 1)] if node.level > 1 else anchor
                base = ".".join([*anchor, *([node.module] if node.module else [])])
            else:
                base = node.module or ""
            for alias in node.names:
                candidate = f"{base}.{alias.name}" if base else alias.name
                target = candidate if candidate in known or not base else base
                found.append(Import(path, node.lineno, target, ast.unparse(node)))
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)
              and isinstance(node.args[0].value, str)
              and (ast.unparse(node.func) in ("importlib.import_module", "import_module", "__import__"))):
            found.append(Import(path, node.lineno, node.args[0].value, ast.unparse(node)))
    return sorted(set(found), key=lambda i: (i.line, i.module))  # ``from m import a, b``: m once


def _is(module: str, *names: str) -> bool:
    """``module`` is one of ``names`` or inside one of them."""
    return any(module == n or module.startswith(n + ".") for n in names)


# --- the rules --------------------------------------------------------------------------------------

RULES = {
    "components": "components/ imports nothing of data_access but data_access.models",
    "data_access": "data_access/ imports no dash, flask, flask_caching, werkzeug, components or pages",
    "pages": "pages/ import no feeder or importers",
    "actions_users": "data_access/ and components/ import nothing of actions/ (pages call the actions)",
    "actions": "actions/ imports no dash, flask, flask_caching, werkzeug, components, pages or security's web layer",
    "tests": "production code imports nothing from tests/",
    "cycles": "no two top-level packages/modules import each other",
}


def check(sources: Mapping[str, str]) -> dict[str, list[str]]:
    """{rule: [one line per offence]} for the tree ``sources`` ({relative path: source}); empty lists when clean."""
    known = {module_of(p) for p in sources}
    units = {unit_of(m) for m in known}
    found: dict[str, list[str]] = {rule: [] for rule in RULES}
    edges: dict[tuple[str, str], dict[str, None]] = defaultdict(dict)  # (from unit, to unit) -> statements, ordered
    for path, source in sorted(sources.items()):
        here = unit_of(module_of(path))
        for imp in imports_in(path, source, known):
            if here == "components" and _is(imp.module, "data_access") and not _is(imp.module,
                                                                                    ALLOWED_FROM_DATA_ACCESS):
                found["components"].append(f"{imp}   [{imp.module}]")
            if here == "data_access" and _is(imp.module, *WEB_AND_SCREEN):
                found["data_access"].append(f"{imp}   [{imp.module}]")
            if here == "pages" and _is(imp.module, *DEMO_AND_IMPORT):
                found["pages"].append(f"{imp}   [{imp.module}]")
            if here in ("data_access", "components") and _is(imp.module, ACTIONS):
                found["actions_users"].append(f"{imp}   [{imp.module}]")
            if here == ACTIONS and _is(imp.module, *NOT_IN_ACTIONS):
                found["actions"].append(f"{imp}   [{imp.module}]")
            there = unit_of(imp.module)
            if here != TESTS and there == TESTS:
                found["tests"].append(f"{imp}   [{imp.module}]")
            if there in units and there != here and TESTS not in (here, there):
                edges[(here, there)][str(imp)] = None
    for (a, b), forward in sorted(edges.items()):
        if a < b and (b, a) in edges:
            lines = [f"{a} -> {b}: {line}" for line in forward] + [f"{b} -> {a}: {line}" for line in edges[(b, a)]]
            found["cycles"].append(f"{a} <-> {b}\n      " + "\n      ".join(lines))
    return found


def report(rule: str, offences: list[str]) -> str:
    return f"{RULES[rule]}: {len(offences)} offence(s)\n  " + "\n  ".join(offences)


_TREE: dict[str, list[str]] = {}


def tree_offences(rule: str) -> list[str]:
    if not _TREE:
        _TREE.update(check(python_sources()))
    return _TREE[rule]


def test_the_tree_is_read() -> None:
    """Guard against an empty walk: the checker sees the packages it rules over."""
    units = {unit_of(module_of(p)) for p in python_sources()}
    expected = {"app", "cli", "components", "data_access", "pages", "feeder", "importers", "tests", "actions"}
    assert expected <= units, units
    assert not any(p.startswith(".venv/") for p in python_sources())


def test_components_import_only_data_access_models() -> None:
    offences = tree_offences("components")
    assert not offences, report("components", offences)


def test_data_access_knows_no_web_framework_and_no_screen() -> None:
    offences = tree_offences("data_access")
    assert not offences, report("data_access", offences)


def test_pages_import_neither_feeder_nor_importers() -> None:
    offences = tree_offences("pages")
    assert not offences, report("pages", offences)


def test_only_pages_call_the_actions() -> None:
    offences = tree_offences("actions_users")
    assert not offences, report("actions_users", offences)


def test_actions_know_no_web_framework_and_no_screen() -> None:
    offences = tree_offences("actions")
    assert not offences, report("actions", offences)


def test_production_code_imports_no_tests() -> None:
    offences = tree_offences("tests")
    assert not offences, report("tests", offences)


def test_no_two_top_level_units_import_each_other() -> None:
    offences = tree_offences("cycles")
    assert not offences, report("cycles", offences)


# --- the checker, on synthetic trees -----------------------------------------------------------------

SYNTHETIC = {
    "app.py": "import cli\n",
    "cli.py": "def main():\n    from app import create_app\n",  # inside a function: still an import
    "components/__init__.py": "",
    "components/ok.py": "from data_access.models import Area\nfrom data_access import models\nimport dash\n",
    "components/bad.py": "from data_access import models, queries\nimport data_access.db as db\n",
    "components/lazy.py": "def f():\n    from ..data_access.queries import q\n",  # relative, in a function
    "data_access/__init__.py": "",
    "data_access/models.py": "from dataclasses import dataclass\n",
    "data_access/queries.py": "import sqlalchemy\nfrom flask import g\n",
    "data_access/db.py": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from components import ids\n",
    "data_access/cache.py": "import flask_caching.backends\nimport dashboard_lib\n",  # dashboard_lib is not dash
    "pages/__init__.py": "",
    "pages/city.py": "import importlib\nsim = importlib.import_module('feeder.simulator')\nfrom components import ok\n",
    "pages/list.py": "from importers import common\nfrom data_access import queries\n",
    "feeder/__init__.py": "",
    "feeder/simulator.py": "from importers.common import upsert\n",
    "importers/__init__.py": "",
    "importers/common.py": "from . import grid\n",
    "importers/grid.py": "from feeder import simulator\n",
    "bench/run.py": "from tests.conftest import free_port\nimport app\n",
    "actions/__init__.py": "",
    "actions/service.py": "from data_access import models\nfrom security.policy import Principal\n"
                          "from security.web import current_principal\nimport flask\n",
    "actions/tokens.py": "def f():\n    from components import ids\n",
    "components/button.py": "from actions import service\n",
    "data_access/audit.py": "import actions.store\n",
    "pages/scenario.py": "from actions.service import mark_step\n",  # pages may call the actions
    "tests/__init__.py": "",
    "tests/conftest.py": "import app, cli, pages.city, feeder.simulator\n",  # tests may import anything
}


def test_checker_finds_each_kind_of_offence_in_a_synthetic_tree() -> None:
    found = check(SYNTHETIC)
    assert found["components"] == [
        "components/bad.py:1: from data_access import models, queries   [data_access.queries]",
        "components/bad.py:2: import data_access.db as db   [data_access.db]",
        "components/lazy.py:2: from ..data_access.queries import q   [data_access.queries]",
    ]
    assert found["data_access"] == [
        "data_access/cache.py:1: import flask_caching.backends   [flask_caching.backends]",
        "data_access/db.py:3: from components import ids   [components]",  # ids: not a module of this tree
        "data_access/queries.py:2: from flask import g   [flask]",
    ]
    assert found["pages"] == [
        "pages/city.py:2: importlib.import_module('feeder.simulator')   [feeder.simulator]",
        "pages/list.py:1: from importers import common   [importers.common]",
    ]
    assert found["tests"] == ["bench/run.py:1: from tests.conftest import free_port   [tests.conftest]"]
    assert found["actions_users"] == [
        "components/button.py:1: from actions import service   [actions.service]",
        "data_access/audit.py:1: import actions.store   [actions.store]",
    ]
    assert found["actions"] == [
        "actions/service.py:3: from security.web import current_principal   [security.web]",
        "actions/service.py:4: import flask   [flask]",
        "actions/tokens.py:2: from components import ids   [components]",
    ]
    assert [c.splitlines()[0] for c in found["cycles"]] == [  # bench -> app is one way only
        "actions <-> components", "actions <-> data_access", "app <-> cli", "components <-> data_access",
        "feeder <-> importers"]
    assert found["cycles"][2] == (
        "app <-> cli\n      app -> cli: app.py:1: import cli\n      cli -> app: cli.py:2: from app import create_app")
    assert found["cycles"][3].endswith(  # the TYPE_CHECKING import is an import
        "\n      data_access -> components: data_access/db.py:3: from components import ids")
    assert found["cycles"][4] == (
        "feeder <-> importers\n"
        "      feeder -> importers: feeder/simulator.py:1: from importers.common import upsert\n"
        "      importers -> feeder: importers/grid.py:1: from feeder import simulator")
    assert "app.py:1: import cli" in report("cycles", found["cycles"])


def test_checker_passes_a_clean_tree() -> None:
    clean = {path: source for path, source in SYNTHETIC.items()
             if path in {"components/__init__.py", "components/ok.py", "data_access/__init__.py",
                         "data_access/models.py", "pages/__init__.py", "tests/conftest.py", "app.py"}}
    assert check(clean) == {rule: [] for rule in RULES}


def test_relative_imports_resolve_against_the_files_package() -> None:
    known = {"importers", "importers.common", "importers.grid", "data_access", "data_access.models"}
    found = imports_in("importers/common.py", "from . import grid\nfrom .grid import make\nfrom .. import app\n",
                       known)
    assert [i.module for i in found] == ["importers.grid", "importers.grid", "app"]
    found = imports_in("importers/__init__.py", "from .common import x\n", known)
    assert [i.module for i in found] == ["importers.common"]
