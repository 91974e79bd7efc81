# skiff — build, test, verify. `make help` lists the targets.
GO      ?= go
BIN     := bin/skiff
VERSION ?= $(shell git describe --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
DATA_DIR ?= /var/lib/skiff
GOTEST  ?= $(GO) test -count=1
# Tests run with client-go's cache mutation detector, as upstream's do: an
# informer cache's objects are shared (the scheduler's and the controllers'
# in one server), so code that changes one in place panics the test.
TESTENV ?= KUBE_CACHE_MUTATION_DETECTOR=true

.PHONY: help build up deps test test-unit test-integration test-external-etcd test-e2e verify bench bench-report test-bench-smoke clean

help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-20s %s\n", $$1, $$2}'

build: ## build bin/skiff
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN) ./cmd/skiff

up: build ## run a cluster with the embedded defaults (kubeconfig in $(DATA_DIR)/admin.kubeconfig)
	$(BIN) server --data-dir $(DATA_DIR)

deps: ## install what the tests need (Debian packages; needs root)
	hack/install-deps.sh

test: deps build test-unit test-integration test-external-etcd test-e2e test-bench-smoke ## the whole suite, as CI runs it

test-unit: ## unit tests beside the code
	$(TESTENV) $(GOTEST) -timeout 20m ./internal/... ./cmd/...

test-integration: ## API server + embedded etcd in-process, client-go
	$(TESTENV) $(GOTEST) -timeout 15m ./test/integration/...

test-external-etcd: ## the integration tier against a real 3-member etcd cluster
	$(TESTENV) hack/with-etcd-cluster.sh $(GOTEST) -timeout 15m ./test/integration/...

test-e2e: build ## the real binary driven by the real kubectl
	$(TESTENV) SKIFF_BIN=$(CURDIR)/$(BIN) $(GOTEST) -timeout 15m ./test/e2e/...

verify: ## gofmt, vet, import boundaries, go mod tidy, race tests of the unit tier
	@test -z "$$(gofmt -l cmd internal test bench 2>/dev/null)" || { gofmt -l cmd internal test bench; echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) mod tidy -diff
	$(TESTENV) $(GOTEST) -race -timeout 15m ./internal/...

bench: build ## benchmarks (outside CI): tables on stdout, JSON in bench/results, then bench/REPORT.md and bench/results.json
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/apiserver
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/scheduler
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/node
	for n in 1000 5000; do IDLE_ONLY=1 IDLE_SECONDS=60 NODES=$$n SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/density || exit 1; done
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/density
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GO) run ./bench/lists
	$(GO) run ./bench/proxy
	$(GO) run ./bench/dns
	$(GO) run ./bench/etcd
	$(GO) run ./bench/report

bench-report: ## regenerate bench/REPORT.md and its charts from bench/results/*.json
	$(GO) run ./bench/report

test-bench-smoke: build ## every benchmark program with -short (seconds each), then the report; fails only on errors
	SKIFF_BIN=$(CURDIR)/$(BIN) $(GOTEST) -timeout 5m -v ./bench/smoke/

clean:
	rm -rf bin
