#!/usr/bin/env bash
# What lodger's tests need of the machine that only root can give, in one
# place: the packages, the test users and their subordinate ids, user
# namespaces, /dev/net/tun, ICMP sockets and a name in /etc/hosts.
#
#   tests/setup-host.sh            as root: sets the machine up for the test
#                                  user $LODGER_TEST_USER (default lodgertest,
#                                  created when missing) and the second user
#                                  $LODGER_TEST_PLANTER_USER (lodgertest2);
#                                  tests/e2e/run.sh and .ci/run run it.
#   tests/setup-host.sh --check    as the user who runs the tests (`make test`
#                                  does this first): checks the same for that
#                                  user and, when something is missing, prints
#                                  one list of the root commands to run once,
#                                  and exits 1 (issue 17).
#
# Both modes go through the same list of checks, so that what root sets up
# and what a user is told to ask for cannot drift apart.
set -euo pipefail

registry=${LODGER_TEST_REGISTRY:-127.0.0.1:5000}
planter_user=${LODGER_TEST_PLANTER_USER:-lodgertest2}
# The name only the host's /etc/hosts knows: the network tests resolve it
# inside a container, through lodger's DNS server.
hosts_name=lodger-e2e-hosts.test

check=false
if [ "${1:-}" = --check ]; then
	check=true
	user=$(id -un)
elif [ "$(id -u)" = 0 ]; then
	user=${LODGER_TEST_USER:-lodgertest}
else
	echo "setup-host.sh: run it as root to set the machine up, or with --check as the user who runs the tests" >&2
	exit 2
fi

log() { echo "setup-host.sh: $*" >&2; }

fixes=()
# need DESCRIPTION COMMAND...: as root, runs the command; with --check,
# keeps it for the list.
need() {
	local what=$1
	shift
	if $check; then
		fixes+=("$*")
	else
		log "$what"
		eval "$*"
	fi
}

# Tools, as command:package. docker-registry only where no registry answers
# (run.sh starts one); gcc and git for the build itself (cgo, make vet);
# buildah, whose image configurations lodger build's are compared with;
# systemd-socket-activate, which starts the Engine API service as a
# systemd socket unit would, and node and npm, which run testcontainers
# for node against it (issue 15).
pkgs=()
for pair in newuidmap:uidmap newgidmap:uidmap busybox:busybox-static curl:curl \
	rootlesskit:rootlesskit gcc:gcc git:git buildah:buildah systemd-socket-activate:systemd \
	node:nodejs npm:npm; do
	command -v "${pair%%:*}" >/dev/null || pkgs+=("${pair#*:}")
done
# Docker 20.10's client, Debian's docker.io, a client of the Engine API
# service of an older API version (1.41) than the docker on PATH (issue
# 15). Its daemon is never started: policy-rc.d refuses every service
# start during the install.
if ! /usr/bin/docker --version 2>/dev/null | grep -q ' 20\.10\.'; then
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		need "refusing service starts (policy-rc.d) before docker.io's install" \
			"printf '#!/bin/sh\\nexit 101\\n' >/usr/sbin/policy-rc.d && chmod 0755 /usr/sbin/policy-rc.d"
	fi
	pkgs+=(docker.io)
fi
# A user who is not root starts the second user's planter through sudo.
if $check && ! command -v sudo >/dev/null; then
	pkgs+=(sudo)
fi
if ! command -v docker-registry >/dev/null &&
	{ ! $check || ! curl -sf -o /dev/null "http://$registry/v2/" 2>/dev/null; }; then
	pkgs+=(docker-registry)
