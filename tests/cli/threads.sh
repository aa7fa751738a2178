#!/bin/sh
# The threaded writer under ThreadSanitizer (`make check-tsan` builds td2hf
# with -fsanitize=thread and runs this): every e2e fixture converted with 4
# writer threads, with and without direct copies, and with outputs cut
# into small pieces that the threads share, must be byte-identical
# to the expected output with nothing on stderr (a race report is printed
# there, and makes td2hf exit 66); so must the parts of a conversion
# whose shards are finished by whichever thread writes their last tensor.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
RULES=$(dirname "$TD2HF")/rules
export TD2HF_RULES_DIR="$RULES"

for dir in "$E2E"/*/; do
	fam=$(basename "$dir")
	[ -f "$dir/expected/default.args" ] || continue
	for mode in direct copy pieces; do
		out="$TMP/$fam-$mode"
		extra=""
		piece=""   # pieces: outputs cut into 1000-byte pieces (split.c)
		[ $mode = copy ] && extra=--no-direct-copy
		[ $mode = pieces ] && piece=1000
		# shellcheck disable=SC2046,SC2086
		(cd "$dir" && TD2HF_TEST_PIECE_BYTES=$piece "$TD2HF" -q \
			$(cat expected/default.args) -j 4 $extra \
			--output-dir "$out") >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
			bad "$fam, 4 threads, $mode" "exit $rc" "$(head -30 "$TMP/err")"
		elif ! diff -r "$dir/expected/default" "$out" >/dev/null 2>&1; then
			bad "$fam, 4 threads, $mode" "output differs from expected/default"
		else
			ok "$fam, 4 threads, $mode"
		fi
	done
done
glm5_in_parts "glm5, 2 parts of 4 threads each, finished shard by shard" 4
# --quantize: FP8 weights and their scales written by 4 threads; the
# shards must be slime's (tests/cli/quantize.sh compares the JSON files)
dir="$E2E/qwen3moe"
out="$TMP/qwen3moe-fp8"
# shellcheck disable=SC2046
(cd "$dir" && "$TD2HF" -q $(cat expected/small.args) -j 4 --quantize fp8-block \
	--block-size 16 24 --scale-fmt ue8m0 --output-dir "$out") >"$TMP/out" 2>"$TMP/err"
rc=$?
same=1
for f in "$dir"/fp8/block/*.safetensors; do
	cmp -s "$f" "$out/$(basename "$f")" || same=0
done
if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
	bad "qwen3moe --quantize, 4 threads" "exit $rc" "$(head -30 "$TMP/err")"
elif [ $same -ne 1 ]; then
	bad "qwen3moe --quantize, 4 threads" "shards differ from fp8/block"
else
	ok "qwen3moe --quantize fp8-block, 4 threads"
fi
finish
