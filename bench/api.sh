# bench/api.sh — the Engine API benchmark of bench/run.sh (sourced by it,
# not run on its own): Docker's CLI through `lodger system service`'s
# socket against the same through `podman system service` (Debian's
# podman), both as the same user:
#
#   a. GET /_ping: API_PINGS requests, each on a connection of its own,
#      timed by curl (time_total); the median is the p50;
#   b. `docker run --rm IMG true` with DOCKER_HOST at each socket
#      (hyperfine, API_RUNS runs, the tools alternating between rounds);
#   c. testcontainers-go's cycle (tests/tcgo's BenchmarkCycle: start a
#      container serving a port, wait for the port, stop and remove it),
#      API_CYCLES per socket in rounds of alternating order, Ryuk off;
#   d. the idle lodger service's resident memory.

API_PINGS=${BENCH_API_PINGS:-200}
API_RUNS=${BENCH_API_RUNS:-20}
API_CYCLES=${BENCH_API_CYCLES:-15}

# api_pid NAME: the pid of BENCH_USER's NAME system service.
api_pid() {
	local p
	for p in $(pgrep -u "$BENCH_USER" -x "$1"); do
		tr '\0' ' ' <"/proc/$p/cmdline" | grep -q 'system service' && echo "$p" && return 0
	done
	return 1
}

# api_socket_up SOCK: wait until something answers on SOCK.
api_socket_up() {
	local i
	for i in $(seq 300); do
		as_user curl -sf -o /dev/null --unix-socket "$1" http://d/_ping && return 0
		sleep 0.1
	done
	return 1
}

