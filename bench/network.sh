# bench/network.sh — the network benchmark of bench/run.sh (sourced by it,
# not run on its own): iperf3 throughput container→host and host→container
# through a published port, the short-connection rate through a published
# port, and the idle memory of the process that holds the network, for
# lodger's netstack, podman with slirp4netns, pasta and the host itself.
#
# Each peer that cannot run here is recorded as "did not run: REASON"; only
# lodger's own measurements are required.

NET_RUNS=${BENCH_NET_RUNS:-3}
NET_SECONDS=${BENCH_NET_SECONDS:-5}
NET_CONNS=${BENCH_NET_CONNS:-2000}
NET_MTU=65520
NET_PORT=${BENCH_NET_PORT:-25201}
IPERF_IMG=$REGISTRY/lodger-bench/iperf3:latest
# pasta copies the host's own address into its namespace by default, and then
# HOSTIP would be the namespace's own address; give it lodger's layout instead
# (its gateway is mapped to the host, as with --map-gw).
PASTA_NET=(--config-net -a 10.0.2.100 -n 24 -g 10.0.2.2 -m "$NET_MTU" -u none -T none -U none -q)
SLIRP=slirp4netns:mtu=$NET_MTU

# The image: iperf3 and the shared libraries ldd names (with the dynamic
# loader) from the host, busybox-static for a shell and httpd, and a page
# for httpd to serve. Pushed to the local registry and pulled by each tool,
# as the other bench images are.
build_net_image() {
	local root=$WORK/netroot lib a
	log "building $IPERF_IMG"
	command -v iperf3 >/dev/null || die "no iperf3 on the host (Debian's iperf3 package)"
	mkdir -p "$root"/{bin,etc,tmp,www,usr/bin}
	chmod 1777 "$root/tmp"
	cp /usr/bin/iperf3 "$root/usr/bin/"
	for lib in $(ldd /usr/bin/iperf3 | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /^\// {print $1}'); do
		mkdir -p "$root$(dirname "$lib")"
		cp -L "$lib" "$root$lib"
	done
	# nettool (static) for the user-network benchmark's latency.
	[[ -x $WORK/bin/nettool ]] && cp "$WORK/bin/nettool" "$root/usr/bin/nettool"
	cp /bin/busybox "$root/bin/busybox"
	for a in $(/bin/busybox --list); do
		[[ -e $root/bin/$a ]] || ln -s busybox "$root/bin/$a"
	done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$root/etc/passwd"
	echo 'root:x:0:' >"$root/etc/group"
	echo hello >"$root/www/index.html"
	"$WORK/bin/imagegen" -rootfs "$root" -push "$IPERF_IMG" >/dev/null 2>"$WORK/imagegen-net.log" ||
		{ cat "$WORK/imagegen-net.log" >&2; die "imagegen could not push $IPERF_IMG"; }
	# The same page for the servers pasta and the host run from host binaries.
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$WORK/user/www"
	cp "$root/www/index.html" "$WORK/user/www/"
	remove_tree "$root"
	as_user lodger pull -q --tls-verify=false "$IPERF_IMG" >/dev/null
}

# Which peers can run. Each check is the cheapest real use of the peer;
# the reason it failed is kept for the report.
check_net_peers() {
	declare -gA NET_SKIP=()
	HOST_IP=$(ip -4 -o addr show scope global | awk '{split($4, a, "/"); print a[1]; exit}')
	[[ -n $HOST_IP ]] || die "no non-loopback IPv4 address on the host for the container→host server"
	as_user lodger run --rm "$IPERF_IMG" iperf3 -v >/dev/null ||
		die "lodger run --rm $IPERF_IMG iperf3 -v failed as $BENCH_USER"
	local out
	if ((!PODMAN_OK)); then
		NET_SKIP[slirp]="podman does not run here"
	elif ! out=$(as_user podman pull -q --tls-verify=false "$IPERF_IMG" 2>&1 >/dev/null &&
		as_user podman run --rm --network "$SLIRP" "$IPERF_IMG" true 2>&1); then
		NET_SKIP[slirp]=$(oneline "$out")
	fi
	if ! out=$(as_user timeout 20 pasta "${PASTA_NET[@]}" -t none -- true 2>&1); then
		NET_SKIP[pasta]=$(oneline "$out")
	fi
	local k
	for k in "${!NET_SKIP[@]}"; do log "network: $k will not run: ${NET_SKIP[$k]}"; done
}

# oneline TEXT: the last line that is not pasta's syslog noise, shortened.
oneline() { grep -v 'to syslog$' <<<"$1" | grep -v '^time=.*level=warning' | tail -n 1 | cut -c1-160 | tr -d '|`'; }

# wait_until TRIES CMD...: run CMD every 0.1 s until it succeeds.
wait_until() {
	local n=$1 i
	shift
	for ((i = 0; i < n; i++)); do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}
listening() { [[ -n $(ss -Hltn "( sport = :$1 )") ]]; }
# free_port N: the first port from N up that nothing listens on.
free_port() {
	local p=$1
	while listening "$p"; do p=$((p + 1)); done
	echo "$p"
}

# iperf_result FILE -> "GBPS MIN_INTERVAL_GBPS", or fail printing the error.
iperf_result() {
	jq -r 'if .error then "error: \(.error)"
		elif .end.sum_received.bits_per_second then
			"\(.end.sum_received.bits_per_second / 1e9) \([.intervals[].sum.bits_per_second] | min / 1e9)"
		else "error: no result" end' "$1" 2>/dev/null | grep -v '^error' ||
		{ jq -r '.error // "no JSON from iperf3"' "$1" 2>/dev/null || echo "no JSON from iperf3"; return 1; }
}

# net_record KEY FILE ERRFILE: add one iperf3 sample to KEY's series, or note
# why it failed.
net_record() {
	local key=$1 r
	if r=$(iperf_result "$2"); then
		echo "${r% *}" >>"$RESULTS/net-$key.gbps"
		echo "${r#* }" >>"$RESULTS/net-$key.minint"
	else
		NET_FAIL[$key]="$(oneline "$r $(cat "$3" 2>/dev/null)")"
		log "network: $key failed: ${NET_FAIL[$key]}"
	fi
}

# bg_user PIDFILE CMD...: start CMD as the user in the background; PIDFILE
# gets CMD's own pid (sh execs it), not runuser's.
bg_user() {
	local pidf=$1
	shift
	rm -f "$pidf"
	as_user sh -c 'echo $$ >"$0"; exec "$@"' "$pidf" "$@" &
	BG_PID=$!
	wait_until 50 test -s "$pidf"
}

# descendants PID: every process below PID.
descendants() {
	local c
	for c in $(pgrep -P "$1"); do
		echo "$c"
		descendants "$c"
	done
}

# stop_tree PIDFILE: stop the process and everything below it (pasta's
# command in its namespace outlives pasta otherwise).
stop_tree() {
	local f=$1 pid
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	local pids
	pids="$(descendants "$pid") $pid"
	# shellcheck disable=SC2086 # one pid per word
	kill $pids 2>/dev/null || true
	# busybox httpd in pasta's namespace shrugs off SIGTERM.
	sleep 0.2
	# shellcheck disable=SC2086
	kill -9 $pids 2>/dev/null || true
	rm -f "$f"
	[[ -n ${BG_PID:-} ]] && { wait "$BG_PID" 2>/dev/null || true; }
	BG_PID=
}

# Stop the host's one-shot iperf3 server (it normally exits by itself).
stop_pidfile() {
	local f=$1 pid
	[[ -s $f ]] || return 0
	pid=$(<"$f")
	kill "$pid" 2>/dev/null || true
	rm -f "$f"
}

# a. Container→host: a one-shot iperf3 server on the host's own address for
# each sample, the client in the container.
net_c2h_sample() {
	local key=$1 i=$2 port out err pidf=$WORK/user/tmp/iperf-host.pid
	port=$(free_port "$NET_PORT")
	out=$RESULTS/net-$key-$i.json err=$RESULTS/net-$key-$i.err
	as_user iperf3 -s -1 -B "$HOST_IP" -p "$port" -D -I "$pidf" --logfile "$WORK/user/tmp/iperf-host.log"
	wait_until 50 listening "$port" || { NET_FAIL[$key]="host iperf3 server did not listen"; return; }
	local client=(iperf3 -c "$HOST_IP" -p "$port" -t "$NET_SECONDS" -J)
	case $key in
	c2h-lodger) as_user timeout 60 lodger run --rm "$IPERF_IMG" "${client[@]}" ;;
	c2h-lodger-bypass) as_user timeout 60 lodger run --rm --network netstack:bypass=true "$IPERF_IMG" "${client[@]}" ;;
	c2h-slirp) as_user timeout 60 podman run --rm --network "$SLIRP" "$IPERF_IMG" "${client[@]}" ;;
	c2h-pasta) as_user timeout -k 5 60 pasta "${PASTA_NET[@]}" -t none -- "${client[@]}" ;;
	c2h-native) as_user timeout 60 "${client[@]}" ;;
	esac >"$out" 2>"$err" || true
	net_record "$key" "$out" "$err"
	stop_pidfile "$pidf"
	# A client that timed out inside pasta's namespace outlives pasta.
	pkill -u "$BENCH_USER" -f "^iperf3 -c $HOST_IP -p $port " 2>/dev/null || true
}

