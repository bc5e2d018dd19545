# bench/usernet.sh — the user-network benchmark of bench/run.sh (sourced by
# it, not run on its own; `bash bench/run.sh usernet` runs it alone):
# container to container on one network, side by side in one run:
#
#   a. lodger: two containers on one `lodger network create` network (kernel
#      bridge in the user's network namespace, a veth each);
#   b. podman rootless: two containers on one `podman network create`
#      network (its bridge in its rootless network namespace);
#   c. the ceiling: a veth pair between two network namespaces made by
#      root, no bridge; and two namespaces on a bridge root made, so that
#      the bridge's own cost shows.
#
# Throughput is iperf3 (USERNET_SECONDS per run, USERNET_RUNS runs, the
# median). Latency is `nettool rr` (TCP_RR-style: one byte there and back,
# USERNET_RR round trips on one connection), USERNET_RR_RUNS runs per path
# in an order that alternates; each run gives a mean, p50 and p99, and the
# report shows the median of each over the runs.
#
# Like with like: every container runtime (runc under Docker, conmon under
# podman, lodger) starts a container's process in a session of its own,
# and with kernel.sched_autogroup_enabled a session is a scheduling group
# of its own, so two containers that talk are two groups the scheduler
# weighs against each other and against everything else on the machine.
# The root-made ceilings therefore run each end in a session of its own
# too (setsid), as a container's process runs; one more row runs the veth
# pair with both ends in the bench's session, as a plain shell would, to
# show what that difference alone is worth. A row with seccomp off for
# both containers shows what the filter costs per round trip.
#
# Also measured: what creating a network and starting the first container
# on it costs against a container on the default network, what a start on
# a network that already runs costs, and the network's own process (lodger's
# gateway) resident with USERNET_ATTACHED containers attached.
# Every link has MTU 65520, lodger's default.

USERNET_RUNS=${BENCH_USERNET_RUNS:-3}
USERNET_SECONDS=${BENCH_USERNET_SECONDS:-5}
USERNET_RR=${BENCH_USERNET_RR:-20000}
USERNET_RR_RUNS=${BENCH_USERNET_RR_RUNS:-5}
USERNET_START_RUNS=${BENCH_USERNET_START_RUNS:-15}
USERNET_ATTACHED=10
USERNET_MTU=65520

# usernet_iperf KEY CMD...: run the iperf3 client CMD (JSON out), record
# its throughput under KEY.
usernet_iperf() {
	local key=$1 out=$RESULTS/usernet-$1.json err=$RESULTS/usernet-$1.err r
	shift
	"$@" >"$out" 2>>"$err" || true
	if r=$(iperf_result "$out"); then
		echo "${r% *}" >>"$RESULTS/usernet-$key.gbps"
	else
		USERNET_FAIL[$key]="$(oneline "$r $(cat "$err" 2>/dev/null)")"
		log "usernet: $key failed: ${USERNET_FAIL[$key]}"
	fi
}

# usernet_rr KEY CMD...: run the nettool rr client CMD, add its "mean p50
# p99" (µs) to KEY's runs.
usernet_rr() {
	local key=$1 out
	shift
	if out=$("$@" 2>&1) && [[ $out == rr\ * ]]; then
		echo "${out#rr * }" >>"$RESULTS/usernet-$key.rr"
	else
		USERNET_FAIL[$key-rr]="$(oneline "$out")"
		log "usernet: $key rr failed: ${USERNET_FAIL[$key-rr]}"
	fi
}

