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

# Each example directory is one world (namespaces, pods and the page's policy).
demo: build
	@for d in $$(find examples -name world.yaml -exec dirname {} \; | sort); do \
	  printf '%-70s ' "$$d"; ./bin/flowgate check -f $$d || exit 1; done
	./bin/flowgate matrix -f examples/seeds/namespace-isolation/
	./bin/flowgate verdict -f examples/seeds/database-allow-backends/ --from dev/frontend --to prod/database --port 8080

clean:
	rm -rf bin dist
