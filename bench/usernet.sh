# bench/usernet.sh — the user-network benchmark of bench/run.sh (sourced by
# it, not run on its own; `bash bench/run.sh usernet` runs it alone):
# container-to-container TCP on one network, side by side in one run:
#
#   a. lodger: two containers on one `lodger network create` network (kernel
#      bridge in the user's network namespace, a veth each);
#   b. podman rootless: two containers on one `podman network create`
#      network (its bridge in its rootless network namespace);
#   c. the ceiling: a veth pair between two network namespaces made by
#      root, no bridge.
#
# Throughput is iperf3 (USERNET_SECONDS per run, USERNET_RUNS runs, the
# median); latency is `nettool rr` (TCP_RR-style: one byte there and back,
# USERNET_RR round trips on one connection; mean, p50 and p99). Every link
# has MTU 65520, lodger's default. The network's own process (lodger's
# gateway) is measured resident with the two containers attached.

USERNET_RUNS=${BENCH_USERNET_RUNS:-3}
USERNET_SECONDS=${BENCH_USERNET_SECONDS:-5}
USERNET_RR=${BENCH_USERNET_RR:-20000}
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

# usernet_rr KEY CMD...: run the nettool rr client CMD, record "mean p50
# p99" (µs) under KEY.
usernet_rr() {
	local key=$1 out
	shift
	if out=$("$@" 2>&1) && [[ $out == rr\ * ]]; then
		echo "${out#rr * }" >"$RESULTS/usernet-$key.rr"
	else
		USERNET_FAIL[$key-rr]="$(oneline "$out")"
		log "usernet: $key rr failed: ${USERNET_FAIL[$key-rr]}"
	fi
}

bench_usernet() {
	declare -gA USERNET_FAIL=()
	USERNET_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	USERNET_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local start=$SECONDS i img=$IPERF_IMG
	build_net_image
	# a. lodger
	as_user lodger network rm -f benchnet >/dev/null 2>&1 || true
	as_user lodger network create --opt mtu=$USERNET_MTU benchnet >/dev/null || die "lodger network create failed"
	as_user lodger run -d -q --name un-iperf --network benchnet "$img" iperf3 -s >/dev/null || die "lodger: iperf3 server did not start"
	as_user lodger run -d -q --name un-rr --network benchnet "$img" nettool rr echo 7777 >/dev/null || die "lodger: rr server did not start"
	local lip lrr
	lip=$(as_user lodger inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' un-iperf)
	lrr=$(as_user lodger inspect -f '{{.NetworkSettings.Networks.benchnet.IPAddress}}' un-rr)
	# b. podman
	local pip= prr=
	USERNET_PODMAN=0
	if ((PODMAN_OK)); then
		as_user podman rm -f un-iperf un-rr >/dev/null 2>&1 || true
		as_user podman network rm -f benchnet >/dev/null 2>&1 || true
		local out
		if out=$(as_user podman network create --opt mtu=$USERNET_MTU benchnet 2>&1) &&
			out=$(as_user podman run -d --name un-iperf --network benchnet "$img" iperf3 -s 2>&1) &&
			out=$(as_user podman run -d --name un-rr --network benchnet "$img" nettool rr echo 7777 2>&1); then
			pip=$(as_user podman inspect -f '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}' un-iperf)
			prr=$(as_user podman inspect -f '{{(index .NetworkSettings.Networks "benchnet").IPAddress}}' un-rr)
			USERNET_PODMAN=1
		else
			USERNET_FAIL[podman]=$(oneline "$out")
			log "usernet: podman will not run: ${USERNET_FAIL[podman]}"
		fi
	else
		USERNET_FAIL[podman]="podman does not run here"
	fi
	# c. root's veth pair
	ip netns del lodger-bench-a 2>/dev/null || true
	ip netns del lodger-bench-b 2>/dev/null || true
	ip netns add lodger-bench-a && ip netns add lodger-bench-b &&
		ip link add un-a netns lodger-bench-a mtu $USERNET_MTU type veth peer name un-b netns lodger-bench-b mtu $USERNET_MTU &&
		ip -n lodger-bench-a addr add 10.123.0.1/24 dev un-a && ip -n lodger-bench-b addr add 10.123.0.2/24 dev un-b &&
		ip -n lodger-bench-a link set un-a up && ip -n lodger-bench-b link set un-b up &&
		ip -n lodger-bench-a link set lo up && ip -n lodger-bench-b link set lo up ||
		die "could not make the veth pair between two network namespaces"
	ip netns exec lodger-bench-b iperf3 -s -D -I "$RESULTS/usernet-veth-iperf.pid" >/dev/null
	ip netns exec lodger-bench-b "$WORK/bin/nettool" rr echo 7777 &
	local veth_rr_pid=$!
	sleep 0.5

	for ((i = 0; i < USERNET_RUNS; i++)); do
		usernet_iperf veth timeout 120 ip netns exec lodger-bench-a iperf3 -c 10.123.0.2 -t "$USERNET_SECONDS" -J
		usernet_iperf lodger as_user timeout 120 lodger run --rm --network benchnet "$img" iperf3 -c "$lip" -t "$USERNET_SECONDS" -J
		((USERNET_PODMAN)) && usernet_iperf podman as_user timeout 120 podman run --rm --network benchnet "$img" iperf3 -c "$pip" -t "$USERNET_SECONDS" -J
	done
	usernet_rr veth timeout 120 ip netns exec lodger-bench-a "$WORK/bin/nettool" rr -n "$USERNET_RR" 10.123.0.2:7777
	usernet_rr lodger as_user timeout 120 lodger run --rm --network benchnet "$img" nettool rr -n "$USERNET_RR" "$lrr:7777"
	((USERNET_PODMAN)) && usernet_rr podman as_user timeout 120 podman run --rm --network benchnet "$img" nettool rr -n "$USERNET_RR" "$prr:7777"

	# The gateway with the two servers attached.
	local gw
	gw=$(cat "$WORK/user/run/lodger/networks/benchnet/gateway.pid" 2>/dev/null || true)
	USERNET_GW_RSS=$(awk '/^VmRSS/ {print $2}' "/proc/$gw/status" 2>/dev/null || echo 0)
	USERNET_GW_ANON=$(awk '/^RssAnon/ {print $2}' "/proc/$gw/status" 2>/dev/null || echo 0)

	kill "$veth_rr_pid" 2>/dev/null || true
	stop_pidfile "$RESULTS/usernet-veth-iperf.pid"
	ip netns del lodger-bench-a 2>/dev/null || true
	ip netns del lodger-bench-b 2>/dev/null || true
	as_user lodger rm -f un-iperf un-rr >/dev/null 2>&1 || true
	as_user lodger network rm -f benchnet >/dev/null 2>&1 || true
	if ((USERNET_PODMAN)); then
		as_user podman rm -f un-iperf un-rr >/dev/null 2>&1 || true
		as_user podman network rm -f benchnet >/dev/null 2>&1 || true
	fi
	USERNET_ELAPSED=$((SECONDS - start))
	USERNET_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

# usernet_row LABEL KEY: throughput median, min, max, runs; rr mean, p50,
# p99; or why it did not run.
usernet_row() {
	local f=$RESULTS/usernet-$2.gbps s rr
	if [[ ! -s $f ]]; then
		printf '| %s | did not run: %s | | | | | | |\n' "$1" "${USERNET_FAIL[$2]:-${USERNET_FAIL[podman]:-no result}}"
		return
	fi
	s=$(stats "$f")
	rr="| | |"
	[[ -s $RESULTS/usernet-$2.rr ]] && rr=$(awk '{printf "%s | %s | %s", $1, $2, $3}' "$RESULTS/usernet-$2.rr")
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(gbps "$(field "$s" 1)")" "$(gbps "$(field "$s" 3)")" \
		"$(gbps "$(field "$s" 4)")" "$(field "$s" 5)" "$rr"
}

usernet_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == usernet ]] && how="\`bash bench/run.sh usernet\` (this part of \`make bench\` alone; the other sections come from an earlier run) at lodger $LODGER_COMMIT"
	local vm lm pm vr lr
	vm=$(net_median_un veth) lm=$(net_median_un lodger) pm=$(net_median_un podman)
	vr=$(awk '{print $1}' "$RESULTS/usernet-veth.rr" 2>/dev/null || true)
	lr=$(awk '{print $1}' "$RESULTS/usernet-lodger.rr" 2>/dev/null || true)
	cat <<EOF

