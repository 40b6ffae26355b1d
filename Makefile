# The two commands of the README. Both work on a fresh machine with Node >= 20.19 and npm:
# they install pnpm when missing, build native modules against the system's Node headers when
# they exist (/usr/include/node), install every dependency, then run.
SHELL := /bin/bash
NODEDIR := $(if $(wildcard /usr/include/node/node.h),/usr,)
export npm_config_nodedir := $(NODEDIR)

.PHONY: install example test bench

install:
	@command -v pnpm >/dev/null || npm install -g pnpm@12
	pnpm install --frozen-lockfile

## Start the example service on embedded defaults (memory + SQLite; set REDIS_URL to add Redis).
example: install
	pnpm start

## Run every test (build, every package's tests, package checks); ends with "N passed, N failed".
test: install
	pnpm test

## Run the benchmarks.
bench: install
	pnpm bench
