# flowgate — build, test, demo. See README.md.
GO        ?= go
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS   := -X main.version=$(VERSION)
PKGS      := ./...
# Integration tests start private Open vSwitch instances (one network
# namespace each) and need root; keep package parallelism modest on 2 cores.
TESTFLAGS ?= -p 2 -timeout 20m

.PHONY: build deps test unit lint bench bench-ovn demo fuzz package image clean

build:
	$(GO) build -ldflags "$(LDFLAGS)" -o bin/flowgate ./cmd/flowgate

## deps: install what the tests need (Open vSwitch, iproute2, ethtool from
## Debian; a kube-apiserver built once and cached). Needs root.
deps:
	bash .ci/deps

## test: every test, unit and integration (integration needs root + Open vSwitch).
## Installs its own dependencies first, exactly as CI does.
## CI=true makes a missing dependency fail a test instead of skipping it.
test: deps lint
	CI=true $(GO) test $(TESTFLAGS) $(PKGS)

## unit: only the pure-Go tests (no OVS, no root).
unit:
	$(GO) test -short $(PKGS)

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -timeout 60m $(PKGS)

## bench-ovn: flowgate on the exact objects of OVN's NetworkPolicy benchmark
## (bench/ovn), one scale after the other (pods:policies:namespaces:local);
## needs root. docs/benchmarks.md, "Beside OVN", records the runs. The
## environment passes FLOWGATE_OVN_AGAIN (applies and restarts onto the
## programmed bridge, default 2), FLOWGATE_OVN_STEADY (more changes for the
## memory check), FLOWGATE_OVN_JSON=1 (the same objects as JSON Lists) and
## FLOWGATE_OVN_MEMPROFILE through to the benchmark.
OVN_SCALES ?= 10000:1000:100:50 50000:2000:200:50 50000:2000:200:200
bench-ovn:
	for sc in $(OVN_SCALES); do \
	  FLOWGATE_OVN_SCALE=$$sc $(GO) test -p 1 -run '^$$' -bench '^BenchmarkOVNScenario$$' -benchtime 1x -timeout 60m ./integration/ || exit 1; \
	done

## fuzz: every fuzz target for FUZZTIME each (docs/reliability.md, "Fuzzing",
## records the long runs).
FUZZTIME ?= 30s
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./translator/selector/
	$(GO) test -run '^$$' -fuzz '^FuzzDecode$$' -fuzztime $(FUZZTIME) ./translator/decode/
	$(GO) test -run '^$$' -fuzz '^FuzzDecodeCompile$$' -fuzztime $(FUZZTIME) ./translator/compiler/
	$(GO) test -run '^$$' -fuzz '^FuzzConvert$$' -fuzztime $(FUZZTIME) ./translator/neutron/
	$(GO) test -run '^$$' -fuzz '^FuzzImport$$' -fuzztime $(FUZZTIME) ./translator/neutron/

# The demo: a private userspace Open vSwitch (no system service touched),
# the seed scenarios as network namespaces, `flowgate apply`, real TCP
# probes, observed vs expected. Needs root; installs Open vSwitch if missing.
demo: build
	@command -v ovs-vswitchd >/dev/null 2>&1 || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends openvswitch-switch iproute2; }
	$(GO) run ./integration/demo -flowgate bin/flowgate

# package: dist/flowgate_<version>_<arch>.deb, built by nfpm (pinned, run
# with `go run`, so nothing is installed and the module's dependencies stay
# as they are). The binary is static (CGO_ENABLED=0) so it runs on any
# Debian or Ubuntu release. DEB_VERSION is the tag without its "v"
# (v1.2.0-3-gabc → 1.2.0+3.gabc), or 0.0.0~git<date>.<commit> untagged;
# DEB_ARCH=arm64 cross-builds (nfpm itself always runs natively).
NFPM_VERSION ?= v2.45.2
DEB_VERSION  ?= $(shell v=$$(git describe --tags --match 'v[0-9]*' 2>/dev/null); \
	if [ -n "$$v" ]; then echo "$${v\#v}" | sed 's/-\([0-9]*\)-g/+\1.g/'; \
	else echo "0.0.0~git$$(git log -1 --format=%cd --date=format:%Y%m%d 2>/dev/null || echo 0).$$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"; fi)
DEB_ARCH     ?= $(shell $(GO) env GOARCH)

package:
	mkdir -p dist
	CGO_ENABLED=0 GOARCH=$(DEB_ARCH) $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o dist/flowgate ./cmd/flowgate
	FLOWGATE_DEB_ARCH=$(DEB_ARCH) FLOWGATE_DEB_VERSION=$(DEB_VERSION) \
		$(GO) run github.com/goreleaser/nfpm/v2/cmd/nfpm@$(NFPM_VERSION) package \
		--config deploy/package/nfpm.yaml --packager deb --target dist/
	@ls dist/*.deb

# image: the container image the DaemonSet runs, without Docker: an OCI
# image layout in $(IMAGE_DIR) and a `docker load` / `ctr images import`
# tarball $(IMAGE_TAR), built by deploy/image (go-containerregistry) from
# static flowgate, flowgate-cni and host-local plus this machine's Open
# vSwitch tools (ovs-ofctl, ovs-appctl, ovs-vsctl) with their shared
# libraries. Push with `skopeo copy oci:$(IMAGE_DIR) docker://...`.
IMAGE_TAG ?= ghcr.io/flowgate/flowgate:$(VERSION)
IMAGE_DIR ?= dist/image
IMAGE_TAR ?= dist/flowgate-image.tar
SOURCE_DATE_EPOCH ?= $(shell git log -1 --format=%ct 2>/dev/null || echo 0)

image:
	mkdir -p dist/image-bin
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "$(LDFLAGS) -s -w" -o dist/image-bin/flowgate ./cmd/flowgate
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.buildVersion=$(VERSION) -s -w" -o dist/image-bin/flowgate-cni ./cmd/flowgate-cni
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w" -o dist/image-bin/host-local github.com/containernetworking/plugins/plugins/ipam/host-local
	SOURCE_DATE_EPOCH=$(SOURCE_DATE_EPOCH) $(GO) run ./deploy/image --flowgate dist/image-bin/flowgate \
		--flowgate-cni dist/image-bin/flowgate-cni --host-local dist/image-bin/host-local \
		--oci $(IMAGE_DIR) --tar $(IMAGE_TAR) --tag $(IMAGE_TAG)

clean:
	rm -rf bin dist