## Container to container on a user network

Measured by $how on $USERNET_DATE; this part took $((USERNET_ELAPSED / 60)) min $((USERNET_ELAPSED % 60)) s.
Load average before it: $USERNET_LOADAVG; after: $USERNET_LOADAVG_AFTER.
Two containers on one user network: lodger's (\`lodger network create\`: a kernel bridge in the
user's network namespace, a veth per container), podman's (\`podman network create\`, rootless,
podman $V_PODMAN), and as the ceiling a veth pair between two network namespaces made by root.
MTU $USERNET_MTU on every link. Throughput: iperf3, $USERNET_SECONDS s per run, the client in a fresh
container each run, Gbit/s. Latency: \`nettool rr\`, $USERNET_RR one-byte round trips on one
TCP connection (TCP_RR-style), microseconds.

| path | median Gbit/s | min | max | runs | rr mean µs | rr p50 µs | rr p99 µs |
| --- | --- | --- | --- | --- | --- | --- | --- |
EOF
	usernet_row "veth pair between two netns (root)" veth
	usernet_row "lodger network" lodger
	usernet_row "podman network (rootless)" podman
	printf '\nlodger/veth throughput: **%s×** (target ≥ 0.9×: %s); rr mean lodger/veth: **%s×** (target ≤ 1.2×: %s).\n' \
		"$(ratio "$lm" "$vm")" "$(met "$(ratio "$lm" "$vm")" ">=" 0.9)" "$(ratio "$lr" "$vr")" "$(met "$(ratio "$lr" "$vr")" "<=" 1.2)"
	[[ -n $pm ]] && printf 'lodger/podman throughput: **%s×**.\n' "$(ratio "$lm" "$pm")"
	printf "The network's gateway process with the two servers attached: %s resident (%s of it anonymous; target for 10 containers ≤ 15 MB).\n" \
		"$(mib "$USERNET_GW_RSS")" "$(mib "$USERNET_GW_ANON")"
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
