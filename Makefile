# The two commands of the README. Both work on a fresh machine with Node >= 20.19 and npm:
# they install pnpm when missing, build native modules against the system's Node headers when
# they exist (/usr/include/node), install every dependency, then run. scripts/progress.mjs
# passes every step's output through and prints a progress line whenever a step has been silent
# for 7 seconds (the first install compiles better-sqlite3 from source: 2-3 minutes on 2 cores).
SHELL := /bin/bash
NODEDIR := $(if $(wildcard /usr/include/node/node.h),/usr,)
export npm_config_nodedir := $(NODEDIR)
PROGRESS := node scripts/progress.mjs

.PHONY: install example test bench

install:
	@command -v pnpm >/dev/null || $(PROGRESS) --label "installing pnpm" -- npm install -g pnpm@12
	@$(PROGRESS) --label "installing dependencies (better-sqlite3 compiles from source the first time: 2-3 min)" -- pnpm install --frozen-lockfile

## Start the example service on embedded defaults (memory + SQLite; set REDIS_URL to add Redis).
example: install
	@$(PROGRESS) --label "building the packages, then starting the example" --until "listening on" -- pnpm start

## Run every test (build, every package's tests, package checks); ends with "N passed, N failed".
test: install
	@$(PROGRESS) --label "building and testing" -- pnpm test

## Run the benchmarks.
bench: install
	pnpm bench
