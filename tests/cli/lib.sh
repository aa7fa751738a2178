# lib.sh — tiny harness for the command-line tests (sourced).
# Needs TD2HF (the binary) and SRCDIR (the source tree) in the environment.
set -u
: "${TD2HF:?TD2HF must name the td2hf binary}"
: "${SRCDIR:?SRCDIR must name the source tree}"
SRCDIR=$(cd "$SRCDIR" && pwd)
FIX="$SRCDIR/tests/fixtures/ckpt"
PASS=0
FAIL=0
TMP=$(mktemp -d /tmp/td2hf-cli-XXXXXX)
trap 'rm -rf "$TMP"' EXIT

ok()   { PASS=$((PASS + 1)); echo "PASS: $1"; }
bad()  { FAIL=$((FAIL + 1)); echo "FAIL: $1"; shift; for l in "$@"; do echo "      $l"; done; }

# expect_fail NAME STATUS NEEDLE -- command...
# The command must exit with STATUS and print exactly one line on stderr,
# containing NEEDLE; nothing on stdout.
expect_fail() {
	name=$1 want=$2 needle=$3
	shift 4
	"$@" >"$TMP/out" 2>"$TMP/err"
	rc=$?
	lines=$(wc -l <"$TMP/err")
	if [ "$rc" -ne "$want" ]; then
		bad "$name" "exit status $rc, wanted $want" "$(cat "$TMP/err")"
	elif [ "$lines" -ne 1 ]; then
		bad "$name" "stderr has $lines lines, wanted 1:" "$(cat "$TMP/err")"
	elif ! grep -qF -- "$needle" "$TMP/err"; then
		bad "$name" "stderr lacks '$needle':" "$(cat "$TMP/err")"
	elif [ -s "$TMP/out" ] && [ "$want" -ne 2 ]; then
		bad "$name" "unexpected stdout"
	else
		ok "$name"
	fi
}

# expect_ok NAME NEEDLE -- command...: exit 0 and NEEDLE on stdout.
expect_ok() {
	name=$1 needle=$2
	shift 3
	if ! "$@" >"$TMP/out" 2>"$TMP/err"; then
		bad "$name" "failed:" "$(cat "$TMP/err")"
	elif ! grep -qF -- "$needle" "$TMP/out"; then
		bad "$name" "stdout lacks '$needle'"
	else
		ok "$name"
	fi
}

# The stopped process that is $1 or a child of $1 (the command may be a
# shell function running td2hf in a subshell), if any.
stopped_in() {
	for st in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$st" || continue
		# shellcheck disable=SC2086
		set -- "$1" ${line##*) }
		if [ "$2" = T ] && { [ "$st" = "/proc/$1/stat" ] || [ "$3" = "$1" ]; }; then
			st=${st%/stat}
			echo "${st#/proc/}"
			return 0
		fi
	done
	return 1
}

# paused NAME -- command...: runs the command in the background with
# TD2HF_TEST_PAUSE=NAME, so td2hf stops itself at that point; sets $pid
# (td2hf, to signal) and $job (to wait for), and returns 0 once td2hf is
# stopped there (1 if it never stops).
paused() {
	point=$1
	shift 2
	TD2HF_TEST_PAUSE=$point "$@" &
	job=$!
	i=0
	while [ $i -lt 1000 ]; do
		pid=$(stopped_in $job) && return 0
		kill -0 "$job" 2>/dev/null || return 1
		sleep 0.01
		i=$((i + 1))
	done
	return 1
}

# glm5_in_parts NAME JOBS [VAR=VALUE...]: the glm5 fixture converted as
# --part 0/2, --part 1/2, --finish with JOBS threads (the environment
# given), which must write expected/small exactly and say nothing.
glm5_in_parts() {
	name=$1 jobs=$2
	shift 2
	dir="$SRCDIR/tests/fixtures/e2e/glm5" out="$TMP/glm5-parts" rc=0
	rm -rf "$out" "$TMP/err-parts"
	for k in 0 1 --finish; do
		part="--part $k/2"
		[ "$k" = --finish ] && part=--finish
		# shellcheck disable=SC2046,SC2086
		(cd "$dir" && env "$@" "$TD2HF" -q $(cat expected/small.args) \
			-j "$jobs" $part --output-dir "$out") >"$TMP/out" \
			2>>"$TMP/err-parts" || rc=$?
	done
	if [ $rc -ne 0 ] || [ -s "$TMP/err-parts" ]; then
		bad "$name" "exit $rc" "$(head -30 "$TMP/err-parts")"
	elif ! diff -r "$dir/expected/small" "$out" >/dev/null 2>&1; then
		bad "$name" "output differs from expected/small"
	else
		ok "$name: identical"
	fi
}

finish() {
	echo "$PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
}
