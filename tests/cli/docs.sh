#!/bin/sh
# Every rule-language example in the docs is real: each ```map block of
# docs/language.md and docs/adding-a-model.md must compile cleanly with
# `mapc --check -I rules`; each ```map error block must fail, and when a
# ```text block follows it (blank lines between are allowed), the first
# line of that block must be the first message mapc prints, compared from
# ':LINE:COL:' on (the file name is the extracted file's, not the doc's);
# any further lines of the text block (the quoted source line, the caret,
# ...) must be mapc's next lines exactly.  Fences are recognised at the
# start of a line only.  One test per block.
. "$(dirname "$0")/lib.sh"
MAPC=${MAPC:-$(dirname "$TD2HF")/mapc}
EX="$TMP/examples"
mkdir "$EX"

# extract DOC TAG: writes $EX/TAG-LINE.map (and .want for an error block
# with an expected message) and prints "DOC LINE KIND FILE" per block, or
# "DOC LINE unterminated -" for a fence that never closes.
extract() {
	awk -v doc="$1" -v tag="$2" -v dir="$EX" '
	function open_map(kind) {
		file = dir "/" tag "-" NR ".map"
		start = NR; mapkind = kind; state = 1
		printf "" > file
	}
	function done_map() {
		close(file)
		print doc, start, mapkind, file
		state = mapkind == "error" ? 3 : 0
	}
	state == 1 {
		if ($0 ~ /^```[ \t]*$/) done_map(); else print > file
		next
	}
	state == 2 { if ($0 ~ /^```[ \t]*$/) state = 0; next }
	state == 4 {
		if ($0 ~ /^```[ \t]*$/) { close(file ".want"); state = 0; next }
		print > (file ".want"); next
	}
	state == 3 {
		if ($0 ~ /^[ \t]*$/) next
		if ($0 ~ /^```text[ \t]*$/) { state = 4; next }
		state = 0   # anything else: no expected message; read it normally
	}
	/^```map[ \t]*$/                 { open_map("ok"); next }
	/^```map[ \t]+error[ \t]*$/      { open_map("error"); next }
	/^```/                           { state = 2; start = NR; next }
	END {
		if (state == 1 || state == 2 || state == 4)
			print doc, start, "unterminated", "-"
	}' "$SRCDIR/$1"
}

# The first diagnostic with its file name cut off: ":LINE:COL: error: ...".
located() {
	sed -n '1s/^[^:]*\(:[0-9][0-9]*:[0-9][0-9]*: \)/\1/p'
}

for doc in docs/language.md docs/adding-a-model.md; do
	if [ ! -f "$SRCDIR/$doc" ]; then
		bad "$doc exists"
		continue
	fi
	extract "$doc" "$(basename "$doc" .md)" >"$TMP/list"
	if ! grep -q ' ok ' "$TMP/list"; then
		bad "$doc has \`\`\`map examples"
	fi
	while read -r d line kind file; do
		where="$d:$line"
		if [ "$kind" = unterminated ]; then
			bad "$where: fence never closed"
			continue
		fi
		"$MAPC" --check -I "$SRCDIR/rules" "$file" </dev/null >"$TMP/out" 2>"$TMP/err"
		rc=$?
		if [ "$kind" = ok ]; then
			if [ $rc -eq 0 ] && [ ! -s "$TMP/err" ] && [ ! -s "$TMP/out" ]; then
				ok "$where: example compiles"
			else
				bad "$where: example does not compile (status $rc)" \
					"$(cat "$TMP/err")"
			fi
			continue
		fi
		got=$(located <"$TMP/err")
		if [ $rc -eq 0 ]; then
			bad "$where: error example compiles, but should fail"
		elif [ $rc -ne 1 ] || [ -z "$got" ]; then
			bad "$where: error example must fail with a located message" \
				"status $rc" "$(cat "$TMP/err")"
		elif [ ! -f "$file.want" ]; then
			ok "$where: error example fails ($got)"
		else
			# a message naming the example's own file calls it example.map
			want=$(located <"$file.want" | sed "s|example\.map|$(basename "$file")|g")
			if [ -z "$want" ]; then
				bad "$where: its \`\`\`text block should start with FILE:LINE:COL: error: ..." \
					"$(head -n 1 "$file.want")"
			elif [ "$got" != "$want" ]; then
				bad "$where: error example's message differs from the doc" \
					"doc:  $want" "mapc: $got"
			elif ! tail -n +2 "$file.want" >"$TMP/want.rest" ||
				! head -n "$(wc -l <"$file.want")" "$TMP/err" | tail -n +2 >"$TMP/got.rest" ||
				! cmp -s "$TMP/want.rest" "$TMP/got.rest"; then
				bad "$where: the lines after the message differ from the doc" \
					"doc:" "$(cat "$TMP/want.rest")" "mapc:" "$(cat "$TMP/got.rest")"
			else
				ok "$where: error example fails as shown ($got)"
			fi
		fi
	done <"$TMP/list"
done

# docs/language.md's grammar is scripts/grammar.sh's output from
# grammar/parser.y, the grammar bison builds the parser from.
sed -n '/^```ebnf$/,/^```$/p' "$SRCDIR/docs/language.md" | sed '1d;$d' >"$TMP/ebnf.doc"
sh "$SRCDIR/scripts/grammar.sh" "$SRCDIR/grammar/parser.y" >"$TMP/ebnf.y"
if [ ! -s "$TMP/ebnf.doc" ]; then
	bad "docs/language.md has an \`\`\`ebnf grammar"
elif ! diff -u "$TMP/ebnf.doc" "$TMP/ebnf.y" >"$TMP/ebnf.diff"; then
	bad "docs/language.md's grammar is parser.y's (scripts/grammar.sh)" "$(cat "$TMP/ebnf.diff")"
else
	ok "docs/language.md's grammar is parser.y's ($(grep -c '=' "$TMP/ebnf.y") rules)"
fi

# The Operations table of docs/language.md lists the operations of
# src/lang/opcodes.h's TD_RULE_OPS, which the compiler is built from: by
# the same signatures, no more and no fewer.
sed -n 's/^[[:space:]]*RULE_OP(\([a-z]*\),.*"\(.*\)").*/\1 \2/p' \
	"$SRCDIR/src/lang/opcodes.h" >"$TMP/ops.h"
sed -n '/^### Operations/,/^#/p' "$SRCDIR/docs/language.md" | grep '^| `' >"$TMP/ops.rows"
grep -o '^| `[^|]*' "$TMP/ops.rows" | grep -o '`[a-z]*(' | tr -d '`(' | sort -u >"$TMP/ops.doc"
cut -d' ' -f1 "$TMP/ops.h" | sort -u >"$TMP/ops.names"
missing=""
while read -r name sig; do
	grep -qF "\`$sig\`" "$TMP/ops.rows" || missing="$missing $sig;"
done <"$TMP/ops.h"
if [ ! -s "$TMP/ops.h" ]; then
	bad "src/lang/opcodes.h lists the rule operations (RULE_OP lines)"
elif ! cmp -s "$TMP/ops.doc" "$TMP/ops.names" || [ -n "$missing" ]; then
	bad "docs/language.md's Operations table is TD_RULE_OPS" \
		"docs: $(tr '\n' ' ' <"$TMP/ops.doc")" \
		"opcodes.h: $(tr '\n' ' ' <"$TMP/ops.names")" "not in the docs:$missing"
else
	ok "docs/language.md's Operations table is TD_RULE_OPS ($(wc -l <"$TMP/ops.h") operations)"
fi

# --help and the man page describe the same options, commands, environment
# and exit statuses: each word below must appear in both or in neither.
vocabulary() { # the options (-x, --long), commands, variables, statuses
	sed 's/\\-/-/g; s/\\f[BIRP]//g' | grep -oE -- \
		'(^|[^a-zA-Z0-9-])--?[a-zA-Z][a-zA-Z-]*|TD2HF_[A-Z_]+|\b(inspect|rules|help|130)\b' |
		sed 's/^[^a-zA-Z0-9-]//' | grep -vE '^-(-)?$' | sort -u
}
for prog in td2hf mapc; do
	bin=$(dirname "$TD2HF")/$prog
	"$bin" --help | vocabulary >"$TMP/help.words"
	vocabulary <"$SRCDIR/man/$prog.1" >"$TMP/man.words"
	if cmp -s "$TMP/help.words" "$TMP/man.words"; then
		ok "$prog: --help and man/$prog.1 name the same $(wc -l <"$TMP/man.words") options and terms"
	else
		bad "$prog: --help and man/$prog.1 differ (< help only, > man only)" \
			"$(diff "$TMP/help.words" "$TMP/man.words" | grep '^[<>]' | tr '\n' ' ')"
	fi
done
finish
