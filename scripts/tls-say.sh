#!/usr/bin/env bash
# tls-say.sh HOST PORT MESSAGE...
# Like say.sh, over TLS with `openssl s_client`: sends each MESSAGE as a line
# on one TLS connection, waits for its ack and prints it. The server's
# certificate is checked against TLS_CA (a PEM file, such as the one
# `tcpack server --tls-self-signed --tls-save-cert FILE` wrote) when set, and
# not checked otherwise. Exit status: 0 when every message was acked, 1 when
# the handshake failed, an ack did not come within NC_TIMEOUT seconds
# (default 10) or the server closed first.
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
say_args "$@"
command -v openssl >/dev/null 2>&1 || die "openssl is not installed: install it (apt-get install openssl)"

verify=()
if [ -n "${TLS_CA:-}" ]; then
    [ -r "$TLS_CA" ] || die "TLS_CA=$TLS_CA is not a readable file"
    verify=(-CAfile "$TLS_CA" -verify_return_error -verify_ip "$host")
fi

errors=$(mktemp)
trap 'rm -f "$errors"' EXIT
# -quiet: only the server's bytes on stdout; the handshake's chatter goes to $errors.
if ! open_peer timeout "$((NC_TIMEOUT * 2 + 10))" openssl s_client -connect "$host:$port" -quiet "${verify[@]}"; then
    die "no TLS connection to $host:$port: $(tr '\n' ' ' <"$errors")"
fi
for message in "${say_messages[@]}"; do
    if ! { printf '%s\n' "$message" >&"$to_peer"; } 2>/dev/null; then
        die "the TLS connection to $host:$port closed before '$message' was sent: $(tr '\n' ' ' <"$errors")"
    fi
    status=0
    IFS= read -r -t "$NC_TIMEOUT" ack <&"$from_peer" || status=$?
    if [ "$status" -gt 128 ]; then
        die "no ack for '$message' from $host:$port within $NC_TIMEOUT s"
    elif [ "$status" -ne 0 ]; then
        die "$host:$port closed the TLS connection before acking '$message': $(tr '\n' ' ' <"$errors")"
    fi
    printf '%s\n' "$ack"
done
# s_client -quiet ignores the end of its input: end it once every ack is in.
exec {to_peer}>&- {from_peer}<&-
if [ -n "$peer_pid" ]; then
    kill "$peer_pid" 2>/dev/null || true
    wait "$peer_pid" 2>/dev/null || true
fi