# usernet_rr_client KEY: one rr run of path KEY.
usernet_rr_client() {
	local nt=$WORK/bin/nettool n=$USERNET_RR img=$IPERF_IMG
	case $1 in
	veth) usernet_rr veth timeout 120 setsid -w ip netns exec lodger-bench-a "$nt" rr -n "$n" 10.123.0.2:7778 ;;
	veth-shared) usernet_rr veth-shared timeout 120 ip netns exec lodger-bench-a "$nt" rr -n "$n" 10.123.0.2:7777 ;;
	bridge) usernet_rr bridge timeout 120 setsid -w ip netns exec lodger-bench-c "$nt" rr -n "$n" 10.124.0.3:7777 ;;
	lodger) usernet_rr lodger as_user timeout 120 lodger run --rm --network benchnet "$img" nettool rr -n "$n" "$USERNET_LRR:7777" ;;
	lodger-unconfined) usernet_rr lodger-unconfined as_user timeout 120 lodger run --rm --security-opt seccomp=unconfined \
		--network benchnet "$img" nettool rr -n "$n" "$USERNET_LRRU:7777" ;;
	podman) usernet_rr podman as_user timeout 120 podman run --rm --network benchnet "$img" nettool rr -n "$n" "$USERNET_PRR:7777" ;;
	esac
}

# usernet_netns: root's ceilings. lodger-bench-a and -b joined by a veth
# pair; lodger-bench-c and -d each with a veth onto br0 in lodger-bench-br.
usernet_netns() {
	local ns x
	for ns in a b c d br; do ip netns del "lodger-bench-$ns" 2>/dev/null || true; done
	for ns in a b c d br; do ip netns add "lodger-bench-$ns" && ip -n "lodger-bench-$ns" link set lo up || return 1; done
	ip link add un-a netns lodger-bench-a mtu $USERNET_MTU type veth peer name un-b netns lodger-bench-b mtu $USERNET_MTU &&
		ip -n lodger-bench-a addr add 10.123.0.1/24 dev un-a && ip -n lodger-bench-b addr add 10.123.0.2/24 dev un-b &&
		ip -n lodger-bench-a link set un-a up && ip -n lodger-bench-b link set un-b up || return 1
	ip -n lodger-bench-br link add br0 mtu $USERNET_MTU type bridge && ip -n lodger-bench-br link set br0 up || return 1
	for x in c d; do
		ip -n lodger-bench-br link add "un-$x" mtu $USERNET_MTU type veth peer name eth0 netns "lodger-bench-$x" mtu $USERNET_MTU &&
			ip -n lodger-bench-br link set "un-$x" master br0 && ip -n lodger-bench-br link set "un-$x" up &&
			ip -n "lodger-bench-$x" link set eth0 up || return 1
	done
	ip -n lodger-bench-c addr add 10.124.0.2/24 dev eth0 && ip -n lodger-bench-d addr add 10.124.0.3/24 dev eth0
}

usernet_netns_del() {
	local ns
	for ns in a b c d br; do ip netns del "lodger-bench-$ns" 2>/dev/null || true; done
}

# usernet_gateway_mem KEY: the gateway's VmRSS, RssAnon and Pss (KiB).
usernet_gateway_mem() {
	local gw
	gw=$(cat "$WORK/user/run/lodger/networks/benchnet/gateway.pid" 2>/dev/null || true)
	USERNET_GW[$1]="$(awk '/^VmRSS/ {r = $2} /^RssAnon/ {a = $2} END {print r + 0, a + 0}' "/proc/$gw/status" 2>/dev/null || echo 0 0) $(
		awk '/^Pss:/ {print $2}' "/proc/$gw/smaps_rollup" 2>/dev/null || echo 0)"
}

