"""The results side of scripts/tls-costs.sh.

    python3 bench/tls_costs_table.py RUNS.jsonl

Each line is one run (round, server, scenario, cpu_us, user_us, sys_us,
switches per op). Prints per server the median and [range] of each, then,
per round and as median [range]: tcpack/tokio ratios plain and TLS, and
TLS's extra over plain (TLS - plain) for tcpack and for tokio, and the
handshake ratios.
"""

import json
import statistics
import sys


def spread(values, unit="", digits=2):
    if not values:
        return "-"
    f = f"{{:.{digits}f}}"
    return f"{f.format(statistics.median(values))}{unit} [{f.format(min(values))}-{f.format(max(values))}]"


def main(path):
    with open(path) as lines:
        runs = [json.loads(line) for line in lines if line.strip()]
    by = {}
    for run in runs:
        by.setdefault((run["scenario"], run["server"]), {})[run["round"]] = run
    print("per server, median [range] per op (message, or handshake in conn):")
    for (scenario, server), per in sorted(by.items()):
        rs = list(per.values())
        print(
            f"  {scenario:<4} {server:<10} CPU {spread([r['cpu_us'] for r in rs], ' µs'):<26}"
            f" user {spread([r['user_us'] for r in rs], ''):<20} sys {spread([r['sys_us'] for r in rs], ''):<20}"
            f" switches {spread([r['switches'] for r in rs], ''):<18}"
            f" {statistics.median(r['ops_per_sec'] for r in rs):8.0f} ops/s  errors {sum(r['errors'] for r in rs)}"
        )

    def per_round(scenario, fn):
        servers = [k[1] for k in by if k[0] == scenario]
        rounds = set.intersection(*(set(by[(scenario, s)]) for s in servers)) if servers else set()
        out = []
        for n in sorted(rounds):
            value = fn({s: by[(scenario, s)][n] for s in servers})
            if value is not None:
                out.append(value)
        return out

    print("\nrr -c 64, per round then median [range]:")
    for field, label in (("cpu_us", "CPU µs/msg"), ("switches", "switches/msg")):
        for name, fn in (
            ("tcpack plain / tokio", lambda r, f=field: r["plain"][f] / r["tokio"][f] if r["tokio"][f] else None),
            ("tcpack TLS / tokio-rustls", lambda r, f=field: r["tls"][f] / r["tokio-tls"][f] if r["tokio-tls"][f] else None),
            ("tcpack TLS / tcpack plain", lambda r, f=field: r["tls"][f] / r["plain"][f]),
            ("tokio-rustls / tokio", lambda r, f=field: r["tokio-tls"][f] / r["tokio"][f] if r["tokio"][f] else None),
        ):
            values = per_round("rr", fn)
            print(f"  {label:<13} {name:<28} {spread(values, 'x'):<24} {' '.join(f'{v:.2f}' for v in values)}")
        for name, fn in (
            ("tcpack TLS - plain", lambda r, f=field: r["tls"][f] - r["plain"][f]),
            ("tokio-rustls - tokio", lambda r, f=field: r["tokio-tls"][f] - r["tokio"][f]),
            ("(tcpack extra)-(tokio extra)", lambda r, f=field: (r["tls"][f] - r["plain"][f]) - (r["tokio-tls"][f] - r["tokio"][f])),
        ):
            values = per_round("rr", fn)
            print(f"  {label:<13} {name:<28} {spread(values):<24} {' '.join(f'{v:.2f}' for v in values)}")
    print("\nconn -c 16 (full handshakes), per round then median [range]:")
    for field, label in (("cpu_us", "CPU µs/hs"), ("switches", "switches/hs")):
        values = per_round("conn", lambda r, f=field: r["tls"][f] / r["tokio-tls"][f] if r["tokio-tls"][f] else None)
        print(f"  {label:<13} {'tcpack TLS / tokio-rustls':<28} {spread(values, 'x'):<24} {' '.join(f'{v:.2f}' for v in values)}")
    print(f"\nruns: {path}")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: bench/tls_costs_table.py RUNS.jsonl")
    main(sys.argv[1])