# b. Host→container: a one-shot iperf3 server in the container behind a
# published port, the client on the host to ADDR:port. The server's
# "Accepted connection from" line shows the client address it saw.
net_h2c_sample() {
	local key=$1 i=$2 addr=$3 port out err srvlog=$WORK/user/tmp/iperf-srv.log ctr=bench-net-srv
	local pidf=$WORK/user/tmp/iperf-srv.pid
	port=$(free_port "$NET_PORT")
	out=$RESULTS/net-$key-$i.json err=$RESULTS/net-$key-$i.err
	local server=(iperf3 -s -1 --forceflush)
	: >"$srvlog"
	chown "$BENCH_USER:" "$srvlog"
	case $key in
	h2c-lodger-bypass*) as_user lodger run -d -q --name $ctr --network netstack:accept_bypass=true -p "$port:5201" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	h2c-lodger*) as_user lodger run -d -q --name $ctr -p "$port:5201" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	h2c-slirp-rk*) as_user podman run -d --name $ctr --network "$SLIRP" -p "$port:5201" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	h2c-slirp-sn*) as_user podman run -d --name $ctr --network "$SLIRP,port_handler=slirp4netns" -p "$port:5201" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	h2c-pasta*) bg_user "$pidf" pasta "${PASTA_NET[@]}" -t "$port:5201" -- "${server[@]}" >"$srvlog" 2>&1 ;;
	h2c-native*) as_user iperf3 -s -1 -B 127.0.0.1 -p "$port" -D -I "$pidf" --logfile "$srvlog" --forceflush ;;
	esac 2>"$err" || { NET_FAIL[$key]="server did not start: $(oneline "$(cat "$err")")"; return; }
	server_log() {
		case $key in
		h2c-lodger*) as_user lodger logs $ctr ;;
		h2c-slirp*) as_user podman logs $ctr ;;
		*) cat "$srvlog" ;;
		esac 2>/dev/null
	}
	if wait_until 100 eval 'server_log | grep -q "Server listening"' && wait_until 50 listening "$port"; then
		as_user timeout 60 iperf3 -c "$addr" -p "$port" -t "$NET_SECONDS" -J >"$out" 2>>"$err" || true
		net_record "$key" "$out" "$err"
		NET_PEER[$key]=$(server_log | awk '/Accepted connection from/ {sub(",", "", $4); print $4; exit}')
	else
		NET_FAIL[$key]="server did not come up: $(oneline "$(server_log; cat "$err")")"
	fi
	case $key in
	h2c-lodger*) as_user lodger rm -f $ctr >/dev/null 2>&1 ;;
	h2c-slirp*) as_user podman rm -f -t 0 $ctr >/dev/null 2>&1 ;;
	*) stop_tree "$pidf" ;;
	esac || true
}

