#!/bin/sh
# A first run that just works: the build tree's rules without make
# install, usage and commands, wrong families explained, sizes and flags
# as people type them, inspect readable, a summary in human units.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
BUILD=$(dirname "$TD2HF")
unset TD2HF_RULES_DIR

# usage_shown NAME STATUS NEEDLE -- command...: status and NEEDLE in the
# command's whole output (usage texts are several lines).
usage_shown() {
	name=$1 want=$2 needle=$3
	shift 4
	"$@" >"$TMP/out" 2>&1
	rc=$?
	if [ $rc -ne "$want" ]; then
		bad "$name" "status $rc, wanted $want" "$(cat "$TMP/out")"
	elif ! grep -qF -- "$needle" "$TMP/out"; then
		bad "$name" "output lacks '$needle'" "$(head -5 "$TMP/out")"
	else
		ok "$name"
	fi
}

# ---- the build tree's rules, without make install
expect_ok "td2hf rules from the build tree" "$BUILD/rules/qwen3.mapbc" -- \
	"$TD2HF" rules
for how in "--model-name qwen3" "--arch qwen3" ""; do
	out="$TMP/bt$(echo "$how" | tr -d ' -')"
	# shellcheck disable=SC2086
	if "$TD2HF" --input "$E2E/qwen3/ckpt" --output "$out" \
		--hf-checkpoint "$E2E/qwen3/hf" $how 2>"$TMP/err" &&
		diff -r "$E2E/qwen3/expected/default" "$out" >/dev/null &&
		grep -q "td2hf: rules $BUILD/rules/qwen3.mapbc (chosen by" "$TMP/err"; then
		ok "${how:-config.json}: build-tree rules, named on stderr"
	else
		bad "${how:-config.json} from the build tree" "$(cat "$TMP/err")"
	fi
done
if (cd "$TMP" && "$BUILD/mapc" -o q.mapbc "$SRCDIR/rules/qwen3.map" &&
	cp "$SRCDIR/rules/qwen3.map" alone.map && "$BUILD/mapc" --check alone.map); then
	ok "mapc finds common.map in the rules directory by default"
else
	bad "mapc include search"
fi

# ---- the design card's example, verbatim, from a copy of the repository
# root (so glm5.mapbc lands where the user would have it), with the GLM-5
# fixture where the example has a save directory and the HF model
mkdir -p "$TMP/root/models"
cp -r "$SRCDIR/rules" "$TMP/root/"
cp -r "$E2E/glm5/ckpt" "$TMP/root/save"
cp -r "$E2E/glm5/hf" "$TMP/root/models/GLM-5"
if (cd "$TMP/root" && PATH="$BUILD:$PATH" &&
	mapc rules/glm5.map -o glm5.mapbc &&
	td2hf --rules glm5.mapbc --input save/iter_0000100 --output out/glm5-hf --hf-checkpoint models/GLM-5) \
	>"$TMP/out" 2>&1 && diff -r "$E2E/glm5/expected/default" "$TMP/root/out/glm5-hf" >/dev/null; then
	ok "mapc rules/glm5.map -o glm5.mapbc && td2hf --rules glm5.mapbc ...: slime's output"
else
	bad "the design card's example" "$(cat "$TMP/out")"
fi
if (cd "$TMP/root" && PATH="$BUILD:$PATH" && rm -rf out glm5.mapbc &&
	mapc rules/glm5.map && td2hf --rules glm5.mapbc --input save --output out) \
	>"$TMP/out" 2>&1 && [ -f "$TMP/root/glm5.mapbc" ] &&
	diff -r -x '*.json' "$E2E/glm5/expected/default" "$TMP/root/out" >/dev/null &&
	cmp -s "$E2E/glm5/expected/default/model.safetensors.index.json" \
		"$TMP/root/out/model.safetensors.index.json"; then
	ok "mapc rules/glm5.map && td2hf --rules glm5.mapbc --input save --output out"
else
	bad "the README's first example" "$(cat "$TMP/out")"
fi
for name in glm5 kimi_k2 deepseek_v32 glm4_moe_lite qwen2 qwen2_moe; do
	[ -f "$SRCDIR/rules/$name.map" ] && grep -q "^$(sed -n 's/^# model names: *//p' \
		"$SRCDIR/rules/$name.map" | awk '{print $1}') *$name\$" "$BUILD/rules/families" &&
		ok "rules/$name.map exists and is selected by its model name" ||
		bad "rules/$name.map"
done
expect_ok "mapc --list" "glm5.map               glmmoedsa" -- "$BUILD/mapc" --list

