"""What grew in a soak's workers: ``python bench/tracemalloc_diff.py DIR [--first N] [--top 15]``.

DIR holds the snapshots bench/tracemalloc_conf.py dumped (``<pid>-<n>.snap``). For each worker,
compares snapshot N (default 1: after the first minute's warm-up) with its last one and prints the
lines whose allocations grew most (size and count), then the biggest growth by traceback.
"""
from __future__ import annotations

import argparse
import collections
import tracemalloc
from pathlib import Path

NOISE = (tracemalloc.Filter(False, "<frozen importlib._bootstrap>"),
         tracemalloc.Filter(False, "<frozen importlib._bootstrap_external>"),
         tracemalloc.Filter(False, tracemalloc.__file__), tracemalloc.Filter(False, "<unknown>"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dir", type=Path)
    ap.add_argument("--first", type=int, default=1, help="the snapshot compared against (0: the first)")
    ap.add_argument("--top", type=int, default=15)
    a = ap.parse_args()
    by_pid: dict[str, list[Path]] = collections.defaultdict(list)
    for path in sorted(a.dir.glob("*.snap")):
        by_pid[path.stem.split("-")[0]].append(path)
    for pid, paths in sorted(by_pid.items()):
        if len(paths) <= a.first + 1:
            continue
        first = tracemalloc.Snapshot.load(str(paths[a.first])).filter_traces(NOISE)
        last = tracemalloc.Snapshot.load(str(paths[-1])).filter_traces(NOISE)
        total = sum(s.size for s in last.statistics("filename")) - sum(s.size for s in first.statistics("filename"))
        print(f"worker {pid}: snapshots {a.first} -> {len(paths) - 1}, traced memory grew {total / 2**20:+.1f} MB")
        for stat in last.compare_to(first, "lineno")[:a.top]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks  {stat.traceback[0]}")
        print("  by traceback (the biggest three):")
        for stat in last.compare_to(first, "traceback")[:3]:
            print(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks")
            for line in stat.traceback.format()[-12:]:
                print(f"      {line}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
