# ringcache build, test and benchmark entry points.

GO        ?= go
BIN       := bin
FUZZTIME  ?= 10s
STATICCHECK := honnef.co/go/tools/cmd/staticcheck@v0.8.2

.PHONY: all build run deps test test-short bench bench-cluster bench-handoff bench-scaleout bench-evict lint fuzz clean cluster cluster-add cluster-stop bench-repair nemesis nemesis-short

all: build

build:
	$(GO) build -o $(BIN)/ringcache ./cmd/ringcache
	$(GO) build -o $(BIN)/ringcache-bench ./cmd/ringcache-bench

# One node on 127.0.0.1:6379 with its data in ./data.
run: build
	./$(BIN)/ringcache --listen 127.0.0.1:6379 --data-dir ./data

# A local 3-node cluster: clients on 127.0.0.1:7001-7003, cluster RPC on 7101-7103, gossip on
# 7201-7203, metrics on 7301-7303; data, logs and pids under ./data/cluster.
CLUSTER_DIR := data/cluster
CLUSTER_SEEDS := 127.0.0.1:7201,127.0.0.1:7202,127.0.0.1:7203

cluster: build
	@mkdir -p $(CLUSTER_DIR)
	@for i in 1 2 3; do \
	  pidf=$(CLUSTER_DIR)/node$$i.pid; \
	  if [ -f $$pidf ] && grep -q ringcache /proc/$$(cat $$pidf)/cmdline 2>/dev/null; then \
	    echo "node$$i is already running (pid $$(cat $$pidf))"; continue; \
	  fi; \
	  ./$(BIN)/ringcache --node-id node$$i --listen 127.0.0.1:700$$i \
	    --cluster-listen 127.0.0.1:710$$i --gossip-listen 127.0.0.1:720$$i --seeds $(CLUSTER_SEEDS) \
	    --metrics-listen 127.0.0.1:730$$i --data-dir $(CLUSTER_DIR)/node$$i \
	    >$(CLUSTER_DIR)/node$$i.log 2>&1 & echo $$! >$$pidf; \
	done
	@for i in 1 2 3; do \
	  for t in $$(seq 1 300); do \
	    redis-cli -p 700$$i INFO topology 2>/dev/null | grep -q 'topology_role:normal' && break; sleep 0.1; \
	  done; \
	done
	@echo "3-node cluster up: redis-cli -p 7001 (or 7002, 7003); RINGCACHE NODES lists the members."
	@echo "Logs: $(CLUSTER_DIR)/node*.log. Stop it with: make cluster-stop"

# Adds a node to the local cluster: node4, then node5, ... up to node9 (clients on 127.0.0.1:7004-7009),
# each a new node with an empty data directory. It joins through the seeds and streams its ranges;
# RINGCACHE TRANSFERS on any node shows the progress.
cluster-add: build
	@mkdir -p $(CLUSTER_DIR)
	@for i in 4 5 6 7 8 9; do \
	  [ -e $(CLUSTER_DIR)/node$$i ] && continue; \
	  ./$(BIN)/ringcache --node-id node$$i --listen 127.0.0.1:700$$i \
	    --cluster-listen 127.0.0.1:710$$i --gossip-listen 127.0.0.1:720$$i --seeds $(CLUSTER_SEEDS) \
	    --metrics-listen 127.0.0.1:730$$i --data-dir $(CLUSTER_DIR)/node$$i \
	    >$(CLUSTER_DIR)/node$$i.log 2>&1 & echo $$! >$(CLUSTER_DIR)/node$$i.pid; \
	  for t in $$(seq 1 300); do redis-cli -p 700$$i INFO topology 2>/dev/null | grep -q 'topology_role:normal' && break; sleep 0.1; done; \
	  echo "node$$i joined on 127.0.0.1:700$$i (redis-cli -p 7001 RINGCACHE NODES)"; \
	  exit 0; \
	done; echo "node4 to node9 exist already"

# Stops exactly the processes `make cluster` and `make cluster-add` started (by their recorded pids).
cluster-stop:
	@for i in 1 2 3 4 5 6 7 8 9; do \
	  pidf=$(CLUSTER_DIR)/node$$i.pid; [ -f $$pidf ] || continue; pid=$$(cat $$pidf); \
	  if grep -q ringcache /proc/$$pid/cmdline 2>/dev/null; then \
	    kill $$pid && echo "stopped node$$i (pid $$pid)"; \
	    for t in $$(seq 1 100); do kill -0 $$pid 2>/dev/null || break; sleep 0.1; done; \
	  fi; \
	  rm -f $$pidf; \
	done

