#!/usr/bin/env bash
# skips.sh [clear]
# The tests that skipped themselves at run time (no IPv6 loopback, say) and
# why, from the files tests/util.rs's skip() leaves; cargo counts them as
# passed, so `make test` prints this after them. With `clear`, forgets the
# last run's skips (make test does this first).
set -euo pipefail
dir="${CARGO_TARGET_DIR:-$(cd "$(dirname "$0")/.." && pwd)/target}/tmp/skipped"
case "${1:-}" in
    -h|--help) sed -n '2,6p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    clear) rm -rf "$dir"; exit 0 ;;
    "") ;;
    *) echo "error: skips.sh takes no argument or 'clear'" >&2; exit 2 ;;
esac
count=0
[ -d "$dir" ] && count=$(find "$dir" -type f | wc -l)
echo "skipped at run time: $count tests (counted as passed above)"
if [ "$count" -gt 0 ]; then
    cat "$dir"/* | sed 's/^/  skipped /'
fi
