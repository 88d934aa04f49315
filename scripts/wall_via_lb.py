"""Screens through a load balancer: the wall's real refresh and map tick callbacks, the way a
browser sends them, a few per tick, each on a new connection so the balancer spreads them.

    python scripts/wall_via_lb.py http://127.0.0.1:8070 --ticks 3 --per-tick 4 --redis redis://127.0.0.1:6379/3

Prints one line per request (status, which app host answered from nginx's X-Upstream header,
the wall's "data as of" and tick), then the tick cache's keys in Redis per tick: with a shared
CITYWALL_REDIS_URL there is one set per tick whichever host answered. Exit 1 if any reply is not 200.
Used by docs/deploy.md; payloads come from bench/wall_client.py (the wall's callbacks as the app
declares them), so this never needs its own copy of them.
"""
from __future__ import annotations

import argparse
import collections
import sys
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench.wall_client import PageSpec  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url", help="the load balancer, e.g. http://127.0.0.1:8070")
    parser.add_argument("--path", default="/", help="wall page (default /)")
    parser.add_argument("--ticks", type=int, default=3)
    parser.add_argument("--per-tick", type=int, default=4, help="wall requests per tick (after one map tick)")
    parser.add_argument("--redis", help="CITYWALL_REDIS_URL of the app hosts: list the tick cache's keys")
    parser.add_argument("--refresh-s", type=float, default=5.0)
    args = parser.parse_args(argv)

    spec = PageSpec.read(args.url, args.path)
    applied: dict = {}
    sig = spec.map_sig
    hosts: collections.Counter[str] = collections.Counter()
    ticks: list[int] = []
    failed = 0
    for n in range(1, args.ticks + 1):
        # One map tick, then the walls: an odd number of requests per tick, so round robin over
        # two hosts sends the walls of one tick to both.
        mapr = requests.post(args.url + "/_dash-update-component", json=spec.map_payload(n, sig),
                             headers={"Connection": "close"}, timeout=60)
        failed += mapr.status_code not in (200, 204)
        if mapr.status_code == 200:
            sig = mapr.json().get("response", {}).get("cw-map-sig", {}).get("data", sig) or sig
        print(f"map  {mapr.status_code} via {mapr.headers.get('X-Upstream', '?')} ({len(mapr.content)} B)")
        for _ in range(args.per_tick):
            wall = requests.post(args.url + "/_dash-update-component", json=spec.wall_payload(n, applied),
                                 headers={"Connection": "close"}, timeout=60)
            failed += wall.status_code != 200
            reply = wall.json().get("response", {}) if wall.status_code == 200 else {}
            status = reply.get("status-store", {}).get("data", {})
            applied = PageSpec.wall_kept(reply, applied)
            upstream = wall.headers.get("X-Upstream", "?")
            hosts[upstream] += 1
            if status.get("tick") and status["tick"] not in ticks:
                ticks.append(status["tick"])
            print(f"wall {wall.status_code} via {upstream} ({len(wall.content)} B) as_of={status.get('as_of')} "
                  f"tick={status.get('tick')} ok={status.get('ok')} version={status.get('version')}")
        if n < args.ticks:
            time.sleep(args.refresh_s)
    print("wall replies per app host:", dict(hosts))
    if args.redis:
        import redis

        client = redis.Redis.from_url(args.redis)
        keys = sorted(k.decode() for k in client.scan_iter("citywall:*"))
        for tick in ticks:
            mine = [k for k in keys if k.endswith(f"@{tick}")]
            print(f"tick {tick}: {len(mine)} keys: {', '.join(mine)}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
