#!/bin/sh
# The output directory can never destroy what td2hf did not write: it is
# refused, even with --force, when it is, contains or lies inside the
# checkpoint, the Megatron save directory or the HF directory (symlinks
# and bind mounts included); --force replaces only a directory of files a
# conversion writes; a file never becomes a folder; leftovers of killed
# runs are named and removed once their process is gone.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e/qwen3"
export TD2HF_RULES_DIR="$(dirname "$TD2HF")/rules"

# A work area W holding a Megatron save dir and the HF dir, as users have.
W="$TMP/work"
mkdir -p "$W"
cp -r "$E2E/ckpt" "$W/save"
cp -r "$E2E/hf" "$W/hf"
fingerprint() { (cd "$W" && find . -type f | sort | xargs cat | cksum); }
BEFORE=$(fingerprint)

conv() { # output [more args]: slime's flags, --force always
	out=$1
	shift
	"$TD2HF" --input-dir "$W/save/iter_0000100" --origin-hf-dir "$W/hf" \
		--model-name qwen3 -f --output-dir "$out" "$@"
}
convq() { conv "$@" -q; } # for expect_fail: one line on stderr
untouched() { # name: W must hold exactly what it held
	if [ "$(fingerprint)" = "$BEFORE" ] &&
		! ls -a "$W" "$W/save" | grep -q '[.]td2hf-'; then
		ok "$1: nothing touched"
	else
		bad "$1: the work area changed" "$BEFORE vs $(fingerprint)" "$(ls -a "$W" "$W/save")"
	fi
}

expect_fail "output = the save dir" 1 "is the Megatron save directory" -- \
	convq "$W/save"
untouched "output = the save dir"
expect_fail "output = the work area" 1 "contains the input checkpoint" -- convq "$W"
untouched "output = the work area"
expect_fail "output = the iteration dir" 1 "is the input checkpoint" -- \
	convq "$W/save/iter_0000100"
expect_fail "output inside the iteration dir" 1 "lies inside the input checkpoint" -- \
	convq "$W/save/iter_0000100/hf"
expect_fail "output inside the save dir" 1 "lies inside the Megatron save" -- \
	convq "$W/save/hf-out"
expect_fail "output = the HF dir" 1 "is the HF checkpoint" -- convq "$W/hf"
expect_fail "output inside the HF dir" 1 "lies inside the HF checkpoint" -- \
	convq "$W/hf/new/out"
expect_fail "output through '..'" 1 "is the Megatron save directory" -- \
	convq "$W/hf/../save/"
ln -s "$W/save" "$TMP/link-to-save"
expect_fail "output is a symlink to the save dir" 1 "the Megatron save" -- \
	convq "$TMP/link-to-save"
expect_fail "output under a symlink to the save dir" 1 "lies inside" -- \
	convq "$TMP/link-to-save/out"
untouched "every refused overlap"
# A bind mount shows the save dir under another path: compared by inode.
mkdir -p "$TMP/bind"
if mount --bind "$W" "$TMP/bind" 2>/dev/null; then
	expect_fail "output is a bind mount of the work area" 1 "contains the" -- \
		convq "$TMP/bind"
	expect_fail "output inside a bind mount of the save dir" 1 "lies inside" -- \
		convq "$TMP/bind/save/x"
	umount "$TMP/bind"
	untouched "bind mounts"
else
	echo "SKIP: bind mounts (mount --bind needs root)"
fi

# --force replaces only what a conversion writes.
mkdir "$TMP/notes"
echo "mine" >"$TMP/notes/my_notes.txt"
cp "$E2E/expected/default/config.json" "$TMP/notes/"
expect_fail "--force on a folder with a user's file" 1 "holds 'my_notes.txt'" -- \
	convq "$TMP/notes"
[ "$(cat "$TMP/notes/my_notes.txt")" = mine ] && [ -f "$TMP/notes/config.json" ] &&
	ok "the user's file survives" || bad "the user's file is gone"
mkdir "$TMP/sub"
mkdir "$TMP/sub/model-00000-of-00001.safetensors"
expect_fail "--force on a folder with a directory named like a shard" 1 \
	"holds 'model-00000-of-00001.safetensors'" -- convq "$TMP/sub"
echo "a file" >"$TMP/afile"
expect_fail "output names a regular file" 1 "never replaces a file" -- \
	convq "$TMP/afile"
[ "$(cat "$TMP/afile")" = "a file" ] && ! ls -a "$TMP" | grep -q '[.]td2hf-' &&
	ok "the file is still a file, nothing left beside it" ||
	bad "the file was replaced or something was left" "$(ls -a "$TMP")"
ln -s "$TMP/notes" "$TMP/link-out"
expect_fail "output is a symlink to a directory" 1 "is a symbolic link" -- \
	convq "$TMP/link-out"
# Without --force an existing output of ours is refused; with it, replaced.
out="$TMP/prev"
conv "$out" -q 2>"$TMP/err" || bad "first conversion" "$(cat "$TMP/err")"
expect_fail "existing output without --force" 1 "use --force" -- \
	"$TD2HF" -q --input "$W/save" --hf-checkpoint "$W/hf" --model-name qwen3 \
	--output "$out"
