# Sightline. `make demo` and `make test` do all of their own set-up.
export PATH := /usr/local/go/bin:$(HOME)/go/bin:$(PATH)
GO ?= go
GOFLAGS_TEST ?= -count=1 -timeout 25m

.PHONY: all build deps test lint demo bench eval fuzz faults generate vet clean test-cluster scale-bench

all: build

build:
	$(GO) build -o bin/sightline ./cmd/sightline

deps:
	@deploy/scripts/ensure-deps.sh

vet:
	$(GO) vet ./...

# The whole suite: unit, fuzz seeds, integration against a real ClickHouse
# (started by the tests) and the in-process Kafka broker.
test: deps vet lint
	env -u SIGHTLINE_CLUSTER $(GO) test $(GOFLAGS_TEST) ./...
	@if [ "$$SIGHTLINE_CLUSTER" = 1 ]; then $(MAKE) test-cluster; fi

# Scale out (README): 200,000 events through 3 score and 2 aggregate
# processes on a 2x2 ClickHouse cluster with faults, against a
# single-instance run; `make test` runs it (once, after the rest) when
# SIGHTLINE_CLUSTER=1.
test-cluster: deps
	SIGHTLINE_CLUSTER=1 $(GO) test -count=1 -v -timeout 60m -run 'TestScaleOut' ./internal/clustertest/

# Events/s and CPU per event with 1, 2 and 3 score processes.
scale-bench: deps
	SIGHTLINE_SCALE_BENCH=1 $(GO) test -count=1 -v -timeout 60m -run 'TestScaleOutBench' ./internal/clustertest/

# Static checks (.golangci.yml: staticcheck, errorlint, gocritic, depguard
# for the layering) and a go.mod that go mod tidy leaves as it is. The
# linter is built from the module proxy at a fixed version into bin/tools.
GOLANGCI_LINT_VERSION ?= v2.15.0
LINT := $(CURDIR)/bin/tools/golangci-lint-$(GOLANGCI_LINT_VERSION)
$(LINT):
	@mkdir -p $(CURDIR)/bin/tools
	GOBIN=$(CURDIR)/bin/tools/tmp $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
	mv $(CURDIR)/bin/tools/tmp/golangci-lint $(LINT)

lint: $(LINT)
	$(LINT) run ./...
	@cp go.mod /tmp/sightline-go.mod.$$$$ && cp go.sum /tmp/sightline-go.sum.$$$$ && $(GO) mod tidy && \
	  if ! cmp -s go.mod /tmp/sightline-go.mod.$$$$ || ! cmp -s go.sum /tmp/sightline-go.sum.$$$$; then \
	    echo "go mod tidy changes go.mod/go.sum: run it and commit the result" >&2; \
	    cp /tmp/sightline-go.mod.$$$$ go.mod; cp /tmp/sightline-go.sum.$$$$ go.sum; exit 1; fi; \
	  rm -f /tmp/sightline-go.mod.$$$$ /tmp/sightline-go.sum.$$$$

# The full fault-injection suite (the README's figures): one-minute
# windows, a 150 s ClickHouse stall, a minute of full-speed load, ...
# `make test` runs the short version of the same tests.
faults: deps
	SIGHTLINE_FAULTS=full $(GO) test -count=1 -v -timeout 90m ./internal/faults/ | grep -vE '^(=== RUN|--- PASS)'

demo: deps build
	@deploy/scripts/demo.sh

# Benchmarks quoted in the README.
bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=1s ./sdk/ ./processors/... ./collector/...
	$(GO) test -run '^$$' -bench . -benchmem -benchtime=40x -timeout 20m ./internal/console/

# Detector quality on the labeled dev data in ../shared/data (the figures in
# the README); each test skips with a message when the data is absent.
eval:
	$(GO) test -count=1 -v -run 'TestQuality|TestLabeled|TestHeldOut' \
	  ./processors/detectors/toxicity ./processors/detectors/injection ./processors/detectors/hallucination ./processors/detectors/pii \
	  | grep -vE '^(=== RUN|--- PASS|PASS$$)'

# Run each fuzz target for a short while (FUZZTIME=1m for longer).
FUZZTIME ?= 15s
fuzz:
	@for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg 2>/dev/null | grep '^Fuzz'); do \
	    echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg || exit 1; \
	  done; \
	done

# Regenerate the protobuf Go code (protoc from the OS packages).
generate:
	@command -v protoc >/dev/null || (sudo apt-get install -y protobuf-compiler || apt-get install -y protobuf-compiler)
	$(GO) install google.golang.org/protobuf/cmd/protoc-gen-go@v1.36.12
	protoc -I schemas/proto --go_out=. --go_opt=module=github.com/sightline-dev/sightline \
	  schemas/proto/sightline/event/v1/event.proto schemas/proto/sightline/window/v1/partial.proto

clean:
	rm -rf bin sightline-demo-data
