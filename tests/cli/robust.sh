#!/bin/sh
# Robustness of the plan on real fixtures: limits the language does not
# state must not exist.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
MAPC=${MAPC:-$(dirname "$TD2HF")/mapc}

# A group of 11 members (every output of a qwen3 layer): the plan once
# held at most 8 tensors per group and silently dropped the rest with
# "group never completed".  Now each layer's 11 outputs all come out.
cat >"$TMP/group11.map" <<'MAP'
include "qwen3.map"
group "model.layers.<i>.self_attn.o_proj.weight",
      "model.layers.<i>.input_layernorm.weight",
      "model.layers.<i>.self_attn.q_proj.weight",
      "model.layers.<i>.self_attn.k_proj.weight",
      "model.layers.<i>.self_attn.v_proj.weight",
      "model.layers.<i>.self_attn.q_norm.weight",
      "model.layers.<i>.self_attn.k_norm.weight",
      "model.layers.<i>.post_attention_layernorm.weight",
      "model.layers.<i>.mlp.gate_proj.weight",
      "model.layers.<i>.mlp.up_proj.weight",
      "model.layers.<i>.mlp.down_proj.weight"
MAP
if ! "$MAPC" -I "$SRCDIR/rules" -o "$TMP/group11.mapbc" "$TMP/group11.map" 2>"$TMP/err"; then
	bad "group of 11: compiles" "$(cat "$TMP/err")"
else
	"$TD2HF" -q --rules "$TMP/group11.mapbc" --input "$E2E/qwen3/ckpt" \
		--output "$TMP/g11" --dry-run >"$TMP/plan" 2>"$TMP/err"
	rc=$?
	"$TD2HF" -q --rules "$(dirname "$TD2HF")/rules/qwen3.mapbc" \
		--input "$E2E/qwen3/ckpt" --output "$TMP/g0" --dry-run >"$TMP/plan0" 2>&1
	n=$(grep -c -- '->' "$TMP/plan")
	n0=$(grep -c -- '->' "$TMP/plan0")
	layer=$(grep -- '-> model.layers.0.' "$TMP/plan" | grep -vc dropped)
	if [ $rc -ne 0 ] || [ -s "$TMP/err" ]; then
		bad "group of 11: no tensor dropped" "exit $rc" "$(cat "$TMP/err")"
	elif grep -q dropped "$TMP/plan" || [ "$n" -ne "$n0" ] || [ "$layer" -ne 11 ]; then
		bad "group of 11: no tensor dropped" "$n outputs (without the group: $n0), layer 0 has $layer of 11" "$(grep dropped "$TMP/plan" | head -3)"
	else
		ok "group of 11: all $n outputs planned, none dropped"
	fi
fi
# A cat of 40 tensors: 41 integers popped at once, more than the 32 bits
# of the VM's allow-none mask (and an order list much longer than the
# working set).
order=$(seq 40 | awk '{ printf "%s%d", (NR > 1 ? ", " : ""), NR % 2 }')
cat >"$TMP/cat40.map" <<MAP
"decoder.layers.<i>.mlp.linear_fc1.weight" | chunk(0, 2) | cat(0, [$order]) -> "x.<i>.weight"
include "qwen3.map"
MAP
if ! "$MAPC" -I "$SRCDIR/rules" -o "$TMP/cat40.mapbc" "$TMP/cat40.map" 2>"$TMP/err"; then
	bad "cat of 40 tensors: compiles" "$(cat "$TMP/err")"
elif ! "$TD2HF" -q --rules "$TMP/cat40.mapbc" --input "$E2E/qwen3/ckpt" \
		--output "$TMP/c40" --dry-run >"$TMP/plan" 2>"$TMP/err" || [ -s "$TMP/err" ]; then
	bad "cat of 40 tensors" "$(cat "$TMP/err")"
elif ! grep -q -- '-> x.1.weight BF16 \[1280, 32\]' "$TMP/plan"; then
	bad "cat of 40 tensors" "$(grep -- '-> x.' "$TMP/plan")"
else
	ok "cat of 40 tensors: [1280, 32]"
fi
finish
