#!/usr/bin/env python3
"""Reads several TSV tables printed by bench/kit/compare.sh (concatenated on stdin, each
with its header line) and prints one table of per-cell medians, the best peer recomputed from
the medians, and the candidate/best ratio, plus each run's ratio so the spread is visible.
Why: on a shared 2-core machine one 5-second window moves by ±15%, so a single run can put a
ratio on either side of a target that sits at parity."""
import statistics
import sys

PEERS = ["nginx", "lighttpd", "h2o"]
rows = {}  # (scenario, metric) -> list of dicts
header = None
for line in sys.stdin:
    cols = line.rstrip("\n").split("\t")
    if cols[0] == "scenario":
        header = cols
        continue
    if header is None or len(cols) != len(header):
        continue
    rows.setdefault((cols[0], cols[1]), []).append(dict(zip(header, cols)))


def med(values):
    nums = [float(v) for v in values if v not in ("-", "")]
    return statistics.median(nums) if nums else None


print("scenario\tmetric\truns\tcandidate\tnginx\tlighttpd\th2o\tlimit\tbest_peer\tcandidate/best\tper-run ratios")
for (sc, metric), runs in rows.items():
    m = {k: med(r[k] for r in runs) for k in ["candidate", "limit"] + PEERS}
    lower_is_better = metric.startswith("cpu") or metric.startswith("rss")
    peers = [m[p] for p in PEERS if m[p] is not None]
    best = (min(peers) if lower_is_better else max(peers)) if peers else None
    ratio = m["candidate"] / best if best and m["candidate"] is not None else None
    # A run whose ratio is undefined (h2o's idle growth can be 0) shows the candidate's figure.
    per_run = ",".join((r.get("candidate/best") or "").strip("-") or r["candidate"] for r in runs)
    fmt = lambda v: "-" if v is None else (f"{v:.2f}" if v < 100 else f"{v:.0f}")
    print("\t".join([sc, metric, str(len(runs))] + [fmt(m[k]) for k in ["candidate"] + PEERS + ["limit"]]
                    + [fmt(best), "-" if ratio is None else f"{ratio:.2f}", per_run]))
