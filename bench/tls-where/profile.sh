#!/bin/bash
# As run for docs/bench.md "Where TLS's time goes"; see bench/tls-where/README.md.
# profile.sh NAME: perf record -e cpu-clock -g (CPU 0, system-wide) around rr -c 64 -n 3000 against one server
set -e
cd /tmp/prof
name=$1
case $name in
  plain) cmd=(/tmp/measure/tcpack server --bind 127.0.0.1:0 --framing line --quiet); tls=();;
  tls) cmd=(/tmp/measure/tcpack server --bind 127.0.0.1:0 --framing line --quiet --tls-cert tls.pem --tls-key tls.key); tls=(--tls --insecure);;
  tokio) cmd=(/tmp/measure/tokio_baseline 127.0.0.1:0); tls=();;
  tokio-tls) cmd=(/tmp/measure/tokio_tls_baseline 127.0.0.1:0 tls.pem tls.key); tls=(--tls --insecure);;
esac
taskset -c 0 "${cmd[@]}" > $name.log 2>&1 &
P=$!
for i in $(seq 100); do grep -q 'listening on' $name.log && break; sleep 0.1; done
port=$(grep -m1 -o 'listening on [0-9.]*:[0-9]*' $name.log | sed 's/.*://')
sleep 2
taskset -c 1 /tmp/measure/tcpack bench 127.0.0.1:$port -c 64 -n 200 -d 60 --warmup 0 "${tls[@]}" >/dev/null 2>&1
perf record -e cpu-clock -F 4999 -g -a -C 0 -o $name.data 2>$name.rec.err &
R=$!
sleep 3
taskset -c 1 /tmp/measure/tcpack bench 127.0.0.1:$port -c 64 -n 3000 -d 60 --warmup 0 "${tls[@]}" --json > $name.json 2>/dev/null
kill -INT $R; wait $R || true
kill $P; echo $P > $name.pid
python3 -c 'import json; r=json.load(open("'$name'.json")); print("'$name'", r["ops"], int(r["ops_per_sec"]))'
