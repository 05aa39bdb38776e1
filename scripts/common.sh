# shellcheck shell=bash
# Shared by the scripts: argument checks, the nc they need, a work directory
# and the servers they start. Source it.

# die MESSAGE: one clear line on stderr, exit 1.
die() {
    echo "error: $*" >&2
    exit 1
}

# usage_error MESSAGE: what was wrong and how to ask for help, exit 2.
usage_error() {
    echo "error: $*" >&2
    echo "try: $0 --help" >&2
    exit 2
}

# need_nc: netcat-openbsd's nc, which has -N (close the socket when stdin ends).
need_nc() {
    command -v nc >/dev/null 2>&1 || die "nc is not installed: install netcat-openbsd (apt-get install netcat-openbsd)"
    nc -h 2>&1 | grep -q -- '-N' || die "this nc has no -N option: install netcat-openbsd (apt-get install netcat-openbsd)"
}

# check_port PORT
check_port() {
    if ! [[ "$1" =~ ^[0-9]+$ ]] || [ "$1" -lt 1 ] || [ "$1" -gt 65535 ]; then
        usage_error "port '$1' is not a number from 1 to 65535"
    fi
}

# check_count NAME VALUE MAX: a whole number from 1 to MAX, so every loop is bounded.
check_count() {
    if ! [[ "$2" =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt "$3" ]; then
        usage_error "$1 '$2' must be a whole number from 1 to $3"
    fi
}

# show_help: prints the comment block at the top of the calling script.
show_help() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"
}

# Seconds nc waits on a silent connection before giving up (nc -w).
NC_TIMEOUT=${NC_TIMEOUT:-10}

# wait_until DESCRIPTION COMMAND...: retries COMMAND for up to 10 s (a bound, not a pause).
wait_until() {
    local what=$1
    shift
    for _ in $(seq 200); do
        if "$@"; then return 0; fi
        sleep 0.05
    done
    die "timed out waiting for $what"
}

# make_workdir: a temporary directory in $work, removed on exit together
# with the server start_server started and any background job still running.
make_workdir() {
    work=$(mktemp -d)
    server_pid=""
    trap cleanup_workdir EXIT
}

cleanup_workdir() {
    [ -z "$server_pid" ] || kill "$server_pid" 2>/dev/null || true
    jobs -p | xargs -r kill 2>/dev/null || true
    rm -rf "$work"
}

