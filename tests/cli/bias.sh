#!/bin/sh
# qwen3_next with a q/k/v bias (tests/fixtures/qwen3_next_bias/README.md).
# The rule copies slime's handler: the weight is split as gated per query
# group ([2Q, 1, 1] heads) but the bias as ungated ([Q*D, D, D]).
# - gated: a bias of G*(2Q+2)*D entries, as gated attention stores it.
#   slime's torch.split raises; td2hf must refuse too, with one line naming
#   the key and the sizes, and leave no output.
# - ungated: a bias of G*(Q+2)*D entries, which slime converts: td2hf's
#   output must be byte-identical to slime's (expected/default/).
. "$(dirname "$0")/lib.sh"
BIAS="$SRCDIR/tests/fixtures/qwen3_next_bias"
RULES=$(dirname "$TD2HF")/rules
export TD2HF_RULES_DIR="$RULES"

out="$TMP/gated"
cd "$BIAS/gated" || exit 1
# shellcheck disable=SC2046
expect_fail "gated qkv bias refused" 1 \
	"td2hf: tensor 'decoder.layers.1.self_attention.linear_qkv.bias' [96] (rule common.map:44): split sizes add up to 32 but dimension 1 has 48" \
	-- "$TD2HF" -q $(cat expected/default.args) --output-dir "$out"
cd "$SRCDIR" || exit 1
if [ -e "$out" ]; then
	bad "gated qkv bias: no output" "$(ls -la "$out")"
else
	ok "gated qkv bias: no output"
fi

# the same checkpoint through --input/--hf-checkpoint/--rules
rm -rf "$out"
expect_fail "gated qkv bias refused (--rules)" 1 \
	"'decoder.layers.1.self_attention.linear_qkv.bias' [96] (rule common.map:44): split sizes add up to 32 but dimension 1 has 48" \
	-- "$TD2HF" -q --rules "$TD2HF_RULES_DIR/qwen3_next.mapbc" --input "$BIAS/gated/ckpt" \
	--output "$out" --hf-checkpoint "$BIAS/gated/hf"
if [ -e "$out" ]; then
	bad "gated qkv bias (--rules): no output" "$(ls -la "$out")"
else
	ok "gated qkv bias (--rules): no output"
fi

out="$TMP/ungated"
# shellcheck disable=SC2046
if ! (cd "$BIAS/ungated" && "$TD2HF" -q $(cat expected/default.args) --output-dir "$out") 2>"$TMP/err"; then
	bad "ungated qkv bias: conversion" "$(cat "$TMP/err")"
elif diff -r "$BIAS/ungated/expected/default" "$out" >"$TMP/diff" 2>&1; then
	ok "ungated qkv bias: byte-identical to slime"
else
	bad "ungated qkv bias: output differs" "$(head -5 "$TMP/diff")"
fi

finish
