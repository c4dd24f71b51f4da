# ringcache build, test and benchmark entry points.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 10s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run deps test test-short bench lint fuzz clean

all: build

build:
	$(GO) build -o $(BIN)/ringcache ./cmd/ringcache
	$(GO) build -o $(BIN)/ringcache-bench ./cmd/ringcache-bench

# One node on 127.0.0.1:6379 with its data in ./data.
run: build
	./$(BIN)/ringcache --listen 127.0.0.1:6379 --data-dir ./data

# redis-cli, redis-benchmark and redis-server, which the tests and the benchmark drive.
deps:
	@if ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends redis-tools redis-server >/dev/null; \
	fi

# The whole suite, with the race detector, as CI runs it.
test: deps
	$(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

# redis-server vs ringcache with redis-benchmark, medians of 3, ratios in one table.
bench: deps build
	./$(BIN)/ringcache-bench compare --ringcache-bin $(BIN)/ringcache

lint:
	$(GO) vet ./...
	$(GO) run $(STATICCHECK) ./...

# Each fuzz target for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  dir=$$($(GO) list -f '{{.Dir}}' $$pkg); \
	  for target in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$dir/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "== $$pkg $$target"; \
	    $(GO) test $$pkg -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME); \
	  done; \
	done

clean:
	rm -rf $(BIN)
