#!/bin/sh
# FP8 export: `td2hf --quantize` must write in one pass what slime's two
# tools write (tools/convert_torch_dist_to_hf.py, then
# tools/convert_hf_to_fp8.py), for every case of
# tests/fixtures/e2e/*/fp8/cases.txt: every shard byte-identical, the same
# file list, the index and config.json equal as JSON (slime's
# modules_to_not_convert / ignore come from a Python set: compared as
# sets; its weight_map order follows os.listdir), the other files
# identical.  The expected files are slime's (gen_fp8_expected.sh).
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
JSONEQ="$(dirname "$TD2HF")/tests/cli/jsoneq"
RULES=$(dirname "$TD2HF")/rules
export TD2HF_RULES_DIR="$RULES"

# compare EXPECTED OUT: prints what differs, nothing when equal
compare() {
	(cd "$1" && ls) >"$TMP/l1"
	(cd "$2" && ls) >"$TMP/l2"
	diff "$TMP/l1" "$TMP/l2" >/dev/null || echo "file lists differ: $(diff "$TMP/l1" "$TMP/l2" | tr '\n' ' ')"
	for f in $(cat "$TMP/l1"); do
		[ -f "$2/$f" ] || continue
		case $f in
		config.json | model.safetensors.index.json)
			"$JSONEQ" "$1/$f" "$2/$f" modules_to_not_convert ignore \
				>/dev/null 2>&1 || echo "$f differs as JSON" ;;
		*)
			cmp -s "$1/$f" "$2/$f" || echo "$f differs" ;;
		esac
	done
}

