# bench/build.sh — the build benchmark of bench/run.sh (sourced by it, not
# run on its own): `lodger build` against `buildah bud --layers` (Debian's
# buildah, as the same user, in the storage podman is configured with) and
# `podman build` (which builds with buildah's library inside podman):
#
#   a. eleven RUN steps, no cache (--no-cache), FROM scratch and a COPY of
#      the machine's static busybox: the chain of short-lived containers
#      a build is, where lodger's start-up time should show;
#   b. a multi-stage Dockerfile (a base stage, a dependency stage, a
#      builder stage, a final image with COPY --from, 8 RUN and 7 COPY
#      steps, 27 steps in all), FROM the test registry's busybox, no cache;
#   c. the same with its cache: every step reused;
#   d. the same after a one-file change near the end (the VERSION file a
#      late COPY takes): that COPY and what follows it run again.
#
# Each tool builds BUILD_RUNS times per case, the tools alternating, and
# the median is reported.

BUILD_RUNS=${BENCH_BUILD_RUNS:-5}
# The base of (b)-(d): busybox with a history entry for its layer.
# buildah 1.28 cannot build FROM the plain test busybox, which has no
# history (it writes a history for its own layers only and then refuses
# its intermediate image: "history lists 2 non-empty layers, but we have
# 3"); the image is valid OCI and lodger builds on it.
BUILD_BASE_IMG=$REGISTRY/lodger-test/busybox:history

# write_multistage DIR writes the context of (b)-(d).
write_multistage() {
	local d=$1 i
	mkdir -p "$d/src" "$d/config"
	cat >"$d/Dockerfile" <<EOF
ARG BASE=$BUILD_BASE_IMG
FROM \$BASE AS base
ENV APP_HOME=/app LANG=C.UTF-8
RUN mkdir -p /app /build && echo 'app:x:1000:1000::/app:/bin/sh' >> /etc/passwd && echo 'app:x:1000:' >> /etc/group

FROM base AS deps
WORKDIR /build
COPY deps.txt ./
RUN mkdir vendor && for d in \$(cat deps.txt); do mkdir -p vendor/\$d && echo "package \$d" > vendor/\$d/lib.txt; done && tar czf /vendor.tgz vendor

FROM base AS builder
WORKDIR /build
COPY --from=deps /vendor.tgz /build/
RUN tar xzf vendor.tgz && rm vendor.tgz
COPY src/ ./src/
RUN mkdir -p /out && find src -name '*.c' | sort | xargs cat > /out/app.src && sha256sum /out/app.src > /out/app.sha256
RUN for f in src/*.c; do gzip -c \$f > /out/\$(basename \$f).gz; done
RUN cat /out/app.sha256 && ls /out | wc -l

FROM base
LABEL org.opencontainers.image.title=bench-app
WORKDIR /app
COPY --from=builder /out/ ./bin/
COPY --from=deps /vendor.tgz ./lib/
COPY config/ ./config/
RUN chown -R app:app /app
COPY VERSION ./
RUN cat VERSION > release.txt && wc -c bin/app.src > sizes.txt
USER app
EXPOSE 8080
CMD ["sh", "-c", "cat /app/release.txt"]
EOF
	for i in $(seq 30); do echo "dep$i"; done >"$d/deps.txt"
	for i in $(seq 50); do
		{
			echo "/* module $i */"
			for j in $(seq 60); do echo "int f${i}_$j(int x) { return x * $j + $i; }"; done
		} >"$d/src/mod$i.c"
	done
	for i in $(seq 5); do echo "key$i = value$i" >"$d/config/app$i.conf"; done
	echo "1.0.0" >"$d/VERSION"
	chown -R "$BENCH_USER:" "$d"
}

bench_build() {
	declare -gA BUILD_STATS=()
	BUILD_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	BUILD_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local start=$SECONDS ctx=$WORK/user/buildctx multi=$WORK/user/buildmulti i t mode dir flags
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$ctx"
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
	write_multistage "$multi"
	V_BUILDAH=$(buildah --version | awk '{print $3}')
	V_PODMAN_BUILD=$(podman --version | awk '{print $3}')
	# Every tool pulls the base first: no build below pulls.
	as_user lodger pull -q --tls-verify=false "$BUILD_BASE_IMG" >/dev/null || die "lodger cannot pull $BUILD_BASE_IMG"
	declare -gA BUILD_OK=([lodger]=1 [buildah]=1 [podman]=1)
	declare -gA BUILD_ERR=()
	as_user buildah pull -q --tls-verify=false "$BUILD_BASE_IMG" >/dev/null 2>&1 || true
	as_user podman pull -q --tls-verify=false "$BUILD_BASE_IMG" >/dev/null 2>&1 || true
	declare -A cmd=(
		[lodger]="lodger build -q"
		[buildah]="buildah bud --layers --pull=never -q"
		[podman]="podman build --layers --pull=never -q"
	)
	for t in lodger buildah podman; do
		for dir in "$ctx" "$multi"; do
			if ! BUILD_ERR[$t]=$(as_user ${cmd[$t]} -t bench-build "$dir" 2>&1 >/dev/null); then
				BUILD_OK[$t]=0
				[[ $t == lodger ]] && die "lodger build failed as $BENCH_USER: ${BUILD_ERR[$t]}"
				log "$t cannot build here; measuring the others: ${BUILD_ERR[$t]}"
				break
			fi
		done
	done
	BUILD_TOOLS=()
	for t in lodger buildah podman; do ((BUILD_OK[$t])) && BUILD_TOOLS+=("$t"); done
	for mode in nocache multi-nocache multi-cached multi-change; do
		for t in "${BUILD_TOOLS[@]}"; do : >"$RESULTS/build-$mode-$t.times"; done
		log "build: $mode, $BUILD_RUNS runs per tool"
		dir=$multi flags=""
		case $mode in
		nocache) dir=$ctx flags="--no-cache" ;;
		multi-nocache) flags="--no-cache" ;;
		esac
		if [[ $mode == multi-cached ]]; then
			# One untimed build with the cache first: the --no-cache
			# runs before left several images per step, and the first
			# build with the cache settles on one chain.
			for t in "${BUILD_TOOLS[@]}"; do
				as_user ${cmd[$t]} -t bench-build "$multi" >/dev/null 2>&1 || true
			done
		fi
		for i in $(seq "$BUILD_RUNS"); do
			for t in "${BUILD_TOOLS[@]}"; do
				# (d): a new VERSION before each build, outside the timing.
				[[ $mode == multi-change ]] && as_user sh -c "echo '$t $i $RANDOM' > '$multi/VERSION'"
				time_user "${cmd[$t]} $flags -t bench-build $dir" "$RESULTS/build-$mode-$t" >>"$RESULTS/build-$mode-$t.times"
			done
		done
		for t in "${BUILD_TOOLS[@]}"; do
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

