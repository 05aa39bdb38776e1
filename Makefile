# tcpack: the two commands a new user needs are `make run-server` and `make test`.
CARGO ?= cargo
ARGS ?=

.PHONY: build run-server test lint bench deps

build:
	$(CARGO) build --release --locked

## Starts the server on 127.0.0.1:7785; pass flags with ARGS="--framing line".
run-server: build
	./target/release/tcpack server $(ARGS)

## Every test: unit, integration (real binary, sockets, signals) and the nc-driven scripts.
test: deps
	$(CARGO) test --locked

lint:
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings

## tcpack vs a tokio baseline vs the tutorial's Python server, on loopback (not part of make test).
bench:
	scripts/bench.sh

## The scripts' tests need netcat-openbsd's nc (it has -N) and python3 for the tutorial's client.
deps:
	@scripts/ensure-deps.sh
