#!/bin/sh
# grammar.sh [parser.y] — prints the rule language's grammar, as EBNF,
# from grammar/parser.y: the rules without their C actions, the tokens
# under the names docs/language.md uses.  docs/language.md's "Grammar"
# section is this output; tests/cli/docs.sh checks that they agree.
set -eu
y=${1:-$(dirname "$0")/../grammar/parser.y}
awk '
# the grammar: between the first two %% lines
/^%%/ { part++; next }
part == 1 { text = text $0 "\n" }
END {
	# drop comments and { actions }, keep quoted tokens
	out = ""; depth = 0; n = length(text)
	for (i = 1; i <= n; i++) {
		c = substr(text, i, 1)
		if (depth == 0 && c == "/" && substr(text, i + 1, 1) == "*") {
			j = index(substr(text, i + 2), "*/"); i += j + 2; continue
		}
		if (depth == 0 && c == "\047") { out = out substr(text, i, 3); i += 2; continue }
		if (depth == 0 && c == "\"") {
			j = index(substr(text, i + 1), "\""); out = out substr(text, i, j + 1); i += j; continue
		}
		if (c == "{") { depth++; continue }
		if (c == "}") { depth--; continue }
		if (depth == 0) out = out c
	}
	gsub(/[ \t\n]+/, " ", out)
	nr = split(out, rules, ";")
	for (r = 1; r <= nr; r++) {
		rule = rules[r]
		if (rule !~ /:/) continue
		name = rule; sub(/:.*/, "", name); gsub(/ /, "", name)
		body = rule; sub(/^[^:]*:/, "", body)
		na = split(body, alts, " [|] ")
		line = sprintf("%-9s =", name)
		for (a = 1; a <= na; a++) {
			alt = " " alts[a] " "
			gsub(/ %empty /, " (* nothing *) ", alt)
			gsub(/ %prec [A-Z]+ /, " ", alt)
			alt = tokens(alt)
			gsub(/^ +| +$/, "", alt)
			printf "%s %s\n", (a == 1 ? line : sprintf("%-9s |", "")), alt
		}
		printf "%-9s ;\n", ""
	}
}
function tokens(s) {
	gsub(/ IDENT /, " NAME ", s); gsub(/ IDENT /, " NAME ", s)
	gsub(/ INT /, " INTEGER ", s)
	gsub(/ TERM /, " END ", s); gsub(/ TERM /, " END ", s)
	gsub(/ "string" /, " \"\\\"\" ", s)
	gsub(/ "end of string" /, " \"\\\"\" ", s)
	gsub(/ "\047<\047" /, " \"<\" ", s); gsub(/ "\047>\047" /, " \">\" ", s)
	gsub(/ "\047\*\047" /, " \"*\" ", s)
	gsub(/ TEXTCAP /, " \"{\" NAME \"}\" ", s)
	gsub(/ ALTCAP /, " \"{\" NAME \":\" TEXT { \"|\" TEXT } \"}\" ", s)
	gsub(/ \047/, " \"", s); gsub(/\047 /, "\" ", s)
	return s
}' "$y"
cat <<'TAIL'
(* END: ";" or a line break before a line indented no deeper than the
   line the statement began on.  TEXT: characters of a string other than
   '"', '<', '{', '*' and '\', or one of them escaped by '\'. *)
TAIL
