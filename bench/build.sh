# bench/build.sh — the build benchmark of bench/run.sh (sourced by it, not
# run on its own): `lodger build` against `buildah bud --layers` (Debian's
# buildah, as the same user, in the storage podman is configured with) on
# a small Dockerfile: FROM scratch, COPY of a static busybox, its
# --install, ten RUN steps.
#
#   a. eleven RUN steps, no cache (--no-cache): the chain of short-lived
#      containers a build is, where lodger's start-up time should show;
#   b. the same Dockerfile again with its cache: every step reused.
#
# Each tool builds BUILD_RUNS times, the tools alternating, and the median
# is reported.

BUILD_RUNS=${BENCH_BUILD_RUNS:-5}

bench_build() {
	declare -gA BUILD_STATS=()
	BUILD_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	BUILD_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local start=$SECONDS ctx=$WORK/user/buildctx i t mode
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$ctx"
	# FROM scratch and the machine's static busybox: buildah 1.28 refuses
	# the busybox test image, whose history lists fewer layers than it has
	# ("history lists 2 non-empty layers, but we have 3 layers on disk").
	cp /bin/busybox "$ctx/busybox"
	{
		echo "FROM scratch"
		echo "COPY busybox /bin/busybox"
		echo 'RUN ["/bin/busybox", "--install", "-s", "/bin"]'
		for i in $(seq 10); do
			echo "RUN echo step $i > /step$i && cat /step$i"
		done
		echo 'CMD ["cat", "/step10"]'
	} >"$ctx/Dockerfile"
	chown "$BENCH_USER:" "$ctx/Dockerfile" "$ctx/busybox"
	V_BUILDAH=$(buildah --version | awk '{print $3}')
	BUILDAH_OK=1
	if ! BUILDAH_ERR=$(as_user buildah bud --layers --pull=never -q -t bench-build "$ctx" 2>&1 >/dev/null); then
		BUILDAH_OK=0
		log "buildah cannot build here; measuring lodger alone: $BUILDAH_ERR"
	fi
	as_user lodger build -q -t bench-build "$ctx" >/dev/null || die "lodger build failed as $BENCH_USER"
	local tools=(lodger)
	((BUILDAH_OK)) && tools=(lodger buildah)
	for mode in nocache cached; do
		for t in "${tools[@]}"; do : >"$RESULTS/build-$mode-$t.times"; done
		log "build: $mode, $BUILD_RUNS runs per tool"
		for i in $(seq "$BUILD_RUNS"); do
			for t in "${tools[@]}"; do
				local flags=""
				[[ $mode == nocache ]] && flags="--no-cache"
				case $t in
				lodger) time_user "lodger build -q $flags -t bench-build $ctx" "$RESULTS/build-$mode-$t" >>"$RESULTS/build-$mode-$t.times" ;;
				buildah) time_user "buildah bud --layers --pull=never -q $flags -t bench-build $ctx" "$RESULTS/build-$mode-$t" >>"$RESULTS/build-$mode-$t.times" ;;
				esac
			done
		done
		for t in "${tools[@]}"; do
			BUILD_STATS[$mode-$t]=$(stats "$RESULTS/build-$mode-$t.times")
		done
	done
	BUILD_ELAPSED=$((SECONDS - start))
	BUILD_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

build_row() {
	local s=$2
	printf '| %s | %s | %s | %s | %s | %s |\n' "$1" "$(sec "$(field "$s" 1)")" "$(sec "$(field "$s" 2)")" \
		"$(sec "$(field "$s" 3)")" "$(sec "$(field "$s" 4)")" "$(field "$s" 5)"
}

build_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == build ]] && how="\`bash bench/run.sh build\` (this part of \`make bench\` alone; the other sections come from an earlier run) at lodger $LODGER_COMMIT"
	cat <<EOF

## Builds

Measured by $how on $BUILD_DATE; this part took $((BUILD_ELAPSED / 60)) min $((BUILD_ELAPSED % 60)) s.
Load average before it: $BUILD_LOADAVG; after: $BUILD_LOADAVG_AFTER.
The Dockerfile is \`FROM scratch\`, \`COPY busybox /bin/busybox\` (the machine's
static busybox), \`RUN ["/bin/busybox", "--install", "-s", "/bin"]\`, ten
\`RUN echo step N > /stepN && cat /stepN\` and a CMD: 14 steps. \`lodger build -q [--no-cache] -t bench-build DIR\` against
\`buildah bud --layers --pull=never -q [--no-cache] -t bench-build DIR\`
(buildah $V_BUILDAH, Debian's package; its RUN steps use the runc and the
containers.conf podman is configured with above), as $BENCH_USER;
$BUILD_RUNS runs of each, the tools alternating; times in seconds.

| build | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
EOF
	build_row "lodger, no cache" "${BUILD_STATS[nocache-lodger]}"
	((BUILDAH_OK)) && build_row "buildah, no cache" "${BUILD_STATS[nocache-buildah]}"
	build_row "lodger, cached" "${BUILD_STATS[cached-lodger]}"
	((BUILDAH_OK)) && build_row "buildah, cached" "${BUILD_STATS[cached-buildah]}"
	if ((BUILDAH_OK)); then
		printf '\nRatio of medians buildah/lodger: no cache **%s×** (target ≥ 3×: %s), cached **%s×**.\n' \
			"$(ratio "$(field "${BUILD_STATS[nocache-buildah]}" 1)" "$(field "${BUILD_STATS[nocache-lodger]}" 1)")" \
			"$(met "$(ratio "$(field "${BUILD_STATS[nocache-buildah]}" 1)" "$(field "${BUILD_STATS[nocache-lodger]}" 1)")" ">=" 3)" \
			"$(ratio "$(field "${BUILD_STATS[cached-buildah]}" 1)" "$(field "${BUILD_STATS[cached-lodger]}" 1)")"
	else
		printf '\nbuildah could not build here: %s\n' "$BUILDAH_ERR"
	fi
	printf 'A fully cached lodger build took %s ms (median; target ≤ 300 ms: %s).\n' \
		"$(ms "$(field "${BUILD_STATS[cached-lodger]}" 1)")" "$(met "$(field "${BUILD_STATS[cached-lodger]}" 1)" "<=" 0.3)"
}

# Replace the Builds section of the report, or put it before the Push,
# save and load section (or Network, or at the end), and keep the rest:
# the other splices keep what comes before their own section.
splice_build_report() {
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"
	{
		if [[ -s $OUT ]]; then
			awk '/^## (Builds|Push, save and load|Network)$/ {exit} {print}' "$OUT" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		else
			echo "# Benchmarks"
		fi
		build_report
		if [[ -s $OUT ]]; then
			awk '/^## (Push, save and load|Network)$/ {p = 1} p {print}' "$OUT" | sed '1s/^/\n/'
		fi
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote the Builds section of $OUT"
}