# ---- usage and commands
usage_shown "no arguments: the conversion usage" 2 "--output DIR" -- "$TD2HF"
usage_shown "td2hf help" 0 "Conversion" -- "$TD2HF" help
expect_fail "an unknown command lists the commands" 2 \
	"the commands are inspect, rules and help" -- "$TD2HF" convert
expect_fail "a bare path suggests --input" 2 "give it with --input" -- \
	"$TD2HF" "$E2E/qwen3/ckpt"
expect_fail "a stray argument suggests --input" 2 "the checkpoint is given with --input" -- \
	"$TD2HF" --arch qwen3 --output "$TMP/o" "$E2E/qwen3/ckpt"

# ---- which rules
expect_fail "--arch with a typo" 1 "--arch llamaa: unknown family; the families are " -- \
	"$TD2HF" --arch llamaa --input "$E2E/qwen3/ckpt" --output "$TMP/o"
expect_fail "--model-name unknown lists the names" 1 \
	"model 'mistral' matches no family: the name, lower-cased without '_' and '-', must contain one of deepseekv32, glm4moelite" -- \
	"$TD2HF" --model-name mistral --input "$E2E/qwen3/ckpt" --output "$TMP/o"
expect_fail "the wrong family says what to do" 1 \
	"td2hf rules --detect $E2E/glm5/ckpt lists the installed families" -- \
	"$TD2HF" -q --model-name qwen3 --input "$E2E/glm5/ckpt" --output "$TMP/o"
"$TD2HF" rules --detect "$E2E/glm5/ckpt" >"$TMP/out" 2>&1
if sed -n 2p "$TMP/out" | grep -q "^  deepseek_v3, deepseek_v32, glm4_moe_lite, glm5, kimi_k2 (equally) cover every stored key" &&
	grep -q "^  llama  *no: no rule matches tensor" "$TMP/out"; then
	ok "rules --detect: the DeepSeek-V3 families first for GLM-5, llama refused"
else
	bad "rules --detect on glm5" "$(cat "$TMP/out")"
fi
"$TD2HF" rules --detect "$E2E/qwen3/ckpt" >"$TMP/out" 2>&1
sed -n 2p "$TMP/out" | grep -q "^  qwen2, qwen3 (equally) cover" &&
	ok "rules --detect: qwen2 and qwen3 first for Qwen3" ||
	bad "rules --detect on qwen3" "$(cat "$TMP/out")"
"$TD2HF" --rules "$BUILD/rules/qwen3.mapbc" --model-name glm4 --dry-run \
	--input "$E2E/qwen3/ckpt" >/dev/null 2>"$TMP/err"
if grep -q "^td2hf: --rules chooses the rules; --model-name is only checked" "$TMP/err" &&
	grep -q "^td2hf: warning: --model-name names a glm4 model, but the rules used are qwen3's" "$TMP/err"; then
	ok "--rules with --model-name: which wins, and the disagreement"
else
	bad "--rules with --model-name" "$(cat "$TMP/err")"
fi
"$TD2HF" --model-name glm4 --dry-run --input "$E2E/qwen3/ckpt" \
	--hf-checkpoint "$E2E/qwen3/hf" >/dev/null 2>"$TMP/err"
grep -q "warning: $E2E/qwen3/hf/config.json (qwen3config) names a qwen3 model, but the rules used are glm4's" "$TMP/err" &&
	ok "--model-name against config.json: reported" ||
	bad "--model-name against config.json" "$(cat "$TMP/err")"

# Rules state what they require of the checkpoint: GLM-4's rules would
# cover a Qwen3 checkpoint's keys, but its args lack GLM-4's sandwich norms.
expect_fail "glm4 rules on a qwen3 checkpoint" 1 \
	"these rules do not fit this checkpoint: GLM-4 layers have sandwich norms" -- \
	"$TD2HF" -q --model-name glm4 --input "$E2E/qwen3/ckpt" --output "$TMP/o"
"$TD2HF" rules --detect "$E2E/qwen3/ckpt" >"$TMP/out" 2>&1
grep -q "^  glm4  *no: these rules do not fit this checkpoint" "$TMP/out" &&
	ok "rules --detect counts glm4 out for a Qwen3 checkpoint" ||
	bad "rules --detect and require" "$(cat "$TMP/out")"

# ---- sizes and flags as people type them
for size in 5GB 5GiB 512MB 1.5G 4096 64K 1kb; do
	if "$TD2HF" -q --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run \
		--chunk-size "$size" >/dev/null 2>"$TMP/err"; then
		ok "--chunk-size $size"
	else
		bad "--chunk-size $size" "$(cat "$TMP/err")"
	fi
done
for size in 0 -1 0G abc 1.5 5XB 99999999999999999999 20000000000T ""; do
	expect_fail "--chunk-size '$size' refused" 2 "--chunk-size: '$size' is not a size" -- \
		"$TD2HF" --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run --chunk-size "$size"
