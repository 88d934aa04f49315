"""The label catalogue: every key in both languages, every key the code uses exists."""
from __future__ import annotations

import re
from pathlib import Path

from components import i18n
from components.labels_actions import ACTION_LABELS
from components.labels_map import MAP_LABELS
from components.labels_takeover import TAKEOVER_LABELS

ROOT = Path(__file__).resolve().parent.parent
USED = re.compile(r"""\bt\(\s*(?:f)?["']([a-z0-9_]+)["']""")


def test_every_label_has_both_languages() -> None:
    for key, entry in i18n.LABELS.items():
        assert set(entry) >= {"zh", "en"}, key
        assert entry["zh"].strip() and entry["en"].strip(), key


def test_label_files_do_not_collide() -> None:
    assert not set(i18n.WALL_LABELS) & set(MAP_LABELS)
    assert not (set(i18n.WALL_LABELS) | set(MAP_LABELS)) & set(ACTION_LABELS)
    assert not (set(i18n.WALL_LABELS) | set(MAP_LABELS)) & set(TAKEOVER_LABELS)


def test_every_key_used_in_code_exists() -> None:
    used: set[str] = set()
    for folder in ("pages", "components"):
        for path in (ROOT / folder).rglob("*.py"):
            used |= set(USED.findall(path.read_text(encoding="utf-8")))
    dynamic = {f"dim_{d}" for d in i18n.DIMENSIONS} | {f"status_{s}" for s in ("normal", "warn", "alarm", "none")} \
        | {f"range_{r}" for r in ("1h", "24h", "7d")}
    missing = sorted(k for k in used | dynamic if k not in i18n.LABELS)
    assert missing == []


def test_unknown_key_and_language_never_crash() -> None:
    assert i18n.t("no_such_label", "en") == "no_such_label"
    assert i18n.t("open", "fr") == "Open"
    assert i18n.pick_language("fr", "zh") == "zh" and i18n.pick_language("en", "zh") == "en"
    assert i18n.pick_language(["en"], "zh") == "zh"
