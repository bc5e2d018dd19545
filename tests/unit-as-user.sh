#!/usr/bin/env bash
# As root: runs the unit tests (make unit) as the unprivileged test user
# $LODGER_TEST_USER (default lodgertest), as a contributor without root
# runs them, so that a test that works only as root cannot come back
# unnoticed (issue 17). .ci/run runs it after `make test`.
#
#   tests/unit-as-user.sh [make variables, e.g. GO=...]
#
# The user gets a copy of the work tree and Go caches of its own in a temp
# dir; root's are neither opened to it nor written. Modules come from a copy
# of root's module download cache, served read-only as GOPROXY=file://, so
# nothing is downloaded again (the go command checks them against go.sum);
# the build cache starts empty, the price of not sharing root's.
set -euo pipefail

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
user=${LODGER_TEST_USER:-lodgertest}

die() {
	echo "unit-as-user.sh: $*" >&2
	exit 1
}
[ "$(id -u)" = 0 ] || die "run it as root (as yourself, run make unit)"
if [ -x /usr/local/go/bin/go ] && ! command -v go >/dev/null; then
	PATH=$PATH:/usr/local/go/bin
fi
command -v go >/dev/null || die "go not found in PATH"

# The user, its subordinate ids and the rest (idempotent).
LODGER_TEST_USER=$user bash "$repo/tests/setup-host.sh"

work=$(mktemp -d /tmp/lodger-unit.XXXXXX)
trap 'rm -rf "$work"' EXIT
download=$(go env GOMODCACHE)/cache/download
[ -d "$download" ] || die "no module cache at $download: run make unit as root first"
cp -a "$download" "$work/goproxy"
mkdir "$work/src"
tar -C "$repo" --exclude=./.git --exclude=./bin -cf - . | tar -C "$work/src" -xf -
mkdir "$work/gocache" "$work/gomodcache"
chown -R "$user:" "$work"
chmod 0700 "$work"

home=$(getent passwd "$user" | cut -d: -f6)
echo "unit-as-user.sh: make unit as $user in $work/src" >&2
runuser -u "$user" -- env -i \
	HOME="${home:-$work}" USER="$user" PATH="$(dirname "$(command -v go)"):/usr/sbin:/usr/bin:/sbin:/bin" \
	GOCACHE="$work/gocache" GOMODCACHE="$work/gomodcache" GOPROXY="file://$work/goproxy" \
	GOTOOLCHAIN=local LODGER_TEST_REQUIRE_REGISTRY="${LODGER_TEST_REQUIRE_REGISTRY:-}" \
	make -C "$work/src" --no-print-directory unit "$@"
