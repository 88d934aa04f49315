"""Who may see what, as pure functions: no Flask, no Dash, no database (the scope rule is
``data_access.areas.within_scope``, pure too). The web layer finds the principal of a request and
the lineage of an area; these rules decide. Another server backend
(FastAPI, Quart, a WebSocket push) reuses them unchanged."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from data_access.areas import within_scope

ROLES = ("wall", "leader", "supervisor", "admin")
RANK = {role: rank for rank, role in enumerate(ROLES)}
CITY = None  # "the whole city" as an area argument

Lineage = Callable[[str], tuple[str, ...]]  # an area code -> the area and its ancestors, nearest first


class AccessDenied(PermissionError):
    """The principal may not read this area, page or callback; ``str()`` says which, never any data."""


@dataclass(frozen=True)
class Principal:
    name: str
    role: str
    scope: str | None  # an area code, or None: the whole city
    via: str  # off | basic | header | token

    def at_least(self, role: str) -> bool:
        return RANK.get(self.role, -1) >= RANK[role]


ANONYMOUS = Principal(name="anonymous", role="admin", scope=None, via="off")  # auth off, feeder, CLI
NOBODY = Principal(name="nobody", role="wall", scope="-", via="none")  # fail closed: a request no gate saw


def checked_role(role: object) -> str:
    """``role`` if it is one of ROLES (declarations are checked when they are made)."""
    if role not in RANK:
        raise ValueError(f"role {role!r} is not one of {', '.join(ROLES)}")
    return str(role)


def require_role(principal: Principal, role: str) -> None:
    if not principal.at_least(role):
        raise AccessDenied(f"role {principal.role} may not do this (needs {role})")


def in_scope(scope: str | None, area_code: str | None, *, lineage: Lineage, ancestors: bool = False) -> bool:
    """May a principal scoped to ``scope`` read ``area_code`` (CITY: the whole city)? The rule has
    one home, ``data_access.areas.within_scope``, which the readers apply too."""
    return within_scope(lineage, area_code, scope, ancestors=ancestors)


def require_scope(principal: Principal, area_code: str | None, *, lineage: Lineage, ancestors: bool = False) -> None:
    if not in_scope(principal.scope, area_code, lineage=lineage, ancestors=ancestors):
        raise AccessDenied(f"area {str(area_code)[:40]!r} is outside the scope {principal.scope}")


@dataclass(frozen=True)
class PageAccess:
    """What a page declares on ``dash.register_page`` (extra keywords stay in ``dash.page_registry``):

    ``min_role``   the least role that may open it
    ``area_arg``   the URL argument (path variable or query key) naming the area it shows;
                   None: the page shows the whole city
    ``own_area``   a missing area argument means the principal's own area (a scoped user's "/")
    ``ancestors``  the area may also be an ancestor of the principal's scope (vital signs)
    ``shows_area`` False for pages that show no area's data (not found)
    """

    min_role: str
    area_arg: str | None = None
    own_area: bool = False
    ancestors: bool = False
    shows_area: bool = True

    @classmethod
    def of(cls, page: Mapping[str, Any]) -> PageAccess | None:
        """The declaration of a ``dash.page_registry`` entry; None when the page declares none."""
        if "min_role" not in page:
            return None
        return cls(min_role=checked_role(page["min_role"]), area_arg=page.get("area_arg"),
                   own_area=bool(page.get("own_area", False)), ancestors=bool(page.get("ancestors", False)),
                   shows_area=bool(page.get("shows_area", True)))

    def area(self, principal: Principal, args: Mapping[str, Any]) -> str | None:
        """The area this request of the page shows (CITY for the whole city)."""
        if not self.shows_area or self.area_arg is None:
            return CITY
        value = args.get(self.area_arg)
        if value is None or value == "":
            return principal.scope if self.own_area else CITY
        return value if isinstance(value, str) else str(value)

    def check(self, principal: Principal, args: Mapping[str, Any], *, lineage: Lineage) -> None:
        require_role(principal, self.min_role)
        if not self.shows_area:
            return
        if self.area_arg is None or args.get(self.area_arg) not in (None, "") or not self.own_area:
            require_scope(principal, self.area(principal, args), lineage=lineage, ancestors=self.ancestors)


def page_access(min_role: str, *, area_arg: str | None = None, own_area: bool = False, ancestors: bool = False,
                shows_area: bool = True) -> dict[str, Any]:
    """The keywords a page passes to ``dash.register_page`` to declare its access, checked now."""
    return {"min_role": checked_role(min_role), "area_arg": area_arg, "own_area": own_area, "ancestors": ancestors,
            "shows_area": shows_area}
