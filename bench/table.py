"""The results side of scripts/bench.sh (`make bench`).

    python3 bench/table.py --tag SERVER CASE < REPORT.json
        Prints the `tcpack bench --json` report read on stdin as one line,
        tagged with the server it ran against and the case it ran, for
        bench.sh to append to its RESULTS.jsonl.

    python3 bench/table.py RESULTS.jsonl OUT.json
        Stores every run with a description of the machine in OUT.json and
        prints the table: each case per server, with ratios against tokio,
        then how much sooner tcpack answers its slowest client than the
        tutorial's server does.

    python3 bench/table.py --rounds ROUNDS.jsonl PINNING ROUNDS
        Prints issue 20's comparisons from interleaved rounds (each line a
        tagged report with its "round"): per comparison, the ratio of CPU
        per message (or handshake) and of messages/s taken in each round,
        then their median and range, next to the target.
"""

import json
import os
import platform
import statistics
import sys

BASELINE = "tokio"
# Servers compared with another tcpack rather than with tokio.
COMPARED_WITH = {
    "rules20": "tcpack",
    "state20": "rules20",
    "tls": "tokio-tls",
    "tcpack-udp": "tokio-udp",
    "python-udp": "tokio-udp",
    "relay": "tokio-relay",
    "std-relay": "tokio-relay",
}


def tag(server, case):
    report = json.load(sys.stdin)
    report["server_name"] = server
    report["case"] = case
    print(json.dumps(report))


