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

# SIGINT and SIGTERM at each named point of a run (the writer stops
# itself there: TD2HF_TEST_PAUSE).  Before the output is moved into place
# the run ends with status 130 and leaves nothing; once the previous
# output has been moved aside, it completes.
for point in staged written moved-aside; do
	for sig in INT TERM; do
		out="$TMP/sig-$point-$sig"
		name="SIG$sig at '$point'"
		if [ $point = moved-aside ]; then
			run "$out" 2>/dev/null # a previous output to replace
			set -- -f
		else
			set --
		fi
		if ! paused $point -- run "$out" "$@" 2>"$TMP/err"; then
			bad "$name: td2hf never reached the point" "$(cat "$TMP/err")"
			continue
		fi
		kill -$sig $pid; kill -CONT $pid; wait $job
		rc=$?
		want=130
		[ $point = moved-aside ] && want=0
		if ls -a "$TMP" | grep -q '[.]td2hf-'; then
			bad "$name: a staging directory was left" "$(ls -a "$TMP")"
		elif [ $rc -ne $want ]; then
			bad "$name: status $rc, wanted $want" "$(cat "$TMP/err")"
		elif [ $want = 130 ] && [ -e "$out" ]; then
			bad "$name: an output was left"
		elif [ $want = 0 ] && ! diff -r "$E2E/glm5/expected/default" "$out" >/dev/null; then
			bad "$name: the output is not complete"
		else
			ok "$name: status $rc, $( [ $want = 0 ] && echo "complete output" || echo "nothing left")"
		fi
		rm -rf "$out"
	done
done

# Few descriptors: 11 cannot hold stdio, the output and all 8 .distcp
# files at once; the run closes and reopens them as it goes (the thread
# and the catalog keep ~2 each) and writes the expected bytes.
out="$TMP/fewfds"
if (ulimit -n 11 && run "$out") 2>"$TMP/err" &&
	diff -r "$E2E/glm5/expected/default" "$out" >/dev/null; then
	ok "ulimit -n 11: complete output"
else
	bad "ulimit -n 11" "$(cat "$TMP/err")"
fi
rm -rf "$out"

# A full disk: a 48 KiB tmpfs (needs root; skipped otherwise).
mkdir -p "$TMP/small"
if [ "$(id -u)" -eq 0 ] && mount -t tmpfs -o size=48k tmpfs "$TMP/small" 2>/dev/null; then
	run "$TMP/small/out" 2>"$TMP/err"
	rc=$?
	left=$(ls -a "$TMP/small" | grep -c .)
	if [ "$rc" -eq 1 ] && grep -q "No space left on device" "$TMP/err" &&
		[ "$left" -eq 2 ] && grep -q "$TMP/small/out/model-" "$TMP/err" &&
		! grep -q "td2hf-tmp" "$TMP/err"; then
		ok "disk full: clear error naming the output's shard (not the staging name), nothing left"
	else
		bad "disk full" "status $rc, $((left - 2)) entries left" "$(cat "$TMP/err")"
	fi
	umount "$TMP/small"
else
	echo "SKIP: disk full (needs root and tmpfs)"
fi
finish