# start_listening LOG COMMAND...: runs COMMAND in the background with its
# output in LOG, waits (bounded) for its "listening on HOST:PORT" line, and
# sets server_pid and port. If COMMAND exits first or never says so, shows
# its output and exits 1.
start_listening() {
    local log=$1 name=${2##*/}
    shift
    # A background job's stdin is /dev/null unless redirected on the job itself.
    "$@" <"${SERVER_STDIN:-/dev/null}" >"$log" 2>&1 &
    # shellcheck disable=SC2034 # for the sourcing script
    server_pid=$!
    if ! (wait_until "$name to listen" listening_or_gone "$log" "$server_pid") \
        || ! grep -q "listening on" "$log"; then
        echo "error: $name is not listening; its output:" >&2
        cat "$log" >&2
        exit 1
    fi
    # shellcheck disable=SC2034 # for the sourcing script
    port=$(grep -m1 -o 'listening on [0-9.]*:[0-9]*' "$log" | sed 's/.*://')
}

# make_test_cert: $work/tls.pem and $work/tls.key, made for this run: an
# ECDSA P-256 certificate for localhost and 127.0.0.1, as --tls-self-signed
# makes (never a committed key).
make_test_cert() {
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 1 \
        -subj /CN=localhost -addext subjectAltName=DNS:localhost,IP:127.0.0.1 \
        -keyout "$work/tls.key" -out "$work/tls.pem" 2>/dev/null
}

# serve NAME COMMAND...: start_listening with COMMAND on the servers' CPU
# (pin_cores first), its log in $work/NAME.log; notes its pid and address
# as pid[NAME] and addr[NAME]. make_workdir's cleanup stops it with the
# other background jobs.
declare -A pid addr
serve() {
    local name=$1
    shift
    start_listening "$work/$name.log" "${on_server[@]}" "$@"
    # shellcheck disable=SC2034 # for the sourcing script
    pid[$name]=$server_pid
    # shellcheck disable=SC2034 # for the sourcing script
    addr[$name]=127.0.0.1:$port
    server_pid=""
}

# listening_or_gone LOG PID: whether LOG says "listening on", or PID has exited.
listening_or_gone() {
    grep -q "listening on" "$1" || ! kill -0 "$2" 2>/dev/null
}

# start_server LOG ARGS...: start_listening with `tcpack server --bind
# 127.0.0.1:0 ARGS`. Uses $TCPACK, or target/release/tcpack (built first if
# missing).
start_server() {
    local log=$1 root tcpack
    shift
    root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    tcpack=${TCPACK:-$root/target/release/tcpack}
    if [ ! -x "$tcpack" ]; then
        (cd "$root" && cargo build --release --quiet) || die "could not build tcpack"
    fi
    start_listening "$log" "$tcpack" server --bind 127.0.0.1:0 "$@"
}

# stop_server LOG: Ctrl-C for the server start_server started, a bounded
# wait for it to exit, then its log; fails unless it exited 0.
stop_server() {
    local status=0
    kill -INT "$server_pid"
    wait_until "the server to exit" bash -c "! kill -0 $server_pid 2>/dev/null"
    wait "$server_pid" || status=$?
    server_pid=""
    echo "== server log"
    cat "$1"
    [ "$status" -eq 0 ] || die "the server exited with status $status, not 0"
}

# lines_in FILE N: whether FILE has at least N lines.
lines_in() {
    local n
    n=$(grep -c '' "$1" 2>/dev/null) || n=0
    [ "$n" -ge "$2" ]
}

# say_args "$@": the HOST PORT MESSAGE... of the say scripts, checked; sets
# host, port and messages.
# shellcheck disable=SC2034 # host, port and say_messages are for the sourcing script
say_args() {
    [ $# -ge 3 ] || usage_error "expected HOST PORT MESSAGE..., got $# arguments"
    host=$1 port=$2
    shift 2
    check_port "$port"
    [ $# -le 10000 ] || usage_error "at most 10000 messages"
    say_messages=("$@")
}

# open_peer COMMAND...: runs COMMAND as a coprocess, its stderr in the file $errors,
# and sets peer_pid and the descriptors to_peer and from_peer. They are our
# own copies: bash forgets the coprocess's pid and closes its descriptors
# once it exits, perhaps before its last answer is read. Fails if COMMAND
# is gone already.
# shellcheck disable=SC2034,SC2154 # errors is set, the descriptors used, by the sourcing script
open_peer() {
    # A peer that is gone (refused, closed) must fail the script's write
    # with its message, not kill the script with SIGPIPE.
    trap '' PIPE
    coproc PEER { exec "$@" 2>"$errors"; }
    peer_pid=${PEER_PID:-}
    { exec {to_peer}>&"${PEER[1]:-}" {from_peer}<&"${PEER[0]:-}"; } 2>/dev/null
}

# pin_cores [LOAD]: sets on_server and on_client, the commands' prefixes
# that pin servers to CPU 0 and the load (LOAD names it) to CPU 1, and
# pinned, which says so; both empty where there are fewer than 2 CPUs or
# no taskset. Unpinned, the two share both cores and hide per-message costs.
pin_cores() {
    # shellcheck disable=SC2034 # for the sourcing script
    if [ "$(nproc)" -ge 2 ] && command -v taskset >/dev/null 2>&1; then
        on_server=(taskset -c 0) on_client=(taskset -c 1) pinned="server on CPU 0, ${1:-load} on CPU 1"
    else
        on_server=() on_client=() pinned="not pinned (fewer than 2 CPUs, or no taskset)"
    fi
}