for cases in "$E2E"/*/fp8/cases.txt; do
	dir=$(dirname "$(dirname "$cases")")
	fam=$(basename "$dir")
	grep -v -e '^#' -e '^[[:space:]]*$' "$cases" >"$TMP/cases"
	while read -r c variant strategy bn bk fmt; do
		set -- --quantize "fp8-$strategy"
		[ -n "$bn" ] && set -- "$@" --block-size "$bn" "$bk"
		[ -n "$fmt" ] && set -- "$@" --scale-fmt "$fmt"
		out="$TMP/$fam-$c"
		# shellcheck disable=SC2046
		if ! (cd "$dir" && "$TD2HF" -q $(cat "expected/$variant.args") \
			--output-dir "$out" "$@") 2>"$TMP/err"; then
			bad "$fam fp8 $c: conversion" "$(cat "$TMP/err")"
			continue
		fi
		diffs=$(compare "$dir/fp8/$c" "$out")
		if [ -z "$diffs" ]; then
			ok "$fam fp8 $c ($*): $(ls "$out" | grep -c 'safetensors$') shards as slime's two tools write them"
		else
			bad "$fam fp8 $c ($*)" "$diffs"
		fi
		rm -rf "$out"
	done <"$TMP/cases"
done

# fp8-block's default block is 128 x 128, as slime's configs use.
out="$TMP/default-block"
# shellcheck disable=SC2046
if (cd "$E2E/qwen3" && "$TD2HF" -q $(cat expected/default.args) \
	--output-dir "$out" --quantize fp8-block) 2>"$TMP/err" &&
	[ -z "$(compare "$E2E/qwen3/fp8/block128" "$out")" ]; then
	ok "--quantize fp8-block without --block-size: 128 x 128"
else
	bad "--quantize fp8-block without --block-size: 128 x 128" "$(cat "$TMP/err")"
fi

# The weights are streamed from the chunk files when the chunks are runs of
# rows; --no-direct-copy computes every one in memory instead: the same
# bytes, on one thread too.
for c in block tensor; do
	dir="$E2E/qwen3moe"
	set -- --quantize fp8-block --block-size 16 24 --scale-fmt ue8m0
	[ $c = tensor ] && set -- --quantize fp8-tensor
	v=small
	[ $c = tensor ] && v=default
	out="$TMP/nodirect-$c"
	# shellcheck disable=SC2046
	if (cd "$dir" && "$TD2HF" -q $(cat "expected/$v.args") --output-dir "$out" \
		--no-direct-copy -j 1 "$@") 2>"$TMP/err" &&
		[ -z "$(compare "$dir/fp8/$c" "$out")" ]; then
		ok "qwen3moe fp8 $c in memory, one thread"
	else
		bad "qwen3moe fp8 $c in memory, one thread" "$(cat "$TMP/err")"
	fi
done

# A flipped bit in a streamed weight's chunk: refused, the chunk named.
mkdir -p "$TMP/flip"
cp -r "$E2E/qwen3/ckpt/iter_0000100/." "$TMP/flip/"
set -- $("$TD2HF" inspect --json "$TMP/flip" | awk -F'[":,\t ]+' '
	/"name"/ { k = $3 } k == "decoder.layers.0.mlp.linear_fc1.weight" && /"file"/ { f = $3 }
	k == "decoder.layers.0.mlp.linear_fc1.weight" && /"data_offset"/ { print f, $3; exit }')
printf '\377' | dd of="$TMP/flip/$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
for mode in "" --no-direct-copy; do
	# shellcheck disable=SC2086
	expect_fail "corrupt chunk of a quantized weight ${mode:-streamed}" 1 \
		"flip/$1: key 'decoder.layers.0.mlp.linear_fc1.weight' chunk 0: data does not match its CRC-32" -- \
		"$TD2HF" -q $mode --rules "$RULES/qwen3.mapbc" --input "$TMP/flip" \
		--output "$TMP/x" --quantize fp8-block
done

# Three parts and --finish write what one process writes; parts given
# another scheme are refused.
M="$E2E/qwen3moe"
Q="--quantize fp8-block --block-size 16 24 --scale-fmt ue8m0"
rc=0
for k in 0 1 2; do
	# shellcheck disable=SC2046,SC2086
	(cd "$M" && "$TD2HF" -q $(cat expected/small.args) --output-dir "$TMP/pq" \
		$Q --part $k/3) 2>>"$TMP/err" || rc=1
done
# shellcheck disable=SC2046,SC2086
(cd "$M" && "$TD2HF" -q $(cat expected/small.args) --output-dir "$TMP/pq" $Q --finish) \
	2>>"$TMP/err" || rc=1
if [ $rc -eq 0 ] && [ -z "$(compare "$M/fp8/block" "$TMP/pq")" ]; then
	ok "--quantize in three parts and --finish"
else
	bad "--quantize in three parts and --finish" "$(cat "$TMP/err")"
fi
# shellcheck disable=SC2046
(cd "$M" && "$TD2HF" -q $(cat expected/small.args) --output-dir "$TMP/pq2" \
	--quantize fp8-block --part 0/2) 2>/dev/null
# shellcheck disable=SC2046
expect_fail "parts with another scheme" 1 "holds another conversion" -- \
	sh -c 'cd "$1" && shift && exec "$@"' sh "$M" "$TD2HF" -q $(cat "$M/expected/small.args") \
	--output-dir "$TMP/pq2" --quantize fp8-channel --part 1/2

# --dry-run shows the FP8 weights and their scales.
expect_ok "dry run lists the scales" \
	"  -> model.layers.0.self_attn.q_proj.weight_scale_inv F32 [1, 1]  model-00000-of-00001.safetensors" -- \
	"$TD2HF" --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" --dry-run --quantize fp8-block

# The comparison itself notices a difference.
cp -r "$E2E/qwen3/fp8/block128" "$TMP/mod"
sed 's/"fp8"/"fp16"/' "$E2E/qwen3/fp8/block128/config.json" >"$TMP/mod/config.json"
[ -n "$(compare "$E2E/qwen3/fp8/block128" "$TMP/mod")" ] &&
	ok "a changed quantization_config is noticed" ||
	bad "a changed quantization_config is noticed"

# The usual conversion is untouched by the quantize statement.
out="$TMP/plain"
if "$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" \
	--output "$out" --hf-checkpoint "$E2E/qwen3/hf" 2>"$TMP/err" &&
	diff -r "$E2E/qwen3/expected/default" "$out" >/dev/null; then
	ok "without --quantize, the bf16 conversion as before"
else
	bad "without --quantize, the bf16 conversion as before" "$(cat "$TMP/err")"
fi

# Untrusted values: every bad block size and scheme is one clear message.
q() { "$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" --output "$TMP/x" "$@"; }
expect_fail "unknown scheme" 2 "--quantize fp4: unknown scheme" -- q --quantize fp4
expect_fail "block size 0" 2 "--block-size 0: a block size is a whole number from 1" -- \
	q --quantize fp8-block --block-size 0 128
expect_fail "block size too large" 2 "--block-size 99999999999: a block size" -- \
	q --quantize fp8-block --block-size 128 99999999999
expect_fail "block size not a number" 2 "--block-size 12x: a block size" -- \
	q --quantize fp8-block --block-size 12x 128
expect_fail "one block size" 2 "--block-size wants two numbers" -- \
	q --quantize fp8-block --block-size 128
expect_fail "block size without block" 2 "apply to --quantize fp8-block only" -- \
	q --quantize fp8-channel --block-size 64 64
expect_fail "scale format without --quantize" 2 "go with --quantize" -- \
	q --scale-fmt ue8m0
expect_fail "unknown scale format" 2 "--scale-fmt e5m2: the one format is ue8m0" -- \
	q --quantize fp8-block --scale-fmt e5m2
[ ! -e "$TMP/x" ] && ok "refused runs leave no output" || bad "refused runs leave no output"

finish
