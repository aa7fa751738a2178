#!/bin/sh
# Interruptions and a full disk: td2hf must exit non-zero, say why, and
# leave neither a temporary directory nor an output that looks complete.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
RULES=$(dirname "$TD2HF")/rules

# glm5 (DeepSeek-V3 rules): the largest fixture, one writer thread.
run() {
	out=$1
	shift
	"$TD2HF" -q --rules "$RULES/deepseek_v3.mapbc" --input "$E2E/glm5/ckpt" \
		--output "$out" --hf-checkpoint "$E2E/glm5/hf" -j 1 "$@"
}

# SIGINT or SIGTERM at 30 moments from start to finish: whatever the
# moment, the result is either no output at all or a complete one.
bad_runs=0
for i in $(seq 1 30); do
	out="$TMP/sig$i"
	# a simple command, so that $! is td2hf itself and not a subshell
	"$TD2HF" -q --rules "$RULES/deepseek_v3.mapbc" --input "$E2E/glm5/ckpt" \
		--output "$out" --hf-checkpoint "$E2E/glm5/hf" -j 1 2>"$TMP/err" &
	pid=$!
	sleep "0.0$((i % 10))"
	kill -"$( [ $((i % 2)) -eq 0 ] && echo INT || echo TERM)" "$pid" 2>/dev/null
	wait "$pid"
	rc=$?
	left=$(ls -a "$TMP" | grep -c "td2hf-tmp")
	if [ "$left" -ne 0 ]; then
		bad_runs=$((bad_runs + 1))
		echo "run $i: temporary directory left (status $rc)"
	elif [ -d "$out" ] && ! diff -r "$E2E/glm5/expected/default" "$out" >/dev/null; then
		bad_runs=$((bad_runs + 1))
		echo "run $i: an incomplete output directory (status $rc)"
	elif [ ! -d "$out" ] && [ "$rc" -eq 0 ]; then
		bad_runs=$((bad_runs + 1))
		echo "run $i: status 0 but no output"
	fi
	rm -rf "$out"
done
[ "$bad_runs" -eq 0 ] && ok "signals at 30 moments: no partial output" ||
	bad "signals: $bad_runs runs left something behind"

# A full disk: a 48 KiB tmpfs (needs root; skipped otherwise).
mkdir -p "$TMP/small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=48k tmpfs "$TMP/small" 2>/dev/null; then
	run "$TMP/small/out" 2>"$TMP/err"
	rc=$?
	left=$(ls -a "$TMP/small" | grep -c .)
	if [ "$rc" -eq 1 ] && grep -q "No space left on device" "$TMP/err" &&
		[ "$left" -eq 2 ]; then
		ok "disk full: clear error, nothing left"
	else
		bad "disk full" "status $rc, $((left - 2)) entries left" "$(cat "$TMP/err")"
	fi
	umount "$TMP/small"
else
	echo "SKIP: disk full (needs root and tmpfs)"
fi
finish
