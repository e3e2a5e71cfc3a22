# flowgate — build, test, demo. See README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
PKGS      := ./...
# Integration tests start private Open vSwitch instances (one network
# namespace each) and need root; keep package parallelism modest on 2 cores.
TESTFLAGS ?= -p 2 -timeout 20m

.PHONY: build test unit lint bench demo fuzz clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/flowgate ./cmd/flowgate

## test: every test, unit and integration (integration needs root + Open vSwitch).
test: lint
	$(GO) test $(TESTFLAGS) $(PKGS)

## unit: only the pure-Go tests (no OVS, no root).
unit:
	$(GO) test -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./translator/selector/
	$(GO) test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./translator/decode/

# The demo: a private userspace Open vSwitch (no system service touched),
# the seed scenarios as network namespaces, `flowgate apply`, real TCP
# probes, observed vs expected. Needs root; installs Open vSwitch if missing.
demo: build
	@command -v ovs-vswitchd >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openvswitch-switch iproute2; }
	$(GO) run ./integration/demo -flowgate bin/flowgate

clean:
	rm -rf bin dist
