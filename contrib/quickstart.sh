#!/usr/bin/env bash
# lodger's first run: `make quickstart`. Runs a real container from a real
# image. With network access it pulls busybox from the registry your
# registries.conf names (docker.io by default); offline it builds a tiny
# busybox image from this machine's static busybox (Debian: busybox-static)
# and runs that, so the same command works on an air-gapped machine.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
LODGER=${LODGER:-$PWD/bin/lodger}
# The build tags, spelled once in the file buildtags.
GOFLAGS=-tags=$(grep -vE '^(#|$)' buildtags)
export GOFLAGS

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

image=docker.io/library/busybox:latest
say "pulling $image (falls back to an offline image after 15 s)"
if ! timeout 15 "$LODGER" pull -q "$image" >/dev/null 2>&1; then
	if ! command -v busybox >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
		say "offline: installing busybox-static"
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
	fi
	bb=$(command -v busybox || true)
	if [ -z "$bb" ] || ! file -L "$bb" 2>/dev/null | grep -q 'statically linked'; then
		for c in /bin/busybox /usr/bin/busybox; do [ -x "$c" ] && bb=$c; done
	fi
	if [ -z "$bb" ]; then
		echo "no network and no busybox here: install busybox-static (apt-get install busybox-static) and run again" >&2
		exit 1
	fi
	say "offline: building a busybox image from $bb"
	work=$(mktemp -d)
	trap 'rm -rf "$work"' EXIT
	go build -o "$work/imagegen" ./tests/imagegen
	"$work/imagegen" -oci-archive "$work/busybox.tar" -busybox "$bb" >/dev/null
	chmod -R a+rX "$work"
	image="oci-archive:$work/busybox.tar:busybox:latest"
fi
say "lodger run --rm $image"
"$LODGER" run --rm -q "$image" sh -c 'echo "hello from a lodger container: $(uname -sr), pid $$, user $(id -un), host $(hostname)"'
