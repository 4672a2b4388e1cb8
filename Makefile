# airlock: each target is one or two commands; see README.md.
GO       ?= go
FUZZTIME ?= 30s

.PHONY: all build cross test demo soak fuzz bench vectors lint docs sample-data stress dist dist-check wine-shim

all: build test

build:
	$(GO) build ./...

# Every platform a customer runs: vet (tests included) and build for each.
TARGETS ?= linux/amd64 linux/arm64 windows/amd64 windows/arm64 windows/386 darwin/amd64 darwin/arm64
cross:
	for t in $(TARGETS); do echo "vet and build $$t"; \
		GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) vet ./... && GOOS=$${t%/*} GOARCH=$${t#*/} $(GO) build ./... || exit 1; done

# What CI runs: vet and build for every platform, then every test with the race detector (fuzz seeds included).
test: cross
	$(GO) vet ./...
	$(GO) test -race -count=1 -timeout 9m ./...

# Release archives of both tools for six platforms, and SHA256SUMS, into dist/ (reproducible: internal/dist).
dist:
	$(GO) run ./internal/dist -o dist

# Two builds of HEAD from two clones, each with its own build cache, give identical SHA256SUMS.
dist-check:
	.ci/dist-check

# The DLL that Go's Windows builds need under Wine 8 (e2e's TestWine builds its own when mingw is installed).
wine-shim:
	.ci/wine/setup shim

# The whole story so far, in a temporary directory, narrated.
demo:
	$(GO) run ./internal/demo

# Each fuzz target for FUZZTIME (default 30s): make fuzz FUZZTIME=10m
fuzz:
	for p in ./format ./activator; do for t in $$($(GO) test -list '^Fuzz' $$p | grep '^Fuzz'); do \
		$(GO) test $$p -run '^$$' -fuzz "^$$t$$" -fuzztime $(FUZZTIME) || exit 1; done; done

# The fault-injection tests with many more runs (kill -9 at random moments).
stress:
	AIRLOCK_STRESS=1 $(GO) test -count=1 -timeout 60m ./e2e -run 'Kill|Concurrent' -v

# Years of commands on a host store and a desk ledger (AIRLOCK_SOAK each,
# default 100,000): files, bytes and status time bounded (BENCHMARKS.md).
AIRLOCK_SOAK ?= 100000
soak:
	AIRLOCK_SOAK=$(AIRLOCK_SOAK) $(GO) test -count=1 -timeout 120m -run '^TestSoak' -v ./activator ./issuer | grep -v '^=== '

# Go benchmarks, then airlock against GnuPG as whole processes on this machine (BENCHMARKS.md).
bench:
	$(GO) test ./format ./activator ./issuer -run '^$$' -bench . -benchmem -count 3 | tee /tmp/airlock-bench.txt
	awk '/^BenchmarkVerifyResponse/{v+=$$3;n++} /^BenchmarkVerifyRawEd25519/{r+=$$3;m++} END{printf "\nverify response / raw Ed25519 = %.2fx (target <= 2)\n\n", (v/n)/(r/m)}' /tmp/airlock-bench.txt
	$(GO) run ./internal/benchcmp

# Regenerate format/testdata (vectors; fixture keys only where missing).
vectors:
	$(GO) test ./format -run 'TestVectors$$|TestRSAKeys' -update

lint:
	$(GO) vet ./...
	test -z "$$(gofmt -l .)" || (gofmt -l . && exit 1)

# Manuals of both tools, from the same definitions as --help, into docs/.
docs:
	mkdir -p docs/man
	for t in activator issuer; do $(GO) run ./cmd/$$t docs --markdown > docs/$$t.md && $(GO) run ./cmd/$$t docs --man > docs/man/$$t.1 || exit 1; done

# The walkthrough's sample data: a sample vendor key (NOT FOR PRODUCTION) and the catalogue.
sample-data:
	$(GO) run ./samples/data/generate.go
