# bench/api.sh — the Engine API benchmark of bench/run.sh (sourced by it,
# not run on its own): Docker's CLI through `lodger system service`'s
# socket against the same through `podman system service` (Debian's
# podman), both as the same user:
#
#   a. GET /_ping: API_PINGS requests, each on a connection of its own,
#      timed by curl (time_total) and by a Go client (bench/apiping, which
#      leaves curl's own set-up out); the median is the p50;
#   b. `docker run --rm IMG true` with DOCKER_HOST at each socket
#      (hyperfine, API_RUNS runs, the tools alternating between rounds);
#   c. testcontainers-go's cycle (tests/tcgo's BenchmarkCycle: start a
#      container serving a port, wait for the port, stop and remove it),
#      API_CYCLES per socket in rounds of alternating order, Ryuk off;
#   d. the lodger service's resident memory: serving (lodger-socket and
#      the server it started), and idle (lodger-socket alone, once the
#      server left after its 10 idle seconds).

API_PINGS=${BENCH_API_PINGS:-200}
API_RUNS=${BENCH_API_RUNS:-20}
API_CYCLES=${BENCH_API_CYCLES:-15}
API_ROUNDS=3

# api_pid NAME...: the pid of this run's system service (its command line
# names WORK: BENCH_USER may run other services, e2e tests' too) whose
# process is called one of NAME, the oldest (lodger's holder before its
# server).
api_pid() {
	local n p
	for n in "$@"; do
		for p in $(pgrep -u "$BENCH_USER" -x "$n" | sort -n); do
			tr '\0' ' ' <"/proc/$p/cmdline" | grep 'system service' | grep -qF "$WORK/" && echo "$p" && return 0
		done
	done
	return 1
}

# api_server PID: the lodger server lodger-socket PID runs now, if any.
api_server() {
	local p
	for p in $(pgrep -P "$1" -x lodger); do
		echo "$p" && return 0
	done
	return 1
}

# rss PID [FIELD]: PID's resident set (VmRSS, or FIELD of its status) in KiB.
rss() { awk -v f="${2:-VmRSS}:" '$1 == f {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

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
	API_LODGER_PID=$(api_pid lodger-socket lodger) || die "no lodger system service process of $BENCH_USER"
	API_RSS_START=$(rss "$API_LODGER_PID")
	API_SERVER_START=0
	local srv
	srv=$(api_server "$API_LODGER_PID") && API_SERVER_START=$(rss "$srv")
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
		# The same from a Go client: what is left is the socket and the
		# server; the difference is curl's own share.
		as_user apiping "$sock" "$API_PINGS" >"$RESULTS/api-goping-$t.times" || die "apiping on $t's socket failed"
		API_STATS[goping-$t]=$(stats "$RESULTS/api-goping-$t.times")
	done
	local names=() cmds=() rounds=$API_ROUNDS per r order args
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
	# Serving: the server lodger-socket started (the pid of `lodger system
	# service` is lodger-socket's: exec), most of it the lodger binary's
	# own pages (file-backed, shared, reclaimable). The rounds may end with
	# podman's, long enough for lodger's server to have left: one more
	# run through lodger's socket, measured 2 s after.
	as_user env DOCKER_HOST="unix://$lsock" docker run --rm "$BUSYBOX_IMG" true >/dev/null || die "docker run through lodger's socket failed"
	sleep 2
	API_SERVER_RSS=0 API_SERVER_ANON=0 API_SERVER_FILE=0
	if srv=$(api_server "$API_LODGER_PID"); then
		API_SERVER_RSS=$(rss "$srv") API_SERVER_ANON=$(rss "$srv" RssAnon) API_SERVER_FILE=$(rss "$srv" RssFile)
	fi
	# Idle: the server leaves after 10 s without a request; what stays is
	# the service's process, lodger-socket.
	local i
	for i in $(seq 300); do
		api_server "$API_LODGER_PID" >/dev/null || break
		sleep 0.1
	done
	API_IDLE_SERVER=$(api_server "$API_LODGER_PID" || echo none)
	API_RSS=$(rss "$API_LODGER_PID")
	API_ANON=$(rss "$API_LODGER_PID" RssAnon)
	API_FILE=$(rss "$API_LODGER_PID" RssFile)
	API_COMM=$(cat "/proc/$API_LODGER_PID/comm")
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
\`time_total\` times them and as a Go client (\`bench/apiping\`, without curl's own set-up) does; \`docker run --rm $BUSYBOX_IMG true\` is $API_RUNS runs per socket in
hyperfine rounds whose order alternates. testcontainers-go's cycle (tests/tcgo's
\`BenchmarkCycle\`: start a busybox httpd container, wait for its port with
\`wait.ForListeningPort\`, \`Terminate\`; Ryuk off) is $API_CYCLES cycles per socket, plus the one
Go's benchmark runs first in each of $API_ROUNDS rounds of alternating order. Times in milliseconds.

| request | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
EOF
	api_row "GET /_ping, lodger (curl)" "${API_STATS[ping-lodger]}" 3
	((API_PODMAN_OK)) && api_row "GET /_ping, podman (curl)" "${API_STATS[ping-podman]}" 3
	api_row "GET /_ping, lodger (Go client)" "${API_STATS[goping-lodger]}" 3
	((API_PODMAN_OK)) && api_row "GET /_ping, podman (Go client)" "${API_STATS[goping-podman]}" 3
	api_row "docker run --rm true, lodger" "${API_STATS[run-lodger]}"
	((API_PODMAN_OK)) && api_row "docker run --rm true, podman" "${API_STATS[run-podman]}"
	api_row "testcontainers-go cycle, lodger" "${API_STATS[tc-lodger]}"
	((API_PODMAN_OK)) && api_row "testcontainers-go cycle, podman" "${API_STATS[tc-podman]}"
	printf '\n`/_ping` p50 through lodger: %s ms with curl, %s ms with the Go client (target ≤ 1 ms: %s with curl).\n' \
		"$(awk -v x="$(field "${API_STATS[ping-lodger]}" 1)" 'BEGIN {printf "%.3f", x * 1000}')" \
		"$(awk -v x="$(field "${API_STATS[goping-lodger]}" 1)" 'BEGIN {printf "%.3f", x * 1000}')" \
		"$(met "$(field "${API_STATS[ping-lodger]}" 1)" "<=" 0.001)"
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
	printf 'Serving, the lodger service is two processes: lodger-socket, %s, and the server it started, %s once it answered its first ping;\n' \
		"$(mib "$API_RSS_START")" "$(mib "$API_SERVER_START")"
	printf 'the server 2 s after a last `docker run --rm`: %s (%s anonymous, %s file-backed: pages of the lodger binary).\n' \
		"$(mib "$API_SERVER_RSS")" "$(mib "$API_SERVER_ANON")" "$(mib "$API_SERVER_FILE")"
	printf 'Idle (the server gone after its 10 idle seconds: %s), the service is %s alone: %s resident (target ≤ 15 MB: %s), %s anonymous and %s file-backed.\n' \
		"$([[ $API_IDLE_SERVER == none ]] && echo yes || echo "no, pid $API_IDLE_SERVER still there")" "$API_COMM" \
		"$(mib "$API_RSS")" "$(met "$API_RSS" "<=" 15360)" "$(mib "$API_ANON")" "$(mib "$API_FILE")"
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