# usernet_start: starts on the default network, on a network that runs
# (benchnet, its gateway up), and on a new network: create (which starts
# the network's namespace and gateway in the background), first run, rm,
# and beside them `network ls`, a lodger command that does next to nothing,
# and `version`, lodger's start-up alone (no session, no storage);
# one shell as the user, timed there with EPOCHREALTIME, the three kinds in
# a rotating order, one untimed round first.
usernet_start() {
	local d=$RESULTS/usernet-start
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$d"
	as_user lodger network rm -f un-start >/dev/null 2>&1 || true
	as_user bash -c '
		img=$1 runs=$2 d=$3
		now() { echo "$EPOCHREALTIME"; }
		el() { awk -v a="$1" -v b="$2" "BEGIN {printf \"%.6f\n\", b - a}"; }
		q() { "$@" >/dev/null 2>>"$d/err" || { echo "failed: $*" >&2; exit 1; }; }
		one() { # kind timed
			local t0 t1 t2 t3
			case $1 in
			default) t0=$(now); q lodger run --rm "$img" true; t1=$(now)
				(($2)) && el "$t0" "$t1" >>"$d/default" ;;
			existing) t0=$(now); q lodger run --rm --network benchnet "$img" true; t1=$(now)
				(($2)) && el "$t0" "$t1" >>"$d/existing" ;;
			new) t0=$(now); q lodger version; t1=$(now)
				(($2)) && el "$t0" "$t1" >>"$d/version"
				t0=$(now); q lodger network ls; t1=$(now)
				(($2)) && el "$t0" "$t1" >>"$d/ls"
				t0=$(now); q lodger network create un-start; t1=$(now)
				q lodger run --rm --network un-start "$img" true; t2=$(now)
				q lodger network rm un-start; t3=$(now)
				if (($2)); then
					el "$t0" "$t1" >>"$d/create"; el "$t1" "$t2" >>"$d/first"
					el "$t0" "$t2" >>"$d/new"; el "$t2" "$t3" >>"$d/rm"
				fi ;;
			esac
		}
		kinds=(default existing new)
		for k in "${kinds[@]}"; do one "$k" 0; done
		for ((i = 0; i < runs; i++)); do
			for ((j = 0; j < 3; j++)); do one "${kinds[(i + j) % 3]}" 1; done
		done' usernet-start "$BUSYBOX_IMG" "$USERNET_START_RUNS" "$d" ||
		USERNET_FAIL[start]="$(oneline "$(tail -n 3 "$d/err" 2>/dev/null)")"
	as_user lodger network rm -f un-start >/dev/null 2>&1 || true
}

