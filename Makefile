# lodger's build. `make help` lists the targets.
GO       ?= go
PREFIX   ?= /usr/local
# Where AppArmor's profiles live; install puts lodger's there when it exists.
APPARMOR_D ?= /etc/apparmor.d
# The build tags are spelled once, in the file buildtags.
TAGS     := $(shell grep -vE '^(\#|$$)' buildtags)
VERSION  ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION)
export GOFLAGS := -tags=$(TAGS)
export PATH := /usr/local/go/bin:$(PATH)
# golangci-lint, pinned: another version finds other things. `go install`
# puts it in GOPATH/bin, which need not be on PATH and comes first (a
# distribution's older golangci-lint on PATH cannot read .golangci.yml).
GOLANGCI_LINT_VERSION := v2.15.0
GOLANGCI_LINT ?= $(or $(wildcard $(shell $(GO) env GOPATH)/bin/golangci-lint),golangci-lint)

.PHONY: all build test preflight unit e2e bench install uninstall vet lint fmt docs quickstart help clean

all: build ## Build ./bin/lodger, ./bin/lodger-transfer, ./bin/lodger-monitor, ./bin/lodger-session and ./bin/lodger-socket (default)

# lodger-transfer is ./cmd/lodger with the lodger_transfer tag: the whole
# command tree, registry client, builder and API server included, which
# lodger (without them, for a faster start) hands pull, push, build and
# the like over to (docs/architecture.md, "Start-up").
# lodger-monitor, the process that stays with each detached container, is
# built without paths in it (-trimpath) for a smaller binary: what it maps
# is what an idle container costs.
# Linked statically: a dynamically linked lodger spent ~3 ms of each start
# in the dynamic loader (libc's relocations, its page faults), 15% of
# `lodger version` here. glibc's NSS, which a static binary cannot load,
# stays out through the tags osusergo and netgo (buildtags). lodger-transfer
# stays dynamic: ocicrypt's PKCS#11 support (encrypted images) loads the
# user's module with dlopen, which a static binary cannot do reliably, and
# a pull or push is not a start-up's matter of milliseconds.
# tests/e2e/run.sh and bench/run.sh build with BINDIR set: the tests and
# the benchmarks run these binaries as make build makes them.
STATIC   := -linkmode external -extldflags -static
BINDIR   ?= bin
build: ## Build ./bin/lodger and lodger-transfer, and lodger-monitor, lodger-session and lodger-socket, which lodger starts (per detached container, per user, for an idle API service)
	CGO_ENABLED=1 $(GO) build -ldflags '$(LDFLAGS) $(STATIC)' -o $(BINDIR)/lodger ./cmd/lodger
	CGO_ENABLED=1 $(GO) build -tags '$(TAGS),lodger_transfer' -ldflags '$(LDFLAGS)' -o $(BINDIR)/lodger-transfer ./cmd/lodger
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '-s -w $(STATIC)' -o $(BINDIR)/lodger-monitor ./cmd/lodger-monitor
	CGO_ENABLED=1 $(GO) build -trimpath -ldflags '-s -w $(STATIC)' -o $(BINDIR)/lodger-session ./cmd/lodger-session
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '-s -w' -o $(BINDIR)/lodger-socket ./cmd/lodger-socket

test: preflight vet lint unit e2e ## The whole suite: vet, lint, unit tests, then end-to-end tests as an unprivileged user

# First, before anything is built: as root, set the machine up for the
# tests; as anyone else, check it and list the root commands to run once.
preflight: ## Check (as root: set up) what the tests need of the machine that only root can give
	@if [ "$$(id -u)" = 0 ]; then bash tests/setup-host.sh; else bash tests/setup-host.sh --check; fi

# As a user who is not root, package image's tests run as root of a user
# namespace of their own, with the user's subordinate ids (see
# image/main_test.go): no sudo, but a range in /etc/subuid and newuidmap.
unit: ## Unit tests (no root needed); the network stack's also under the race detector
	$(GO) test ./...
	$(GO) test -tags '$(TAGS),lodger_transfer' ./cmd/lodger
	$(GO) test -race ./netstack/...

e2e: ## End-to-end tests (as root: creates the test user and a loopback registry, then drops to that user)
	bash tests/e2e/run.sh

bench: ## Measure lodger against podman side by side; writes docs/benchmarks.md
	bash bench/run.sh

vet: ## gofmt and go vet
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) vet -tags '$(TAGS),lodger_transfer' ./cmd/lodger