# redis-cli, redis-benchmark and redis-server, which the tests and the benchmark drive.
# redis-tools and redis-server for the tests' oracle and tools; Node.js with
# node-redis and ioredis (npm, testdata/clients) and redis-py (Debian's
# python3-redis) for the real-client tests.
deps:
	@if ! command -v redis-benchmark >/dev/null || ! command -v redis-server >/dev/null || \
	    ! command -v node >/dev/null || ! command -v npm >/dev/null || ! /usr/bin/python3 -c 'import redis' 2>/dev/null; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  export DEBIAN_FRONTEND=noninteractive; \
	  pkgs="redis-tools redis-server python3-redis"; \
	  command -v node >/dev/null || pkgs="$$pkgs nodejs"; \
	  command -v npm >/dev/null || pkgs="$$pkgs npm"; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends $$pkgs >/dev/null; \
	fi
	@[ -d testdata/clients/node_modules ] || (cd testdata/clients && npm ci --no-audit --no-fund --loglevel=error)

# The whole suite, with the race detector, as CI runs it.
test: deps
	$(GO) test -race -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

# redis-server vs ringcache with redis-benchmark, medians of 3, ratios in one table.
# SET, GET, INCR, and a short script by EVALSHA.
BENCH_SCRIPT := return redis.call('INCR', KEYS[1])

bench: deps build
	./$(BIN)/ringcache-bench compare --ringcache-bin $(BIN)/ringcache --tests set,get,incr --script "$(BENCH_SCRIPT)"

# The same against a local 3-node cluster (N=3, W=2, R=2), redis-benchmark through one node, and
# INCR of keys whose primary is that node and of keys it forwards to another.
bench-cluster: deps build
	./$(BIN)/ringcache-bench compare --ringcache-bin $(BIN)/ringcache --cluster 3 --rss=false \
		--tests set,get,incr --primaries --script "$(BENCH_SCRIPT)"

# Merkle anti-entropy: one exchange between two 1M-key engines differing in 1,000 keys, then one in
# sync, over the transport on 127.0.0.1; and the digest's cost on the engine write path.
bench-repair: build
	./$(BIN)/ringcache-bench repair

# Hinted handoff under load: a 5-node cluster, one node SIGKILLed while 100,000 of its keys are
# written, then restarted; per-phase GET/SET success and p99, and the replay rate.
bench-handoff: build
	./$(BIN)/ringcache-bench handoff --ringcache-bin $(BIN)/ringcache

# A 4th node joins a 3-node cluster holding 1,000,000 keys of 100 bytes under a steady GET/SET load:
# the streaming rate, the time to normal, and the load's latency, errors and missing reads per phase.
bench-scaleout: build
	./$(BIN)/ringcache-bench scaleout --ringcache-bin $(BIN)/ringcache

# Eviction under a 64 MiB allkeys-lru budget, one ringcache node then redis-server: SETs of fresh keys
# with room and when full (the ratio), a fill to 10x the budget, and a Zipf 90/10 GET/SET mix's hit rate;
# used_memory, evicted_keys and RSS. Then ringcache without a budget overwriting a dataset the budget's
# size: the ceiling of the ratio if eviction cost nothing. Medians of 3 runs.
bench-evict: build
	./$(BIN)/ringcache-bench evict --runs 3 --ringcache-bin $(BIN)/ringcache

# Fault injection: a fresh 5-node cluster (N=3, R=W=2) per scenario, a recorded workload through
# every node, one fault (none, kill9-one, kill9-two, pause, rolling, disk-loss, partition) or one
# membership change (join, join-two, join-down, leave, remove, and kill-source, kill-dest,
# kill-driver, partition-op in the middle of a join), or kill9-one on evicting nodes (evict), the
# heal, hints and one repair round, then the checks; one line per scenario and a Markdown table.
# The partitions need root and iptables (SKIP otherwise). NEMESIS_FLAGS adds flags, e.g.
# NEMESIS_FLAGS="--scenarios none,pause --keep".
NEMESIS_FLAGS ?=

nemesis: build
	./$(BIN)/ringcache-bench nemesis --ringcache-bin $(BIN)/ringcache $(NEMESIS_FLAGS)

# The same, every scenario with shorter phases (CI runs it).
nemesis-short: build
	./$(BIN)/ringcache-bench nemesis --short --ringcache-bin $(BIN)/ringcache $(NEMESIS_FLAGS)

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
