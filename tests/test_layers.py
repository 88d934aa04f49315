"""The house's one-way rules, read from the imports of the tree (no app, no database):
components import nothing of data_access but its models; data_access imports no Dash, Flask or
screen; the colours of assets/theme.css are components/theme.py's."""
from __future__ import annotations

import ast
from pathlib import Path

from components.theme import theme_css

ROOT = Path(__file__).resolve().parent.parent
# Transitional: the security engineer moves these into security/ (they import Flask and components).
NOT_YET = {"data_access/security.py", "data_access/security_cli.py", "data_access/roles.py"}


def imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
            found.update(f"{node.module}.{alias.name}" for alias in node.names)
    return found


def modules(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


def test_components_import_only_the_models_of_data_access() -> None:
    bad = {str(p.relative_to(ROOT)): sorted(m for m in imports(p) if m.startswith("data_access")
                                          and m not in ("data_access", "data_access.models")
                                          and not m.startswith("data_access.models."))
           for p in modules("components")}
    assert {k: v for k, v in bad.items() if v} == {}


def test_data_access_imports_no_web_framework_and_no_screen() -> None:
    banned = ("dash", "flask", "flask_caching", "werkzeug", "components", "pages")
    bad = {str(p.relative_to(ROOT)): sorted(m for m in imports(p) if m.split(".")[0] in banned)
           for p in modules("data_access") if str(p.relative_to(ROOT)) not in NOT_YET}
    assert {k: v for k, v in bad.items() if v} == {}


def test_components_and_pages_stay_on_their_side() -> None:
    """Components build (no pages, no feeder, no importers); pages compose (no feeder, no importers)."""
    rules = {"components": ("pages", "feeder", "importers", "app", "cli"), "pages": ("feeder", "importers", "cli")}
    bad = {str(p.relative_to(ROOT)): sorted(m for m in imports(p) if m.split(".")[0] in banned)
           for folder, banned in rules.items() for p in modules(folder)}
    assert {k: v for k, v in bad.items() if v} == {}


def test_theme_css_is_generated_from_the_colour_table() -> None:
    assert (ROOT / "assets" / "theme.css").read_text(encoding="utf-8") == theme_css(), \
        "run: python -m components.theme > assets/theme.css"
