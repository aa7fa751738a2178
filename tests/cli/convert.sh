#!/bin/sh
# End to end: td2hf on real torch_dist fixtures; every output file must be
# byte-identical to what the real safetensors library and json.dump wrote
# for slime's converter (tests/fixtures/gen/gen_e2e_fixtures.py).
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
RULES=$(dirname "$TD2HF")/rules

convert() { # family out chunk-size-args...
	fam=$1 out=$2
	shift 2
	"$TD2HF" -q --rules "$RULES/$fam.mapbc" --input "$E2E/$fam/ckpt" \
		--output "$out" --hf-checkpoint "$E2E/$fam/hf" "$@"
}

export TD2HF_RULES_DIR="$RULES"

# Every fixture variant, run with the very arguments slime's converter was
# given (expected/<variant>.args): td2hf accepts slime's flags.
for args in "$E2E"/*/expected/*.args; do
	dir=$(dirname "$(dirname "$args")")
	fam=$(basename "$dir")
	v=$(basename "$args" .args)
	out="$TMP/$fam-$v"
	# shellcheck disable=SC2046
	(cd "$dir" && "$TD2HF" -q $(cat "$args") --output-dir "$out") 2>"$TMP/err"
	if [ $? -ne 0 ]; then
		bad "$fam $v: conversion" "$(cat "$TMP/err")"
	elif diff -r "$dir/expected/$v" "$out" >"$TMP/diff" 2>&1; then
		ok "$fam $v: $(ls "$out" | grep -c 'safetensors$') shards byte-identical"
	else
		bad "$fam $v: output differs" "$(head -5 "$TMP/diff")"
	fi
	rm -rf "$out"
done

# Rules that match nothing in a fixture: exactly those listed, each with
# why, in its unmatched-rules.txt (FILE "PATTERN", as the dry run prints
# them without line numbers).  A new dead rule fails, and so does a listed
# rule that now matches (the list must stay true).
for dir in "$E2E"/*/; do
	fam=$(basename "$dir")
	[ -f "$dir/expected/default.args" ] || continue
	# shellcheck disable=SC2046
	if ! (cd "$dir" && "$TD2HF" --dry-run $(cat expected/default.args)) \
		>"$TMP/plan" 2>"$TMP/err"; then
		bad "$fam: dry run" "$(cat "$TMP/err")"
		continue
	fi
	sed -n '/^rules that matched nothing/,$p' "$TMP/plan" | grep '^  ' >"$TMP/raw"
	sed -n 's/^  \([^ :]*\):[0-9][0-9]*  *\(".*"\)$/\1 \2/p' "$TMP/raw" |
		LC_ALL=C sort >"$TMP/dead"
	if [ -f "$dir/unmatched-rules.txt" ]; then
		grep -v -e '^#' -e '^[[:space:]]*$' "$dir/unmatched-rules.txt"
	fi | LC_ALL=C sort >"$TMP/allowed"
	new=$(LC_ALL=C comm -23 "$TMP/dead" "$TMP/allowed")
	gone=$(LC_ALL=C comm -13 "$TMP/dead" "$TMP/allowed")
	if [ "$(wc -l <"$TMP/raw")" -ne "$(wc -l <"$TMP/dead")" ]; then
		bad "$fam: dry run's unmatched rules" "cannot read:" "$(cat "$TMP/raw")"
	elif [ -n "$new" ]; then
		bad "$fam: rules that match nothing, not in unmatched-rules.txt" "$new"
	elif [ -n "$gone" ]; then
		bad "$fam: unmatched-rules.txt lists rules that now match" "$gone"
	else
		ok "$fam: the $(wc -l <"$TMP/dead") rules that match nothing are the listed ones"
	fi
done

# Rules chosen without --rules: from the HF config.json, --arch, --model-name.
for how in "" "--arch qwen3" "--model-name Qwen3ForCausalLM"; do
	out="$TMP/auto"
	rm -rf "$out"
	# shellcheck disable=SC2086
	if "$TD2HF" -q --input "$E2E/qwen3/ckpt" --output "$out" \
		--hf-checkpoint "$E2E/qwen3/hf" $how 2>"$TMP/err" &&
		diff -r "$E2E/qwen3/expected/default" "$out" >/dev/null; then
		ok "rules chosen by ${how:-config.json}"
	else
		bad "rules chosen by ${how:-config.json}" "$(cat "$TMP/err")"
	fi
done
expect_fail "unknown model name" 1 "model 'gpt2' matches no family" -- \
	"$TD2HF" --input "$E2E/qwen3/ckpt" --output "$TMP/x" --model-name gpt2
expect_ok "td2hf rules lists families" "qwen3moe" -- "$TD2HF" rules

# The in-memory path alone gives the same bytes as the file-to-file one.
for fam in llama qwen3; do
	out="$TMP/$fam-nodirect"
	if convert "$fam" "$out" --no-direct-copy -j 1 2>"$TMP/err" &&
		diff -r "$E2E/$fam/expected/default" "$out" >/dev/null; then
		ok "$fam without direct copies, one thread"
	else
		bad "$fam without direct copies" "$(cat "$TMP/err")"
	fi
done

