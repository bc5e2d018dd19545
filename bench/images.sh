# bench/images.sh — the image benchmark of bench/run.sh (sourced by it, not
# run on its own): push, save and load throughput of lodger and podman on the
# Debian minbase image the pull benchmark uses, and the check that running
# an image already pulled touches no registry.
#
# A push into a registry that already holds the blobs uploads nothing: the
# registry answers that it has them, or containers/image (both tools use it)
# mounts them from the repository they were pulled from, which its blob-info
# cache remembers. So every push goes to a new, empty docker-registry of its
# own on IMG_PORT, started before the timed push and stopped after it; the
# persistent registry on $REGISTRY is never touched.

IMG_RUNS=${BENCH_IMG_RUNS:-5}
IMG_PORT=${BENCH_IMG_PORT:-5102}
WARM_PORT=${BENCH_WARM_PORT:-5101}
WARM_RUNS=${BENCH_WARM_RUNS:-10}

SCRATCH_REGISTRY_PID=

# start_scratch_registry PORT DIR: a docker-registry on 127.0.0.1:PORT with
# its storage in DIR and its access log (one line per request) in DIR.log.
start_scratch_registry() {
	local port=$1 dir=$2 i
	if curl -sf -o /dev/null "http://127.0.0.1:$port/v2/"; then
		die "something already answers on 127.0.0.1:$port; set BENCH_IMG_PORT or BENCH_WARM_PORT"
	fi
	mkdir -p "$dir"
	cat >"$dir.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $dir
http:
  addr: 127.0.0.1:$port
EOF
	docker-registry serve "$dir.yml" >"$dir.log" 2>&1 &
	SCRATCH_REGISTRY_PID=$!
	for i in $(seq 100); do
		curl -sf -o /dev/null "http://127.0.0.1:$port/v2/" && return
		kill -0 "$SCRATCH_REGISTRY_PID" 2>/dev/null || break
		sleep 0.05
	done
	cat "$dir.log" >&2
	die "docker-registry did not come up on 127.0.0.1:$port"
}

stop_scratch_registry() {
	[[ -n $SCRATCH_REGISTRY_PID ]] || return 0
	kill "$SCRATCH_REGISTRY_PID" 2>/dev/null || true
	wait "$SCRATCH_REGISTRY_PID" 2>/dev/null || true
	SCRATCH_REGISTRY_PID=
}

# requests FILE: how many HTTP requests a registry's access log records.
requests() { grep -c 'HTTP/1\.[01]"' "$1" || true; }

