"""A benchmark's view of a wall page, built the way a browser builds it: the callbacks from
/_dash-dependencies, the ids from the rendered layout, and the real refresh payloads from those.
Shared by bench/run.py, bench/soak.py and bench/wall_ticks.py, so a change to the wall's
callback never needs three copies of its payload updated."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import requests

from components import ids

WALL_KEY = "wall"  # the wall's map key (pages/_wall_layout.py)


@dataclass
class PollSchedule:
    """When a browser polls the wall next: assets/citywall.js ``pollWall``, line for line."""

    refresh_s: float
    spread_s: float
    margin_ms: float
    share: float  # this screen's place in the spread, 0..1
    sent: float = 0.0

    def sent_now(self, now: float) -> float:
        """The poll leaves now; the next one is due a tick later until its reply says better."""
        self.sent = now
        return now + self.refresh_s

    def after_reply(self, status: dict | None, now: float, due: float) -> float:
        if not (isinstance(status, dict) and status.get("ok") and isinstance(status.get("now_ms"), int | float)
                and isinstance(status.get("tick"), int)):
            return due
        refresh_ms = self.refresh_s * 1000
        skew = status["now_ms"] - now * 1000
        ready = min(status.get("ready_ms") or 0, refresh_ms / 2)
        due_ms = (status["tick"] + 1) * refresh_ms + ready + self.margin_ms + self.share * self.spread_s * 1000 - skew
        while due_ms > now * 1000 + refresh_ms * 1.5:
            due_ms -= refresh_ms
        return max(due_ms / 1000, self.sent + self.refresh_s / 4)


@dataclass
class PageSpec:
    """What a browser knows after loading a wall page: the callbacks and the ids the layout holds."""

    wall_output: str
    map_output: str
    scope: dict
    map_scope: dict
    map_sig: str | None
    poll: dict = field(default_factory=dict)  # the wall's poll schedule settings (wall-poll-config)
    wall_state: list = field(default_factory=list)  # the wall callback's State ids and properties, in order
    fleet: dict | None = None  # the screen's fleet store from the layout (its heartbeat rides on the tick)

    def schedule(self, share: float) -> PollSchedule:
        poll = self.poll
        return PollSchedule(refresh_s=float(poll.get("refresh_s", 5)), spread_s=float(poll.get("spread_s", 0)),
                            margin_ms=float(poll.get("margin_ms", 100)), share=share)

    @classmethod
    def read(cls, url: str, path: str = "/") -> PageSpec:
        deps = requests.get(url + "/_dash-dependencies", timeout=30).json()
        page = next(d for d in deps if any(i["id"] == "_pages_location" for i in d["inputs"])
                    and "_pages_content" in d["output"])
        payload = {"output": page["output"],
                   "outputs": [{"id": o.split(".")[0], "property": o.split(".")[1]}
                               for o in page["output"].strip(".").split("...")],
                   "inputs": [{"id": i["id"], "property": i["property"],
                               "value": path if i["property"] == "pathname" else ""} for i in page["inputs"]],
                   "state": [{"id": s["id"], "property": s["property"]} for s in page.get("state", [])],
                   "changedPropIds": ["_pages_location.pathname"]}
        reply = requests.post(url + "/_dash-update-component", json=payload, timeout=60).json()
        found: dict[str, Any] = {}

        def walk(node: object) -> None:
            if isinstance(node, dict):
                props = node.get("props", {})
                ident = props.get("id")
                if isinstance(ident, dict):
                    if ident == ids.mid(ids.MAP_SCOPE, WALL_KEY):
                        found["map_scope"] = props.get("data")
                    if ident == ids.mid(ids.MAP_SIG, WALL_KEY):
                        found["map_sig"] = props.get("data")
                    if ident == ids.mid(ids.FLEET_SEED, WALL_KEY):
                        found["fleet"] = props.get("data")
                elif ident == ids.WALL_SCOPE:
                    found["scope"] = props.get("data")
                elif ident == ids.WALL_POLL_CONFIG:
                    found["poll"] = props.get("data")
                for value in node.values():
                    walk(value)
            elif isinstance(node, list):
                for value in node:
                    walk(value)

        walk(reply)
        wall = next(d for d in deps if any(i["id"] == ids.WALL_POLL for i in d["inputs"]))
        # The map's server refresh (its poll): the one callback writing the areas' hideout without
        # allow_duplicate ("@" in the output: the browser's own, applying a pushed message).
        refresh = next(d for d in deps if f'"{ids.MAP_AREAS}"' in d["output"] and "@" not in d["output"])
        return cls(wall_output=wall["output"], map_output=refresh["output"],
                   scope=found["scope"], map_scope=found.get("map_scope") or {}, map_sig=found.get("map_sig"),
                   poll=found.get("poll") or {}, wall_state=list(wall.get("state", [])),
                   fleet=found.get("fleet"))

    @staticmethod
    def wall_kept(response: dict, applied: dict) -> dict:
        """What a screen keeps from a wall reply for its next request: the tick it applied."""
        return response.get(ids.WALL_APPLIED, {}).get("data", applied)

    def wall_payload(self, n: int, applied: dict, screen: str | None = None) -> dict:
        """The wall's refresh as a screen sends it; its State from the callback's own declaration (so a
        State the wall gains is sent too). ``screen``: this client's own screen id in the wall fleet
        (None: the layout's, as one tab)."""
        outputs = [{"id": ident, "property": prop}
                   for ident, prop in (part.rsplit(".", 1) for part in self.wall_output.strip(".").split("..."))]
        fleet = {**self.fleet, "id": screen} if self.fleet and screen else self.fleet
        known = {ids.WALL_SCOPE: self.scope, ids.WALL_APPLIED: applied,
                 json.dumps(ids.mid(ids.FLEET_SCREEN, WALL_KEY), sort_keys=True, separators=(",", ":")): fleet}
        state = []
        for entry in self.wall_state:
            ident = entry["id"]
            concrete = json.loads(ident) if isinstance(ident, str) and ident.startswith("{") else ident
            key = json.dumps(concrete, sort_keys=True, separators=(",", ":")) if isinstance(concrete, dict) else ident
            state.append({"id": concrete, "property": entry["property"], "value": known.get(key)})
        return {"output": self.wall_output, "outputs": outputs,
                "inputs": [{"id": ids.WALL_POLL, "property": "data", "value": n}],
                "state": state, "changedPropIds": [f"{ids.WALL_POLL}.data"]}

    def map_payload(self, n: int, sig: str | None) -> dict:
        outputs = []
        for part in self.map_output.strip(".").split("..."):
            ident, prop = part.rsplit(".", 1)
            outputs.append({"id": ids.mid(json.loads(ident)["type"], WALL_KEY), "property": prop})
        poll = ids.mid(ids.MAP_POLL, WALL_KEY)  # what the map's tick raises (assets/map_push.js pollMap)
        return {"output": self.map_output, "outputs": outputs,
                "inputs": [{"id": poll, "property": "data", "value": n}],
                "state": [{"id": ids.mid(ids.MAP_SCOPE, WALL_KEY), "property": "data", "value": self.map_scope},
                          {"id": ids.mid(ids.MAP_SIG, WALL_KEY), "property": "data", "value": sig}],
                "changedPropIds": [json.dumps(poll, sort_keys=True, separators=(",", ":")) + ".data"]}