out="$TMP/qwen3-default"
convert qwen3 "$out" 2>/dev/null
expect_fail "existing output needs --force" 1 "exists (use --force" -- \
	convert qwen3 "$out"
if convert qwen3 "$out" --force 2>"$TMP/err" &&
	diff -r "$E2E/qwen3/expected/default" "$out" >/dev/null; then
	ok "--force replaces the output"
else
	bad "--force replaces the output" "$(cat "$TMP/err")"
fi
expect_fail "output cannot be the input" 1 "is the input checkpoint" -- \
	convert qwen3 "$E2E/qwen3/ckpt" --force
expect_fail "unknown parameter" 2 "--set wants NAME=VALUE" -- \
	convert qwen3 "$TMP/x" --set oops
expect_fail "no such parameter" 1 "--set nope: the rules have no parameter" -- \
	convert qwen3 "$TMP/x" --set nope=1
expect_fail "--set value not a number" 1 "--set num_layers=2x: not an integer or none" -- \
	convert qwen3 "$TMP/x" --set num_layers=2x
expect_fail "--set value beyond int64" 1 "--set num_layers=9223372036854775808: not an integer" -- \
	convert qwen3 "$TMP/x" --set num_layers=9223372036854775808
expect_fail "wrong family" 1 "no rule matches tensor" -- \
	"$TD2HF" -q --rules "$RULES/llama.mapbc" --input "$FIX/perlayer" --output "$TMP/x"
[ ! -e "$TMP/x" ] && ok "a failed run leaves no output" || bad "a failed run leaves no output"
leftover=$(ls -a "$TMP" | grep -c td2hf-tmp)
[ "$leftover" -eq 0 ] && ok "no temporary directory left behind" || bad "temporary directories left: $leftover"
# A flipped bit in tensor data: refused with the file, key and chunk named.
mkdir -p "$TMP/flip"
cp -r "$E2E/qwen3/ckpt/iter_0000100/." "$TMP/flip/"
set -- $("$TD2HF" inspect --json "$TMP/flip" | awk -F'[":,\t ]+' '
	/"file"/ { f = $3 } /"data_offset"/ { print f, $3; exit }')
printf '\377' | dd of="$TMP/flip/$1" bs=1 seek="$2" count=1 conv=notrunc 2>/dev/null
# (checked while the bytes are copied, or while they are read into memory)
expect_fail "corrupt tensor data" 1 "flip/$1: key 'embedding.word_embeddings.weight' chunk 0: data does not match its CRC-32" -- \
	"$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$TMP/flip" --output "$TMP/x"
expect_fail "corrupt tensor data, --no-direct-copy" 1 "flip/$1: key 'embedding.word_embeddings.weight' chunk 0: data does not match its CRC-32" -- \
	"$TD2HF" -q --no-direct-copy --rules "$RULES/qwen3.mapbc" --input "$TMP/flip" --output "$TMP/x"
if "$TD2HF" -q --no-verify --rules "$RULES/qwen3.mapbc" --input "$TMP/flip" \
	--output "$TMP/x" 2>/dev/null; then
	ok "--no-verify converts it anyway"
else
	bad "--no-verify converts it anyway"
fi
rm -rf "$TMP/x"

mkdir -p "$TMP/nocommon"
cp "$E2E/qwen3/ckpt/iter_0000100/"* "$E2E/qwen3/ckpt/iter_0000100/.metadata" "$TMP/nocommon/"
rm "$TMP/nocommon/common.pt"
expect_fail "no common.pt" 1 "has no common.pt to read it from; give it with --set num_layers=N" -- \
	"$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$TMP/nocommon" --output "$TMP/x"
expect_ok "dry run lists the plan" "model.layers.1.mlp.down_proj.weight" -- \
	"$TD2HF" --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" --dry-run
# --stats: two lines of phase times, after the conversion, even with -q
# (the fixture's 23 keys in its fixture.json, 24 tensors in its expected
# index)
rm -rf "$TMP/st"
if "$TD2HF" -q --stats --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" \
	--output "$TMP/st" 2>"$TMP/err" && [ "$(wc -l <"$TMP/err")" -eq 2 ] &&
	grep -Eq '^td2hf: time: writing, summed over threads: read [0-9.]+ s, CRC [0-9.]+ s, copy [0-9.]+ s, compute [0-9.]+ s, write [0-9.]+ s, sync [0-9.]+ s; CPU [0-9.]+ cores on average$' "$TMP/err" &&
	grep -Eq '^td2hf: time: rules [0-9.]+ s, catalog [0-9.]+ s \(.metadata [0-9.]+ KiB, 23 keys, 8 files\), plan [0-9.]+ s \(24 tensors, 1 shard\), write [0-9.]+ s, total [0-9.]+ s$' "$TMP/err"; then
	ok "--stats: the phases' times"
else
	bad "--stats" "$(cat "$TMP/err")"
fi
expect_ok "explain an output" "decoder.layers.0.self_attention.linear_qkv.weight" -- \
	"$TD2HF" --rules "$RULES/qwen3.mapbc" --input "$E2E/qwen3/ckpt" \
	--explain model.layers.0.self_attn.k_proj.weight
finish
