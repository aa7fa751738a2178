#!/bin/sh
# mapc on the shipped rules and on mistakes: exit status, files written.
. "$(dirname "$0")/lib.sh"
MAPC=${MAPC:-$(dirname "$TD2HF")/mapc}
RULES="$SRCDIR/rules"

for f in "$RULES"/*.map; do
	name=$(basename "$f" .map)
	(cd "$TMP" && "$MAPC" -I "$RULES" "$f" >"$TMP/out" 2>"$TMP/err")
	if [ $? -eq 0 ] && [ -s "$TMP/$name.mapbc" ] && [ ! -s "$TMP/err" ]; then
		ok "compiles $name.map to ./$name.mapbc"
	else
		bad "compiles $name.map" "$(cat "$TMP/err")"
	fi
	expect_ok "disassembles $name.mapbc" "td2hf rules bytecode, version 3" -- \
		"$MAPC" -d "$TMP/$name.mapbc"
done

rm -f "$TMP"/*.mapbc
(cd "$TMP" && "$MAPC" --check "$RULES/llama.map" >/dev/null 2>&1)
if [ $? -eq 0 ] && [ ! -e "$TMP/llama.mapbc" ]; then
	ok "--check writes nothing"
else
	bad "--check writes nothing"
fi
if "$MAPC" -o "$TMP/x.mapbc" "$RULES/qwen3.map" && [ -s "$TMP/x.mapbc" ]; then
	ok "-o names the output"
else
	bad "-o names the output"
fi

printf '"a" | flip(0) -> "b"\n' >"$TMP/bad.map"
"$MAPC" "$TMP/bad.map" >"$TMP/out" 2>"$TMP/err"
rc=$?
if [ $rc -eq 1 ] && grep -qF "bad.map:1:7: error: unknown operation 'flip'" "$TMP/err" &&
	grep -qF "mapc: 1 error" "$TMP/err"; then
	ok "rule error: exit 1, file:line:col message"
else
	bad "rule error" "status $rc" "$(cat "$TMP/err")"
fi
expect_fail "usage error" 2 "expected one input file" -- "$MAPC"
expect_fail "--max-errors not a number" 2 \
	"--max-errors: 'ten' is not a whole number from 0 to" -- \
	"$MAPC" --max-errors ten "$SRCDIR/rules/llama.map"
printf 'TD2HFMAP\002\000\000\000\014\000\000\000' >"$TMP/v2.mapbc"
expect_fail "other bytecode version" 1 "bytecode version 2, but this td2hf reads version 3" -- \
	"$MAPC" -d "$TMP/v2.mapbc"
echo "hello" >"$TMP/junk.mapbc"
expect_fail "not bytecode" 1 "junk.mapbc: not a td2hf rules bytecode file (bad magic)" -- \
	"$MAPC" -d "$TMP/junk.mapbc"
"$MAPC" --opcodes >"$TMP/ops.md"
if grep -qxFf "$TMP/ops.md" "$SRCDIR/docs/bytecode.md" &&
	[ "$(grep -cxFf "$TMP/ops.md" "$SRCDIR/docs/bytecode.md")" -eq "$(wc -l <"$TMP/ops.md")" ]; then
	ok "docs/bytecode.md lists every opcode as mapc --opcodes does"
else
	bad "docs/bytecode.md is out of date: paste the output of mapc --opcodes"
fi
# One mistake, one message: a missing include does not cascade into
# "unknown block" for what it would have defined, and a block used twice
# reports its mistakes once.
printf 'include "nope.map"\nuse embeddings at "" -> "model."\nblock l {\n  use gqa_attention\n}\nuse l at "a." -> "a."\nuse l at "b." -> "b."\n' >"$TMP/cascade.map"
"$MAPC" --check "$TMP/cascade.map" >"$TMP/out" 2>&1
[ "$(grep -c ': error: ' "$TMP/out")" -eq 1 ] && grep -q "cannot find include file 'nope.map'" "$TMP/out" &&
	ok "a missing include: one error, no cascade" || bad "a missing include cascades" "$(cat "$TMP/out")"
printf 'block b {\n  "x.<i>" | narrow(0, 0, nope) -> "y.<i>"\n  use zzz\n}\nuse b at "a." -> "a."\nuse b at "c." -> "c."\n' >"$TMP/twice.map"
"$MAPC" --check "$TMP/twice.map" >"$TMP/out" 2>&1
[ "$(grep -c "unknown name 'nope'" "$TMP/out")" -eq 1 ] && [ "$(grep -c "unknown block 'zzz'" "$TMP/out")" -eq 1 ] &&
	ok "a block used twice: each mistake reported once" || bad "repeated reports" "$(cat "$TMP/out")"
finish