def machine():
    with open("/proc/cpuinfo") as cpuinfo:
        cpu = next((line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")), "?")
    return {"cpus": os.cpu_count(), "kernel": platform.release(), "cpu": cpu}


def ratios(run, base):
    """`ops 1.02x, p99 0.97x, ...` of RUN against the baseline's run of the same case."""
    server, base_server = run.get("server") or {}, base.get("server") or {}
    parts = [
        f"ops {run['ops_per_sec'] / max(base['ops_per_sec'], 1e-9):.2f}x",
        f"p99 {run['latency_us']['p99'] / max(base['latency_us']['p99'], 1e-9):.2f}x",
    ]
    if base_server.get("cpu_us_per_op"):
        parts.append(f"cpu/op {server.get('cpu_us_per_op', 0) / base_server['cpu_us_per_op']:.2f}x")
    if run.get("first_ack_max_ms") and base.get("first_ack_max_ms"):
        parts.append(f"1st-ack {run['first_ack_max_ms'] / base['first_ack_max_ms']:.2f}x")
    return ", ".join(parts)


def row(run, base):
    if "cpu_ticks" in run:
        return f"{run['case']:<44} {run['server_name']:<10} idle CPU ticks (1/100 s) over 5 s: {run['cpu_ticks']}"
    server = run.get("server") or {}
    ratio = ratios(run, base) if base and run["server_name"] != BASELINE else ""
    first = run.get("first_ack_max_ms")
    first = f"{first:.2f}" if first is not None else "-"
    latency = run["latency_us"]
    return (
        f"{run['case']:<44} {run['server_name']:<10} {run['ops_per_sec']:>10.0f} {latency['p50']:>8.1f} "
        f"{latency['p99']:>8.1f} {latency['max']:>9.1f} {server.get('cpu_us_per_op', 0):>9.2f} {first:>14} "
        f"{server.get('rss_kib', 0):>8} {run['errors'] + run['timeouts']:>4} {run['busy']:>4}  {ratio}"
    )


def table(results, out):
    with open(results) as lines:
        runs = [json.loads(line) for line in lines]
    about = machine()
    with open(out, "w") as stored:
        json.dump({"machine": about, "runs": runs}, stored, indent=2)
    by_server = {}
    for run in runs:
        by_server.setdefault(run["server_name"], {})[run["case"]] = run
    print(f"\nmachine: {about['cpus']} CPUs, {about['cpu']}, Linux {about['kernel']}")
    print(
        f"{'case':<44} {'server':<10} {'ops/s':>10} {'p50 µs':>8} {'p99 µs':>8} {'max µs':>9} {'CPU µs/op':>9} "
        f"{'1st-ack max ms':>14} {'RSS KiB':>8} {'err':>4} {'busy':>4}  vs {BASELINE}"
    )
    for run in runs:
        base_name = COMPARED_WITH.get(run["server_name"], BASELINE)
        base = by_server.get(base_name, {}).get(run["case"])
        line = row(run, base)
        if base_name != BASELINE and base:
            line = line.rstrip() + f"  (vs {base_name})"
        print(line)
    fair = {run["server_name"]: run for run in runs if run["case"].startswith("rr -c 16 -n")}
    if "python" in fair and "tcpack" in fair and fair["tcpack"]["first_ack_max_ms"]:
        sooner = fair["python"]["first_ack_max_ms"] / fair["tcpack"]["first_ack_max_ms"]
        print(
            f"\nfairness (rr, 16 connections): the slowest first ack came "
            f"{sooner:.0f}x sooner with tcpack than with the tutorial's server"
        )
    print(f"\nresults: {out}")


# (label, server, its baseline, scenario prefix, target for CPU per op, target for ops/s)
COMPARISONS = [
    ("tcpack (default workers) vs std spawn-per-connection", "tcpack", "std", "rr", "<= 1.10", None),
    ("tcpack --workers 64 vs std spawn-per-connection", "tcpack-w64", "std", "rr", None, None),
    ("tcpack (default workers) vs tcpack --workers 64", "tcpack", "tcpack-w64", "rr", "<= 1.05", None),
    ("tcpack vs tokio", "tcpack", "tokio", "rr", None, ">= 0.90"),
    ("tcpack TLS vs tokio-rustls", "tls", "tokio-tls", "rr", "<= 1.20", ">= 0.90"),
    ("tcpack TLS vs tcpack plain", "tls", "tcpack", "rr", None, None),
    ("tcpack with 20 rules vs plain", "rules20", "tcpack", "rr", "<= 1.15", ">= 0.90"),
    ("tcpack with 20 rules, 6 of them stateful, vs the same without state", "state20", "rules20", "rr", "<= 1.15", ">= 0.90"),
    ("TLS handshakes (conn -c 16): tcpack vs tokio-rustls", "tls", "tokio-tls", "conn", "<= 1.10", ">= 0.95"),
    ("tcpack relay in front of tcpack vs tcpack direct", "relay", "tcpack", "rr", None, ">= 0.45"),
    ("tcpack relay vs tokio copy_bidirectional relay", "relay", "tokio-relay", "rr", "<= 1.25", ">= 0.85"),
    ("tcpack relay vs std threads relay (the design's floor)", "relay", "std-relay", "rr", "<= 1.05", None),
    ("std threads relay vs tokio relay", "std-relay", "tokio-relay", "rr", None, None),
]


def rounds(results, pinning, count):
    with open(results) as lines:
        runs = [json.loads(line) for line in lines]
    # (server, scenario) -> round -> run
    by = {}
    for run in runs:
        scenario = run["case"].split()[0]
        by.setdefault((run["server_name"], scenario), {})[run["round"]] = run
    about = machine()
    print(f"\nrounds: {count}, {pinning}; machine: {about['cpus']} CPUs, {about['cpu']}, Linux {about['kernel']}")
    print("ratios per round, then median [min-max]; CPU from /proc/PID/stat over each run")
    print(f"{'comparison':<56} {'CPU per op':>24} {'target':>8} {'ops/s':>24} {'target':>8}")

    def spread(values):
        if not values:
            return "-"
        return f"{statistics.median(values):.2f}x [{min(values):.2f}-{max(values):.2f}]"

    for label, server, base, scenario, cpu_target, ops_target in COMPARISONS:
        mine, theirs = by.get((server, scenario), {}), by.get((base, scenario), {})
        cpu, ops = [], []
        for number in sorted(set(mine) & set(theirs)):
            a, b = mine[number], theirs[number]
            a_cpu = (a.get("server") or {}).get("cpu_us_per_op")
            b_cpu = (b.get("server") or {}).get("cpu_us_per_op")
            if a_cpu and b_cpu:
                cpu.append(a_cpu / b_cpu)
            if b["ops_per_sec"]:
                ops.append(a["ops_per_sec"] / b["ops_per_sec"])
        print(f"{label:<56} {spread(cpu):>24} {cpu_target or '':>8} {spread(ops):>24} {ops_target or '':>8}")
    print("\nper server, median over the rounds:")
    for (server, scenario), per_round in sorted(by.items()):
        cpu = [(r.get("server") or {}).get("cpu_us_per_op", 0) for r in per_round.values()]
        ops = [r["ops_per_sec"] for r in per_round.values()]
        errors = sum(r["errors"] + r["timeouts"] for r in per_round.values())
        print(
            f"  {scenario:<5} {server:<11} CPU {statistics.median(cpu):7.2f} µs/op [{min(cpu):.2f}-{max(cpu):.2f}]"
            f"  {statistics.median(ops):9.0f} ops/s [{min(ops):.0f}-{max(ops):.0f}]  errors {errors}"
        )


def main(args):
    if len(args) == 3 and args[0] == "--tag":
        tag(args[1], args[2])
    elif len(args) == 4 and args[0] == "--rounds":
        rounds(args[1], args[2], args[3])
    elif len(args) == 2 and not args[0].startswith("-"):
        table(args[0], args[1])
    else:
        sys.exit(
            "usage: bench/table.py --tag SERVER CASE < REPORT.json\n"
            "       bench/table.py RESULTS.jsonl OUT.json\n"
            "       bench/table.py --rounds ROUNDS.jsonl PINNING ROUNDS"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
