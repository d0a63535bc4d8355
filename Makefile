# Eddy's build and test entry points. `make test` is what CI runs.
GO ?= go

.PHONY: build test test-short vet fuzz bench clean

build:
	$(GO) build -o bin/eddy ./cmd/eddy

# The whole suite: unit, integration (real broker on loopback), crash and
# client-interop tests. Interop tests need kcat, python3-kafka,
# python3-confluent-kafka and node (see .ci/install-interop.sh); locally they
# skip with a message when a tool is missing, in CI (CI=true) they fail.
test: vet
	$(GO) test -count=1 -timeout 20m ./...

test-short:
	$(GO) test -short -count=1 ./...

vet:
	$(GO) vet ./...

# A short run of every fuzz target (FUZZTIME per target).
FUZZTIME ?= 30s
fuzz:
	./scripts/fuzz.sh $(FUZZTIME)

clean:
	rm -rf bin