# c. Short connections: NET_CONNS sequential connect, GET, close against
# busybox httpd (one fork per connection, for every tool alike) behind a
# published port. curl walks a URL range in one process; httpd closes each
# connection, so each URL is a new connection (curl's num_connects says so).
net_conn_sample() {
	local key=$1 i=$2 port ctr=bench-net-httpd err=$RESULTS/net-$key-$i.err
	local pidf=$WORK/user/tmp/httpd.pid
	port=$(free_port "$NET_PORT")
	local server=(httpd -f -p 8080 -h /www)
	case $key in
	conn-lodger-bypass*) as_user lodger run -d -q --name $ctr --network netstack:accept_bypass=true -p "$port:8080" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	conn-lodger*) as_user lodger run -d -q --name $ctr -p "$port:8080" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	conn-slirp-rk) as_user podman run -d --name $ctr --network "$SLIRP" -p "$port:8080" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	conn-slirp-sn) as_user podman run -d --name $ctr --network "$SLIRP,port_handler=slirp4netns" -p "$port:8080" "$IPERF_IMG" "${server[@]}" >/dev/null ;;
	conn-pasta) bg_user "$pidf" pasta "${PASTA_NET[@]}" -t "$port:8080" -- busybox httpd -f -p 8080 -h "$WORK/user/www" >/dev/null ;;
	conn-native) bg_user "$pidf" busybox httpd -f -p "127.0.0.1:$port" -h "$WORK/user/www" >/dev/null ;;
	esac 2>"$err" || { NET_FAIL[$key]="server did not start: $(oneline "$(cat "$err")")"; return; }
	local url=http://127.0.0.1:$port/index.html
	[[ $key == *-ip ]] && url=http://$HOST_IP:$port/index.html
	if wait_until 100 as_user curl -sf -o /dev/null "$url"; then
		local t
		# One line per URL: "200 1" is an answered request on a new connection.
		t=$(as_user bash -c 't0=$EPOCHREALTIME
			curl -s -o /dev/null -w "%{http_code} %{num_connects}\n" "$1?[1-$2]" >"$3"
			t1=$EPOCHREALTIME
			awk -v a="$t0" -v b="$t1" "BEGIN {printf \"%.6f\", b - a}"' conn "$url" "$NET_CONNS" "$RESULTS/net-$key-$i.codes")
		local ok
		ok=$(grep -c '^200 1$' "$RESULTS/net-$key-$i.codes" || true)
		if ((ok == NET_CONNS)); then
			awk -v n="$NET_CONNS" -v t="$t" 'BEGIN {printf "%.1f\n", n / t}' >>"$RESULTS/net-$key.cps"
		else
			NET_FAIL[$key]="only $ok of $NET_CONNS requests answered on a new connection"
		fi
	else
		NET_FAIL[$key]="server did not answer: $(oneline "$(cat "$err")")"
	fi
	case $key in
	conn-lodger*) as_user lodger rm -f $ctr >/dev/null 2>&1 ;;
	conn-slirp*) as_user podman rm -f -t 0 $ctr >/dev/null 2>&1 ;;
	*) stop_tree "$pidf" ;;
	esac || true
}

