"""Groups perf script samples (cpu-clock, -g) of one server into jobs."""
import sys, collections, re
CATS = ["ring AES-GCM (crypto)", "rustls records/buffers", "memcpy/memset", "malloc/free",
        "tcpack itself", "tokio/mio", "std/other user", "scheduler: context switch (block/wake in schedule)",
        "futex", "wake-up of a sleeping thread (try_to_wake_up)", "kernel send (sendto/sendmsg/write)", "kernel send: waking the reader (sock_def_readable)",
        "kernel recv (recvfrom/read)", "epoll", "syscall entry/exit, other kernel"]
def user_cat(sym):
    s = sym
    if re.search(r"ring::|aes_|gcm_|GFp|ring_core|chacha|poly1305|_aesni|aesni|ecp_nistz|x25519|sha2|sha512|sha256", s): return CATS[0]
    if "rustls" in s: return CATS[1]
    if re.search(r"mem(cpy|move|set|cmp)|__memmove|__memcpy|__memset", s): return CATS[2]
    if re.search(r"malloc|free|_int_|realloc|tcache|cfree|arena", s): return CATS[3]
    if "tcpack" in s: return CATS[4]
    if "tokio" in s or "mio" in s: return CATS[5]
    return CATS[6]
def kernel_cat(frames):
    names = [f for f in frames]
    joined = " ".join(names)
    if re.search(r"\b(__schedule|schedule|finish_task_switch[.a-z0-9]*|schedule_hrtimeout_range[_a-z]*)\b", joined): return CATS[7]
    if "futex" in joined: return CATS[8]
    if "try_to_wake_up" in joined: return CATS[9]
    if re.search(r"epoll", joined): return CATS[13]
    if re.search(r"sendto|sendmsg|tcp_sendmsg|ksys_write|sock_write_iter", joined):
        return CATS[11] if "sock_def_readable" in names else CATS[10]
    if re.search(r"recvfrom|recvmsg|tcp_recvmsg|ksys_read|sock_read_iter", joined): return CATS[12]
    return CATS[14]
counts = collections.Counter(); total = 0
sample = []
def flush():
    global total
    if not sample: return
    total += 1
    leaf_sym, leaf_dso = sample[0]
    if "kernel" in leaf_dso:
        counts[kernel_cat([s for s, d in sample if "kernel" in d])] += 1
    else:
        counts[user_cat(leaf_sym)] += 1
want = sys.argv[5] if len(sys.argv) > 5 else None
keep = True
for line in open(sys.argv[1], errors="replace"):
    line = line.rstrip("\n")
    if not line.strip():
        if keep: flush()
        sample = []; continue
    if not line.startswith((" ", "\t")):
        if keep: flush()
        sample = []
        keep = want is None or line.split()[0] == want
        continue
    m = re.match(r"\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$", line)
    if m:
        sym = re.sub(r"\+0x[0-9a-f]+$", "", m.group(1))
        sample.append((sym, m.group(2)))
flush()
name, msgs, hz = sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
print(f"{name}: {total} samples at {hz:.0f} Hz over {msgs} messages = {total / hz * 1e6 / msgs:.2f} µs/msg")
for c in CATS:
    if counts[c]:
        print(f"  {100 * counts[c] / total:5.1f}%  {counts[c] / hz * 1e6 / msgs:5.2f} µs/msg  {c}")
