#!/bin/bash
# As run for docs/bench.md "Where TLS's time goes"; see bench/tls-where/README.md.
# one_handshake.sh NAME: strace -f of the server for ONE TLS handshake (conn -c 1 -n 1), after a warm-up.
cd /tmp/prof; name=$1
case $name in
  tls) cmd=(/tmp/measure/tcpack server --bind 127.0.0.1:0 --framing line --quiet --tls-cert tls.pem --tls-key tls.key);;
  tokio-tls) cmd=(/tmp/measure/tokio_tls_baseline 127.0.0.1:0 tls.pem tls.key);;
esac
"${cmd[@]}" > hs-$name.log 2>&1 &
P=$!
for i in $(seq 100); do grep -q 'listening on' hs-$name.log && break; sleep 0.1; done
port=$(grep -m1 -o 'listening on [0-9.]*:[0-9]*' hs-$name.log | sed 's/.*://')
/tmp/measure/tcpack bench 127.0.0.1:$port --scenario conn -c 4 -n 10 -d 30 --warmup 0 --tls --insecure >/dev/null 2>&1
sleep 3
strace -f -qq -e 'trace=!clock_gettime' -p $P -o hs-$name.strace &
S=$!
for i in $(seq 100); do ! grep -q 'TracerPid:[[:space:]]*0$' /proc/$P/task/*/status && break; sleep 0.1; done
/tmp/measure/tcpack bench 127.0.0.1:$port --scenario conn -c 1 -n 1 -d 30 --warmup 0 --tls --insecure >/dev/null 2>&1
sleep 1.5
kill -INT $S; wait $S; kill $P
