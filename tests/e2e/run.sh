#!/usr/bin/env bash
# Run lodger's end-to-end tests: the one entry point for people and CI.
#
#   tests/e2e/run.sh [go test flags for the test binary, e.g. -test.run TestRun]
#
# As root: checks the host (docker-registry, newuidmap/newgidmap, busybox),
# creates the unprivileged user $LODGER_TEST_USER (default lodgertest) with
# subordinate id ranges when needed, and a second user $LODGER_TEST_PLANTER_USER
# (default lodgertest2) whose planter (tests/planter) plants run directories
# for the tests of issue 12, makes /dev/net/tun usable, maps the
# name lodger-e2e-hosts.test to the host's first non-loopback IPv4 address in
# /etc/hosts (the network tests resolve it inside a container), starts a
# registry on 127.0.0.1:5000 when nothing answers there, builds lodger,
# imagegen, nettool and the test binary, pushes the test images and runs the
# tests as that user. As any other user: builds, pushes and runs the same
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
tags=containers_image_openpgp,exclude_graphdriver_btrfs,exclude_graphdriver_devicemapper

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
# As root on a fresh Debian machine, install what the tests need, so that
# `sudo make test` works as the README says.
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	missing=()
	for pair in docker-registry:docker-registry newuidmap:uidmap busybox:busybox-static curl:curl rootlesskit:rootlesskit; do
		command -v "${pair%%:*}" >/dev/null || missing+=("${pair#*:}")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		log "installing ${missing[*]}"
		apt-get update -qq
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
	fi
fi
for tool in docker-registry newuidmap newgidmap busybox curl; do
	if [ "$tool" = docker-registry ] && [ "$(id -u)" != 0 ]; then
		continue # only needed when we start the registry ourselves
	fi
	command -v "$tool" >/dev/null ||
		die "$tool not found: install it (Debian: docker-registry, uidmap, busybox-static, curl; .ci/run does)"
done

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
	for _ in $(seq 100); do
		registry_up && return 0
		kill -0 "$registry_pid" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/registry/log" >&2 || true
	die "docker-registry did not come up on $registry"
}

if [ "$(id -u)" = 0 ]; then
	if ! id "$test_user" >/dev/null 2>&1; then
		log "creating user $test_user"
		useradd --create-home --shell /bin/bash "$test_user"
	fi
	if ! grep -qE "^($test_user|$(id -u "$test_user")):" /etc/subuid 2>/dev/null ||
		! grep -qE "^($test_user|$(id -u "$test_user")):" /etc/subgid 2>/dev/null; then
		log "giving $test_user subordinate ids 300000-365535"
		usermod --add-subuids 300000-365535 --add-subgids 300000-365535 "$test_user"
	fi
	if ! id "$planter_user" >/dev/null 2>&1; then
		log "creating user $planter_user (plants run directories for the tests of issue 12)"
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$planter_user"
	fi
	if [ ! -e /dev/net/tun ]; then
		mkdir -p /dev/net
		mknod -m 0666 /dev/net/tun c 10 200
	fi
	chmod 0666 /dev/net/tun
	# A name only the host's /etc/hosts knows: the container must resolve
	# it through lodger's DNS server, which answers from the host's files.
	host_ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$' || true)
	if [ -n "$host_ip" ] && ! grep -qE '^[^#]*[[:space:]]lodger-e2e-hosts\.test([[:space:]]|$)' /etc/hosts; then
		log "adding $host_ip lodger-e2e-hosts.test to /etc/hosts"
		echo "$host_ip lodger-e2e-hosts.test" >>/etc/hosts
	fi
	# Containers ping through the user's unprivileged ICMP sockets; where
	# no group may open them (Debian's default "1 0"), allow the test
	# user's group so that the ping path is tested, not skipped.
	read -r lo hi </proc/sys/net/ipv4/ping_group_range
	if [ "$lo" -gt "$hi" ]; then
		gid=$(id -g "$test_user")
		log "allowing ICMP sockets for group $gid (net.ipv4.ping_group_range)"
		echo "$gid $gid" >/proc/sys/net/ipv4/ping_group_range
	fi
fi

registry_up || start_registry

chmod 0755 "$WORK"
log "building into $WORK"
(
	cd "$repo"
	export GOFLAGS="${GOFLAGS:+$GOFLAGS }-tags=$tags"
	go build -o "$WORK/lodger" ./cmd/lodger
	# lodger finds its monitor and its session keeper beside itself.
	go build -o "$WORK/lodger-monitor" ./cmd/lodger-monitor
	go build -o "$WORK/lodger-session" ./cmd/lodger-session
	go build -o "$WORK/imagegen" ./tests/imagegen
	CGO_ENABLED=0 go build -o "$WORK/checker" ./tests/checker
	CGO_ENABLED=0 go build -o "$WORK/planter" ./tests/planter
	# netgo: Go's own resolver, reading /etc/resolv.conf and /etc/hosts.
	CGO_ENABLED=0 go build -tags netgo -o "$WORK/nettool" ./tests/nettool
	go test -c -tags "e2e,$tags" -o "$WORK/e2e.test" ./tests/e2e
)

log "pushing the test images to $registry"
"$WORK/imagegen" -registry "$registry" -busybox "$(command -v busybox)" -checker "$WORK/checker" -nettool "$WORK/nettool" >/dev/null
"$WORK/imagegen" -oci-archive "$WORK/busybox-oci.tar" -busybox "$(command -v busybox)"
chmod 0644 "$WORK/busybox-oci.tar"
# Checked-in archives (podman's save formats) the test user can read.
cp -r "$repo/tests/testdata" "$WORK/testdata"
chmod -R a+rX "$WORK/testdata"

# The second user's planter: the tests ask it to plant run directories
# under /tmp as another user would (tests/planter). It exits with us.
if [ "$(id -u)" = 0 ]; then
	mkdir -p "$WORK/planter.d"
	chown "$planter_user" "$WORK/planter.d"
	chmod 0755 "$WORK/planter.d"
	runuser -u "$planter_user" -- "$WORK/planter" -socket "$WORK/planter.d/sock" -parent $$ &
	planter_pid=$!
	for _ in $(seq 100); do
		[ -S "$WORK/planter.d/sock" ] && break
		sleep 0.05
	done
	[ -S "$WORK/planter.d/sock" ] || die "the planter did not start as $planter_user"
fi

# The clone may be unreadable to the test user: run from $WORK.
cd "$WORK"
args=(-test.v -test.timeout 20m "$@")
set +e
if [ "$(id -u)" = 0 ]; then
	home=$(getent passwd "$test_user" | cut -d: -f6)
	runuser -u "$test_user" -- env -i \
		HOME="${home:-/tmp}" USER="$test_user" PATH=/usr/sbin:/usr/bin:/sbin:/bin \
		LODGER_BIN="$WORK/lodger" LODGER_TEST_REGISTRY="$registry" \
		LODGER_TEST_OCI_ARCHIVE="$WORK/busybox-oci.tar" LODGER_TEST_DATA="$WORK/testdata" \
		LODGER_TEST_ROOT_SETUP=1 LODGER_TEST_PLANTER="$WORK/planter.d/sock" \
		"$WORK/e2e.test" "${args[@]}"
else
	LODGER_BIN="$WORK/lodger" LODGER_TEST_REGISTRY="$registry" \
		LODGER_TEST_OCI_ARCHIVE="$WORK/busybox-oci.tar" LODGER_TEST_DATA="$WORK/testdata" \
		"$WORK/e2e.test" "${args[@]}"
fi
rc=$?
set -e
exit "$rc"