# .golangci.yml says what runs and why each exclusion is there; its
# depguard rules are the layering of docs/architecture.md for each file's
# direct imports (internal/layering's test checks what each program links).
lint: ## golangci-lint (pinned, .golangci.yml): errcheck, staticcheck, the layering's import rules (depguard) and a few more
	@if ! command -v "$(GOLANGCI_LINT)" >/dev/null; then echo "golangci-lint not found; install it with: go install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)"; exit 1; fi
	@v=$$($(GOLANGCI_LINT) version --short 2>/dev/null); if [ "v$${v#v}" != "$(GOLANGCI_LINT_VERSION)" ]; then echo "warning: $(GOLANGCI_LINT) is $$v, not $(GOLANGCI_LINT_VERSION): findings may differ from CI's" >&2; fi
	$(GOLANGCI_LINT) run ./...
	@# lodger-transfer's files (the lodger_transfer tag); depguard's only
	@# rule for cmd/lodger, lean-cli, is about lodger without them.
	$(GOLANGCI_LINT) run --build-tags '$(TAGS),lodger_transfer' --disable depguard ./cmd/lodger/...

docs: ## Regenerate the command reference in docs/cli (unit tests check it)
	$(GO) test -tags '$(TAGS),lodger_transfer' ./cmd/lodger -run TestCLIDocs -update

fmt: ## Format the Go sources
	gofmt -w $$(git ls-files '*.go')

quickstart: build ## Run a first container (pulls busybox, or builds it offline from this machine's busybox)
	bash contrib/quickstart.sh

install: build ## Install lodger, lodger-transfer, lodger-monitor, lodger-session, lodger-socket and the completions under PREFIX, and lodger's AppArmor profile where /etc/apparmor.d exists
	install -D -m 0755 bin/lodger $(DESTDIR)$(PREFIX)/bin/lodger
	install -D -m 0755 bin/lodger-transfer $(DESTDIR)$(PREFIX)/bin/lodger-transfer
	install -D -m 0755 bin/lodger-monitor $(DESTDIR)$(PREFIX)/bin/lodger-monitor
	install -D -m 0755 bin/lodger-session $(DESTDIR)$(PREFIX)/bin/lodger-session
	install -D -m 0755 bin/lodger-socket $(DESTDIR)$(PREFIX)/bin/lodger-socket
	mkdir -p $(DESTDIR)$(PREFIX)/share/bash-completion/completions $(DESTDIR)$(PREFIX)/share/zsh/site-functions $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d
	bin/lodger completion bash > $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lodger
	bin/lodger completion zsh > $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_lodger
	bin/lodger completion fish > $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/lodger.fish
	@# Ubuntu 23.10+ lets a program create user namespaces only under an
	@# AppArmor profile with the userns rule (issue 19): lodger's, for the
	@# installed paths, where AppArmor's profile directory exists.
	@if [ -d $(APPARMOR_D) ]; then \
	  mkdir -p $(DESTDIR)$(APPARMOR_D) && \
	  bin/lodger system apparmor-profile --bindir $(PREFIX)/bin > $(DESTDIR)$(APPARMOR_D)/lodger && \
	  echo "installed the AppArmor profile $(DESTDIR)$(APPARMOR_D)/lodger; load it now with: apparmor_parser -r $(APPARMOR_D)/lodger"; \
	fi

uninstall: ## Remove what install put under PREFIX
	rm -f $(DESTDIR)$(PREFIX)/bin/lodger $(DESTDIR)$(PREFIX)/bin/lodger-transfer $(DESTDIR)$(PREFIX)/bin/lodger-monitor $(DESTDIR)$(PREFIX)/bin/lodger-session $(DESTDIR)$(PREFIX)/bin/lodger-socket $(DESTDIR)$(PREFIX)/share/bash-completion/completions/lodger \
	  $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_lodger $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/lodger.fish
	@if [ -f $(DESTDIR)$(APPARMOR_D)/lodger ]; then \
	  if [ -z "$(DESTDIR)" ] && command -v apparmor_parser >/dev/null; then apparmor_parser -R $(APPARMOR_D)/lodger || true; fi; \
	  rm -f $(DESTDIR)$(APPARMOR_D)/lodger && echo "removed the AppArmor profile $(DESTDIR)$(APPARMOR_D)/lodger"; \
	fi

clean: ## Remove build output
	rm -rf bin

help: ## List the targets
	@grep -hE '^[a-z0-9-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'