# net_series FN KEYS...: NET_RUNS samples of each key, the order rotated
# each round so that no peer always follows the same one. Keys whose peer
# cannot run are skipped with their reason.
net_series() {
	local fn=$1 i k key keys=()
	shift
	for key in "$@"; do
		local peer=${key#*-}
		peer=${peer%%-*}
		if [[ -n ${NET_SKIP[$peer]:-} ]]; then
			NET_FAIL[$key]=${NET_SKIP[$peer]}
		else
			keys+=("$key")
		fi
	done
	for ((i = 0; i < NET_RUNS; i++)); do
		for ((k = 0; k < ${#keys[@]}; k++)); do
			key=${keys[$(((i + k) % ${#keys[@]}))]}
			case $fn in
			h2c)
				local addr=127.0.0.1
				[[ $key == *-ip ]] && addr=$HOST_IP
				net_h2c_sample "$key" "$i" "$addr"
				;;
			*) "net_${fn}_sample" "$key" "$i" ;;
			esac
		done
		log "network $fn: round $((i + 1))/$NET_RUNS done"
	done
}

# d. Idle memory: the monitor of a detached container (which runs its
# network stack) against podman's conmon plus slirp4netns and a pasta
# process, each holding one idle `sleep`. Stats: "RSS ANON PSS" in KiB.
proc_mem() {
	local pid=$1
	[[ -d /proc/$pid ]] || return 1
	printf '%s %s %s\n' "$(awk '/^VmRSS:/ {print $2}' "/proc/$pid/status")" \
		"$(awk '/^RssAnon:/ {print $2}' "/proc/$pid/status")" \
		"$(awk '/^Pss:/ {print $2}' "/proc/$pid/smaps_rollup")"
}
sum_mem() { awk '{r += $1; a += $2; p += $3} END {printf "%d %d %d\n", r, a, p}'; }

net_idle_mem() {
	log "network: idle memory"
	local pid
	as_user lodger run -d -q --name bench-net-idle "$IPERF_IMG" sleep 1000 >/dev/null
	sleep 2
	pid=$(as_user lodger inspect -f '{{.Lodger.MonitorPid}}' bench-net-idle)
	NET_MEM[lodger]=$(proc_mem "$pid") || die "no monitor process $pid for bench-net-idle"
	as_user lodger rm -f bench-net-idle >/dev/null
	if [[ -z ${NET_SKIP[slirp]:-} ]]; then
		as_user podman run -d --name bench-net-idle --network "$SLIRP" "$IPERF_IMG" sleep 1000 >/dev/null
		sleep 2
		local conmon slirp
		conmon=$(as_user podman inspect -f '{{.State.ConmonPid}}' bench-net-idle)
		# podman passes slirp4netns the namespace path below our private runtime dir.
		slirp=$(pgrep -u "$BENCH_USER" -f "slirp4netns .*$WORK/user/run/netns/" | head -n 1) || true
		if [[ -n $conmon && -n $slirp ]]; then
			NET_MEM[conmon]=$(proc_mem "$conmon")
			NET_MEM[slirp]=$(proc_mem "$slirp")
			NET_MEM[podman]=$(printf '%s\n%s\n' "${NET_MEM[conmon]}" "${NET_MEM[slirp]}" | sum_mem)
		else
			log "network: podman's conmon ($conmon) or slirp4netns ($slirp) not found"
		fi
		as_user podman rm -f -t 0 bench-net-idle >/dev/null
	fi
	if [[ -z ${NET_SKIP[pasta]:-} ]]; then
		local pidf=$WORK/user/tmp/pasta-idle.pid
		bg_user "$pidf" pasta "${PASTA_NET[@]}" -t none -- sleep 1000 >/dev/null 2>&1
		sleep 2
		[[ -s $pidf ]] && NET_MEM[pasta]=$(proc_mem "$(<"$pidf")")
		stop_tree "$pidf"
	fi
}

# Remove whatever a failed sample may have left: our named containers and
# the processes of this run's pid files.
net_cleanup() {
	local c
	for c in bench-net-srv bench-net-httpd bench-net-idle; do
		as_user lodger rm -f "$c" >/dev/null 2>&1 || true
		((${PODMAN_OK:-0})) && { as_user podman rm -f -t 0 "$c" >/dev/null 2>&1 || true; }
	done
	local f
	for f in "$WORK"/user/tmp/*.pid; do
		if [[ -e $f ]]; then stop_tree "$f"; fi
	done
}

bench_network() {
	declare -gA NET_FAIL=() NET_PEER=() NET_MEM=()
	NET_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	NET_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local t0=$SECONDS
	build_net_image
	check_net_peers
	log "network: container→host ($NET_RUNS × ${NET_SECONDS} s each)"
	net_series c2h c2h-lodger c2h-lodger-bypass c2h-slirp c2h-pasta c2h-native
	net_cleanup
	log "network: host→container through a published port"
	net_series h2c h2c-lodger-lo h2c-lodger-ip h2c-lodger-bypass-ip h2c-slirp-rk-lo h2c-slirp-sn-lo h2c-slirp-sn-ip \
		h2c-pasta-lo h2c-pasta-ip h2c-native-lo
	net_cleanup
	log "network: $NET_CONNS short connections"
	net_series conn conn-lodger conn-lodger-ip conn-lodger-bypass-ip conn-slirp-rk conn-slirp-sn conn-pasta conn-native
	net_cleanup
	net_idle_mem
	net_cleanup
	NET_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
	NET_ELAPSED=$((SECONDS - t0))
}

# ---------------------------------------------------------------------------
# Report
# ---------------------------------------------------------------------------

# net_median KEY EXT -> the median of KEY's samples, empty when none.
net_median() {
	local f=$RESULTS/net-$1.$2
	[[ -s $f ]] && field "$(stats "$f")" 1
	return 0
}
gbps() { awk -v x="$1" 'BEGIN {printf "%.2f", x}'; }
cps() { awk -v x="$1" 'BEGIN {printf "%.0f", x}'; }

# net_row LABEL KEY UNIT-EXT [EXTRA]: a table row of median, min, max, runs
# and EXTRA columns, or "did not run" with the reason.
net_row() {
	local label=$1 key=$2 ext=$3 extra=${4:-} f=$RESULTS/net-$2.$3 s note= num=gbps
	[[ $ext == cps ]] && num=cps
	if [[ ! -s $f ]]; then
		printf '| %s | did not run: %s | | | |%s\n' "$label" "${NET_FAIL[$key]:-no result}" "${extra:+ $extra}"
		return
	fi
	s=$(stats "$f")
	[[ -n ${NET_FAIL[$key]:-} ]] && note=" ($((NET_RUNS - $(field "$s" 5))) run(s) failed: ${NET_FAIL[$key]})"
	printf '| %s | **%s**%s | %s | %s | %s |%s\n' "$label" "$($num "$(field "$s" 1)")" "$note" \
		"$($num "$(field "$s" 3)")" "$($num "$(field "$s" 4)")" "$(field "$s" 5)" "${extra:+ $extra}"
}
# The slowest one-second interval of any run: a stall shows as near zero.
minint() {
	local f=$RESULTS/net-$1.minint
	[[ -s $f ]] && gbps "$(sort -g "$f" | head -n 1)"
	return 0
}
# stalled KEY: some one-second interval of KEY's runs moved less than 5% of
# the median rate.
stalled() {
	local m
	m=$(net_median "$1" gbps)
	[[ -n $m && -s $RESULTS/net-$1.minint ]] || return 1
	awk -v m="$m" -v s="$(sort -g "$RESULTS/net-$1.minint" | head -n 1)" 'BEGIN {exit !(s < 0.05 * m)}'
}
# ratio_or A B -> "X×", or "n/a" when either is missing.
ratio_or() { if [[ -n $1 && -n $2 ]]; then echo "$(ratio "$1" "$2")×"; else echo "n/a"; fi; }
met_or() { if [[ -n $1 && $1 != n/a ]]; then met "${1%×}" "$2" "$3"; else echo "not measured"; fi; }
mem_cell() {
	local m=${NET_MEM[$1]:-}
	if [[ -z $m ]]; then
		echo "| $2 | did not run | | |"
		return
	fi
	echo "| $2 | $(mib "$(field "$m" 1)") | $(mib "$(field "$m" 2)") | $(mib "$(field "$m" 3)") |"
}

network_report() {
	local cl cs cp cn hl hli hn
	cl=$(net_median c2h-lodger gbps) cs=$(net_median c2h-slirp gbps) cp=$(net_median c2h-pasta gbps) cn=$(net_median c2h-native gbps)
	hl=$(net_median h2c-lodger-lo gbps) hli=$(net_median h2c-lodger-ip gbps) hn=$(net_median h2c-native-lo gbps)
	local r_slirp r_pasta r_native r_native_ip r_native_bypass rss_mib pss_mib
	r_slirp=$(ratio_or "$cl" "$cs") r_pasta=$(ratio_or "$cl" "$cp")
	r_native=$(ratio_or "$hl" "$hn") r_native_ip=$(ratio_or "$hli" "$hn")
	r_native_bypass=$(ratio_or "$(net_median h2c-lodger-bypass-ip gbps)" "$hn")
	local peer_ip=${NET_PEER[h2c-lodger-ip]:-?}
	local preserved="not preserved (seen as $peer_ip)"
	[[ $peer_ip == "$HOST_IP" ]] && preserved="preserved (seen as $peer_ip)"
	rss_mib=$(awk -v k="$(field "${NET_MEM[lodger]:-0}" 1)" 'BEGIN {printf "%.1f", k / 1024}')
	pss_mib=$(awk -v k="$(field "${NET_MEM[lodger]:-0}" 3)" 'BEGIN {printf "%.1f", k / 1024}')
	local pasta_note=
	stalled c2h-pasta && pasta_note=" (pasta's transfer stalled in this run: see its slowest second below)"
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == network ]] && how="\`bash bench/run.sh network\` (the network part of \`make bench\` alone; the sections above come from an earlier full run)"

	cat <<EOF

## Network

Measured by $how on $NET_DATE; this part took $((NET_ELAPSED / 60)) min $((NET_ELAPSED % 60)) s.
Load average before it: $NET_LOADAVG; after: $NET_LOADAVG_AFTER.
iperf3 $(dpkg-query -W -f='${Version}' iperf3 2>/dev/null), one TCP stream, \`-t $NET_SECONDS\`,
$NET_RUNS runs per row with the order of the rows rotated each round; Gbit/s as
received. MTU $NET_MTU everywhere: lodger's default (\`--network netstack\`),
podman \`--network $SLIRP\`, \`pasta ${PASTA_NET[*]}\`
(pasta copies the host's address into its namespace unless told otherwise;
these options give it lodger's layout, 10.0.2.100/24 behind gateway 10.0.2.2).
The image \`$IPERF_IMG\` is Debian's iperf3 with the libraries \`ldd\` lists and
busybox-static, built by bench/network.sh; pasta and the host run the same
iperf3 and busybox from the host. The host's address is $HOST_IP.

### Targets

| target | measured | status |
| --- | --- | --- |
| container→host ≥ 2× slirp4netns | lodger/slirp4netns $r_slirp | $(met_or "$r_slirp" ">=" 2) |
| container→host ≥ pasta | lodger/pasta $r_pasta$pasta_note | $(met_or "$r_pasta" ">=" 1)${pasta_note:+, against a stalled pasta} |
| host→container through a published port ≥ 0.7× native loopback, client address preserved | lodger/native $r_native_ip from $HOST_IP (kernel splice, the default), client address $preserved | $(met_or "$r_native_ip" ">=" 0.7)$([[ $peer_ip == "$HOST_IP" ]] || echo ", address **not preserved**") |
| the same from the host's loopback, where the client is shown as the gateway | lodger/native $r_native from 127.0.0.1 (seen as ${NET_PEER[h2c-lodger-lo]:-?}) | $(met_or "$r_native" ">=" 0.7) |
| idle monitor with its stack ≤ 20 MB resident, per container | PSS $(mib "$(field "${NET_MEM[lodger]:-0}" 3)"); RSS $(mib "$(field "${NET_MEM[lodger]:-0}" 1)"), of which anonymous $(mib "$(field "${NET_MEM[lodger]:-0}" 2)") | $(met "$pss_mib" "<=" 20) by PSS; $(met "$rss_mib" "<=" 20) by RSS |

### Container → host

iperf3 server on the host at $HOST_IP, the client in the container. Native is
the client on the host itself, the ceiling. "Slowest second" is the lowest
one-second interval of any run: near zero means the transfer stalled.

| network | median Gbit/s | min | max | runs | slowest second |
| --- | --- | --- | --- | --- | --- |
$(net_row "lodger (netstack, the default): through the userspace stack" c2h-lodger gbps "$(minint c2h-lodger) |")
$(net_row "lodger \`bypass=true\` (opt-in, = \`--network host\` for TCP): the host's own socket" c2h-lodger-bypass gbps "$(minint c2h-lodger-bypass) |")
$(net_row "podman slirp4netns: through slirp4netns's userspace stack" c2h-slirp gbps "$(minint c2h-slirp) |")
$(net_row "pasta: through pasta's userspace translation" c2h-pasta gbps "$(minint c2h-pasta) |")
$(net_row "native (host to itself)" c2h-native gbps "$(minint c2h-native) |")

Ratios of medians, lodger's default path (the userspace stack, like its
peers'): lodger/slirp4netns **$r_slirp**, lodger/pasta **$r_pasta**,
lodger/native $(ratio_or "$cl" "$cn"). The opt-in bypass carries the bytes in
the host's own socket, which no userspace stack does, so it is not scored
against the peers: bypass/native $(ratio_or "$(net_median c2h-lodger-bypass gbps)" "$cn").

### Host → container through a published port

iperf3 server in the container behind \`-p HOSTPORT:5201\`, the client on the
host to 127.0.0.1:HOSTPORT or $HOST_IP:HOSTPORT. "Client seen as" is the
address in the server's "Accepted connection from" line. podman's default
port handler is rootlesskit's (\`port_handler=rootlesskit\`, which hides the
client's address); \`port_handler=slirp4netns\` keeps it. pasta splices
loopback connections between sockets and sends the others through its tap.
lodger (the default) splices each published connection in the kernel to a
socket in the container's namespace that takes the client's address
(\`IP_TRANSPARENT\`), so the server sees the client's own address; a client
of the host's loopback must not appear as the container's own 127.0.0.1 and
is shown as the gateway 10.0.2.2. The opt-in \`accept_bypass=true\` hands the
server's accept the host's connection itself, so that client and server
share one TCP connection: the host's speed, and the host's socket in the
container (= \`--network host\` for TCP servers; see docs/architecture.md).

| published port | median Gbit/s | min | max | runs | slowest second | client seen as |
| --- | --- | --- | --- | --- | --- | --- |
$(net_row "lodger (kernel splice, the default), client to 127.0.0.1" h2c-lodger-lo gbps "$(minint h2c-lodger-lo) | ${NET_PEER[h2c-lodger-lo]:-} |")
$(net_row "lodger (kernel splice, the default), client to $HOST_IP" h2c-lodger-ip gbps "$(minint h2c-lodger-ip) | ${NET_PEER[h2c-lodger-ip]:-} |")
$(net_row "lodger \`accept_bypass=true\` (opt-in, the host's socket), client to $HOST_IP" h2c-lodger-bypass-ip gbps "$(minint h2c-lodger-bypass-ip) | ${NET_PEER[h2c-lodger-bypass-ip]:-} |")
$(net_row "podman slirp4netns, rootlesskit handler, 127.0.0.1" h2c-slirp-rk-lo gbps "$(minint h2c-slirp-rk-lo) | ${NET_PEER[h2c-slirp-rk-lo]:-} |")
$(net_row "podman slirp4netns, slirp4netns handler, 127.0.0.1" h2c-slirp-sn-lo gbps "$(minint h2c-slirp-sn-lo) | ${NET_PEER[h2c-slirp-sn-lo]:-} |")
$(net_row "podman slirp4netns, slirp4netns handler, $HOST_IP" h2c-slirp-sn-ip gbps "$(minint h2c-slirp-sn-ip) | ${NET_PEER[h2c-slirp-sn-ip]:-} |")
$(net_row "pasta, 127.0.0.1" h2c-pasta-lo gbps "$(minint h2c-pasta-lo) | ${NET_PEER[h2c-pasta-lo]:-} |")
$(net_row "pasta, $HOST_IP" h2c-pasta-ip gbps "$(minint h2c-pasta-ip) | ${NET_PEER[h2c-pasta-ip]:-} |")
$(net_row "native loopback (server on the host, 127.0.0.1)" h2c-native-lo gbps "$(minint h2c-native-lo) | ${NET_PEER[h2c-native-lo]:-} |")

Ratios of medians to native loopback: lodger **$r_native_ip** ($HOST_IP),
**$r_native** (127.0.0.1), $r_native_bypass (opt-in \`accept_bypass=true\`, $HOST_IP); slirp4netns (rootlesskit handler)
$(ratio_or "$(net_median h2c-slirp-rk-lo gbps)" "$hn"); pasta $(ratio_or "$(net_median h2c-pasta-lo gbps)" "$hn") (127.0.0.1).

### Short connections through a published port

$NET_CONNS sequential connections, each one HTTP GET of a 6-byte page and
close, by one \`curl\` walking \`http://127.0.0.1:HOSTPORT/index.html?[1-$NET_CONNS]\`
against busybox \`httpd -f\` (which forks per connection) in the container;
every request must be answered on a new connection. Connections per second,
$NET_RUNS runs each. With the opt-in \`accept_bypass=true\` every accept of
a container that publishes a TCP port goes through lodger's monitor; its row
shows what that costs.

| published port | median conn/s | min | max | runs |
| --- | --- | --- | --- | --- |
$(net_row "lodger (kernel splice, the default), client to 127.0.0.1" conn-lodger cps)
$(net_row "lodger (kernel splice, the default), client to $HOST_IP" conn-lodger-ip cps)
$(net_row "lodger \`accept_bypass=true\` (opt-in), client to $HOST_IP" conn-lodger-bypass-ip cps)
$(net_row "podman slirp4netns, rootlesskit handler" conn-slirp-rk cps)
$(net_row "podman slirp4netns, slirp4netns handler" conn-slirp-sn cps)
$(net_row "pasta" conn-pasta cps)
$(net_row "native (httpd on the host, 127.0.0.1)" conn-native cps)

Ratios of medians: lodger/slirp4netns (rootlesskit handler) $(ratio_or "$(net_median conn-lodger cps)" "$(net_median conn-slirp-rk cps)"),
lodger/pasta $(ratio_or "$(net_median conn-lodger cps)" "$(net_median conn-pasta cps)"),
lodger/native $(ratio_or "$(net_median conn-lodger cps)" "$(net_median conn-native cps)").

### Idle memory with the network

One detached container running \`sleep 1000\`, two seconds after start,
no traffic. For lodger the monitor, which runs the container's network
stack; for podman the container's conmon and slirp4netns; for pasta its one
process. From /proc/PID/status and smaps_rollup. RSS counts the pages of
the lodger binary every lodger process shares; PSS splits those among their
users and is what one more container costs, as in the Lifecycle section.

| process | RSS | anonymous | PSS |
| --- | --- | --- | --- |
$(mem_cell lodger "lodger monitor with netstack")
$(mem_cell conmon "podman: conmon")
$(mem_cell slirp "podman: slirp4netns")
$(mem_cell podman "podman: conmon + slirp4netns")
$(mem_cell pasta "pasta")
EOF
}

# In `network` mode: replace the Network section of the existing report (the
# last one) and keep the rest as the full run wrote it.
splice_network_report() {
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"
	{
		if [[ -s $OUT ]]; then
			awk '/^## Network$/ {exit} {print}' "$OUT" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		else
			echo "# Benchmarks"
		fi
		network_report
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote the network section of $OUT"
}
