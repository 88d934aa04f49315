"""Checks of a ``/_dash-update-component`` body before Dash sees it: its shape (what the Dash
renderer would send) and every area it names (stores carry ``area_code``)."""
from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

MAX_CALLBACK_BYTES = 2 * 1024 * 1024


def callback_shape_error(body: object, callback_map: Mapping[str, Any]) -> str | None:
    """Why a callback body is not one the Dash renderer would send (None: it is)."""
    if not isinstance(body, dict):
        return "the body is not a JSON object"
    output = body.get("output")
    if not isinstance(output, str) or not output or len(output) > 20_000:
        return "output must be a callback's output string"
    if callback_map and output not in callback_map:
        return "no such callback"
    if not isinstance(body.get("outputs"), dict | list):
        return "outputs must be an object or a list"

    def item_ok(item: object) -> bool:
        if isinstance(item, list):
            return all(isinstance(i, dict) and "id" in i and isinstance(i.get("property"), str) for i in item)
        return isinstance(item, dict) and isinstance(item.get("id"), str | dict) and \
            isinstance(item.get("property"), str)

    for key, required in (("inputs", True), ("state", False)):
        value = body.get(key)
        if value is None and not required:
            continue
        if not isinstance(value, list) or not all(item_ok(i) for i in value):
            return f"{key} must be a list of {{id, property, value}} items"
    changed = body.get("changedPropIds", [])
    if not isinstance(changed, list) or not all(isinstance(c, str) for c in changed):
        return "changedPropIds must be a list of strings"
    spec = callback_map.get(output) if callback_map else None
    if spec is not None:
        if len(body["inputs"]) != len(spec.get("inputs", [])) or len(body.get("state") or []) != len(
                spec.get("state", [])):
            return "inputs or state do not match the callback"
    return None


def _named(values: object, depth: int = 0) -> Iterator[object]:
    if depth > 8:
        return
    if isinstance(values, dict):
        if "area_code" in values:
            yield values["area_code"]
        for value in values.values():
            yield from _named(value, depth + 1)
    elif isinstance(values, list):
        for value in values[:10_000]:
            yield from _named(value, depth + 1)


def named_areas(body: Mapping[str, Any]) -> Iterator[str | None]:
    """Every ``area_code`` named anywhere in a (well-formed) body's input and state values;
    an empty or non-text one is the whole city (None)."""
    values = [i.get("value") if isinstance(i, dict) else [j.get("value") for j in i]
              for i in [*body.get("inputs", []), *(body.get("state") or [])]]
    for code in _named(values):
        yield code if isinstance(code, str) and code else None
