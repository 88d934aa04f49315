"""The one scope rule (data_access.areas.within_scope), pure: a lineage function in, a yes or no out."""
from __future__ import annotations

import pytest

from data_access.areas import OutsideScope, require_within, valid_code, within_scope

LINEAGE = {"100000": ("100000",), "100100": ("100100", "100000"), "100100001": ("100100001", "100100", "100000"),
           "100200": ("100200", "100000")}


def lineage_of(code: object) -> tuple[str, ...]:
    return LINEAGE.get(code, ()) if isinstance(code, str) else ()


@pytest.mark.parametrize(("area", "scope", "ancestors", "allowed"), [
    ("100200", None, False, True),  # a city-wide principal reads everything
    (None, None, False, True),
    ("100100", "100100", False, True),  # its own area
    ("100100001", "100100", False, True),  # inside it
    ("100200", "100100", False, False),  # a sibling
    ("100000", "100100", False, False),  # the city is not inside a district...
    ("100000", "100100", True, True),  # ...but it is its ancestor (the city's vital signs)
    (None, "100100", False, False),  # "the whole city" as an area
    (None, "100100", True, True),
    ("", "100100", True, False),  # an empty code is no area
    ("999", "100100", True, False),  # unknown
    ("100100", "100100001", False, False),  # a street's user may not read its district...
    ("100100", "100100001", True, True),  # ...but its district is an ancestor
])
def test_within_scope(area: str | None, scope: str | None, ancestors: bool, allowed: bool) -> None:
    assert within_scope(lineage_of, area, scope, ancestors=ancestors) is allowed
    if allowed:
        require_within(lineage_of, area, scope, ancestors=ancestors)
    else:
        with pytest.raises(OutsideScope) as refused:
            require_within(lineage_of, area, scope, ancestors=ancestors)
        assert isinstance(refused.value, PermissionError)


def test_the_one_code_rule() -> None:
    assert valid_code("310101") and valid_code("a_b.c-d") and valid_code("x" * 32)
    for bad in ("", "x" * 33, "a b", "a'b", "a/b", "٣١٠", None, 310101):
        assert not valid_code(bad), bad
