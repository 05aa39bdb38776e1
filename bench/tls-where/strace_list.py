import sys, re
lines = open(sys.argv[1]).read().splitlines()
start = next(i for i, l in enumerate(lines) if re.search(r"accept4\(\d+, \{|epoll_wait resumed", l))
out = []
threads = {}
for l in lines[start:]:
    m = re.match(r"(\d+)\s+(.*)$", l)
    if not m: continue
    tid, rest = m.groups()
    if rest.startswith("<..."):
        continue
    if "detached" in rest: continue
    name = rest.split("(")[0]
    if name == "restart_syscall": continue
    t = threads.setdefault(tid, f"T{len(threads)}")
    short = re.sub(r'"[^"]*"(\.\.\.)?', '"…"', rest)
    short = re.sub(r"\s*<unfinished \.\.\.>", "", short)
    out.append(f"{t:<3} {short[:80]}")
# the trailing accept4 that waits for the next client is not part of this handshake
for o in out: print(o)
print(f"calls: {len(out)}")
