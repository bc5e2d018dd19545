#!/usr/bin/env bash
# Run lodger's end-to-end tests: the one entry point for people and CI.
#
#   tests/e2e/run.sh [go test flags for the test binary, e.g. -test.run TestRun]
#
# As root: sets the host up with tests/setup-host.sh (packages, the
# unprivileged user $LODGER_TEST_USER, default lodgertest, with subordinate id
# ranges, a second user $LODGER_TEST_PLANTER_USER, default lodgertest2, whose
# planter (tests/planter) plants run directories for the tests of issue 12,
# /dev/net/tun, ICMP sockets, and the name lodger-e2e-hosts.test for the
# host's first non-loopback IPv4 address in /etc/hosts, which the network
# tests resolve inside a container), starts a
# registry on 127.0.0.1:5000 when nothing answers there, builds lodger,
# imagegen, nettool and the test binary, pushes the test images and runs the
# tests as that user. As any other user: first checks the same with
# tests/setup-host.sh --check (which lists the root commands to run once
# when something is missing), then builds, pushes and runs the same
# way, using the registry at $LODGER_TEST_REGISTRY (starting one on
# 127.0.0.1:5000 when none answers and docker-registry is installed).
#
# Exits with the test binary's status.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
test_user=${LODGER_TEST_USER:-lodgertest}
# The second local user, the attacker who plants run directories (issue 12).
planter_user=${LODGER_TEST_PLANTER_USER:-lodgertest2}
registry=${LODGER_TEST_REGISTRY:-127.0.0.1:5000}
tags=$(grep -vE '^(#|$)' "$repo/buildtags")

die() {
	echo "run.sh: $*" >&2
	exit 1
}
log() {
	echo "run.sh: $*" >&2
}

if [ -x /usr/local/go/bin/go ] && ! command -v go >/dev/null; then
	PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || die "go not found in PATH"
# What only root can give the tests (packages, the users, subordinate ids,
# /dev/net/tun, ICMP sockets, a name in /etc/hosts) is in tests/setup-host.sh:
# as root, set it up; as anyone else, check it before building anything and
# stop with the list of root commands to run once (issue 17).
export LODGER_TEST_USER=$test_user LODGER_TEST_PLANTER_USER=$planter_user LODGER_TEST_REGISTRY=$registry
if [ "$(id -u)" = 0 ]; then
	bash "$repo/tests/setup-host.sh"
else
	bash "$repo/tests/setup-host.sh" --check
fi