done
# Shards follow the size: 1.5K = 1536 bytes, 1kb = 1000 bytes.
for pair in "1.5K 1536" "1kb 1000"; do
	set -- $pair
	"$TD2HF" -q --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run --chunk-size "$1" \
		>"$TMP/a" 2>&1
	"$TD2HF" -q --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run --chunk-size "$2" \
		>"$TMP/b" 2>&1
	cmp -s "$TMP/a" "$TMP/b" && grep -q "shards:" "$TMP/a" &&
		ok "--chunk-size $1 = $2 bytes" || bad "--chunk-size $1 differs from $2"
done
expect_fail "--vocab-size abc names the flag" 2 "--vocab-size: 'abc' is not a whole number" -- \
	"$TD2HF" --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run --vocab-size abc
expect_fail "-j abc names the flag" 2 "--jobs: 'abc' is not a whole number from 1 to 256" -- \
	"$TD2HF" --arch qwen3 --input "$E2E/qwen3/ckpt" --dry-run -j abc

# ---- an unreadable input says so (root reads everything: run as nobody;
# a coverage build's profile files are not nobody's to write, so they go
# under GCOV_PREFIX)
mkdir -p "$TMP/locked"
cp -r "$E2E/qwen3/ckpt/iter_0000100" "$TMP/locked/ck"
chmod 700 "$TMP/locked/ck"
chmod 755 "$TMP" "$TMP/locked"
mkdir -p "$TMP/gcov" && chmod 777 "$TMP/gcov"
if [ "$(id -u)" -eq 0 ] && command -v setpriv >/dev/null; then
	expect_fail "unreadable input: Permission denied" 1 "Permission denied" -- \
		setpriv --reuid=65534 --regid=65534 --clear-groups \
		env GCOV_PREFIX="$TMP/gcov" "$TD2HF" inspect "$TMP/locked/ck"
elif [ "$(id -u)" -ne 0 ]; then
	expect_fail "unreadable input: Permission denied" 1 "Permission denied" -- \
		"$TD2HF" inspect "$TMP/locked/ck"
else
	echo "SKIP: unreadable input (needs setpriv to drop root)"
fi

# ---- --explain on a skipped key
key=$("$TD2HF" inspect --metadata-only "$E2E/qwen3/ckpt" | awk '/_extra_state/ { print $1; exit }')
expect_ok "--explain a skipped key" "stored in the checkpoint; skipped by" -- \
	"$TD2HF" -q --arch qwen3 --input "$E2E/qwen3/ckpt" --explain "$key"

# ---- inspect: aligned columns, a short args list
"$TD2HF" inspect --metadata-only "$E2E/glm5/ckpt" >"$TMP/out"
cols=$(awk '/^KEY/ { on = 1 } on && NF >= 5 && /^[a-z]/ { print index($0, "  " $2 " ") }' "$TMP/out" | sort -u | wc -l)
long=$(awk '/^KEY/ { on = 1 } on && length($1) > 60' "$TMP/out" | wc -l)
[ "$long" -gt 0 ] && [ "$(awk '/^KEY/ { print index($0, "DTYPE") }' "$TMP/out")" -gt 61 ] &&
	ok "inspect: the columns make room for $long keys over 60 characters" ||
	bad "inspect columns" "$(grep -m3 extra_state "$TMP/out")"
n=$(sed -n '/^args/,$p' "$TMP/out" | wc -l)
[ "$n" -lt 40 ] && grep -q "shown; --args NAME" "$TMP/out" &&
	ok "inspect: a short args list by default ($n lines)" || bad "inspect args: $n lines"
expect_ok "inspect --args" "hidden_size" -- \
	"$TD2HF" inspect --metadata-only --args hidden_size,no_such_arg "$E2E/qwen3/ckpt"
grep -q "no_such_arg .*(not in common.pt)" "$TMP/out" 2>/dev/null ||
	"$TD2HF" inspect --metadata-only --args hidden_size,no_such_arg "$E2E/qwen3/ckpt" |
	grep -q "no_such_arg *(not in common.pt)" && ok "inspect --args names a missing arg" ||
	bad "inspect --args: a missing arg"

# ---- the summary line
out="$TMP/summary"
"$TD2HF" --arch qwen3 --input "$E2E/qwen3/ckpt" --output "$out" 2>"$TMP/err"
grep -Eq "^td2hf: wrote [0-9.]+ (B|KiB|MiB|GiB) in 24 tensors, 1 shard, [0-9.]+ s, [0-9.]+ (B|KiB|MiB|GiB)/s, to $out$" "$TMP/err" &&
	ok "summary: human sizes, time and rate" || bad "summary line" "$(cat "$TMP/err")"
finish
