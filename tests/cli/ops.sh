#!/bin/sh
# Every operation, cast and opcode of the rule language run on data:
# tests/fixtures/ops/ops.map on the torch_dist checkpoint next to it, the
# output compared byte for byte with what torch computed and the real
# safetensors library wrote (tests/fixtures/gen/gen_ops_fixtures.py).
. "$(dirname "$0")/lib.sh"
MAPC=${MAPC:-$(dirname "$TD2HF")/mapc}
OPS="$SRCDIR/tests/fixtures/ops"

# The fixture's bytecode holds every instruction of src/lang/opcodes.h, so
# converting it runs every opcode (the dry run below shows every rule ran).
if "$MAPC" -o "$TMP/ops.mapbc" "$OPS/ops.map" 2>"$TMP/err" &&
	"$MAPC" -d "$TMP/ops.mapbc" >"$TMP/dis" 2>"$TMP/err"; then
	missing=
	for op in $(sed -n 's/^[[:space:]]*OP(\([A-Z]*\),.*/\1/p' \
		"$SRCDIR/src/lang/opcodes.h"); do
		grep -qw "$op" "$TMP/dis" || missing="$missing $op"
	done
	n=$(sed -n 's/^[[:space:]]*OP(\([A-Z]*\),.*/\1/p' \
		"$SRCDIR/src/lang/opcodes.h" | wc -l)
	if [ "$n" -lt 20 ]; then
		bad "ops.map uses every opcode" "found only $n opcodes in opcodes.h"
	elif [ -z "$missing" ]; then
		ok "ops.map uses all $n opcodes"
	else
		bad "ops.map uses every opcode" "missing:$missing"
	fi
else
	bad "ops.map compiles" "$(cat "$TMP/err")"
fi

# The same bytes by every path: compiled or source rules, direct copies
# or staging through memory, one thread or several.
check() { # name td2hf-args...
	name=$1
	shift
	rm -rf "$TMP/conv"
	if ! "$TD2HF" -q --input "$OPS/ckpt" --output "$TMP/conv" "$@" 2>"$TMP/err"; then
		bad "$name" "$(cat "$TMP/err")"
	elif diff -r "$OPS/expected" "$TMP/conv" >"$TMP/diff" 2>&1; then
		ok "$name: $(grep -c '"out\.' "$TMP/conv/model.safetensors.index.json") tensors byte-identical to torch's"
	else
		bad "$name: output differs from torch's" "$(head -5 "$TMP/diff")" \
			"$(cmp "$OPS/expected/model-00000-of-00001.safetensors" \
				"$TMP/conv/model-00000-of-00001.safetensors" 2>&1)"
	fi
}
check "ops.mapbc" --rules "$TMP/ops.mapbc"
check "ops.map, one thread, no direct copies" --rules "$OPS/ops.map" -j 1 \
	--no-direct-copy
check "ops.mapbc, four threads" --rules "$TMP/ops.mapbc" -j 4

# Every rule matched a stored key: the fixture allows no dead rule.
if "$TD2HF" --dry-run --rules "$TMP/ops.mapbc" --input "$OPS/ckpt" \
	>"$TMP/plan" 2>"$TMP/err"; then
	dead=$(sed -n '/^rules that matched nothing/,$p' "$TMP/plan" | grep '^  ')
	if [ -z "$dead" ]; then
		ok "every rule of ops.map matched a stored key"
	else
		bad "every rule of ops.map matched a stored key" "$dead"
	fi
else
	bad "ops.map dry run" "$(cat "$TMP/err")"
fi

# Operations torch refuses too (its message differs): one line naming the
# stored key, its shape and the rule, exit status 1, no output.
bad_op() { # operation needle
	printf 'param unset = none\n"x.rename" | %s -> "y"\n"{k}" -> "{k}"\n' \
		"$1" >"$TMP/bad.map"
	expect_fail "$1 is refused" 1 \
		"tensor 'x.rename' [4, 6, 5] (rule bad.map:2): $2" -- \
		"$TD2HF" -q --rules "$TMP/bad.map" --input "$OPS/ckpt" --output "$TMP/x"
}
bad_op "narrow(1, 4, 3)" "3 elements from 4 are outside dimension 1 of size 6"
bad_op "select(0, 4)" "index 4 is outside dimension 0 of size 4"
bad_op "select(-4, 0)" "dimension -4 does not exist in a 3-d tensor"
bad_op "slice(5, 0, 1)" "dimension 5 does not exist in a 3-d tensor"
bad_op "permute(0, 0, 1)" "permute order is not a permutation of the 3 dims"
bad_op "permute(0, 1)" "permute of a 3-d tensor needs 3 dims, got 2"
bad_op "transpose(0, 3)" "transpose(0, 3) of a 3-d tensor"
bad_op "view(7, -1)" "cannot view a [4, 6, 5] tensor as [7, -1]"
bad_op "view(-1, -1)" "view of [4, 6, 5]: size -1 is invalid"
bad_op "split(1, [1, 2]) | cat(1)" "split sizes add up to 3 but dimension 1 has 6"
bad_op "chunk(1, 4) | cat(1)" "chunk(4) of dimension 1 (size 6) does not give 4 pieces"
bad_op "split(1, [1, -1]) | cat(0)" "cat: tensor 1 does not match the others outside dimension 0"
bad_op "narrow(0, 0, dim(5))" "dim(5) of a 3-d tensor"
bad_op "narrow(0, 0, 1 / (dim(0) - 4))" "1 // 0: division by zero"
bad_op "narrow(0, 0, 1 % (dim(0) - 4))" "1 % 0: division by zero"
bad_op "narrow(0, unset, 1)" "a value is none where a number is needed"

# f64 to bf16 or f16: torch rounds to f32 first (double rounding, see
# cast_vectors.txt); td2hf refuses with one message instead.
for t in bf16 f16; do
	up=$(echo "$t" | tr a-z A-Z)
	cat >"$TMP/f64.map" <<EOF
"cast.f64" | select(0, 0) | cast($t) -> "y"
"{k}" -> "{k}"
EOF
	expect_fail "cast from f64 to $t is refused" 1 \
		"cast from F64 to $up is not supported" -- \
		"$TD2HF" -q --rules "$TMP/f64.map" --input "$OPS/ckpt" --output "$TMP/x"
done
[ ! -e "$TMP/x" ] && ok "the refused cast leaves no output" ||
	bad "the refused cast leaves no output"
finish
