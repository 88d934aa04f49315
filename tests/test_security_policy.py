"""The access rules as pure functions: no Flask, no Dash, no database (another server backend
reuses them unchanged). A lineage here is a plain dict."""
from __future__ import annotations

import pytest

from security.policy import (
    CITY,
    AccessDenied,
    PageAccess,
    Principal,
    checked_role,
    in_scope,
    page_access,
    require_role,
    require_scope,
)

LINEAGE = {"100000": ("100000",), "100100": ("100100", "100000"), "100200": ("100200", "100000"),
           "100100001": ("100100001", "100100", "100000")}


def lineage(code: str) -> tuple[str, ...]:
    return LINEAGE.get(code, ())


EAST_LEADER = Principal("east", "leader", "100100", "basic")
EAST_WALL = Principal("lobby", "wall", "100100", "token")
CHIEF = Principal("chief", "admin", None, "basic")


@pytest.mark.parametrize("scope, area, ancestors, expected", [
    (None, CITY, False, True), (None, "100200", False, True),  # city-wide principals read everything
    ("100100", "100100", False, True), ("100100", "100100001", False, True),  # the scope and below
    ("100100", "100200", False, False), ("100100", CITY, False, False), ("100100", "", True, False),
    ("100100", "100000", False, False), ("100100", "100000", True, True),  # ancestors only when allowed
    ("100100", CITY, True, True), ("100100", "nowhere", True, False), ("100100", 5, True, False),
])
def test_scope_is_the_area_and_below_and_ancestors_only_when_asked(scope, area, ancestors, expected) -> None:
    assert in_scope(scope, area, lineage=lineage, ancestors=ancestors) is expected
    principal = Principal("p", "admin", scope, "basic")
    if expected:
        require_scope(principal, area, lineage=lineage, ancestors=ancestors)
    else:
        with pytest.raises(AccessDenied):
            require_scope(principal, area, lineage=lineage, ancestors=ancestors)


def test_roles_are_ranked_and_declarations_are_checked_when_made() -> None:
    require_role(CHIEF, "supervisor")
    require_role(EAST_WALL, "wall")
    with pytest.raises(AccessDenied):
        require_role(EAST_WALL, "leader")
    with pytest.raises(ValueError):
        checked_role("superuser")
    with pytest.raises(ValueError):
        page_access("root")


def test_a_pages_declared_area_argument_decides_what_it_shows() -> None:
    district = PageAccess.of(page_access("leader", area_arg="code"))
    district.check(EAST_LEADER, {"code": "100100001"}, lineage=lineage)
    with pytest.raises(AccessDenied):
        district.check(EAST_LEADER, {"code": "100200"}, lineage=lineage)
    with pytest.raises(AccessDenied):
        district.check(EAST_WALL, {"code": "100100"}, lineage=lineage)  # a wall opens walls only
    city = PageAccess.of(page_access("leader"))
    city.check(CHIEF, {}, lineage=lineage)
    with pytest.raises(AccessDenied):
        city.check(EAST_LEADER, {"code": "100100"}, lineage=lineage)  # no area argument: the whole city
    wall = PageAccess.of(page_access("wall", area_arg="scope", own_area=True))
    assert wall.area(EAST_WALL, {}) == "100100"  # a scoped screen's "/" is its own wall
    wall.check(EAST_WALL, {}, lineage=lineage)
    with pytest.raises(AccessDenied):
        wall.check(EAST_WALL, {"scope": "100000"}, lineage=lineage)
    vitals = PageAccess.of(page_access("leader", area_arg="area", ancestors=True))
    vitals.check(EAST_LEADER, {"area": "100000"}, lineage=lineage)  # city-wide signs on a district
    not_found = PageAccess.of(page_access("wall", shows_area=False))
    not_found.check(EAST_WALL, {"code": "100200"}, lineage=lineage)
    assert PageAccess.of({"path": "/undeclared"}) is None