bench_api() {
	declare -gA API_STATS=()
	API_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	API_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local start=$SECONDS
	local lsock=$WORK/user/run/lodger/lodger.sock psock=$WORK/user/run/podman-api/docker.sock
	# testcontainers-go, from its own module (tests/tcgo), as the e2e
	# tests build it.
	log "api: building tests/tcgo (testcontainers-go)"
	(cd "$REPO/tests/tcgo" && "$GO" test -c -tags e2e -o "$WORK/bin/tcgo.test" .) || die "building tests/tcgo failed"
	chmod 0755 "$WORK/bin/tcgo.test"
	as_user lodger pull -q "$BUSYBOX_IMG" >/dev/null || die "lodger pull failed as $BENCH_USER"
	as_user lodger system service --time 0 >"$RESULTS/api-lodger.log" 2>&1 &
	api_socket_up "$lsock" || die "lodger system service did not answer on $lsock: $(cat "$RESULTS/api-lodger.log")"
	# The service itself, not the runuser and env before it (the session's
	# re-exec keeps the pid).
	API_LODGER_PID=$(api_pid lodger) || die "no lodger system service process of $BENCH_USER"
	API_RSS_START=$(ps -o rss= -p "$API_LODGER_PID" | tr -d ' ')
	local tools=(lodger)
	API_PODMAN_OK=0
	if ((PODMAN_OK)); then
		as_user podman pull -q "$BUSYBOX_IMG" >/dev/null || die "podman pull failed as $BENCH_USER"
		as_user mkdir -p "$(dirname "$psock")"
		as_user podman system service --time 0 "unix://$psock" >"$RESULTS/api-podman.log" 2>&1 &
		if api_socket_up "$psock"; then
			API_PODMAN_PID=$(api_pid podman)
			API_PODMAN_OK=1
			tools+=(podman)
		else
			log "podman system service did not answer: $(cat "$RESULTS/api-podman.log")"
		fi
	fi
	local t sock i
	for t in "${tools[@]}"; do
		sock=$lsock
		[[ $t == podman ]] && sock=$psock
		log "api: $API_PINGS pings of $t's socket"
		# One connection per request, timed by curl itself (its
		# time_total: connect, request, answer), so that neither curl's
		# start-up nor a kept-alive connection's reuse is counted.
		as_user bash -c 'for i in $(seq "$1"); do curl -s -o /dev/null -w "%{time_total}\n" --unix-socket "$2" http://d/_ping; done' \
			_ "$API_PINGS" "$sock" >"$RESULTS/api-ping-$t.times"
		API_STATS[ping-$t]=$(stats "$RESULTS/api-ping-$t.times")
	done
	local names=() cmds=() rounds=3 per r order args
	for t in "${tools[@]}"; do
		sock=$lsock
		[[ $t == podman ]] && sock=$psock
		names+=("$t")
		cmds+=("env DOCKER_HOST=unix://$sock docker run --rm $BUSYBOX_IMG true")
	done
	per=$(((API_RUNS + rounds - 1) / rounds))
	for ((r = 1; r <= rounds; r++)); do
		order=()
		for i in "${!names[@]}"; do order+=("$i"); done
		((r % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${order[@]}" | tac)
		args=()
		for i in "${order[@]}"; do args+=(-n "${names[$i]}" "${cmds[$i]}"); done
		log "api: docker run --rm true, round $r/$rounds ($per runs each)"
		as_user hyperfine -N --style basic --warmup 2 --runs "$per" \
			--export-json "$RESULTS/api-run-round$r.json" "${args[@]}" >"$RESULTS/api-run-round$r.txt"
	done
	for t in "${names[@]}"; do
		jq -r --arg n "$t" '.results[] | select(.command == $n) | .times[]' "$RESULTS"/api-run-round*.json >"$RESULTS/api-run-$t.times"
		API_STATS[run-$t]=$(stats "$RESULTS/api-run-$t.times")
	done
	# testcontainers-go's cycle, the tools alternating between rounds;
	# each round is one testcontainers process (its set-up, a network
	# list and an info, once per process as in a test suite).
	per=$(((API_CYCLES + rounds - 1) / rounds))
	for t in "${tools[@]}"; do : >"$RESULTS/api-tc-$t.times"; done
	for ((r = 1; r <= rounds; r++)); do
		order=("${tools[@]}")
		((r % 2 == 0)) && mapfile -t order < <(printf '%s\n' "${tools[@]}" | tac)
		for t in "${order[@]}"; do
			sock=$lsock
			[[ $t == podman ]] && sock=$psock
			log "api: testcontainers-go cycle, $t, round $r/$rounds ($per cycles)"
			as_user env DOCKER_HOST="unix://$sock" TESTCONTAINERS_RYUK_DISABLED=true \
				TESTCONTAINERS_HOST_OVERRIDE=127.0.0.1 LODGER_TEST_REGISTRY="$REGISTRY" \
				"$WORK/bin/tcgo.test" -test.run '^$' -test.bench BenchmarkCycle -test.benchtime "${per}x" \
				>"$RESULTS/api-tc-$t-round$r.log" 2>&1 || die "testcontainers-go cycle against $t failed: $(tail -20 "$RESULTS/api-tc-$t-round$r.log")"
			awk '$1 == "cycle" {print $2}' "$RESULTS/api-tc-$t-round$r.log" >>"$RESULTS/api-tc-$t.times"
		done
	done
	for t in "${tools[@]}"; do
		API_STATS[tc-$t]=$(stats "$RESULTS/api-tc-$t.times")
	done
	sleep 2
	# The service is lodger re-executed into the session: the pid is the
	# same (exec), its resident set the served process's.
	API_RSS=$(ps -o rss= -p "$API_LODGER_PID" | tr -d ' ')
	# Most of it is the binary's own pages (file-backed, shared and
	# reclaimable); the anonymous part is the service's memory.
	API_ANON=$(awk '/^RssAnon:/ {print $2}' "/proc/$API_LODGER_PID/status")
	API_FILE=$(awk '/^RssFile:/ {print $2}' "/proc/$API_LODGER_PID/status")
	kill "$API_LODGER_PID" 2>/dev/null || true
	wait "$API_LODGER_PID" 2>/dev/null || true
	if ((API_PODMAN_OK)); then
		kill "$API_PODMAN_PID" 2>/dev/null || true
		wait "$API_PODMAN_PID" 2>/dev/null || true
	fi
	API_ELAPSED=$((SECONDS - start))
	API_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

# api_row NAME STATS [FORMAT]: a row in milliseconds, FORMAT digits after
# the point (1; /_ping's take 3).
api_row() {
	local s=$2 d=${3:-1}
	msd() { awk -v x="$1" -v d="$d" 'BEGIN {printf "%.*f", d, x * 1000}'; }
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(msd "$(field "$s" 1)")" "$(msd "$(field "$s" 2)")" \
		"$(msd "$(field "$s" 3)")" "$(msd "$(field "$s" 4)")" "$(field "$s" 5)"
}

api_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == api ]] && how="\`bash bench/run.sh api\` (this part of \`make bench\` alone; the other sections come from an earlier run) at lodger $LODGER_COMMIT"
	cat <<EOF

## The Engine API

Measured by $how on $API_DATE; this part took $((API_ELAPSED / 60)) min $((API_ELAPSED % 60)) s.
Load average before it: $API_LOADAVG; after: $API_LOADAVG_AFTER.
Docker's CLI ($(docker --version | awk '{print $3}' | tr -d ,)) with \`DOCKER_HOST\` at \`lodger system service --time 0\`'s
socket and at \`podman system service --time 0\`'s (podman $V_PODMAN, configured as above), as $BENCH_USER.
\`/_ping\` is $API_PINGS requests, each on a new connection, as curl's
\`time_total\` times them; \`docker run --rm $BUSYBOX_IMG true\` is $API_RUNS runs per socket in
hyperfine rounds whose order alternates. testcontainers-go's cycle (tests/tcgo's
\`BenchmarkCycle\`: start a busybox httpd container, wait for its port with
\`wait.ForListeningPort\`, \`Terminate\`; Ryuk off) is $API_CYCLES cycles per socket in
$rounds rounds of alternating order. Times in milliseconds.

| request | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
EOF
	api_row "GET /_ping, lodger" "${API_STATS[ping-lodger]}" 3
	((API_PODMAN_OK)) && api_row "GET /_ping, podman" "${API_STATS[ping-podman]}" 3
	api_row "docker run --rm true, lodger" "${API_STATS[run-lodger]}"
	((API_PODMAN_OK)) && api_row "docker run --rm true, podman" "${API_STATS[run-podman]}"
	api_row "testcontainers-go cycle, lodger" "${API_STATS[tc-lodger]}"
	((API_PODMAN_OK)) && api_row "testcontainers-go cycle, podman" "${API_STATS[tc-podman]}"
	printf '\n`/_ping` p50 through lodger: %s ms (target ≤ 1 ms: %s).\n' \
		"$(awk -v x="$(field "${API_STATS[ping-lodger]}" 1)" 'BEGIN {printf "%.3f", x * 1000}')" "$(met "$(field "${API_STATS[ping-lodger]}" 1)" "<=" 0.001)"
	if ((API_PODMAN_OK)); then
		printf 'Ratio of medians podman/lodger for `docker run --rm true`: **%s×** (target ≥ 4×: %s).\n' \
			"$(ratio "$(field "${API_STATS[run-podman]}" 1)" "$(field "${API_STATS[run-lodger]}" 1)")" \
			"$(met "$(ratio "$(field "${API_STATS[run-podman]}" 1)" "$(field "${API_STATS[run-lodger]}" 1)")" ">=" 4)"
		printf 'Ratio of medians podman/lodger for the testcontainers-go cycle: **%s×** (target ≥ 4×: %s).\n' \
			"$(ratio "$(field "${API_STATS[tc-podman]}" 1)" "$(field "${API_STATS[tc-lodger]}" 1)")" \
			"$(met "$(ratio "$(field "${API_STATS[tc-podman]}" 1)" "$(field "${API_STATS[tc-lodger]}" 1)")" ">=" 4)"
	else
		printf 'podman system service did not come up here; lodger measured alone.\n'
	fi
	printf 'The idle lodger service: %s resident once it answered its first ping, %s after the runs (target ≤ 15 MB: %s);\n' \
		"$(mib "$API_RSS_START")" "$(mib "$API_RSS")" "$(met "$API_RSS" "<=" 15360)"
	printf 'of that, %s anonymous memory and %s pages of the lodger binary (file-backed).\n' "$(mib "$API_ANON")" "$(mib "$API_FILE")"
}

# Replace the Engine API section of the report, or add it at the end.
splice_api_report() {
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"
	{
		if [[ -s $OUT ]]; then
			awk '/^## The Engine API$/ {skip = 1; next} skip && /^## / {skip = 0} !skip {print}' "$OUT" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		else
			echo "# Benchmarks"
		fi
		api_report
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote the Engine API section of $OUT"
}
