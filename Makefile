# The banking cluster. `make help` lists the targets.
SHELL := /bin/bash
PORT_BASE ?= 5555
# Each cluster keeps its state apart: var/ for the default ports, var/cluster-PORT otherwise.
VAR ?= $(if $(filter 5555,$(PORT_BASE)),var,var/cluster-$(PORT_BASE))
BIN := .build/release
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
NODE_SH := VAR=$(VAR) PORT_BASE=$(PORT_BASE) BIN=$(BIN) deploy/local/node.sh
SEEDS ?= 500
FIRST ?= 1
# The network-namespace test bed (root): state in var/netns, namespaces bank-gateway, bank-primary, bank-backup.
NETNS_BED := VAR=var/netns BIN=$(BIN) deploy/netns/netns.sh
PROM_PORT ?= 9090
# The local operator's key (make cluster makes it): status and switchover from make.
OPERATOR_KEY = --key $(VAR)/keys/clients/operator/local-operator.key_secret
PROMETHEUS := VAR=$(VAR) PORT_BASE=$(PORT_BASE) PROM_PORT=$(PROM_PORT) deploy/local/prometheus.sh
LOSS ?= 0
DELAY ?= 0ms

.PHONY: help deps build test cluster stop status clean switchover bench bench-history simulate \
        kill-primary kill-backup kill-gateway start-primary start-backup start-gateway \
        pause-primary pause-backup resume-primary resume-backup \
        netns-deps netns-cluster netns-kill netns-start partition heal netem prometheus-deps prometheus fuzz security-deps

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-16s %s\n", $$1, $$2}'
	@echo "  Variables: PORT_BASE=$(PORT_BASE) (client port; internal ports follow), VAR=$(VAR)"

deps: ## Install libzmq, LevelDB and Zstandard (Debian's libzmq3-dev, libleveldb-dev, libzstd-dev) when they are missing
	@if ! command -v pkg-config >/dev/null || ! pkg-config --exists libzmq libzstd || [ ! -f /usr/include/leveldb/c.h ]; then \
	  echo "installing libzmq3-dev libleveldb-dev libzstd-dev"; \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq libzmq3-dev libleveldb-dev libzstd-dev pkg-config >/dev/null; \
	fi

build: deps ## Release build of every executable
	swift build -c release

test: deps netns-deps prometheus-deps security-deps ## Build and run the whole test suite, then 500 seeds of the simulation and 100 of load alone
	swift build --build-tests
	swift test --skip-build
	$(MAKE) --no-print-directory simulate SEEDS=500
	$(MAKE) --no-print-directory simulate SEEDS=100 LOAD_ONLY=1

simulate: deps ## Deterministic simulation: SEEDS=N seeds (default 500, FIRST=1), or SEED=x to replay one verbosely; LOAD_ONLY=1: bursts only, no leader change allowed
	swift build -c release --product bank-sim
	@if [ -n "$(SEED)" ]; then $(BIN)/bank-sim --seed $(SEED) $(if $(BUG),--bug $(BUG)) $(if $(LOAD_ONLY),--load-only); \
	else BIN=$(BIN) SIM_ARGS="$(if $(LOAD_ONLY),--load-only)" deploy/local/simulate.sh $(SEEDS) $(FIRST); fi

