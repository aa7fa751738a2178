#!/bin/sh
# Outputs cut into pieces that several writer threads copy (src/writer/
# split.c).  The fixtures' tensors are small, so the pieces are made small
# too (TD2HF_TEST_PIECE_BYTES, the size td2hf uses instead of 16 MiB):
# every cut conversion must be byte-identical to the expected output, and a
# stored item cut across pieces must still have its CRC-32 checked whole,
# the corrupt item named, wherever the bad byte lies in it.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
RULES=$(dirname "$TD2HF")/rules
export TD2HF_RULES_DIR="$RULES"

# Every fixture variant, at piece sizes that cut items at odd places
# (not multiples of an element or a row: pieces under 1 MiB are not
# rounded to pages), with and without the check.
for args in "$E2E"/*/expected/*.args; do
	dir=$(dirname "$(dirname "$args")")
	fam=$(basename "$dir")
	v=$(basename "$args" .args)
	for case in "1000 2" "4096 3" "333 2 --no-verify"; do
		# shellcheck disable=SC2086
		set -- $case
		piece=$1 jobs=$2
		shift 2
		out="$TMP/$fam-$v-$piece"
		# shellcheck disable=SC2046
		(cd "$dir" && TD2HF_TEST_PIECE_BYTES=$piece "$TD2HF" -q \
			$(cat "$args") -j "$jobs" "$@" --output-dir "$out") \
			2>"$TMP/err"
		if [ $? -ne 0 ] || [ -s "$TMP/err" ]; then
			bad "$fam $v, pieces of $piece bytes, -j $jobs $*" \
				"$(head -20 "$TMP/err")"
		elif ! diff -r "$dir/expected/$v" "$out" >/dev/null 2>&1; then
			bad "$fam $v, pieces of $piece bytes, -j $jobs $*" \
				"output differs from expected/$v"
		else
			ok "$fam $v, pieces of $piece bytes, -j $jobs $*: identical"
		fi
		rm -rf "$out"
	done
done

# The parts of a conversion: a shard is finished (synced, renamed) by the
# thread that copies its last piece.
glm5_in_parts "glm5 in 2 parts, pieces of 1000 bytes" 3 TD2HF_TEST_PIECE_BYTES=1000

# A flipped byte in a cut item: in the middle of the embedding's chunk 0
# (a piece other than its first), and in chunk 1's last rows, which are
# vocabulary padding that no output copies (250 of 256 rows are written)
# but whose bytes the check still reads.  Each is named by file, key and
# chunk, as an uncut item's would be.
flip() { # name file offset-from-data_offset
	rm -rf "$TMP/$1"
	mkdir -p "$TMP/$1"
	cp -r "$E2E/qwen3/ckpt/iter_0000100/." "$TMP/$1/"
	at=$("$TD2HF" inspect --json "$TMP/$1" | awk -F'[":,\t ]+' -v f="$2" '
		/"file"/ { file = $3 } /"data_offset"/ && file == f { print $3; exit }')
	printf '\377' | dd of="$TMP/$1/$2" bs=1 seek=$((at + $3)) count=1 \
		conv=notrunc 2>/dev/null
}
key="key 'embedding.word_embeddings.weight'"
flip mid __0_0.distcp 4100
flip pad __1_0.distcp 8100
for j in 2 3; do
	expect_fail "corrupt byte mid-item, cut into pieces, -j $j" 1 \
		"mid/__0_0.distcp: $key chunk 0: data does not match its CRC-32" -- \
		env TD2HF_TEST_PIECE_BYTES=1000 "$TD2HF" -q -j $j \
		--rules "$RULES/qwen3.mapbc" --input "$TMP/mid" --output "$TMP/x"
	expect_fail "corrupt byte in padding no output copies, cut, -j $j" 1 \
		"pad/__1_0.distcp: $key chunk 1: data does not match its CRC-32" -- \
		env TD2HF_TEST_PIECE_BYTES=1000 "$TD2HF" -q -j $j \
		--rules "$RULES/qwen3.mapbc" --input "$TMP/pad" --output "$TMP/x"
done
[ ! -e "$TMP/x" ] && ok "a failed cut copy leaves no output" ||
	bad "a failed cut copy leaves no output"
if env TD2HF_TEST_PIECE_BYTES=1000 "$TD2HF" -q -j 2 --no-verify \
	--rules "$RULES/qwen3.mapbc" --input "$TMP/pad" --output "$TMP/x" \
	2>"$TMP/err"; then
	ok "--no-verify: the padding's bad byte is not read"
else
	bad "--no-verify: the padding's bad byte is not read" "$(cat "$TMP/err")"
fi
finish
