#!/usr/bin/env bash
# bench/run.sh — measure lodger against podman on this machine, in one run,
# and write docs/benchmarks.md.
#
# Usage: sudo bash bench/run.sh        (what `make bench` runs; needs root)
#        sudo bash bench/run.sh network
#                                     only the network benchmark (bench/network.sh):
#                                     replaces the Network section of the report
#                                     and keeps the rest
#        sudo bash bench/run.sh build
#                                     only the build benchmark (bench/build.sh):
#                                     lodger build against buildah bud and podman
#                                     build; replaces
#                                     the Builds section of the report
#        sudo bash bench/run.sh api
#                                     only the Engine API benchmark (bench/api.sh):
#                                     docker run through lodger's socket against
#                                     podman system service's; replaces that section
#        sudo bash bench/run.sh usernet
#                                     only container to container on a user network
#                                     (bench/usernet.sh): lodger network against
#                                     podman network and a root-made veth pair;
#                                     replaces that section
#        sudo bash bench/run.sh images
#                                     only push, save and load, and the warm-cache
#                                     run (bench/images.sh): replaces that section
#                                     of the report and keeps the rest
#
# Root is needed only to prepare the machine (packages, test user, registry,
# debootstrap); every measured command runs as the unprivileged BENCH_USER
# through runuser, which is how both tools are meant to be used.
#
# Knobs (environment):
#   BENCH_USER=lodgertest      unprivileged user the tools run as
#   BENCH_RUNS=30              timed runs per `run --rm true` variant
#   BENCH_ROUNDS=3             the runs are split into this many hyperfine
#                              rounds whose order alternates, so slow drift on
#                              a noisy machine hits both tools alike
#   BENCH_PULL_RUNS=7          cold pulls per tool (and of the floor)
#   BENCH_MEM_RUNS=7           max-RSS samples per tool
#   BENCH_CACHE=/var/cache/lodger-bench   debootstrap tarball (and the
#                              registry's storage when this script starts it)
#   BENCH_DEBIAN_MIRROR=URL    override the mirror read from apt's sources
#   BENCH_REGISTRY=127.0.0.1:5000   reused when it answers, else started here
#   BENCH_OUT=docs/benchmarks.md
#   BENCH_NET_RUNS=3           iperf3 runs (and short-connection runs) per row
#   BENCH_NET_SECONDS=5        length of one iperf3 run
#   BENCH_NET_CONNS=2000       connections per short-connection run
#   BENCH_NET_PORT=25201       first host port tried for servers and published ports
#   BENCH_IMG_RUNS=5           push, save and load runs per tool
#   BENCH_IMG_PORT=5102        port of the empty registry each push goes to
#   BENCH_WARM_PORT=5101       port of the registry the warm-cache image comes from
#   BENCH_WARM_RUNS=10         warm-cache runs per tool, with its registry up and down
#   BENCH_BUILD_RUNS=5         builds per tool and case (bench/build.sh: a-d)
#   BENCH_KEEP=1               keep the work directory (binaries, storage)
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BENCH_USER=${BENCH_USER:-lodgertest}
RUNS=${BENCH_RUNS:-30}
ROUNDS=${BENCH_ROUNDS:-3}
PULL_RUNS=${BENCH_PULL_RUNS:-7}
MEM_RUNS=${BENCH_MEM_RUNS:-7}
CACHE=${BENCH_CACHE:-/var/cache/lodger-bench}
OUT=${BENCH_OUT:-$REPO/docs/benchmarks.md}
REGISTRY=${BENCH_REGISTRY:-127.0.0.1:5000}
BUSYBOX_IMG=$REGISTRY/lodger-test/busybox:latest
DEBIAN_REPO=bench/debian
DEBIAN_TAG=minbase
DEBIAN_IMG=$REGISTRY/$DEBIAN_REPO:$DEBIAN_TAG
SUITE=bookworm
PACKAGES=(podman buildah runc slirp4netns passt debootstrap hyperfine docker-registry
	busybox-static uidmap curl time jq iperf3 iproute2
	# podman's --init (the testcontainers-go cycle of bench/api.sh runs with one).
	catatonit)
# The module's build tags keep cgo C libraries (gpgme, btrfs) out; the file
# buildtags spells them.
GOFLAGS=-tags=$(grep -vE '^(#|$)' "$REPO/buildtags")
export GOFLAGS

WORK=                 # temp dir: binaries, the user's private runtime/data dirs
RESULTS=              # raw hyperfine JSON and timing samples; kept after exit
REGISTRY_PID=         # set when this script started the registry
START_SECONDS=$SECONDS
MODE=full             # or network, images, build: that benchmark alone

# shellcheck source=bench/network.sh
. "$REPO/bench/network.sh"
# shellcheck source=bench/images.sh
. "$REPO/bench/images.sh"
# shellcheck source=bench/build.sh
. "$REPO/bench/build.sh"
# shellcheck source=bench/api.sh
. "$REPO/bench/api.sh"
# shellcheck source=bench/usernet.sh
. "$REPO/bench/usernet.sh"

log() { printf '[bench %(%H:%M:%S)T] %s\n' -1 "$*" >&2; }
die() {
	log "error: $*"
	exit 1
}
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "${BASH_SOURCE[0]}"; }

trap 'log "failed at line $LINENO: $BASH_COMMAND"' ERR
trap cleanup EXIT

# ---------------------------------------------------------------------------
# Machine preparation (root)
# ---------------------------------------------------------------------------

installed() { [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) == "install ok installed" ]]; }