if conv "$out" -q 2>"$TMP/err" && diff -r "$E2E/expected/default" "$out" >/dev/null &&
	! ls -a "$TMP" | grep -q '[.]td2hf-'; then
	ok "--force replaces a previous output"
else
	bad "--force on a previous output" "$(cat "$TMP/err")" "$(ls -a "$TMP")"
fi

# Missing parent directories are created, as slime's os.makedirs does.
if conv "$TMP/a/b/c/out" -q 2>"$TMP/err" &&
	diff -r "$E2E/expected/default" "$TMP/a/b/c/out" >/dev/null; then
	ok "missing parents are created"
else
	bad "missing parents" "$(cat "$TMP/err")"
fi

# A run killed with SIGKILL leaves its staging directory; the next run
# names it and removes it, since its process is gone.
out="$TMP/killed"
mkdir "$out.td2hf-tmp-999999999@$(hostname)"
: >"$out.td2hf-tmp-999999999@$(hostname)/model-00000-of-00001.safetensors"
if conv "$out" 2>"$TMP/err" && grep -q "removed .*td2hf-tmp-999999999" "$TMP/err" &&
	! ls -a "$TMP" | grep -q "killed.td2hf-"; then
	ok "a dead run's leftover is named and removed"
else
	bad "a dead run's leftover" "$(cat "$TMP/err")" "$(ls -a "$TMP")"
fi
# A real SIGKILL at each point of a run: the next run names the staging
# directory, removes it and converts.  Killed after the previous output
# was moved aside, the next run refuses and says where that output is.
for point in staged written moved-aside; do
	out="$TMP/killed-$point"
	[ $point = moved-aside ] && conv "$out" -q
	if ! paused $point -- conv "$out" -q; then
		bad "SIGKILL at '$point': td2hf never reached it"
		continue
	fi
	kill -KILL $pid; kill -CONT $pid 2>/dev/null; wait $job 2>/dev/null
	left=$(ls -a "$TMP" | grep "killed-$point[.]td2hf-")
	if [ -z "$left" ]; then
		bad "SIGKILL at '$point': no leftover to clean"
	elif [ $point = moved-aside ]; then
		expect_fail "SIGKILL at '$point': the next run says where the output is" \
			1 "holds the output an interrupted run was replacing" -- convq "$out"
		left=$(ls -a "$TMP" | grep "killed-$point[.]td2hf-old")
		diff -r "$E2E/expected/default" "$TMP/$left" >/dev/null &&
			ok "SIGKILL at '$point': the previous output is intact in $left" ||
			bad "SIGKILL at '$point': the previous output was damaged"
	elif conv "$out" 2>"$TMP/err" && grep -q "removed .*$left" "$TMP/err" &&
		diff -r "$E2E/expected/default" "$out" >/dev/null &&
		! ls -a "$TMP" | grep -q "killed-$point[.]td2hf-"; then
		ok "SIGKILL at '$point': the next run removes $left and converts"
	else
		bad "SIGKILL at '$point'" "$(cat "$TMP/err")" "$(ls -a "$TMP")"
	fi
done
# A leftover whose td2hf still runs is named, not touched (a copy of
# sleep named td2hf stands for the running conversion); one whose pid now
# belongs to another program is removed.
out="$TMP/busy"
cp "$(command -v sleep)" "$TMP/td2hf"
"$TMP/td2hf" 30 & live=$!
i=0 # until the child has become "td2hf"
while [ $i -lt 100 ] && [ "$(cat /proc/$live/comm 2>/dev/null)" != td2hf ]; do
	sleep 0.01; i=$((i + 1))
done
sleep 30 & other=$!
mkdir "$out.td2hf-tmp-$live@$(hostname)"
expect_fail "a leftover of a running td2hf" 1 "td2hf process $live is writing it" -- \
	convq "$out"
[ -d "$out.td2hf-tmp-$live@$(hostname)" ] && [ ! -e "$out" ] &&
	ok "the running td2hf's directory is kept" || bad "a live run's directory was touched"
kill $live; wait $live 2>/dev/null
rm -rf "$out.td2hf-tmp-$live@$(hostname)"
mkdir "$out.td2hf-tmp-$other@$(hostname)"
conv "$out" -q 2>"$TMP/err" && [ ! -d "$out.td2hf-tmp-$other@$(hostname)" ] &&
	ok "a pid reused by another program does not block" ||
	bad "a reused pid blocked" "$(cat "$TMP/err")"
kill $other; wait $other 2>/dev/null
# One from another host is named with what to do.
rm -rf "$out"
mkdir "$out.td2hf-tmp-42@other-host"
expect_fail "a leftover from another host" 1 "on host other-host" -- convq "$out"
[ -d "$out.td2hf-tmp-42@other-host" ] && ok "the other host's leftover is kept" ||
	bad "the other host's leftover was removed"
untouched "all of the above"
finish