FUZZ_TARGETS := request peer journal checkpoint cluster-file
SECONDS ?= 60
# libFuzzer without its main (bank-fuzz has its own), from the Swift toolchain's compiler-rt; its driver is
# referenced weakly (an ordinary build links without it), so the link is told to take it (--undefined).
FUZZ_RUNTIME = $$(ls "$$(dirname "$$(readlink -f "$$(command -v swiftc)")")"/../lib/clang/*/lib/linux/libclang_rt.fuzzer_no_main-x86_64.a | head -1)

fuzz: deps ## Fuzz a decoder of outside bytes with libFuzzer and AddressSanitizer: TARGET=request|peer|journal|checkpoint|cluster-file, SECONDS=60 (or RUNS=n executions); corpus and crashes under var/fuzz/TARGET
	@case " $(FUZZ_TARGETS) " in *" $(TARGET) "*) ;; *) echo "TARGET= one of: $(FUZZ_TARGETS)"; exit 2 ;; esac
	swift build -c release --product bank-fuzz --scratch-path .build-fuzz -Xswiftc -sanitize=address \
	  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table -Xlinker --undefined=LLVMFuzzerRunDriver -Xlinker $(FUZZ_RUNTIME) -Xlinker -lstdc++
	@mkdir -p var/fuzz/$(TARGET)/corpus var/fuzz/$(TARGET)/crashes
	BANK_FUZZ_TARGET=$(TARGET) .build-fuzz/release/bank-fuzz -artifact_prefix=var/fuzz/$(TARGET)/crashes/ \
	  $(if $(RUNS),-runs=$(RUNS),-max_total_time=$(SECONDS)) -print_final_stats=1 -max_len=65536 \
	  var/fuzz/$(TARGET)/corpus Tests/FuzzTargetsTests/Corpus/$(TARGET)

ARCHIVE_ARGS = $(if $(filter off,$(ARCHIVE)),--no-archive,$(if $(ARCHIVE),--archive-receipt-window $(ARCHIVE))) \
  $(if $(filter 0,$(METRICS)),--no-metrics) $(if $(filter 0,$(CURVE)),--insecure)

bench: deps $(if $(filter-out 0,$(NETNS)),netns-deps) ## Benchmark a fresh cluster of its own (report: var/bench/report.json); QUICK=1 for short phases; ARCHIVE=off: history archive off, ARCHIVE=n: n receipts in memory; NETNS=1 DELAY=0ms,0.5ms,2ms: on a network-namespace test bed (root), one run per delay (var/bench/netns-DELAY/); METRICS=0: processes serve no metrics; CURVE=0: plaintext links
	swift build -c release
	@if [ -n "$(filter-out 0,$(NETNS))" ]; then \
	  for delay in $$(echo "$(DELAY)" | tr ',|' '  '); do \
	    $(BIN)/bank-bench --netns --delay $$delay --dir var/bench/netns-$$delay $(if $(filter-out 0,$(QUICK)),--quick) \
	      $(ARCHIVE_ARGS) $(BENCH_ARGS) || exit 1; \
	  done; \
	else $(BIN)/bank-bench $(if $(filter-out 0,$(QUICK)),--quick) $(ARCHIVE_ARGS) $(BENCH_ARGS); fi

bench-history: deps ## History phase: 20 M transfers (QUICK=1: 2 M), memory (and its peak) and disk at each tenth, restarts with a tail of 90% of the checkpoint interval, a wiped follower idle and under load, deep reads; ARCHIVE=off or n as for bench
	swift build -c release
	$(BIN)/bank-bench --history $(if $(filter-out 0,$(QUICK)),--quick) $(ARCHIVE_ARGS) $(BENCH_ARGS)

cluster: build ## Start gateway, primary and backup in the background (only what is missing), making the CURVE keys that are missing (VAR/keys); prints the export line
	@$(NODE_SH) start primary
	@$(NODE_SH) start backup
	@$(NODE_SH) start gateway
	@$(NODE_SH) wait-leader
	@$(BIN)/bankctl status --gateway tcp://127.0.0.1:$(PORT_BASE) $(OPERATOR_KEY)
	@echo
	@echo "The cluster is up, every link encrypted and authenticated (CURVE; keys in $(VAR)/keys). Try:"
	@echo "  export BANK_GATEWAY=tcp://127.0.0.1:$(PORT_BASE) BANK_KEY=\$$PWD/$(VAR)/keys/clients/app/local-app.key_secret PATH=\$$PWD/$(BIN):\$$PATH"
	@echo "  bankctl open alice && bankctl deposit alice 100.00 && bankctl balance alice"
	@echo "Metrics: http://127.0.0.1:$$(($(PORT_BASE)+4))/metrics (gateway), :$$(($(PORT_BASE)+5)) (primary), :$$(($(PORT_BASE)+6)) (backup); make prometheus to scrape them"

stop: ## Stop all three processes (SIGTERM), the local Prometheus, and the network-namespace test bed if it is up
	@$(NODE_SH) stop gateway; $(NODE_SH) stop primary; $(NODE_SH) stop backup
	@$(PROMETHEUS) stop
	@if ip netns list 2>/dev/null | grep -q '^bank-'; then $(NETNS_BED) down; fi

status: ## Show leader, epoch and each ledger's state
	@$(BIN)/bankctl status --gateway tcp://127.0.0.1:$(PORT_BASE) $(OPERATOR_KEY)

switchover: ## Move leadership to the in-sync follower (planned maintenance)
	@$(BIN)/bankctl switchover --gateway tcp://127.0.0.1:$(PORT_BASE) $(OPERATOR_KEY)

kill-primary: ## SIGKILL the primary ledger
	@$(NODE_SH) kill primary
kill-backup: ## SIGKILL the backup ledger
	@$(NODE_SH) kill backup
kill-gateway: ## SIGKILL the gateway
	@$(NODE_SH) kill gateway
start-primary: ## Start the primary ledger if it is not running
	@$(NODE_SH) start primary
start-backup: ## Start the backup ledger if it is not running
	@$(NODE_SH) start backup
start-gateway: ## Start the gateway if it is not running
	@$(NODE_SH) start gateway
pause-primary: ## SIGSTOP the primary ledger
	@$(NODE_SH) pause primary
pause-backup: ## SIGSTOP the backup ledger
	@$(NODE_SH) pause backup
resume-primary: ## SIGCONT the primary ledger
	@$(NODE_SH) resume primary
resume-backup: ## SIGCONT the backup ledger
	@$(NODE_SH) resume backup

clean: stop ## Stop the cluster and remove var/
	rm -rf $(VAR)

security-deps: ## Install what the security tests use (tcpdump, Debian's python3-zmq for the Python client) when missing and we are root
	@if [ ! -x /usr/bin/tcpdump ] || ! /usr/bin/python3 -c 'import zmq.auth' 2>/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing tcpdump python3-zmq"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tcpdump python3-zmq >/dev/null; } \
	      || echo "could not install tcpdump and python3-zmq: their tests will be skipped"; \
	  else echo "not root: not installing tcpdump and python3-zmq (their tests are skipped; sudo apt-get install tcpdump python3-zmq)"; fi; \
	fi

prometheus-deps: ## Install Debian's Prometheus server (for its test and make prometheus) when missing and we are root
	@if ! command -v prometheus >/dev/null; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing prometheus"; \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null; } \
	      || echo "could not install prometheus: its test will be skipped"; \
	  else echo "not root: not installing prometheus (its test is skipped; sudo apt-get install prometheus)"; fi; \
	fi

prometheus: ## Run Prometheus (Debian's) on 127.0.0.1:9090 (PROM_PORT=) scraping the local cluster, with deploy/prometheus's alerts; make stop stops it
	@$(PROMETHEUS) start

netns-deps: ## Install what the test bed uses (iproute2, nftables, iptables, libnetfilter-queue-dev) when missing and we are root
	@if ! command -v ip >/dev/null || ! command -v nft >/dev/null || ! command -v iptables >/dev/null \
	    || [ ! -f /usr/include/libnetfilter_queue/libnetfilter_queue.h ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing iproute2 nftables iptables libnetfilter-queue-dev"; \
	    { apt-get update -qq && apt-get install -y -qq iproute2 nftables iptables libnetfilter-queue-dev gcc >/dev/null; } \
	      || echo "could not install the test bed's tools: its tests will be skipped (or run without delay)"; \
	  else echo "not root: the network-namespace test bed (and its tests) need root; not installing its tools"; fi; \
	fi

netns-cluster: build netns-deps ## Start the three processes in network namespaces of their own, joined by a bridge (root); make stop removes it
	@$(NETNS_BED) up
	@$(BIN)/bankctl status --gateway $$($(NETNS_BED) gateway) --key var/netns/keys/clients/operator/local-operator.key_secret
	@echo
	@echo "The test bed is up: gateway $$($(NETNS_BED) gateway | sed 's|tcp://||;s|:.*||'), primary 10.77.0.2, backup 10.77.0.3. Try:"
	@echo "  export BANK_GATEWAY=$$($(NETNS_BED) gateway) BANK_KEY=\$$PWD/var/netns/keys/clients/app/local-app.key_secret PATH=\$$PWD/$(BIN):\$$PATH"
	@echo "  make partition A=gateway B=primary; make heal; make netem DELAY=2ms LOSS=1; make netns-kill NODE=primary"
	@echo "Metrics: http://10.77.0.1:9464/metrics (gateway), 10.77.0.2:9464 (primary), 10.77.0.3:9464 (backup)"

netns-kill: ## SIGKILL NODE=gateway|primary|backup on the test bed
	@$(NETNS_BED) kill $(NODE)
netns-start: ## Start NODE=gateway|primary|backup on the test bed if it is not running
	@$(NETNS_BED) start $(NODE)

partition: netns-deps ## Cut the test bed's link between A= and B= (gateway, primary, backup); ONEWAY=1: only what A sends to B is lost
	@$(NETNS_BED) partition $(A) $(B) $(if $(filter-out 0,$(ONEWAY)),oneway)

heal: ## Remove every cut on the test bed
	@$(NETNS_BED) heal

netem: netns-deps ## Shape every test-bed link: LOSS=percent DELAY=2ms JITTER=1ms (LOSS=0 DELAY=0ms: unshaped); tc netem, or netdelay (NFQUEUE) where the kernel lacks it
	@$(NETNS_BED) shape $(LOSS) $(DELAY) $(JITTER)