fi
if [ ${#pkgs[@]} -gt 0 ]; then
	mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | sort -u)
	if ! $check && ! command -v apt-get >/dev/null; then
		echo "setup-host.sh: install ${pkgs[*]} (Debian package names) and run again" >&2
		exit 1
	fi
	if $check; then
		fixes+=("apt-get install -y --no-install-recommends ${pkgs[*]}")
	else
		log "installing ${pkgs[*]}"
		# Waits for dpkg's lock and retries dropped downloads, as .ci/run.
		apt_opts=(-o Acquire::Retries=5 -o DPkg::Lock::Timeout=600)
		apt-get "${apt_opts[@]}" update -qq
		DEBIAN_FRONTEND=noninteractive apt-get "${apt_opts[@]}" install -y -qq --no-install-recommends "${pkgs[@]}" >/dev/null
	fi
fi

if ! $check && ! id "$user" >/dev/null 2>&1; then
	need "creating user $user" useradd --create-home --shell /bin/bash "$user"
fi

# A subordinate range, by name or uid, in both files. A new one starts
# above every range already given.
has_range() {
	local uid
	uid=$(id -u "$1" 2>/dev/null) || return 1
	grep -qE "^($1|$uid):" /etc/subuid 2>/dev/null && grep -qE "^($1|$uid):" /etc/subgid 2>/dev/null
}
if ! has_range "$user"; then
	start=$(cat /etc/subuid /etc/subgid 2>/dev/null | awk -F: 'BEGIN{m=100000} $3>0 && $2+$3>m {m=$2+$3} END{print m}')
	need "giving $user subordinate ids $start-$((start + 65535))" \
		usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$user"
fi

# User namespaces. Ubuntu 23.10+ lets only profiled programs make them; the
# unit tests' binaries have no profile (issue 19 covers lodger's own), so
# that is the user's call, not root's setup: told, not changed.
if [ "$(cat /proc/sys/kernel/unprivileged_userns_clone 2>/dev/null || echo 1)" = 0 ]; then
	need "enabling unprivileged user namespaces" sysctl -qw kernel.unprivileged_userns_clone=1
fi
if [ "$(cat /proc/sys/user/max_user_namespaces 2>/dev/null || echo 1)" = 0 ]; then
	need "enabling user namespaces" sysctl -qw user.max_user_namespaces=15000
fi
if [ "$(cat /proc/sys/kernel/apparmor_restrict_unprivileged_userns 2>/dev/null || echo 0)" = 1 ]; then
	if $check; then
		fixes+=("sysctl -w kernel.apparmor_restrict_unprivileged_userns=0   # AppArmor: the test binaries make user namespaces")
	else
		log "warning: kernel.apparmor_restrict_unprivileged_userns=1: the unit tests run as $user cannot make user namespaces"
	fi
fi

# The default network opens /dev/net/tun as the user.
if $check; then
	[ -r /dev/net/tun ] && [ -w /dev/net/tun ] || fixes+=("chmod 0666 /dev/net/tun")
else
	if [ ! -e /dev/net/tun ]; then
		mkdir -p /dev/net
		mknod -m 0666 /dev/net/tun c 10 200
	fi
	chmod 0666 /dev/net/tun
fi

# Containers ping through the user's unprivileged ICMP sockets: the range
# must take in the user's group (Debian's default "1 0" takes in none).
gid=$(id -g "$user")
read -r lo hi </proc/sys/net/ipv4/ping_group_range
if [ "$lo" -gt "$gid" ] || [ "$hi" -lt "$gid" ]; then
	if [ "$lo" -gt "$hi" ]; then
		lo=$gid hi=$gid
	else
		[ "$lo" -le "$gid" ] || lo=$gid
		[ "$hi" -ge "$gid" ] || hi=$gid
	fi
	need "allowing ICMP sockets for group $gid (net.ipv4.ping_group_range)" \
		sysctl -qw "net.ipv4.ping_group_range=\"$lo $hi\""
fi

# The host's first non-loopback IPv4 address under a name only /etc/hosts has.
host_ip=$(hostname -I 2>/dev/null | tr ' ' '\n' | grep -m1 -E '^[0-9]+(\.[0-9]+){3}$' || true)
if [ -n "$host_ip" ] && ! grep -qE "^[^#]*[[:space:]]${hosts_name//./\\.}([[:space:]]|\$)" /etc/hosts; then
	need "adding $host_ip $hosts_name to /etc/hosts" "echo '$host_ip $hosts_name' >>/etc/hosts"
fi

# The second local user, the attacker who plants run directories (issue 12).
# As root run.sh starts its planter with runuser; a user who is not root
# needs sudo to that user alone, without a password.
if ! id "$planter_user" >/dev/null 2>&1; then
	need "creating user $planter_user (plants run directories for the tests of issue 12)" \
		useradd --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin "$planter_user"
fi
if $check && ! sudo -n -u "$planter_user" true 2>/dev/null; then
	fixes+=("echo '$user ALL=($planter_user) NOPASSWD: ALL' >/etc/sudoers.d/lodger-tests-$user && chmod 0440 /etc/sudoers.d/lodger-tests-$user")
fi

# A v1 freezer, memory and pids cgroup delegated to the test user, as a
# privileged setup chowns a hierarchy to a user (issue 13): the tests of
# the delegated path run lodger inside lodger-e2e; every other test runs
# outside it, on the undelegated path. A cgroup v2-only machine has no v1
# hierarchy to delegate this way.
for ctrl in freezer memory pids; do
	base=/sys/fs/cgroup/$ctrl
	[ "$(stat -f -c %T "$base" 2>/dev/null)" = cgroupfs ] || continue
	dir=$base/lodger-e2e
	if [ "$(stat -c %U "$dir" 2>/dev/null)" != "$user" ] || [ "$(stat -c %U "$dir/cgroup.procs" 2>/dev/null)" != "$user" ]; then
		need "delegating the cgroup $dir to $user" "mkdir -p '$dir' && chown -R '$user' '$dir'"
	fi
done

if $check && [ ${#fixes[@]} -gt 0 ]; then
	{
		echo "setup-host.sh: this machine is not set up for lodger's tests as $user. As root, once (chmod, sysctl and the cgroups again after a reboot):"
		echo
		printf '  %s\n' "${fixes[@]}"
		echo
		echo "or run the tests as root (sudo make test): that does all this for the user lodgertest and runs them as that user."
	} >&2
	exit 1
fi
exit 0
