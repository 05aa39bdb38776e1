# tcpack: the two commands a new user needs are `make run-server` and `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: build run-server test test-cluster lint bench bench-ab bench-web syscalls deps screenshot

build:
	$(CARGO) build --release --locked

## Starts the server on 127.0.0.1:7785; pass flags with ARGS="--framing line".
run-server: build
	./target/release/tcpack server $(ARGS)

## Every test: unit, integration (real binary, sockets, signals) and the nc-driven scripts.
test: deps
	@scripts/skips.sh clear
	$(CARGO) test --locked
	@scripts/skips.sh

## Three instances behind HAProxy, restarted one at a time under load (part of make test too).
test-cluster: deps
	$(CARGO) test --locked --test tests cluster:: -- --nocapture

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	python3 scripts/module-cycles.py src

## docs/web-console.png: the web console during a real session, taken by the tests' headless Chromium.
screenshot: deps
	TCPACK_SCREENSHOT=$(CURDIR)/docs/web-console.png $(CARGO) test --locked --test tests web::screenshot_for_the_readme -- --ignored --exact

## tcpack vs std threads, tokio and the tutorial's Python server, on loopback, pinned and in
## interleaved rounds (not part of make test). QUICK=1: a short run; ROUNDS=N: rounds (default 7).
bench:
	scripts/bench.sh $(if $(QUICK),--quick --rounds-only)

## Two builds, before and after: rr -c 64 plain, TLS and relay, interleaved pinned rounds, AFTER/BEFORE ratios.
## BEFORE=path AFTER=path (default: target/release/tcpack); ROUNDS=N (default 5).
AFTER ?= target/release/tcpack
ROUNDS ?= 5
bench-ab:
	@test -n "$(BEFORE)" || { echo "error: make bench-ab needs BEFORE=path/to/tcpack (and AFTER=..., default $(AFTER))" >&2; exit 2; }
	scripts/bench-ab.sh $(BEFORE) $(AFTER) $(ROUNDS)

## What the web console costs: rr -c 64 without --web, with it and no page, one page reading, one stalled (pinned rounds).
bench-web:
	scripts/bench-web.sh

## System calls per message on the server (strace -c -f), for plain TCP, 20 rules and TLS.
syscalls:
	scripts/syscalls.sh

## The tests need netcat-openbsd's nc (it has -N), python3 for the tutorial's client, openssl, socat and haproxy.
deps:
	@scripts/ensure-deps.sh
