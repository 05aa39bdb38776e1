"""The results side of scripts/bench-ab.sh (`make bench-ab`).

    python3 bench/ab_table.py RUNS.jsonl

Reads the runs (one JSON line each: round, side before/after, mode,
msgs_per_s, cpu_us_per_msg, switches_per_msg, errors) and prints per mode
the AFTER/BEFORE ratio of each round's pair, as the median and [range]
over the rounds, then each side's medians.
"""

import json
import statistics
import sys

FIELDS = [("cpu_us_per_msg", "CPU/msg"), ("msgs_per_s", "msgs/s"), ("switches_per_msg", "switches/msg")]


def spread(values):
    if not values:
        return "-"
    return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"


def main(path):
    with open(path) as lines:
        runs = [json.loads(line) for line in lines if line.strip()]
    by = {}
    modes = []
    for run in runs:
        if run["mode"] not in modes:
            modes.append(run["mode"])
        by.setdefault((run["mode"], run["side"]), {})[run["round"]] = run
    print("AFTER/BEFORE per round: median [min-max]")
    print(f"{'mode':<6} " + " ".join(f"{label:>24}" for _, label in FIELDS) + f" {'errors':>7}")
    for mode in modes:
        before, after = by.get((mode, "before"), {}), by.get((mode, "after"), {})
        both = sorted(set(before) & set(after))
        cells = []
        for field, _ in FIELDS:
            ratios = [after[r][field] / before[r][field] for r in both if before[r][field]]
            cells.append(spread(ratios))
        errors = sum(before[r]["errors"] + after[r]["errors"] for r in both)
        print(f"{mode:<6} " + " ".join(f"{c:>24}" for c in cells) + f" {errors:>7}")
    print("per side, median over the rounds:")
    for mode in modes:
        for side in ("before", "after"):
            per = list(by.get((mode, side), {}).values())
            if not per:
                continue
            cpu = statistics.median(r["cpu_us_per_msg"] for r in per)
            ops = statistics.median(r["msgs_per_s"] for r in per)
            sw = statistics.median(r["switches_per_msg"] for r in per)
            print(f"  {mode:<6} {side:<7} CPU {cpu:6.2f} µs/msg  {ops:9.0f} msgs/s  {sw:5.2f} switches/msg")
    print(f"runs: {path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/ab_table.py RUNS.jsonl")
    main(sys.argv[1])
