#!/bin/sh
# Malformed input: non-zero exit, one line on stderr naming the file.
. "$(dirname "$0")/lib.sh"

fresh() { rm -rf "$TMP/ck"; mkdir -p "$TMP/ck"; cp -p "$FIX/stacked/iter_0000100/"* "$FIX/stacked/iter_0000100/.metadata" "$TMP/ck/"; }

expect_fail "unknown command" 2 "unknown command 'convert'" -- "$TD2HF" convert
expect_fail "inspect without dir" 2 "expected one checkpoint" -- "$TD2HF" inspect
expect_fail "missing dir" 1 "/nonexistent: No such file" -- "$TD2HF" inspect /nonexistent
expect_fail "not a checkpoint" 1 "not a torch_dist checkpoint" -- "$TD2HF" inspect "$TMP"

fresh
head -c 1000 "$FIX/stacked/iter_0000100/.metadata" >"$TMP/ck/.metadata"
expect_fail "truncated .metadata" 1 "ck/.metadata: pickle:" -- "$TD2HF" inspect "$TMP/ck"

fresh
printf 'not a pickle at all' >"$TMP/ck/.metadata"
expect_fail "garbage .metadata" 1 "ck/.metadata: pickle:" -- "$TD2HF" inspect "$TMP/ck"

fresh
printf '\200\004N.' >"$TMP/ck/.metadata"
expect_fail "wrong object in .metadata" 1 "not a torch.distributed.checkpoint Metadata" -- "$TD2HF" inspect "$TMP/ck"

fresh
head -c 5000 "$FIX/stacked/iter_0000100/__0_1.distcp" >"$TMP/ck/__0_1.distcp"
expect_fail "truncated .distcp" 1 "__0_1.distcp: key '" -- "$TD2HF" inspect "$TMP/ck"

fresh
rm "$TMP/ck/__1_0.distcp"
expect_fail "missing .distcp" 1 "__1_0.distcp: No such file" -- "$TD2HF" inspect "$TMP/ck"

fresh
printf 'garbage' >"$TMP/ck/common.pt"
expect_fail "garbage common.pt" 1 "common.pt: torch.save archive" -- "$TD2HF" inspect "$TMP/ck"

fresh
printf '{"sharded_backend": "zarr"}' >"$TMP/ck/metadata.json"
expect_fail "zarr backend" 1 "metadata.json: sharded backend 'zarr'" -- "$TD2HF" inspect "$TMP/ck"

# Integer arithmetic on values from --set (or common.pt, or bytecode) is
# checked: INT64_MIN // -1 once killed td2hf with SIGFPE in megatron.map's
# `let Q`; division by zero and overflow are clean errors too.
RULES=$(dirname "$TD2HF")/rules
QWEN3="$SRCDIR/tests/fixtures/e2e/qwen3/ckpt"
convert_set() { "$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$QWEN3" --output "$TMP/out-hf" --dry-run "$@"; }
expect_fail "INT64_MIN // -1 from --set" 1 "let Q: line 48: -9223372036854775808 // -1 does not fit in a 64-bit integer" -- \
	convert_set --set num_attention_heads=-9223372036854775808 --set num_query_groups=-1
expect_fail "division by zero from --set" 1 "let Q: line 48: 16 // 0: division by zero" -- \
	convert_set --set num_attention_heads=16 --set num_query_groups=0
# 274177 * 67280421310721 = 2^64 + 1: a view whose size product wraps
# around to the tensor's own size once passed the shape check.
expect_fail "wrapped view size from --set" 1 "cannot view a [128, 32] tensor as [274177, -1, 67280421310721, 1]" -- \
	convert_set --set num_query_groups=274177 --set kv_channels=67280421310721 \
	--set hidden_size=1 --set num_attention_heads=1122480638

if [ "$(id -u)" -ne 0 ]; then
	fresh
	chmod 000 "$TMP/ck/.metadata"
	expect_fail "unreadable .metadata" 1 ".metadata: Permission denied" -- "$TD2HF" inspect "$TMP/ck"
fi
finish
