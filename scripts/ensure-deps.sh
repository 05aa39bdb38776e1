#!/usr/bin/env bash
# Installs what the tests need beyond Rust: netcat-openbsd's nc, python3 and iconv.
# Uses apt-get where it can; otherwise says exactly what to install.
set -euo pipefail

missing=()
# netcat-openbsd is the nc with -N (close the socket when stdin ends).
nc_help=$(nc -h 2>&1 || true)
if ! command -v nc >/dev/null 2>&1 || ! grep -q -- '-N' <<<"$nc_help"; then
    missing+=(netcat-openbsd)
fi
command -v python3 >/dev/null 2>&1 || missing+=(python3)
command -v iconv >/dev/null 2>&1 || missing+=(libc-bin)

if [ ${#missing[@]} -eq 0 ]; then
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; fi
fi
if command -v apt-get >/dev/null 2>&1 && { [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; }; then
    echo "installing ${missing[*]} with apt-get" >&2
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
else
    echo "error: the tests need ${missing[*]}; install them (Debian/Ubuntu: apt-get install ${missing[*]}) and run make test again" >&2
    exit 1
fi