ensure_packages() {
	local missing=() p
	for p in "${PACKAGES[@]}"; do
		installed "$p" || missing+=("$p")
	done
	((${#missing[@]} == 0)) && return
	log "installing ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

find_go() {
	GO=$(command -v go || true)
	[[ -n $GO ]] || GO=/usr/local/go/bin/go
	[[ -x $GO ]] || die "no Go toolchain: install the version go.mod asks for (Debian's golang is too old) into /usr/local/go"
}

# The user needs subordinate ids for a full user namespace; podman and lodger
# both read the same /etc/subuid and /etc/subgid.
ensure_user() {
	if ! id -u "$BENCH_USER" >/dev/null 2>&1; then
		log "creating user $BENCH_USER"
		useradd --create-home --shell /bin/bash "$BENCH_USER"
	fi
	local f start
	for f in /etc/subuid /etc/subgid; do
		touch "$f"
		grep -q "^$BENCH_USER:" "$f" && continue
		# First free range above every existing one (and above 100000).
		start=$(awk -F: '{e = $2 + $3; if (e > m) m = e} END {print (m < 100000 ? 100000 : m)}' "$f")
		log "adding $f range $start-$((start + 65535)) for $BENCH_USER"
		echo "$BENCH_USER:$start:65536" >>"$f"
	done
	USER_HOME=$(getent passwd "$BENCH_USER" | cut -d: -f6)
	if [[ -r /proc/sys/kernel/unprivileged_userns_clone && $(</proc/sys/kernel/unprivileged_userns_clone) == 0 ]]; then
		log "enabling kernel.unprivileged_userns_clone"
		sysctl -qw kernel.unprivileged_userns_clone=1
	fi
}

# Both slirp4netns/pasta and lodger's network open /dev/net/tun as the user.
ensure_tun() {
	if [[ ! -c /dev/net/tun ]]; then
		mkdir -p /dev/net
		mknod /dev/net/tun c 10 200
	fi
	chmod 0666 /dev/net/tun
}

# Reuse whatever answers on 127.0.0.1:5000; otherwise run Debian's
# docker-registry (distribution) ourselves, storing under the cache so the
# pushed images survive to the next run.
ensure_registry() {
	if curl -sf -o /dev/null "http://$REGISTRY/v2/"; then
		log "registry already answers on $REGISTRY"
		return
	fi
	log "starting docker-registry on $REGISTRY"
	mkdir -p "$CACHE/registry"
	cat >"$WORK/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $CACHE/registry
  delete:
    enabled: true
http:
  addr: $REGISTRY
EOF
	docker-registry serve "$WORK/registry.yml" >"$WORK/registry.log" 2>&1 &
	REGISTRY_PID=$!
	local i
	for i in $(seq 100); do
		curl -sf -o /dev/null "http://$REGISTRY/v2/" && return
		kill -0 "$REGISTRY_PID" 2>/dev/null || break
		sleep 0.1
	done
	cat "$WORK/registry.log" >&2
	die "docker-registry did not come up on $REGISTRY"
}

# A private work dir the user can read (binaries) and, below it, the user's
# own runtime and data dirs. Pointing XDG_RUNTIME_DIR and XDG_DATA_HOME there
# isolates both tools from anyone else using the same account (their session
# keeper, their images) and lets us stop exactly the helpers we started.
make_workdir() {
	WORK=$(mktemp -d /tmp/lbench.XXXXXX)
	chmod 0755 "$WORK"
	mkdir -p "$WORK/bin"
	install -d -m 0700 -o "$BENCH_USER" -g "$BENCH_USER" "$WORK/user" "$WORK/user/run" "$WORK/user/data" "$WORK/user/tmp"
	RESULTS=$(mktemp -d /tmp/lbench-results.XXXXXX)
	chmod 0755 "$RESULTS"
	chown "$BENCH_USER:" "$RESULTS"
	log "work dir $WORK, raw results in $RESULTS"
}

build_binaries() {
	log "building lodger, lodger-transfer, lodger-monitor, lodger-session, lodger-socket and imagegen"
	# lodger and its helpers as make build makes them: statically linked,
	# and the monitor's size is what an idle container costs.
	(cd "$REPO" && make --no-print-directory build GO="$GO" BINDIR="$WORK/bin" &&
		"$GO" build -o "$WORK/bin/imagegen" ./tests/imagegen &&
		CGO_ENABLED=0 "$GO" build -o "$WORK/bin/apiping" ./bench/apiping &&
		CGO_ENABLED=0 "$GO" build -tags netgo -o "$WORK/bin/nettool" ./tests/nettool)
	chmod 0755 "$WORK/bin"/*
	LODGER_COMMIT=$(git -C "$REPO" -c safe.directory="$REPO" rev-parse --short HEAD 2>/dev/null || echo unknown)
	if [[ -n $(git -C "$REPO" -c safe.directory="$REPO" status --porcelain --untracked-files=no 2>/dev/null) ]]; then
		LODGER_COMMIT+=" (with uncommitted changes)"
	fi
}

# Debian's mirror as apt is configured here: the first deb URI serving the
# suite, from deb822 .sources files or the one-line sources.list format.
debian_mirror() {
	if [[ -n ${BENCH_DEBIAN_MIRROR:-} ]]; then
		echo "$BENCH_DEBIAN_MIRROR"
		return
	fi
	local f uri
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -r $f ]] || continue
		uri=$(awk -v suite="$SUITE" '
			BEGIN { RS = ""; FS = "\n" }
			{
				types = ""; uris = ""; suites = ""
				for (i = 1; i <= NF; i++) {
					if ($i ~ /^[ \t]*#/) continue
					if ($i ~ /^Types:/)  types  = " " substr($i, 7) " "
					if ($i ~ /^URIs:/)   uris   = substr($i, 6)
					if ($i ~ /^Suites:/) suites = " " substr($i, 8) " "
				}
				gsub(/\t/, " ", suites)
				if (types ~ / deb / && suites ~ (" " suite " ")) { split(uris, u, " "); print u[1]; exit }
			}' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -r $f ]] || continue
		uri=$(awk -v suite="$SUITE" '
			$1 == "deb" {
				i = 2
				if ($i ~ /^\[/) while ($i !~ /\]$/) i++
				if ($i ~ /^\[/ || $i ~ /\]$/) i++
				if ($(i + 1) == suite) { print $i; exit }
			}' "$f")
		[[ -n $uri ]] && { echo "$uri"; return; }
	done
	die "no 'deb' source for $SUITE in apt's configuration; set BENCH_DEBIAN_MIRROR"
}

# Unmount anything debootstrap may have left mounted below $1, then remove it.
remove_tree() {
	local dir=$1 m
	[[ -e $dir ]] || return 0
	for m in $(findmnt -rn -o TARGET | grep -F "$dir/" | sort -r); do
		umount -l "$m" || true
	done
	rm -rf --one-file-system "$dir"
}

# debootstrap is the slow step (minutes), so its result is cached as a tarball.
debian_tarball() {
	DEBIAN_TARBALL=$CACHE/debian-$SUITE-minbase.tar.gz
	if [[ -s $DEBIAN_TARBALL ]]; then
		log "using cached $DEBIAN_TARBALL"
		return
	fi
	local mirror dir=$CACHE/debootstrap.tmp
	mirror=$(debian_mirror)
	log "debootstrap --variant=minbase $SUITE from $mirror (once; cached)"
	mkdir -p "$CACHE"
	remove_tree "$dir"
	if ! debootstrap --variant=minbase "$SUITE" "$dir" "$mirror" >"$WORK/debootstrap.log" 2>&1; then
		tail -n 30 "$WORK/debootstrap.log" >&2
		remove_tree "$dir"
		die "debootstrap failed (log above)"
	fi
	# Drop what apt leaves behind (the downloaded .debs, the package lists: 60 MB
	# compressed), as Debian's own container images do.
	find "$dir/var/cache/apt" "$dir/var/lib/apt/lists" -type f ! -name lock -delete
	tar --numeric-owner -C "$dir" -czf "$DEBIAN_TARBALL.tmp" .
	mv "$DEBIAN_TARBALL.tmp" "$DEBIAN_TARBALL"
	remove_tree "$dir"
}

manifest() {
	curl -sf "$@" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
		-H 'Accept: application/vnd.docker.distribution.manifest.v2+json' \
		"http://$REGISTRY/v2/$DEBIAN_REPO/manifests/$DEBIAN_TAG"
}
manifest_digest() { manifest -I | tr -d '\r' | awk 'tolower($1) == "docker-content-digest:" {print $2}'; }

push_images() {
	log "pushing the busybox test set"
	"$WORK/bin/imagegen" -registry "$REGISTRY" -busybox /bin/busybox >/dev/null
	[[ $MODE == network || $MODE == build || $MODE == api || $MODE == usernet ]] && return
	debian_tarball
	# The stamp holds the manifest digest pushed from the cached tarball; imagegen
	# is reproducible, so a registry showing that digest needs no new push.
	local stamp=$CACHE/debian-$SUITE-minbase.pushed current
	current=$(manifest_digest || true)
	if [[ -n $current && -s $stamp && $stamp -nt $DEBIAN_TARBALL && $(<"$stamp") == "$current" ]]; then
		log "$DEBIAN_IMG already in the registry"
	else
		log "pushing $DEBIAN_IMG"
		mkdir "$WORK/rootfs"
		tar --numeric-owner -C "$WORK/rootfs" -xzf "$DEBIAN_TARBALL"
		"$WORK/bin/imagegen" -rootfs "$WORK/rootfs" -push "$DEBIAN_IMG" -compress gzip >/dev/null 2>"$WORK/imagegen.log" ||
			{ cat "$WORK/imagegen.log" >&2; die "imagegen could not push $DEBIAN_IMG"; }
		remove_tree "$WORK/rootfs"
		manifest_digest >"$stamp"
	fi
	local m
	m=$(manifest) || die "cannot read the manifest of $DEBIAN_IMG"
	[[ $(jq '.layers | length' <<<"$m") == 1 ]] || die "$DEBIAN_IMG should have exactly one layer"
	LAYER_DIGEST=$(jq -r '.layers[0].digest' <<<"$m")
	LAYER_SIZE=$(jq -r '.layers[0].size' <<<"$m")
}

# ---------------------------------------------------------------------------
# Running as the benchmark user
# ---------------------------------------------------------------------------

# A clean environment: nothing of root's (XDG_RUNTIME_DIR=/run/user/0, say)
# may leak into the user's tools.
as_user() {
	(cd / && runuser -u "$BENCH_USER" -- env -i \
		PATH="$WORK/bin:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin" \
		HOME="$USER_HOME" USER="$BENCH_USER" LOGNAME="$BENCH_USER" LANG=C.UTF-8 \
		XDG_RUNTIME_DIR="$WORK/user/run" XDG_DATA_HOME="$WORK/user/data" TMPDIR="$WORK/user/tmp" \
		"$@")
}

# Rootless podman as Debian 12 ships it needs help on this kind of host:
#  - runc: crun refuses the hybrid cgroup v1/v2 layout;
#  - cgroupfs: there is no systemd user session to ask for a scope;
#  - events to a file: no journald;
#  - overlay: without it podman 4.3 falls back to vfs (it only probes for
#    fuse-overlayfs, and /dev/fuse is root-only), which copies every image per
#    container and would make the comparison unfair; kernel overlay works
#    rootless here, the same driver lodger uses;
#  - the local registry is plain http.
# default_ulimits is left alone: the "runc can't set rlimits" failure happens
# only for root podman in a sandbox without CAP_SYS_RESOURCE (it raises
# RLIMIT_NOFILE to 1048576); rootless podman keeps the user's limits.
configure_podman() {
	local dir=$USER_HOME/.config/containers
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$USER_HOME/.config" "$dir"
	cat >"$dir/containers.conf" <<'EOF'
# Written by lodger's bench/run.sh.
[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
EOF
	cat >"$dir/registries.conf" <<EOF
# Written by lodger's bench/run.sh.
unqualified-search-registries = []

[[registry]]
location = "$REGISTRY"
insecure = true
EOF
	cat >"$dir/storage.conf" <<'EOF'
# Written by lodger's bench/run.sh.
[storage]
driver = "overlay"
EOF
	chown "$BENCH_USER:" "$dir"/*.conf
}

# Pull the busybox image into each tool's storage and check that both can run
# it. podman failing is reported, not fatal: lodger is still measured.
verify_tools() {
	log "checking lodger"
	as_user lodger pull -q --tls-verify=false "$BUSYBOX_IMG" >/dev/null
	as_user lodger run --rm --network none "$BUSYBOX_IMG" true ||
		die "lodger run --rm --network none $BUSYBOX_IMG true failed as $BENCH_USER"
	LODGER_DRIVER=$(as_user lodger info --format json | jq -r .storage.driver)
	# --network is repeatable (a stringArray, no default shown): its help
	# line names the default first.
	LODGER_NET=$(as_user lodger run --help | sed -n 's/^ *--network string[A-Za-z]* *network: \([a-z]*\).*(the default.*/\1/p')
	LODGER_NET=${LODGER_NET:-netstack}
	log "checking podman"
	PODMAN_OK=1
	PODMAN_ERR=
	if ! PODMAN_ERR=$(as_user podman pull -q --tls-verify=false "$BUSYBOX_IMG" 2>&1 >/dev/null &&
		as_user podman run --rm --network none "$BUSYBOX_IMG" true 2>&1); then
		PODMAN_OK=0
		log "podman cannot run here; measuring lodger alone: $PODMAN_ERR"
		return
	fi
	# Which network podman uses when none is asked for (slirp4netns or pasta).
	local id
	id=$(as_user podman create -q "$BUSYBOX_IMG" true)
	PODMAN_NET=$(as_user podman inspect -f '{{.HostConfig.NetworkMode}}' "$id")
	as_user podman rm -f "$id" >/dev/null
	PODMAN_DRIVER=$(as_user podman info --format '{{.Store.GraphDriverName}}')
}

# ---------------------------------------------------------------------------
# Statistics
# ---------------------------------------------------------------------------

# stats FILE -> "median mean min max n" of one number per line.
stats() {
	sort -g "$1" | awk '{v[NR] = $1; s += $1}
		END {
			if (NR == 0) { print "nan nan nan nan 0"; exit }
			m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.6f %.6f %.6f %.6f %d\n", m, s / NR, v[1], v[NR], NR
		}'
}
field() { awk -v i="$2" '{print $i}' <<<"$1"; }
ms() { awk -v x="$1" 'BEGIN {printf "%.1f", x * 1000}'; }
mib() { awk -v k="$1" 'BEGIN {printf "%.1f MiB", k / 1024}'; }
sec() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b > 0) printf "%.2f", a / b; else print "n/a"}'; }
# met VALUE OP LIMIT -> "met" or "not met"
met() { awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
	ok = (op == "<=") ? (a <= b) : (a >= b); print (ok ? "met" : "**not met**") }'; }

# ---------------------------------------------------------------------------
# Measurements
# ---------------------------------------------------------------------------

# a. `run --rm IMG true`. hyperfine runs each command's runs back to back, so
# the runs are split into rounds and the order of commands alternates between
# rounds; the per-run times of all rounds are pooled.
bench_run() {
	# lodger-privileged runs without the default security setup (no seccomp
	# filter, no masked paths, every capability): the difference to
	# lodger-none is what that setup costs.
	local names=(lodger-none lodger-default lodger-privileged) cmds=(
		"lodger run --rm --network none $BUSYBOX_IMG true"
		"lodger run --rm $BUSYBOX_IMG true"
		"lodger run --rm --network none --privileged $BUSYBOX_IMG true")
	if ((PODMAN_OK)); then
		names+=(podman-none podman-default)
		cmds+=("podman run --rm --network none $BUSYBOX_IMG true"
			"podman run --rm $BUSYBOX_IMG true")
	fi
	local per=$(((RUNS + ROUNDS - 1) / ROUNDS)) r i args order
	for ((r = 1; r <= ROUNDS; r++)); do
		order=()
		for i in "${!names[@]}"; do order+=("$i"); done
		((r % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
		args=()
		for i in "${order[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
		log "run --rm true: round $r/$ROUNDS (${per} runs each)"
		as_user hyperfine -N --style basic --warmup 3 --runs "$per" \
			--export-json "$RESULTS/run-round$r.json" "${args[@]}" >"$RESULTS/run-round$r.txt"
	done
	local n
	for n in "${names[@]}"; do
		jq -r --arg n "$n" '.results[] | select(.command == $n) | .times[]' "$RESULTS"/run-round*.json >"$RESULTS/run-$n.times"
		RUN_STATS[$n]=$(stats "$RESULTS/run-$n.times")
	done
}

# time_user CMD DIR: run the shell command CMD as the user with $D=DIR and
# print its wall time in seconds, measured inside the user's shell so that
# runuser's own start-up is not counted. CMD's stderr goes to DIR.err and is
# shown when it fails.
time_user() {
	as_user bash -o pipefail -c 'D=$1; t0=$EPOCHREALTIME
		{ '"$1"'; } >/dev/null 2>"$D.err" || { cat "$D.err" >&2; exit 1; }
		t1=$EPOCHREALTIME
		awk -v a="$t0" -v b="$t1" "BEGIN {printf \"%.6f\n\", b - a}"' time_user "$2"
}

# b. Cold pull of the Debian image: each pull into a brand-new graph root.
# The floor is the same bytes through curl | gzip -dc | tar -x. The page cache
# is warm for all three (the registry's blob was read before); `sync` between
# runs keeps one run's writeback out of the next one's timing.
bench_pull() {
	local tools=(lodger floor) i k t dir
	((PODMAN_OK)) && tools=(lodger podman floor)
	local url="http://$REGISTRY/v2/$DEBIAN_REPO/blobs/$LAYER_DIGEST"
	declare -A cmd=(
		[lodger]="lodger --root \$D/root pull -q --tls-verify=false $DEBIAN_IMG"
		[podman]="podman --root \$D/root --runroot \$D/run pull -q --tls-verify=false $DEBIAN_IMG"
		[floor]="mkdir \$D/root && curl -sf $url | gzip -dc | tar -x -C \$D/root"
	)
	# One untimed pass warms the registry's blob in the page cache.
	curl -sf -o /dev/null "$url"
	for t in "${tools[@]}"; do : >"$RESULTS/pull-$t.times"; done
	for ((i = 0; i < PULL_RUNS; i++)); do
		for ((k = 0; k < ${#tools[@]}; k++)); do
			# Rotate who goes first, so no tool always follows the same one.
			t=${tools[$(((i + k) % ${#tools[@]}))]}
			dir=$WORK/user/tmp/$t-$i # short: podman limits --runroot to 50 bytes
			install -d -m 0700 -o "$BENCH_USER" -g "$BENCH_USER" "$dir"
			if ! time_user "${cmd[$t]}" "$dir" >>"$RESULTS/pull-$t.times"; then
				die "cold pull failed: ${cmd[$t]//\$D/$dir} (as $BENCH_USER)"
			fi
			if [[ $t == floor ]]; then
				FLOOR_BYTES=$(du -sb "$dir/root" | cut -f1)
			fi
			remove_tree "$dir"
			rm -f "$dir.err"
			sync
		done
		log "cold pull: run $((i + 1))/$PULL_RUNS done"
	done
	for t in "${tools[@]}"; do PULL_STATS[$t]=$(stats "$RESULTS/pull-$t.times"); done
}

# c. Peak memory. GNU time reports the largest max-RSS among the command and
# the descendants it waited for: for lodger that is the CLI and the container
# init it forks; for podman it is podman itself (conmon daemonizes and runc is
# conmon's child, so neither is counted).
bench_mem() {
	local tools=(lodger) i t
	((PODMAN_OK)) && tools+=(podman)
	for t in "${tools[@]}"; do : >"$RESULTS/mem-$t.kb"; done
	for ((i = 0; i < MEM_RUNS; i++)); do
		for t in "${tools[@]}"; do
			as_user /usr/bin/time -f %M -o "$WORK/user/tmp/mem" "$t" run --rm --network none "$BUSYBOX_IMG" true >/dev/null
			as_user cat "$WORK/user/tmp/mem" >>"$RESULTS/mem-$t.kb"
		done
	done
	for t in "${tools[@]}"; do MEM_STATS[$t]=$(stats "$RESULTS/mem-$t.kb"); done
	# The long-lived helpers each tool leaves per user (not per container).
	LODGER_KEEPER_KB=$(helper_rss "$(lodger_keeper_pids)")
	PODMAN_PAUSE_KB=$(helper_rss "$(podman_pause_pid)")
}

# d. The lifecycle: `exec CTR true` against podman exec, the idle monitor's
# memory, and `ps` with 100 idle detached containers.
bench_lifecycle() {
	log "exec CTR true"
	as_user lodger run -d -q --name bench-exec --network none "$BUSYBOX_IMG" sleep 3600 >/dev/null
	local cmds=(-n lodger-exec "lodger exec bench-exec true")
	if ((PODMAN_OK)); then
		as_user podman run -d --name bench-exec --network none "$BUSYBOX_IMG" sleep 3600 >/dev/null
		cmds+=(-n podman-exec "podman exec bench-exec true")
	fi
	as_user hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-json "$RESULTS/exec.json" "${cmds[@]}" >"$RESULTS/exec.txt"
	local n
	for n in lodger-exec podman-exec; do
		jq -r --arg n "$n" '.results[] | select(.command == $n) | .times[]' "$RESULTS/exec.json" >"$RESULTS/$n.times" 2>/dev/null || true
		[[ -s $RESULTS/$n.times ]] && RUN_STATS[$n]=$(stats "$RESULTS/$n.times")
	done
	local mpid
	mpid=$(as_user lodger inspect -f '{{.Lodger.MonitorPid}}' bench-exec)
	MONITOR_RSS_KB=$(awk '/^VmRSS/ {print $2}' "/proc/$mpid/status")
	MONITOR_ANON_KB=$(awk '/^RssAnon/ {print $2}' "/proc/$mpid/status")
	MONITOR_PSS_KB=$(awk '/^Pss:/ {print $2}' "/proc/$mpid/smaps_rollup")
	as_user lodger rm -f bench-exec >/dev/null
	if ((PODMAN_OK)); then as_user podman rm -f bench-exec >/dev/null; fi

	log "100 idle detached containers"
	local i
	for ((i = 0; i < 100; i++)); do
		as_user lodger run -d -q --name "idle$i" --network none "$BUSYBOX_IMG" sleep 3600 >/dev/null
	done
	IDLE_MONITORS_PSS_KB=$(for p in $(pgrep -u "$BENCH_USER" -x lodger-monitor); do awk '/^Pss:/ {print $2}' "/proc/$p/smaps_rollup"; done | awk '{s += $1} END {print s + 0}')
	as_user hyperfine -N --style basic --warmup 3 --runs "$RUNS" --export-json "$RESULTS/ps100.json" -n lodger-ps100 "lodger ps" >"$RESULTS/ps100.txt"
	jq -r '.results[0].times[]' "$RESULTS/ps100.json" >"$RESULTS/lodger-ps100.times"
	RUN_STATS[lodger-ps100]=$(stats "$RESULTS/lodger-ps100.times")
	as_user sh -c 'lodger ps -a -q | xargs lodger rm -f' >/dev/null
}

helper_rss() {
	local pid kb=0
	for pid in $1; do
		kb=$((kb + $(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status" 2>/dev/null || echo 0)))
	done
	echo "$kb"
}

# lodger's session keeper: the child in the user namespace, its parent, and
# the pause process under it.
lodger_keeper_pids() {
	local f=$WORK/user/run/lodger/session/child_pid child
	[[ -r $f ]] || return 0
	child=$(<"$f")
	[[ -d /proc/$child ]] || return 0
	awk '/^PPid:/ {print $2}' "/proc/$child/status"
	echo "$child"
	pgrep -P "$child" || true
}

podman_pause_pid() {
	local f=$WORK/user/run/libpod/tmp/pause.pid
	[[ -r $f ]] && cat "$f"
	return 0
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

machine_facts() {
	DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	NPROC=$(nproc)
	KERNEL=$(uname -r)
	CPU=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
	MEM_GIB=$(awk '/^MemTotal:/ {printf "%.1f", $2 / 1048576}' /proc/meminfo)
	OS=$(. /etc/os-release && echo "$PRETTY_NAME")
	CGROUPS=$( [[ -e /sys/fs/cgroup/cgroup.controllers ]] && echo "v2 (unified)" || echo "v1/hybrid")
	FS=$(df -T "$WORK" | awk 'NR == 2 {print $2}')
	LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	V_LODGER=$("$WORK/bin/lodger" version | awk '$1 == "Version:" {print $2; exit}')
	V_GO=$("$GO" version | awk '{print $3}')
	V_PODMAN=$(podman --version | awk '{print $3}')
	V_RUNC=$(runc --version | awk 'NR == 1 {print $3}')
	V_CONMON=$(dpkg-query -W -f='${Version}' conmon 2>/dev/null || echo "?")
	V_SLIRP=$(dpkg-query -W -f='${Version}' slirp4netns 2>/dev/null || echo "?")
	V_PASST=$(dpkg-query -W -f='${Version}' passt 2>/dev/null || echo "?")
	V_HYPERFINE=$(hyperfine --version | awk '{print $2}')
}

write_report() {
	LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
	local ln=${RUN_STATS[lodger-none]} ld=${RUN_STATS[lodger-default]} lpv=${RUN_STATS[lodger-privileged]}
	local pn=${RUN_STATS[podman-none]:-} pd=${RUN_STATS[podman-default]:-}
	local pl=${PULL_STATS[lodger]} pp=${PULL_STATS[podman]:-} pf=${PULL_STATS[floor]}
	local ml=${MEM_STATS[lodger]} mp=${MEM_STATS[podman]:-}
	local ln_med pn_med helpers
	ln_med=$(field "$ln" 1)
	local elapsed=$((SECONDS - START_SECONDS))
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"

	runrow() { # name stats podman-median-for-ratio
		local s=$2
		printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(ms "$(field "$s" 1)")" "$(ms "$(field "$s" 2)")" \
			"$(ms "$(field "$s" 3)")" "$(ms "$(field "$s" 4)")" "$(field "$s" 5)"
	}
	pullrow() {
		local s=$2
		printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(sec "$(field "$s" 1)")" "$(sec "$(field "$s" 2)")" \
			"$(sec "$(field "$s" 3)")" "$(sec "$(field "$s" 4)")" "$(field "$s" 5)"
	}

	{
		cat <<EOF
# Benchmarks

lodger against podman on one machine, measured side by side in one run by
\`make bench\` (\`bash bench/run.sh\`, as root; the tools themselves run as the
unprivileged user \`$BENCH_USER\`). This file is generated; rerun to refresh.

- Date: $DATE; the whole bench took $((elapsed / 60)) min $((elapsed % 60)) s
- Machine: $OS, kernel $KERNEL, $NPROC CPUs ($CPU), $MEM_GIB GiB memory,
  cgroups $CGROUPS, storage on $FS
- Load average (1, 5, 15 min) before the measurements: $LOADAVG; after: $LOADAVG_AFTER.
  The bench itself keeps about one CPU busy; more than that was other work
  sharing the machine. Medians are the headline figures because they shrug
  off such interference best.
- lodger $V_LODGER, commit $LODGER_COMMIT, built with $V_GO
- podman $V_PODMAN, runc $V_RUNC, conmon $V_CONMON, slirp4netns $V_SLIRP, passt $V_PASST; hyperfine $V_HYPERFINE
EOF
		if ((PODMAN_OK)); then
			cat <<EOF
- Storage driver: lodger \`$LODGER_DRIVER\`, podman \`$PODMAN_DRIVER\` (set in the user's
  storage.conf: podman 4.3 otherwise falls back to vfs here); podman runs with runc and
  cgroupfs (see \`configure_podman\` in bench/run.sh for why)
EOF
		else
			cat <<EOF

**podman could not run on this machine**, so only lodger was measured and no
ratio is given. podman's error:

\`\`\`
$PODMAN_ERR
\`\`\`
EOF
		fi
		cat <<EOF

## Targets

| target | measured | status |
| --- | --- | --- |
| \`run --rm IMG true\` median ≤ 40 ms (\`--network none\`) | $(ms "$ln_med") ms | $(met "$(ms "$ln_med")" "<=" 40) |
| default security setup (seccomp, masks, capabilities) costs ≤ 5 ms of median | $(awk -v a="$ln_med" -v b="$(field "$lpv" 1)" 'BEGIN {printf "%.1f", (a - b) * 1000}') ms | $(met "$(awk -v a="$ln_med" -v b="$(field "$lpv" 1)" 'BEGIN {printf "%.1f", (a - b) * 1000}')" "<=" 5) |
EOF
		if ((PODMAN_OK)); then
			pn_med=$(field "$pn" 1)
			cat <<EOF
| \`run --rm IMG true\` ≥ 6× faster than podman (\`--network none\`) | $(ratio "$pn_med" "$ln_med")× | $(met "$(ratio "$pn_med" "$ln_med")" ">=" 6) |
| cold pull ≥ 2.5× faster than podman | $(ratio "$(field "$pp" 1)" "$(field "$pl" 1)")× | $(met "$(ratio "$(field "$pp" 1)" "$(field "$pl" 1)")" ">=" 2.5) |
EOF
		else
			echo "| \`run --rm IMG true\` ≥ 6× faster than podman | podman did not run | not measured |"
			echo "| cold pull ≥ 2.5× faster than podman | podman did not run | not measured |"
		fi
		cat <<EOF
| cold pull within 1.5× of the floor | $(ratio "$(field "$pl" 1)" "$(field "$pf" 1)")× | $(met "$(ratio "$(field "$pl" 1)" "$(field "$pf" 1)")" "<=" 1.5) |

## \`run --rm IMG true\`

IMG is \`$BUSYBOX_IMG\` (static busybox, one layer), already in each tool's
storage. hyperfine \`-N --warmup 3\`, $RUNS runs per command in $ROUNDS rounds whose
command order alternates; times pooled over the rounds. Times in ms.

| command | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
$(runrow "\`lodger run --rm --network none IMG true\`" "$ln")
$(runrow "\`lodger run --rm IMG true\` (default network: $LODGER_NET)" "$ld")
$(runrow "\`lodger run --rm --network none --privileged IMG true\` (no seccomp, masks or capability limits)" "$lpv")
EOF
		if ((PODMAN_OK)); then
			cat <<EOF
$(runrow "\`podman run --rm --network none IMG true\`" "$pn")
$(runrow "\`podman run --rm IMG true\` (default network: $PODMAN_NET)" "$pd")

Ratio of medians podman/lodger: **$(ratio "$pn_med" "$ln_med")×** with \`--network none\`,
**$(ratio "$(field "$pd" 1)" "$(field "$ld" 1)")×** with each tool's default network
(lodger's default is $LODGER_NET, podman's is $PODMAN_NET: each tool's own
userspace network set up and torn down).
EOF
		fi
		cat <<EOF

## Cold pull of \`$DEBIAN_IMG\`

A Debian $SUITE \`debootstrap --variant=minbase\` root filesystem packed by
\`tests/imagegen\` as one gzip layer of $(awk -v b="$LAYER_SIZE" 'BEGIN {printf "%.1f", b / 1e6}') MB
($(awk -v b="${FLOOR_BYTES:-0}" 'BEGIN {printf "%.0f", b / 1e6}') MB unpacked), served over plain http by a local registry.
Every pull goes into a new, empty graph root (\`lodger --root DIR pull\`,
\`podman --root DIR --runroot DIR2 pull\`); $PULL_RUNS runs each, interleaved.
The floor is the bare transfer and unpack:
\`curl -s http://$REGISTRY/v2/$DEBIAN_REPO/blobs/<layer> | gzip -dc | tar -x -C DIR\`.
Times in seconds.

| command | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
$(pullrow "\`lodger pull\`" "$pl")
EOF
		((PODMAN_OK)) && pullrow "\`podman pull\`" "$pp"
		cat <<EOF
$(pullrow "floor (curl \| gzip -dc \| tar -x)" "$pf")

EOF
		((PODMAN_OK)) && echo "Ratio of medians podman/lodger: **$(ratio "$(field "$pp" 1)" "$(field "$pl" 1)")×**;"
		cat <<EOF
lodger/floor: **$(ratio "$(field "$pl" 1)" "$(field "$pf" 1)")×**.
EOF
		# The two pull targets are tied through podman's distance to the floor.
		((PODMAN_OK)) && cat <<EOF

Meeting "2.5× faster than podman" here would take a pull of
$(awk -v p="$(field "$pp" 1)" 'BEGIN {printf "%.2f", p / 2.5}') s, $(ratio "$(awk -v p="$(field "$pp" 1)" 'BEGIN {print p / 2.5}')" "$(field "$pf" 1)")× the floor
(podman itself is at $(ratio "$(field "$pp" 1)" "$(field "$pf" 1)")× the floor); below 1× means beating
\`curl | gzip -dc | tar -x\` on the same bytes.
EOF
		cat <<EOF

## Peak memory of \`run --rm --network none IMG true\`

Max RSS from \`/usr/bin/time -f %M\`, $MEM_RUNS runs each. GNU time reports the
largest RSS among the command and the descendants it waited for: for lodger
the CLI and the container init it forks; for podman only podman itself, since
conmon daemonizes and runc runs under conmon.

| tool | median | min | max |
| --- | --- | --- | --- |
| lodger | $(mib "$(field "$ml" 1)") | $(mib "$(field "$ml" 3)") | $(mib "$(field "$ml" 4)") |
EOF
		((PODMAN_OK)) && echo "| podman | $(mib "$(field "$mp" 1)") | $(mib "$(field "$mp" 3)") | $(mib "$(field "$mp" 4)") |"
		helpers="lodger's session keeper (rootlesskit parent, namespace child and pause) $(mib "$LODGER_KEEPER_KB") RSS in total"
		((PODMAN_OK)) && helpers+="; podman's pause process (catatonit) $(mib "$PODMAN_PAUSE_KB")"
		printf '\nLong-lived per-user helpers, not counted above: %s.\n' "$helpers"
		lifecycle_report
		build_report
		images_report
		network_report
		usernet_report
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote $OUT"
}

lifecycle_report() {
	local le=${RUN_STATS[lodger-exec]} pe=${RUN_STATS[podman-exec]:-} ps100=${RUN_STATS[lodger-ps100]}
	local pss_mb
	pss_mb=$(awk -v k="$MONITOR_PSS_KB" 'BEGIN {printf "%.1f", k / 1024}')
	printf '\n## Lifecycle\n\n'
	printf '`exec CTR true` into a running detached container (`sleep 3600`), hyperfine `-N --warmup 3`, %s runs. Times in ms.\n\n' "$RUNS"
	printf '| command | median | mean | min | max | runs |\n| --- | --- | --- | --- | --- | --- |\n'
	runrow '`lodger exec CTR true`' "$le"
	if [[ -n $pe ]]; then
		runrow '`podman exec CTR true`' "$pe"
		printf '\nRatio of medians podman/lodger: **%s×** (target: at least 5×: %s).\n' \
			"$(ratio "$(field "$pe" 1)" "$(field "$le" 1)")" "$(met "$(ratio "$(field "$pe" 1)" "$(field "$le" 1)")" ">=" 5)"
	fi
	printf '\nIdle monitor of one detached container (`--network none`): RSS %s, of which anonymous %s; PSS %s. The binary'"'"'s pages are shared by every lodger process, so PSS is what each monitor costs (target: at most 10 MB: %s).\n' \
		"$(mib "$MONITOR_RSS_KB")" "$(mib "$MONITOR_ANON_KB")" "$(mib "$MONITOR_PSS_KB")" "$(met "$pss_mb" "<=" 10)"
	printf '\nWith 100 idle detached containers: their monitors'"'"' PSS together %s; `lodger ps` median %s ms (min %s, max %s; target: under 100 ms: %s).\n' \
		"$(mib "$IDLE_MONITORS_PSS_KB")" "$(ms "$(field "$ps100" 1)")" "$(ms "$(field "$ps100" 3)")" "$(ms "$(field "$ps100" 4)")" "$(met "$(ms "$(field "$ps100" 1)")" "<=" 100)"
}

# ---------------------------------------------------------------------------
# Cleanup
# ---------------------------------------------------------------------------

# Stop what this run started: the registry, lodger's session keeper and
# podman's pause process in the private runtime dir. The work dir holds files
# owned by the user's subordinate ids, which only root can remove.
cleanup() {
	local rc=$? pids=()
	if [[ -n $WORK && -n ${USER_HOME:-} ]]; then net_cleanup; fi
	stop_scratch_registry
	if [[ -n $WORK ]]; then
		mapfile -t pids < <(lodger_keeper_pids; podman_pause_pid)
		if ((${#pids[@]})); then kill "${pids[@]}" 2>/dev/null || true; fi
	fi
	if [[ -n $REGISTRY_PID ]]; then
		kill "$REGISTRY_PID" 2>/dev/null || true
		wait "$REGISTRY_PID" 2>/dev/null || true
	fi
	if [[ -n $WORK && -z ${BENCH_KEEP:-} ]]; then
		sleep 0.2
		remove_tree "$WORK"
	fi
	[[ -n $RESULTS ]] && log "raw results kept in $RESULTS"
	exit "$rc"
}

main() {
	case ${1:-} in
	-h | --help)
		usage
		exit 0
		;;
	"") ;;
	network) MODE=network ;;
	images) MODE=images ;;
	build) MODE=build ;;
	api) MODE=api ;;
	usernet) MODE=usernet ;;
	*)
		usage >&2
		exit 2
		;;
	esac
	((EUID == 0)) || die "run as root (it installs packages and prepares the test user); the measured commands run as $BENCH_USER"

	declare -gA RUN_STATS=() PULL_STATS=() MEM_STATS=()
	ensure_packages
	find_go
	ensure_user
	ensure_tun
	make_workdir
	ensure_registry
	build_binaries
	push_images
	configure_podman
	verify_tools
	machine_facts
	if [[ $MODE == network ]]; then
		bench_network
		splice_network_report
		log "done in $((SECONDS - START_SECONDS)) s"
		return
	fi
	if [[ $MODE == build ]]; then
		bench_build
		splice_build_report
		log "done in $((SECONDS - START_SECONDS)) s"
		return
	fi
	if [[ $MODE == usernet ]]; then
		bench_usernet
		splice_usernet_report
		log "done in $((SECONDS - START_SECONDS)) s"
		return
	fi
	if [[ $MODE == api ]]; then
		bench_api
		splice_api_report
		log "done in $((SECONDS - START_SECONDS)) s"
		return
	fi
	if [[ $MODE == images ]]; then
		bench_images
		splice_images_report
		log "done in $((SECONDS - START_SECONDS)) s"
		return
	fi
	bench_run
	bench_pull
	bench_mem
	bench_lifecycle
	bench_images
	bench_network
	bench_usernet
	bench_build
	write_report
	log "done in $((SECONDS - START_SECONDS)) s"
}

main "$@"
