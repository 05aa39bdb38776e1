#!/usr/bin/env bash
# gbk.sh HOST PORT TEXT
# Sends TEXT and a newline encoded as GBK, as a Windows "network debugging
# assistant" does, over one nc connection, and prints the acks (converted
# from GBK when the server runs with --reply-encoding gbk, so they read right).
set -euo pipefail
# shellcheck source=scripts/common.sh
source "$(dirname "$0")/common.sh"

case "${1:-}" in -h|--help) show_help; exit 0 ;; esac
[ $# -eq 3 ] || usage_error "expected HOST PORT TEXT, got $# arguments"
host=$1 port=$2 text=$3
check_port "$port"
need_nc
command -v iconv >/dev/null 2>&1 || die "iconv is not installed (Debian: apt-get install libc-bin)"

encoded=$(mktemp)
acks=$(mktemp)
trap 'rm -f "$encoded" "$acks"' EXIT
printf '%s\n' "$text" | iconv -f UTF-8 -t GBK >"$encoded" \
    || die "TEXT has characters GBK cannot encode"
nc -N -w "$NC_TIMEOUT" "$host" "$port" <"$encoded" >"$acks"
# Valid UTF-8 is shown as it is; anything else is taken for GBK.
if iconv -f UTF-8 -t UTF-8 "$acks" >/dev/null 2>&1; then
    cat "$acks"
else
    iconv -f GBK -t UTF-8 "$acks"
fi
