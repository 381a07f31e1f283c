# tappaas — build, run, test. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PKG := ./cmd/tappaas
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT ?= $(shell git rev-parse --short HEAD 2>/dev/null || echo none)
DATE ?= $(shell date -u +%Y-%m-%dT%H:%M:%SZ)
LDFLAGS := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT) -X main.date=$(DATE)
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2
# Seeded samples keep `make ci` short; the long matrices have their own targets.
CRASH_SEED ?= 1
FUZZTIME ?= 5s

.PHONY: help build run demo lab-reset test lint fmt bench ci deps crash-matrix fault-matrix fuzz clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

build: ## static binaries for linux/amd64 and linux/arm64 in bin/
	@mkdir -p bin
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tappaas-linux-amd64 $(PKG)
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tappaas-linux-arm64 $(PKG)
	@cp bin/tappaas-linux-$$($(GO) env GOARCH) bin/tappaas 2>/dev/null || true

run: ## the full-screen installer against an in-process lab
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tappaas $(PKG)
	./bin/tappaas --lab --lab-speed 0.05

demo: ## the headless installer on a fresh lab from the example answers (wipes the lab make run keeps)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/tappaas $(PKG)
	./bin/tappaas install --lab --lab-reset --answers examples/answers.toml --yes

lab-reset: ## wipe the lab that make run keeps (the next make run starts from a fresh node)
	rm -rf "$${XDG_CACHE_HOME:-$$HOME/.cache}/tappaas/lab"

# The seed of the fault sample `make test` runs; a failure is replayed with
# make test TAPPAAS_FAULT_SEED=N.
TAPPAAS_FAULT_SEED ?= 1
export TAPPAAS_FAULT_SEED

test: deps ## unit, integration, lab end-to-end and real-sshd/tmux tests, a seeded sample of the fault matrix
	@echo "fault sample seed: TAPPAAS_FAULT_SEED=$(TAPPAAS_FAULT_SEED)"
	$(GO) test -count=1 ./...

lint: ## gofmt, go vet, staticcheck
	@out=$$(find . -name '*.go' -not -path './.git/*' | xargs gofmt -l); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

fmt: ## format the code
	find . -name '*.go' -not -path './.git/*' | xargs gofmt -w

bench: ## the benchmarks whose figures go in the notes
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 1x ./... | tee bench.txt

crash-matrix: ## kill the installer at every step boundary and resume (long)
	TAPPAAS_CRASH_MATRIX=all $(GO) test -count=1 -run 'Crash' -timeout 60m ./...

fault-matrix: ## every SSH drop before/after each node command, 5xx before/after each write, 20 kill seeds (long)
	TAPPAAS_FAULT_MATRIX=all TAPPAAS_CRASH_SEEDS=20 $(GO) test -count=1 -run 'TestFaultMatrix|TestCrashKillAndResume' -timeout 120m ./cmd/tappaas/

fuzz: ## fuzz every parser for FUZZTIME each
	@set -e; for p in $$(grep -rl --include='*_test.go' '^func Fuzz' . | xargs -n1 dirname | sort -u); do \
	  for f in $$(grep -h '^func Fuzz' $$p/*_test.go | sed 's/func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
	    echo "== $$p $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$p; done; done

deps: ## install what the tests need (openssh-server, tmux, sudo) when missing
	@bash .ci/deps

ci: lint test ## what CI runs: deps, lint, tests (with seeded crash samples), a short fuzz pass
	$(MAKE) --no-print-directory fuzz FUZZTIME=3s

clean:
	rm -rf bin bench.txt