WORK=$(mktemp -d /tmp/lodger-e2e.XXXXXX)
registry_pid=
planter_pid=
cleanup() {
	local rc=$?
	if [ -n "$planter_pid" ]; then
		kill "$planter_pid" 2>/dev/null || true
		wait "$planter_pid" 2>/dev/null || true
	fi
	if [ -n "$registry_pid" ]; then
		kill "$registry_pid" 2>/dev/null || true
		wait "$registry_pid" 2>/dev/null || true
	fi
	rm -rf "$WORK" || true
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

registry_up() {
	curl -sf -o /dev/null "http://$registry/v2/"
}

# start_registry runs docker-registry on $registry with storage in $WORK
# and waits until it answers.
start_registry() {
	command -v docker-registry >/dev/null ||
		die "no registry answers at http://$registry/v2/ and docker-registry is not installed"
	mkdir -p "$WORK/registry"
	cat >"$WORK/registry/config.yml" <<EOF
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $WORK/registry/data
  delete:
    enabled: true
http:
  addr: $registry
EOF
	log "starting docker-registry on $registry"
	docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
	registry_pid=$!
	# Up to 60 s: a loaded machine may take seconds to start it.
	for _ in $(seq 600); do
		registry_up && return 0
		kill -0 "$registry_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/registry/log" >&2 || true
	die "docker-registry did not come up on $registry"
}

registry_up || start_registry

chmod 0755 "$WORK"
log "building into $WORK"
(
	cd "$repo"
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=$tags"
	# The binaries as make build makes them (statically linked). lodger
	# finds lodger-transfer (what pulls, pushes, builds and serves the
	# API), its monitor and its session keeper beside itself.
	make --no-print-directory build BINDIR="$WORK"
	go build -o "$WORK/imagegen" ./tests/imagegen
	CGO_ENABLED=0 go build -o "$WORK/checker" ./tests/checker
	CGO_ENABLED=0 go build -o "$WORK/planter" ./tests/planter
	# netgo: Go's own resolver, reading /etc/resolv.conf and /etc/hosts.
	CGO_ENABLED=0 go build -tags netgo -o "$WORK/nettool" ./tests/nettool
	go test -c -tags "e2e,$tags" -o "$WORK/e2e.test" ./tests/e2e
	# testcontainers-go, a client of the Engine API socket, in a module of
	# its own so that lodger never links it (issue 15).
	(cd tests/tcgo && go test -c -tags e2e -o "$WORK/tcgo.test" . &&
		CGO_ENABLED=0 go build -o "$WORK/reaper" ./reaper)
	# docker compose v5, pinned in a module of its own (tests/compose).
	(cd tests/compose && go build -o "$WORK/docker-compose" github.com/docker/compose/v5/cmd)
)
# Docker's CLI, which the API tests drive, where the test user reads it.
if command -v docker >/dev/null; then
	cp "$(command -v docker)" "$WORK/docker"
fi
# testcontainers for node, from tests/tcnode's lock file (issue 15).
cp -r "$repo/tests/tcnode" "$WORK/tcnode"
(cd "$WORK/tcnode" && npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >/dev/null)
chmod -R a+rX "$WORK/tcnode"

log "pushing the test images to $registry"
"$WORK/imagegen" -registry "$registry" -busybox "$(command -v busybox)" -checker "$WORK/checker" -nettool "$WORK/nettool" -getent "$(command -v getent)" >/dev/null
"$WORK/imagegen" -oci-archive "$WORK/busybox-oci.tar" -busybox "$(command -v busybox)"
chmod 0644 "$WORK/busybox-oci.tar"
# Checked-in archives (podman's save formats) the test user can read.
cp -r "$repo/tests/testdata" "$WORK/testdata"
chmod -R a+rX "$WORK/testdata"

# The second user's planter: the tests ask it to plant run directories
# under /tmp as another user would (tests/planter). It exits with us. A
# user who is not root starts it through sudo to that user alone, which
# setup-host.sh --check asks root for, and cannot chown its directory.
mkdir -p "$WORK/planter.d"
if [ "$(id -u)" = 0 ]; then
	chown "$planter_user" "$WORK/planter.d"
	chmod 0755 "$WORK/planter.d"
	runuser -u "$planter_user" -- "$WORK/planter" -socket "$WORK/planter.d/sock" -parent $$ &
else
	chmod 1777 "$WORK/planter.d"
	sudo -n -u "$planter_user" -- "$WORK/planter" -socket "$WORK/planter.d/sock" -parent $$ &
fi
planter_pid=$!
# Up to 60 s, as for the registry.
for _ in $(seq 600); do
	[ -S "$WORK/planter.d/sock" ] && break
	sleep 0.1
done
[ -S "$WORK/planter.d/sock" ] || die "the planter did not start as $planter_user"

# The clone may be unreadable to the test user: run from $WORK.
cd "$WORK"
# The suite takes about 10 minutes on a quiet machine; the timeout is a
# safety net for a hung test, not a measure of a slow machine.
args=(-test.v -test.timeout 45m "$@")
set +e
if [ "$(id -u)" = 0 ]; then
	home=$(getent passwd "$test_user" | cut -d: -f6)
	runuser -u "$test_user" -- env -i \
		HOME="${home:-/tmp}" USER="$test_user" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LODGER_BIN="$WORK/lodger" LODGER_TEST_REGISTRY="$registry" \
		LODGER_TEST_OCI_ARCHIVE="$WORK/busybox-oci.tar" LODGER_TEST_DATA="$WORK/testdata" \
		LODGER_TEST_ROOT_SETUP=1 LODGER_TEST_PLANTER="$WORK/planter.d/sock" \
		LODGER_TEST_DOCKER="$WORK/docker" LODGER_TEST_TCGO="$WORK/tcgo.test" LODGER_TEST_REAPER="$WORK/reaper" \
		LODGER_TEST_COMPOSE="$WORK/docker-compose" LODGER_TEST_TCNODE="$WORK/tcnode" \
		"$WORK/e2e.test" "${args[@]}"
else
	# setup-host.sh --check passed: the machine is set up as root's run
	# sets it up, so a test that finds it otherwise fails, not skips.
	LODGER_BIN="$WORK/lodger" LODGER_TEST_REGISTRY="$registry" \
		LODGER_TEST_OCI_ARCHIVE="$WORK/busybox-oci.tar" LODGER_TEST_DATA="$WORK/testdata" \
		LODGER_TEST_ROOT_SETUP=1 LODGER_TEST_PLANTER="$WORK/planter.d/sock" \
		LODGER_TEST_DOCKER="$WORK/docker" LODGER_TEST_TCGO="$WORK/tcgo.test" LODGER_TEST_REAPER="$WORK/reaper" \
		LODGER_TEST_COMPOSE="$WORK/docker-compose" LODGER_TEST_TCNODE="$WORK/tcnode" \
		"$WORK/e2e.test" "${args[@]}"
fi
rc=$?
set -e
exit "$rc"