bench_usernet() {
	declare -gA USERNET_FAIL=() USERNET_GW=()
	USERNET_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	USERNET_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	USERNET_AUTOGROUP=$(cat /proc/sys/kernel/sched_autogroup_enabled 2>/dev/null || echo "absent")
	local start=$SECONDS i k img=$IPERF_IMG nt=$WORK/bin/nettool
	build_net_image
	# a. lodger: the servers, one of them with seccomp off.
	as_user lodger network rm -f benchnet >/dev/null 2>&1 || true
	as_user lodger network create --opt mtu=$USERNET_MTU benchnet >/dev/null || die "lodger network create failed"
	as_user lodger run -d -q --name un-iperf --network benchnet "$img" iperf3 -s >/dev/null || die "lodger: iperf3 server did not start"
	as_user lodger run -d -q --name un-rr --network benchnet "$img" nettool rr echo 7777 >/dev/null || die "lodger: rr server did not start"
	as_user lodger run -d -q --name un-rr-u --security-opt seccomp=unconfined --network benchnet "$img" nettool rr echo 7777 >/dev/null ||
		die "lodger: rr server (seccomp=unconfined) did not start"
	local lip
	lip=$(as_user lodger inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' un-iperf)
	USERNET_LRR=$(as_user lodger inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' un-rr)
	USERNET_LRRU=$(as_user lodger inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' un-rr-u)
	# b. podman
	local pip=
	USERNET_PRR=
	USERNET_PODMAN=0
	if ((PODMAN_OK)); then
		as_user podman rm -f un-iperf un-rr >/dev/null 2>&1 || true
		as_user podman network rm -f benchnet >/dev/null 2>&1 || true
		local out
		if out=$(as_user podman network create --opt mtu=$USERNET_MTU benchnet 2>&1) &&
			out=$(as_user podman run -d --name un-iperf --network benchnet "$img" iperf3 -s 2>&1) &&
			out=$(as_user podman run -d --name un-rr --network benchnet "$img" nettool rr echo 7777 2>&1); then
			pip=$(as_user podman inspect -f '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}' un-iperf)
			USERNET_PRR=$(as_user podman inspect -f '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}' un-rr)
			USERNET_PODMAN=1
		else
			USERNET_FAIL[podman]=$(oneline "$out")
			log "usernet: podman will not run: ${USERNET_FAIL[podman]}"
		fi
	else
		USERNET_FAIL[podman]="podman does not run here"
	fi
	# c. root's ceilings. The rr servers of the rows "each end its own
	# session" are started through setsid, as a container's process is.
	usernet_netns || die "could not make the network namespaces of the ceilings"
	ip netns exec lodger-bench-b iperf3 -s -D -I "$RESULTS/usernet-veth-iperf.pid" >/dev/null
	ip netns exec lodger-bench-d iperf3 -s -D -I "$RESULTS/usernet-bridge-iperf.pid" >/dev/null
	local rr_pids=()
	ip netns exec lodger-bench-b "$nt" rr echo 7777 </dev/null >/dev/null 2>&1 &
	rr_pids+=($!)
	setsid ip netns exec lodger-bench-b "$nt" rr echo 7778 </dev/null >/dev/null 2>&1 &
	rr_pids+=($!)
	setsid ip netns exec lodger-bench-d "$nt" rr echo 7777 </dev/null >/dev/null 2>&1 &
	rr_pids+=($!)
	sleep 0.5

	log "usernet: iperf3, $USERNET_RUNS runs"
	for ((i = 0; i < USERNET_RUNS; i++)); do
		usernet_iperf veth timeout 120 ip netns exec lodger-bench-a iperf3 -c 10.123.0.2 -t "$USERNET_SECONDS" -J
		usernet_iperf bridge timeout 120 ip netns exec lodger-bench-c iperf3 -c 10.124.0.3 -t "$USERNET_SECONDS" -J
		usernet_iperf lodger as_user timeout 120 lodger run --rm --network benchnet "$img" iperf3 -c "$lip" -t "$USERNET_SECONDS" -J
		((USERNET_PODMAN)) && usernet_iperf podman as_user timeout 120 podman run --rm --network benchnet "$img" iperf3 -c "$pip" -t "$USERNET_SECONDS" -J
	done
	local keys=(veth veth-shared bridge lodger lodger-unconfined) order
	((USERNET_PODMAN)) && keys+=(podman)
	USERNET_RR_LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
	for ((i = 0; i < USERNET_RR_RUNS; i++)); do
		log "usernet: rr run $((i + 1))/$USERNET_RR_RUNS"
		order=("${keys[@]}")
		((i % 2)) && mapfile -t order < <(printf '%s\n' "${keys[@]}" | tac)
		for k in "${order[@]}"; do usernet_rr_client "$k"; done
	done
	USERNET_RR_LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)

	log "usernet: network create and the first start on it, $USERNET_START_RUNS runs"
	usernet_start

	# The gateway with the three servers attached, then with
	# USERNET_ATTACHED containers.
	usernet_gateway_mem 3
	for ((i = 3; i < USERNET_ATTACHED; i++)); do
		as_user lodger run -d -q --name "un-idle$i" --network benchnet "$img" sleep 3600 >/dev/null ||
			die "lodger: idle container $i did not start"
	done
	sleep 1
	usernet_gateway_mem "$USERNET_ATTACHED"

	kill "${rr_pids[@]}" 2>/dev/null || true
	stop_pidfile "$RESULTS/usernet-veth-iperf.pid"
	stop_pidfile "$RESULTS/usernet-bridge-iperf.pid"
	usernet_netns_del
	as_user sh -c 'lodger rm -f un-iperf un-rr un-rr-u $(seq -f un-idle%g 3 9)' >/dev/null 2>&1 || true
	as_user lodger network rm -f benchnet >/dev/null 2>&1 || true
	if ((USERNET_PODMAN)); then
		as_user podman rm -f un-iperf un-rr >/dev/null 2>&1 || true
		as_user podman network rm -f benchnet >/dev/null 2>&1 || true
	fi
	USERNET_ELAPSED=$((SECONDS - start))
	USERNET_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

# usernet_rr_stats KEY: the medians over KEY's runs of mean, p50 and p99,
# and the number of runs; empty without runs.
usernet_rr_stats() {
	local f=$RESULTS/usernet-$1.rr c
	[[ -s $f ]] || return 0
	for c in 1 2 3; do
		awk -v c="$c" '{print $c}' "$f" | sort -g | awk '{v[NR] = $1} END {
			printf "%.1f ", (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
	done
	wc -l <"$f"
}

# usernet_row LABEL KEY: throughput median, min, max, runs (if measured);
# rr medians of mean, p50, p99 and runs; or why it did not run.
usernet_row() {
	local f=$RESULTS/usernet-$2.gbps s tp="| | | |" rr
	rr=$(usernet_rr_stats "$2")
	if [[ ! -s $f && -z $rr ]]; then
		printf '| %s | did not run: %s | | | | | | | |\n' "$1" "${USERNET_FAIL[$2]:-${USERNET_FAIL[$2-rr]:-${USERNET_FAIL[podman]:-no result}}}"
		return
	fi
	if [[ -s $f ]]; then
		s=$(stats "$f")
		tp="$(gbps "$(field "$s" 1)") | $(gbps "$(field "$s" 3)") | $(gbps "$(field "$s" 4)") | $(field "$s" 5)"
	else
		tp="– | | |"
	fi
	if [[ -n $rr ]]; then
		rr=$(awk '{printf "%s | %s | %s | %s", $1, $2, $3, $4}' <<<"$rr")
	else
		rr="did not run: ${USERNET_FAIL[$2-rr]:-no result} | | |"
	fi
	printf '| %s | %s | %s |\n' "$1" "$tp" "$rr"
}

# usernet_start_row LABEL FILE: median, mean, min, max (ms) and runs.
usernet_start_row() {
	local f=$RESULTS/usernet-start/$2 s
	[[ -s $f ]] || { printf '| %s | did not run: %s | | | | |\n' "$1" "${USERNET_FAIL[start]:-no result}"; return; }
	s=$(stats "$f")
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(ms "$(field "$s" 1)")" "$(ms "$(field "$s" 2)")" \
		"$(ms "$(field "$s" 3)")" "$(ms "$(field "$s" 4)")" "$(field "$s" 5)"
}

usernet_start_median() {
	local f=$RESULTS/usernet-start/$1
	[[ -s $f ]] && field "$(stats "$f")" 1
	return 0
}

# usernet_gw_line N: the gateway's memory with N containers attached.
usernet_gw_line() {
	local m=${USERNET_GW[$1]:-0 0 0}
	printf '%s resident, %s of it anonymous, PSS %s' "$(mib "$(field "$m" 1)")" "$(mib "$(field "$m" 2)")" "$(mib "$(field "$m" 3)")"
}

usernet_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == usernet ]] && how="\`bash bench/run.sh usernet\` (this part of \`make bench\` alone; the other sections come from an earlier run) at lodger $LODGER_COMMIT"
	local vm lm pm bm
	vm=$(net_median_un veth) lm=$(net_median_un lodger) pm=$(net_median_un podman) bm=$(net_median_un bridge)
	local rv rs rl rb ru rp
	rv=$(usernet_rr_stats veth) rs=$(usernet_rr_stats veth-shared) rl=$(usernet_rr_stats lodger)
	rb=$(usernet_rr_stats bridge) ru=$(usernet_rr_stats lodger-unconfined) rp=$(usernet_rr_stats podman)
	cat <<EOF

## Container to container on a user network

Measured by $how on $USERNET_DATE; this part took $((USERNET_ELAPSED / 60)) min $((USERNET_ELAPSED % 60)) s.
Load average before it: $USERNET_LOADAVG; at the latency runs: $USERNET_RR_LOAD to $USERNET_RR_LOAD_AFTER; after it: $USERNET_LOADAVG_AFTER.
Two containers on one user network: lodger's (\`lodger network create\`: a kernel bridge in the
user's network namespace, a veth per container), podman's (\`podman network create\`, rootless,
podman $V_PODMAN), and as the ceiling a veth pair between two network namespaces made by root,
and two namespaces on a bridge made by root (what the bridge itself costs).
MTU $USERNET_MTU on every link. Throughput: iperf3, $USERNET_SECONDS s per run, the client in a fresh
container each run, Gbit/s. Latency: \`nettool rr\`, $USERNET_RR one-byte round trips on one
TCP connection (TCP_RR-style), $USERNET_RR_RUNS runs per path in an order that alternates; each run gives
a mean, p50 and p99 in microseconds, and the table shows the median of each over the runs.

Like with like: every container runtime starts a container's process in a session of its own
(runc under Docker, conmon under podman, lodger), and with \`kernel.sched_autogroup_enabled\`
(here: $USERNET_AUTOGROUP) each session is a scheduling group of its own: two containers that talk are
two groups, weighed against each other and against all other work at every wake-up. The root-made
rows run each end in a session of its own (\`setsid\`) for that reason; the "one session" row runs
both ends of the veth pair in the bench's session, as a plain shell would, and shows what that
alone is worth. Seccomp off is a diagnostic row: the default profile's cost per round trip.

| path | median Gbit/s | min | max | runs | rr mean µs | rr p50 µs | rr p99 µs | rr runs |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
EOF
	usernet_row "veth pair between two netns (root; each end its own session)" veth
	usernet_row "veth pair between two netns (root; both ends in one session)" veth-shared
	usernet_row "two netns on a bridge (root; each end its own session)" bridge
	usernet_row "lodger network" lodger
	usernet_row "lodger network, \`--security-opt seccomp=unconfined\` on both" lodger-unconfined
	usernet_row "podman network (rootless)" podman
	printf '\nlodger/veth throughput: **%s×** (target ≥ 0.9×: %s)' "$(ratio "$lm" "$vm")" "$(met "$(ratio "$lm" "$vm")" ">=" 0.9)"
	[[ -n $bm ]] && printf '; bridge/veth: %s×' "$(ratio "$bm" "$vm")"
	[[ -n $pm ]] && printf '; lodger/podman: %s×' "$(ratio "$lm" "$pm")"
	printf '.\n'
	if [[ -n $rl && -n $rv ]]; then
		printf 'Latency lodger/veth (each end its own session): rr mean **%s×**, p50 **%s×** (target ≤ 1.2×: %s).\n' \
			"$(ratio "$(field "$rl" 1)" "$(field "$rv" 1)")" "$(ratio "$(field "$rl" 2)" "$(field "$rv" 2)")" \
			"$(met "$(ratio "$(field "$rl" 1)" "$(field "$rv" 1)")" "<=" 1.2)"
	fi
	if [[ -n $rl && -n $rs ]]; then
		printf 'Against the veth pair with both ends in one session: rr mean %s×, p50 %s×.\n' \
			"$(ratio "$(field "$rl" 1)" "$(field "$rs" 1)")" "$(ratio "$(field "$rl" 2)" "$(field "$rs" 2)")"
	fi
	[[ -n $rb && -n $rv ]] && printf 'The bridge: rr mean %s× the veth pair'"'"'s, p50 %s×.\n' \
		"$(ratio "$(field "$rb" 1)" "$(field "$rv" 1)")" "$(ratio "$(field "$rb" 2)" "$(field "$rv" 2)")"
	[[ -n $ru && -n $rl ]] && printf 'Seccomp: lodger with the default profile / without: rr mean %s×, p50 %s×.\n' \
		"$(ratio "$(field "$rl" 1)" "$(field "$ru" 1)")" "$(ratio "$(field "$rl" 2)" "$(field "$ru" 2)")"
	[[ -n $rp && -n $rl ]] && printf 'lodger/podman: rr mean %s×, p50 %s×.\n' \
		"$(ratio "$(field "$rl" 1)" "$(field "$rp" 1)")" "$(ratio "$(field "$rl" 2)" "$(field "$rp" 2)")"

	local dm nm em add eadd
	dm=$(usernet_start_median default) nm=$(usernet_start_median new) em=$(usernet_start_median existing)
	add=$(awk -v a="$nm" -v b="$dm" 'BEGIN {printf "%.1f", (a - b) * 1000}')
	eadd=$(awk -v a="$em" -v b="$dm" 'BEGIN {printf "%.1f", (a - b) * 1000}')
	cat <<EOF

Starting on a network, as the user, $USERNET_START_RUNS runs of each (after one untimed), the three kinds
in a rotating order, each command timed in one shell (\`\$EPOCHREALTIME\`). IMG is \`$BUSYBOX_IMG\`;
NET for "a network that runs" is the one above (its gateway up, three containers on it); NEW is
created, used once and removed each run, so its namespace and gateway are made anew each time
(\`network create\` starts them in the background; the first run finds them or waits for them).
\`lodger network ls\` is there as the cost of a lodger command that does next to nothing, \`lodger version\`
as lodger's start-up alone (no session, no storage; docs/architecture.md, "Start-up"). Times in ms.

| command | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
EOF
	usernet_start_row "\`lodger run --rm IMG true\` (default network)" default
	usernet_start_row "\`lodger run --rm --network NET IMG true\` (a network that runs)" existing
	usernet_start_row "\`lodger version\` (for scale: lodger's start-up alone)" version
	usernet_start_row "\`lodger network ls\` (for scale: a lodger command that does next to nothing)" ls
	usernet_start_row "\`lodger network create NEW\`" create
	usernet_start_row "\`lodger run --rm --network NEW IMG true\`, the network's first container" first
	usernet_start_row "create and first run together" new
	usernet_start_row "\`lodger network rm NEW\`" rm
	local fadd
	fadd=$(awk -v a="$(usernet_start_median first)" -v b="$dm" 'BEGIN {printf "%.1f", (a - b) * 1000}')
	printf '\nCreating a network and starting a container on it, against a container on the default network: **%s ms** more (target ≤ 20 ms: %s). Of that, the first run against a run on the default network: %s ms; a start on a network that runs, against the default network: %s ms (a negative figure would mean faster).\n' \
		"$add" "$(met "$add" "<=" 20)" "$fadd" "$eadd"
	printf "\nThe network's gateway process: with the three servers attached %s; with %s containers attached %s (target ≤ 15 MB resident with 10: %s). PSS counts the binary's pages shared with the monitors once among them.\n" \
		"$(usernet_gw_line 3)" "$USERNET_ATTACHED" "$(usernet_gw_line "$USERNET_ATTACHED")" \
		"$(met "$(awk -v k="$(field "${USERNET_GW[$USERNET_ATTACHED]:-0}" 1)" 'BEGIN {printf "%.1f", k * 1024 / 1e6}')" "<=" 15)"
}

net_median_un() {
	local f=$RESULTS/usernet-$1.gbps
	[[ -s $f ]] && field "$(stats "$f")" 1
	return 0
}

# Replace the user-network section of the report, or add it at the end.
splice_usernet_report() {
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"
	{
		if [[ -s $OUT ]]; then
			awk '/^## Container to container on a user network$/ {skip = 1; next} skip && /^## / {skip = 0} !skip {print}' "$OUT" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		else
			echo "# Benchmarks"
		fi
		usernet_report
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote the user-network section of $OUT"
}