# build_ratio MODE TOOL -> the ratio of TOOL's median to lodger's.
build_ratio() {
	ratio "$(field "${BUILD_STATS[$1-$2]}" 1)" "$(field "${BUILD_STATS[$1-lodger]}" 1)"
}

build_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above" mode t label
	[[ ${MODE:-} == build ]] && how="\`bash bench/run.sh build\` (this part of \`make bench\` alone; the other sections come from an earlier run) at lodger $LODGER_COMMIT"
	cat <<EOF

## Builds

Measured by $how on $BUILD_DATE; this part took $((BUILD_ELAPSED / 60)) min $((BUILD_ELAPSED % 60)) s.
Load average before it: $BUILD_LOADAVG; after: $BUILD_LOADAVG_AFTER.
\`lodger build -q [--no-cache] -t bench-build DIR\` against
\`buildah bud --layers --pull=never -q [--no-cache] -t bench-build DIR\`
(buildah $V_BUILDAH, Debian's package) and \`podman build --layers
--pull=never -q [--no-cache] -t bench-build DIR\` (podman $V_PODMAN_BUILD),
their RUN steps with the runc and containers.conf podman is configured
with above, all as $BENCH_USER; $BUILD_RUNS runs of each, the tools
alternating; times in seconds.

- (a) \`FROM scratch\`, \`COPY busybox /bin/busybox\` (the machine's static
  busybox), \`RUN ["/bin/busybox", "--install", "-s", "/bin"]\`, ten
  \`RUN echo step N > /stepN && cat /stepN\` and a CMD: 14 steps, no cache.
- (b) a multi-stage Dockerfile (bench/build.sh, \`write_multistage\`):
  FROM \`lodger-test/busybox:history\` (already in each tool's storage), a
  base stage, a dependency stage (\`COPY deps.txt\`, a RUN making and
  packing a vendor tree), a builder stage (\`COPY --from\`, \`COPY src/\` of
  50 files, four RUNs), and the final image (three \`COPY --from\`/\`COPY\`,
  \`RUN chown\`, \`COPY VERSION\`, a RUN, USER, EXPOSE, CMD): 8 RUN steps,
  no cache.
- (c) (b) again with its cache (after one untimed build with it).
- (d) (b) after writing a new VERSION (before each build, untimed): its
  COPY and the RUN after it run again.

| build | median | mean | min | max | runs |
| --- | --- | --- | --- | --- | --- |
EOF
	for mode in nocache multi-nocache multi-cached multi-change; do
		case $mode in
		nocache) label="(a) 10 RUN, no cache" ;;
		multi-nocache) label="(b) multi-stage, no cache" ;;
		multi-cached) label="(c) multi-stage, cached" ;;
		multi-change) label="(d) one-file change" ;;
		esac
		for t in "${BUILD_TOOLS[@]}"; do
			build_row "$label: $t" "${BUILD_STATS[$mode-$t]}"
		done
	done
	echo
	for t in buildah podman; do
		if ((BUILD_OK[$t])); then
			printf 'Ratio of medians %s/lodger: (a) **%s×** (target ≥ 3×: %s), (b) **%s×** (≥ 3×: %s), (c) **%s×**, (d) **%s×** (≥ 3×: %s).\n' "$t" \
				"$(build_ratio nocache "$t")" "$(met "$(build_ratio nocache "$t")" ">=" 3)" \
				"$(build_ratio multi-nocache "$t")" "$(met "$(build_ratio multi-nocache "$t")" ">=" 3)" \
				"$(build_ratio multi-cached "$t")" \
				"$(build_ratio multi-change "$t")" "$(met "$(build_ratio multi-change "$t")" ">=" 3)"
		else
			printf '%s could not build here: %s\n' "$t" "${BUILD_ERR[$t]}"
		fi
	done
	printf 'buildah reuses every step of (c) (its output says `Using cache` for each, checked by hand with buildah\n1.28.2): its seconds there are its own work per step, no RUN container.\n'
	printf 'A fully cached lodger build of (b) took %s ms (median; target ≤ 300 ms: %s).\n' \
		"$(ms "$(field "${BUILD_STATS[multi-cached-lodger]}" 1)")" "$(met "$(field "${BUILD_STATS[multi-cached-lodger]}" 1)" "<=" 0.3)"
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
