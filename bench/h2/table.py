#!/usr/bin/env python3
"""bench/h2.sh's table: reads raw.tsv (run, scenario, metric, server, value) and prints a
markdown table of per-cell medians over the runs, the best peer, pollux/best with the issue's
goal for the three headline rows, and each run's pollux/best so the spread is visible (one
5-second window on this shared 2-core machine moves by 10-15%).

A server with no figure in a cell (it did not start, did not negotiate h2, or answered
something other than 2xx) shows n/a there; the ratio is then n/a too."""
import statistics
import sys

SERVERS = ["pollux", "nginx", "h2o"]
PEERS = ["nginx", "h2o"]
# (scenario, metric): (what it is, which way is better, the goal for pollux/best)
ROWS = {
    ("rps", "req_per_s"): ("h2load -c 32 -m 16, 1 KiB: requests/s", "higher", 1.2),
    ("rps", "cpu_us_per_req"): ("server CPU µs per request", "lower", None),
    ("rps", "busy_pct"): ("server CPU use, %", None, None),
    ("rps", "client_busy_pct"): ("h2load CPU use, %", None, None),
    ("rps", "others_pct"): ("everything else's CPU use, % of one core", None, None),
    ("cpu", "cpu_us_per_req"): ("h2load -c 32 -m 1, 1 KiB: server CPU µs per request", "lower", 1.0),
    ("cpu", "req_per_s"): ("requests/s", "higher", None),
    ("cpu", "busy_pct"): ("server CPU use, %", None, None),
    ("cpu", "client_busy_pct"): ("h2load CPU use, %", None, None),
    ("cpu", "others_pct"): ("everything else's CPU use, % of one core", None, None),
    ("big", "bytes_per_s"): ("h2load -c 1 -m 1, 32 MiB: bytes/s", "higher", 1.0),
    ("big", "cpu_us_per_mib"): ("server CPU µs per MiB", "lower", None),
    ("big", "busy_pct"): ("server CPU use, %", None, None),
    ("big", "client_busy_pct"): ("h2load CPU use, %", None, None),
    ("big", "others_pct"): ("everything else's CPU use, % of one core", None, None),
    ("big", "requests"): ("32 MiB downloads measured (h2load -n)", None, None),
}


def fmt(v):
    if v is None:
        return "n/a"
    if v == int(v) or abs(v) >= 1000:
        return f"{v:,.0f}"
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"


def main(path):
    cells = {}  # (scenario, metric, server) -> {run: value}
    for line in list(open(path, encoding="utf-8"))[1:]:
        run, sc, metric, server, value = line.rstrip("\n").split("\t")
        if value != "":
            cells.setdefault((sc, metric, server), {})[run] = float(value)
    print("| scenario | figure | better | pollux | nginx | h2o | best peer | pollux/best | goal | runs | per-run pollux/best |")
    print("|---|---|---|--:|--:|--:|--:|--:|---|--:|---|")
    for (sc, metric), (what, better, goal) in ROWS.items():
        if not any((sc, metric, s) in cells for s in SERVERS):
            continue
        med = {s: statistics.median(cells[(sc, metric, s)].values()) if (sc, metric, s) in cells else None
               for s in SERVERS}
        pick = min if better == "lower" else max
        peers = [med[p] for p in PEERS if med[p] is not None]
        best = pick(peers) if better and peers else None
        ratio = med["pollux"] / best if best and med["pollux"] is not None else None
        per_run = []
        for run, v in sorted(cells.get((sc, metric, "pollux"), {}).items()):
            pv = [cells[(sc, metric, p)][run] for p in PEERS if run in cells.get((sc, metric, p), {})]
            if better and pv and pick(pv):
                per_run.append(f"{v / pick(pv):.2f}")
        if goal is None:
            goal_s = ""
        else:
            sign = "≥" if better == "higher" else "≤"
            met = "" if ratio is None else (" met" if (ratio >= goal if better == "higher" else ratio <= goal) else " **not met**")
            goal_s = f"{sign} {goal:.2f}{met}"
        nruns = max(len(cells.get((sc, metric, s), {})) for s in SERVERS)
        print(f"| {sc} | {what} | {better or '(context)'} | " + " | ".join(fmt(med[s]) for s in SERVERS)
              + f" | {fmt(best) if best else '-'} | {'-' if not better else 'n/a' if ratio is None else f'{ratio:.2f}'}"
              + f" | {goal_s} | {nruns} | {', '.join(per_run) or '-'} |")


if __name__ == "__main__":
    main(sys.argv[1])
