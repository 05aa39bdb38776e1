import sys, re, collections
G = ["ring (AES-GCM, GHASH)", "rustls (records, buffers, state)", "memcpy/memset", "malloc/free", "tcpack", "tokio/mio", "std/libc/other"]
def group(f):
    if re.search(r"ring_core|ring::", f): return G[0]
    if "rustls" in f: return G[1]
    if re.search(r"mem(move|cpy|set)", f): return G[2]
    if re.search(r"malloc\.c|malloc|free", f): return G[3]
    if "tcpack" in f: return G[4]
    if re.search(r"tokio|mio::", f): return G[5]
    return G[6]
path, per = sys.argv[1], int(sys.argv[2])
c = collections.Counter(); total = 0
import subprocess
out = subprocess.run(["cg_annotate", "--threshold=0", path], capture_output=True, text=True).stdout
started = False
for line in out.splitlines():
    m = re.match(r"\s*(-?[\d,]+)\s+\(\s*-?[\d.]+%\)\s+(.*)$", line)
    if not m: continue
    n = int(m.group(1).replace(",", "")); f = m.group(2)
    if "PROGRAM TOTALS" in f: total = n; continue
    if "file:function" in f: continue
    c[group(f)] += n
print(f"{sys.argv[3]}: {total / per:.0f} instructions per op (user space)")
for g in G:
    if c[g]: print(f"  {c[g] / per:7.0f}  {g}")