# Push, save and load, each tool in turn with the order rotated per run.
bench_push_save_load() {
	local tools=(lodger) i k t dir reg
	((PODMAN_OK)) && tools+=(podman)
	log "images: pulling $DEBIAN_IMG into each tool's storage"
	for t in "${tools[@]}"; do
		as_user "$t" pull -q --tls-verify=false "$DEBIAN_IMG" >/dev/null
	done
	IMAGE_BYTES=$(as_user lodger image inspect "$DEBIAN_IMG" | jq '.[0].Size')
	# The archive both tools load: docker-archive, as lodger save writes it.
	install -d -m 0755 -o "$BENCH_USER" -g "$BENCH_USER" "$WORK/user/archive"
	as_user lodger save -q -o "$WORK/user/archive/debian.tar" "$DEBIAN_IMG"
	ARCHIVE_BYTES=$(stat -c %s "$WORK/user/archive/debian.tar")
	declare -A push=(
		[lodger]="lodger push -q --tls-verify=false $DEBIAN_IMG 127.0.0.1:$IMG_PORT/bench/debian:pushed"
		[podman]="podman push -q --tls-verify=false $DEBIAN_IMG 127.0.0.1:$IMG_PORT/bench/debian:pushed"
	)
	declare -A save=(
		[lodger]="lodger save -q -o \$D.tar $DEBIAN_IMG"
		[podman]="podman save -q -o \$D.tar $DEBIAN_IMG"
	)
	declare -A load=(
		[lodger]="lodger --root \$D/root load -q -i $WORK/user/archive/debian.tar"
		[podman]="podman --root \$D/root --runroot \$D/run load -q -i $WORK/user/archive/debian.tar"
	)
	for t in "${tools[@]}"; do
		: >"$RESULTS/push-$t.times"
		: >"$RESULTS/save-$t.times"
		: >"$RESULTS/load-$t.times"
	done
	for ((i = 0; i < IMG_RUNS; i++)); do
		for ((k = 0; k < ${#tools[@]}; k++)); do
			t=${tools[$(((i + k) % ${#tools[@]}))]}
			dir=$WORK/user/tmp/i$t$i # short: podman limits --runroot to 50 bytes
			install -d -m 0700 -o "$BENCH_USER" -g "$BENCH_USER" "$dir"

			reg=$WORK/reg-$t-$i
			start_scratch_registry "$IMG_PORT" "$reg"
			time_user "${push[$t]}" "$dir/push" >>"$RESULTS/push-$t.times" ||
				die "push failed: ${push[$t]} (as $BENCH_USER)"
			PUSHED_BYTES[$t]=$(du -sb "$reg/docker/registry/v2/blobs" | cut -f1)
			stop_scratch_registry
			rm -rf "$reg" "$reg.yml" "$reg.log"
			sync

			time_user "${save[$t]}" "$dir/save" >>"$RESULTS/save-$t.times" ||
				die "save failed: ${save[$t]//\$D/$dir/save} (as $BENCH_USER)"
			SAVED_BYTES[$t]=$(stat -c %s "$dir/save.tar")
			rm -f "$dir/save.tar"
			sync

			time_user "${load[$t]}" "$dir" >>"$RESULTS/load-$t.times" ||
				die "load failed: ${load[$t]//\$D/$dir} (as $BENCH_USER)"
			remove_tree "$dir"
			rm -f "$dir".err "$dir"/*.err
			sync
		done
		log "images: push, save and load: run $((i + 1))/$IMG_RUNS done"
	done
	for t in "${tools[@]}"; do
		IMG_STATS[push-$t]=$(stats "$RESULTS/push-$t.times")
		IMG_STATS[save-$t]=$(stats "$RESULTS/save-$t.times")
		IMG_STATS[load-$t]=$(stats "$RESULTS/load-$t.times")
	done
}

# The warm-cache run: the busybox test set is pushed to a registry of its
# own on WARM_PORT and pulled from there; then WARM_RUNS runs of the pulled
# image with that registry up must make no request to it (its access log
# says), and with it stopped must still work, timed by hyperfine.
bench_warm_run() {
	local tools=(lodger) t i reg=$WORK/reg-warm before
	((PODMAN_OK)) && tools+=(podman)
	local img=127.0.0.1:$WARM_PORT/lodger-test/busybox:latest
	log "images: warm-cache runs of $img"
	start_scratch_registry "$WARM_PORT" "$reg"
	"$WORK/bin/imagegen" -registry "127.0.0.1:$WARM_PORT" -busybox /bin/busybox >/dev/null
	for t in "${tools[@]}"; do
		before=$(requests "$reg.log")
		as_user "$t" pull -q --tls-verify=false "$img" >/dev/null
		# The pull's own requests show that the log counts them.
		WARM_PULL_REQUESTS[$t]=$(($(requests "$reg.log") - before))
		((WARM_PULL_REQUESTS[$t] > 0)) || die "the registry on 127.0.0.1:$WARM_PORT logged no request of $t's pull: cannot count requests"
	done
	for t in "${tools[@]}"; do
		before=$(requests "$reg.log")
		for ((i = 0; i < WARM_RUNS; i++)); do
			as_user "$t" run --rm --network none "$img" true ||
				die "$t run --rm --network none $img true failed with its registry up"
		done
		WARM_REQUESTS[$t]=$(($(requests "$reg.log") - before))
	done
	stop_scratch_registry
	local args=()
	for t in "${tools[@]}"; do args+=(-n "$t-warm" "$t run --rm --network none $img true"); done
	as_user hyperfine -N --style basic --warmup 1 --runs "$WARM_RUNS" \
		--export-json "$RESULTS/warm.json" "${args[@]}" >"$RESULTS/warm.txt" ||
		die "a run of $img failed with its registry stopped (see $RESULTS/warm.txt)"
	for t in "${tools[@]}"; do
		jq -r --arg n "$t-warm" '.results[] | select(.command == $n) | .times[]' "$RESULTS/warm.json" >"$RESULTS/warm-$t.times"
		IMG_STATS[warm-$t]=$(stats "$RESULTS/warm-$t.times")
	done
	rm -rf "$reg" "$reg.yml" "$reg.log"
}

bench_images() {
	declare -gA IMG_STATS=() PUSHED_BYTES=() SAVED_BYTES=() WARM_REQUESTS=() WARM_PULL_REQUESTS=()
	IMG_DATE=$(date -u '+%Y-%m-%d %H:%M UTC')
	IMG_LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
	local start=$SECONDS
	bench_push_save_load
	bench_warm_run
	IMG_ELAPSED=$((SECONDS - start))
	IMG_LOADAVG_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
}

# mbps BYTES SECONDS -> MB/s
mbps() { awk -v b="$1" -v s="$2" 'BEGIN {if (s > 0) printf "%.0f", b / s / 1e6; else print "n/a"}'; }
mb() { awk -v b="$1" 'BEGIN {printf "%.1f MB", b / 1e6}'; }

# img_row LABEL STATS BYTES: times in seconds and the median's throughput.
img_row() {
	local s=$2
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$1" "$(sec "$(field "$s" 1)")" "$(sec "$(field "$s" 2)")" \
		"$(sec "$(field "$s" 3)")" "$(sec "$(field "$s" 4)")" "$(field "$s" 5)" "$(mbps "$3" "$(field "$s" 1)")"
}

images_report() {
	local how="\`make bench\` (\`bash bench/run.sh\`), in the same run as the sections above"
	[[ ${MODE:-} == images ]] && how="\`bash bench/run.sh images\` (this part of \`make bench\` alone; the other sections come from an earlier full run)"
	local op t lw pw
	cat <<EOF

## Push, save and load

Measured by $how on $IMG_DATE; this part took $((IMG_ELAPSED / 60)) min $((IMG_ELAPSED % 60)) s.
Load average before it: $IMG_LOADAVG; after: $IMG_LOADAVG_AFTER.
The image is \`$DEBIAN_IMG\` of the cold-pull section, $(mb "$IMAGE_BYTES") unpacked
(one layer), already in each tool's storage. $IMG_RUNS runs of each command,
the tools' order rotated per run; times in seconds, throughput is the image's
unpacked size (push, save) or the archive's size (load) over the median.

- push: \`push --tls-verify=false IMG 127.0.0.1:$IMG_PORT/bench/debian:pushed\`, each
  into a new, empty docker-registry on 127.0.0.1:$IMG_PORT (a registry that
  holds the blobs already, or a repository they can be mounted from, makes a
  push upload nothing). Both tools compress the layer with gzip as they push;
  the registry then held $(mb "${PUSHED_BYTES[lodger]}") of blobs after lodger's push$(((PODMAN_OK)) && echo ", $(mb "${PUSHED_BYTES[podman]:-0}") after podman's").
- save: \`save -o FILE IMG\`, a docker-archive ($(mb "${SAVED_BYTES[lodger]}") from lodger$(((PODMAN_OK)) && echo ", $(mb "${SAVED_BYTES[podman]:-0}") from podman")).
- load: \`--root DIR load -i FILE\` into a new, empty graph root (podman also
  \`--runroot\`), both from the same archive, written by \`lodger save\`
  ($(mb "$ARCHIVE_BYTES")).

| command | median | mean | min | max | runs | MB/s |
| --- | --- | --- | --- | --- | --- | --- |
EOF
	for op in push save load; do
		local bytes=$IMAGE_BYTES
		[[ $op == load ]] && bytes=$ARCHIVE_BYTES
		img_row "\`lodger $op\`" "${IMG_STATS[$op-lodger]}" "$bytes"
		((PODMAN_OK)) && img_row "\`podman $op\`" "${IMG_STATS[$op-podman]}" "$bytes"
	done
	if ((PODMAN_OK)); then
		printf '\nRatio of medians podman/lodger: push **%s×**, save **%s×**, load **%s×**.\n' \
			"$(ratio "$(field "${IMG_STATS[push-podman]}" 1)" "$(field "${IMG_STATS[push-lodger]}" 1)")" \
			"$(ratio "$(field "${IMG_STATS[save-podman]}" 1)" "$(field "${IMG_STATS[save-lodger]}" 1)")" \
			"$(ratio "$(field "${IMG_STATS[load-podman]}" 1)" "$(field "${IMG_STATS[load-lodger]}" 1)")"
	fi
	lw=${IMG_STATS[warm-lodger]}
	cat <<EOF

### Warm cache: running a pulled image touches no registry

The busybox test image is pushed to a docker-registry of its own on
127.0.0.1:$WARM_PORT and pulled by each tool; then $WARM_RUNS runs of
\`run --rm --network none 127.0.0.1:$WARM_PORT/lodger-test/busybox:latest true\`
with that registry up (its access log counts the requests they make; the
pull's own requests are counted the same way), and $WARM_RUNS more, timed by
hyperfine (\`-N --warmup 1\`), with it stopped.

| tool | requests of the pull | requests in $WARM_RUNS runs | median with the registry stopped | min | max | status |
| --- | --- | --- | --- | --- | --- | --- |
| lodger | ${WARM_PULL_REQUESTS[lodger]} | ${WARM_REQUESTS[lodger]} | $(ms "$(field "$lw" 1)") ms | $(ms "$(field "$lw" 3)") ms | $(ms "$(field "$lw" 4)") ms | $( ((${WARM_REQUESTS[lodger]} == 0)) && echo met || echo "**not met**") |
EOF
	if ((PODMAN_OK)); then
		pw=${IMG_STATS[warm-podman]}
		echo "| podman | ${WARM_PULL_REQUESTS[podman]} | ${WARM_REQUESTS[podman]} | $(ms "$(field "$pw" 1)") ms | $(ms "$(field "$pw" 3)") ms | $(ms "$(field "$pw" 4)") ms | $( ((${WARM_REQUESTS[podman]} == 0)) && echo "none made" || echo "made requests") |"
	fi
}

# Replace the Push, save and load section of the report (or put it before
# the Network section, or at the end) and keep the rest.
splice_images_report() {
	local tmp=$OUT.tmp.$$
	mkdir -p "$(dirname "$OUT")"
	{
		if [[ -s $OUT ]]; then
			awk '/^## (Push, save and load|Network)$/ {exit} {print}' "$OUT" | sed -e :a -e '/^\n*$/{$d;N;ba' -e '}'
		else
			echo "# Benchmarks"
		fi
		images_report
		if [[ -s $OUT ]] && grep -q '^## Network$' "$OUT"; then
			echo
			awk '/^## Network$/ {p = 1} p {print}' "$OUT"
		fi
	} >"$tmp"
	mv "$tmp" "$OUT"
	log "wrote the push, save and load section of $OUT"
}
