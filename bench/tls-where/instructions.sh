#!/bin/bash
# As run for docs/bench.md "Where TLS's time goes"; see bench/tls-where/README.md.
# instructions.sh NAME N: user-space instructions (valgrind cachegrind Ir) of one server under rr -c 16 -n N, then exit.
cd /tmp/vg
name=$1 n=$2 scen=${3:-rr}
case $name in
  plain) cmd=(/tmp/measure/tcpack server --bind 127.0.0.1:0 --framing line --quiet --workers 32); tls=();;
  tls) cmd=(/tmp/measure/tcpack server --bind 127.0.0.1:0 --framing line --quiet --workers 32 --tls-cert tls.pem --tls-key tls.key); tls=(--tls --insecure);;
  tokio) cmd=(/tmp/measure/tokio_baseline 127.0.0.1:0); tls=();;
  tokio-tls) cmd=(/tmp/measure/tokio_tls_baseline 127.0.0.1:0 tls.pem tls.key); tls=(--tls --insecure);;
esac
out=$name-$scen-$n
valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=$out.cg "${cmd[@]}" > $out.log 2>&1 &
P=$!
for i in $(seq 600); do grep -q 'listening on' $out.log && break; sleep 0.1; done
port=$(grep -m1 -o 'listening on [0-9.]*:[0-9]*' $out.log | sed 's/.*://')
/tmp/measure/tcpack bench 127.0.0.1:$port --scenario $scen -c 16 -n $n -d 600 --timeout 120 --warmup 0 "${tls[@]}" --json > $out.json 2>$out.err
# the valgrind process: SIGINT to the server under it
kill -TERM $P; for i in $(seq 600); do kill -0 $P 2>/dev/null || break; sleep 0.1; done
python3 -c 'import json; r=json.load(open("'$out'.json")); print("'$out'", r["ops"], r["errors"], r["timeouts"])'
grep -m1 'I *refs' $out.log
