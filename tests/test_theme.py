"""The colours of assets/theme.css are components/theme.py's (the one colour table)."""
from __future__ import annotations

from pathlib import Path

from components.theme import theme_css

ROOT = Path(__file__).resolve().parent.parent


def test_theme_css_is_generated_from_the_colour_table() -> None:
    assert (ROOT / "assets" / "theme.css").read_text(encoding="utf-8") == theme_css(), \
        "run: python -m components.theme > assets/theme.css"
