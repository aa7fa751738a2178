#!/bin/sh
# One conversion written by several processes (--part K/N, --finish,
# --wait, --resume): any number of parts gives the single run's bytes;
# missing, failed, killed, disagreeing parts are named and never mixed.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
export TD2HF_RULES_DIR="$(dirname "$TD2HF")/rules"
F=glm5   # 20 shards at 4 KiB
WANT="$E2E/$F/expected/small"

conv() { # out [args]: slime's flags for the small variant
	out=$1
	shift
	"$TD2HF" -q --model-name glm_moe_dsa --input "$E2E/$F/ckpt" \
		--hf-checkpoint "$E2E/$F/hf" --chunk-size 4096 --vocab-size 250 \
		--output "$out" "$@"
}
same() { diff -r "$WANT" "$1" >/dev/null; }
stage_of() { echo "$1.td2hf-parts"; }

# N parts one after another, then --finish: byte-identical every time,
# including more parts than shards (idle parts).
for n in 1 2 3 5 32; do
	out="$TMP/n$n"
	k=0
	while [ $k -lt $n ]; do
		conv "$out" --part $k/$n 2>>"$TMP/err" || bad "n=$n: part $k failed" "$(cat "$TMP/err")"
		k=$((k + 1))
	done
	if conv "$out" --finish 2>"$TMP/err" && same "$out" &&
		[ ! -e "$(stage_of "$out")" ]; then
		ok "$n parts + --finish: byte-identical to the single run"
	else
		bad "$n parts + --finish" "$(cat "$TMP/err")"
	fi
done

# Parts running at the same time, part 0 waiting for the others.
out="$TMP/conc"
for k in 3 2 1; do conv "$out" --part $k/4 --wait 60 & done
if conv "$out" --part 0/4 --wait 60 2>"$TMP/err"; then wait; same "$out" &&
	ok "4 concurrent parts, part 0 --wait: byte-identical" ||
	bad "4 concurrent parts: output differs"
else
	wait
	bad "4 concurrent parts" "$(cat "$TMP/err")"
fi

# Shards are balanced by bytes: no part gets more than the largest shard
# above an even share.
out="$TMP/bal"
for k in 0 1 2; do conv "$out" --part $k/3; done
st=$(stage_of "$out")
max=$(ls -l "$st"/model-*.safetensors | awk '{print $5}' | sort -n | tail -1)
total=$(cat "$st"/model-*.safetensors | wc -c)
worst=0
for k in 0 1 2; do
	b=0
	for f in $(sed -n 's/^shard \([^ ]*\) .*/\1/p' "$st/.td2hf-part-$k-of-3.done"); do
		b=$((b + $(wc -c <"$st/$f")))
	done
	[ $b -gt $worst ] && worst=$b
done
[ $worst -le $((total / 3 + max)) ] &&
	ok "balanced by bytes: the fullest part has $worst of $total bytes" ||
	bad "unbalanced: the fullest part has $worst of $total bytes (largest shard $max)"

# --finish before every part is done: named, nothing written, and it
# works once they are.
out="$TMP/early"
conv "$out" --part 0/4
conv "$out" --part 2/4
expect_fail "--finish with parts missing" 1 "parts 1/4, 3/4 have not completed" -- \
	conv "$out" --finish
[ ! -e "$out" ] && [ -f "$(stage_of "$out")/.td2hf-part-0-of-4.done" ] &&
	ok "--finish refused: no output, the staging directory untouched" ||
	bad "--finish refused but changed something"
expect_fail "--wait times out naming the missing parts" 1 "gave up after 1 s" -- \
	conv "$out" --part 0/4 --wait 1
conv "$out" --part 1/4 && conv "$out" --part 3/4 && conv "$out" --finish &&
	same "$out" && ok "the missing parts run, then --finish: byte-identical" ||
	bad "finishing after the missing parts"

# A part killed outright (SIGKILL while it writes), run again: the shards
# it completed are kept, the rest redone, the result identical.
out="$TMP/killed"
conv "$out" --part 1/2
if paused shard-done -- conv "$out" --part 0/2 -j 1; then
	kill -KILL $pid; kill -CONT $pid 2>/dev/null; wait $job 2>/dev/null
	ok "part 0/2 killed"
else
	bad "part 0/2 never reached the pause point"
fi
expect_fail "--finish after a killed part" 1 "part 0/2 has not completed" -- \
	conv "$out" --finish
"$TD2HF" --model-name glm_moe_dsa --input "$E2E/$F/ckpt" --hf-checkpoint "$E2E/$F/hf" \
	--chunk-size 4096 --vocab-size 250 --output "$out" --part 0/2 2>"$TMP/err"
grep -q "complete from an earlier run, kept" "$TMP/err" &&
	ok "a rerun keeps the shards already complete" ||
	bad "a rerun redid everything" "$(cat "$TMP/err")"
conv "$out" --finish && same "$out" && ! ls -A "$out" | grep -q '^[.]' &&
	ok "killed part rerun, --finish: byte-identical, no temporary files" ||
	bad "after the killed part" "$(ls -a "$out")"

# A failing part records its error; --finish names it.
out="$TMP/fail"
conv "$out" --part 0/2
mkdir -p "$TMP/badck"
cp -r "$E2E/$F/ckpt/iter_0000100/." "$TMP/badck/"
# same .metadata, but one .distcp truncated: part 1 fails while reading
f=$(ls "$TMP/badck"/__*.distcp | tail -1)
head -c 100 "$f" >"$f.x" && mv "$f.x" "$f"
"$TD2HF" -q --model-name glm_moe_dsa --input "$TMP/badck" --hf-checkpoint "$E2E/$F/hf" \
	--chunk-size 4096 --vocab-size 250 --output "$out" --part 1/2 2>/dev/null
expect_fail "--finish names the failed part and its error" 1 "part 1/2 failed: " -- \
	conv "$out" --finish
conv "$out" --part 1/2 && conv "$out" --finish && same "$out" &&
	ok "the failed part rerun: byte-identical" || bad "after the failed part"

# Parts that disagree are never mixed.
out="$TMP/mixed"
conv "$out" --part 0/2
expect_fail "a part with other arguments" 1 "holds another conversion" -- \
	conv "$out" --part 1/2 --set cli_vocab_size=240
expect_fail "a part with another chunk size (another plan)" 1 "holds another conversion" -- \
	conv "$out" --part 1/2 --chunk-size 8192
expect_fail "a part told another N" 1 "the other parts were given N = 2, this one 3" -- \
	conv "$out" --part 1/3
expect_fail "--finish with other arguments" 1 "holds another conversion" -- \
	conv "$out" --finish --chunk-size 8192

# --part auto reads the launcher's environment.
out="$TMP/auto"
for k in 0 1; do
	RANK=$k WORLD_SIZE=2 conv "$out" --part auto || bad "torchrun variables"
done
conv "$out" --finish && same "$out" && ok "--part auto with RANK/WORLD_SIZE" ||
	bad "--part auto (torchrun)"
out="$TMP/auto2"
for k in 0 1 2; do
	env -u RANK -u WORLD_SIZE SLURM_PROCID=$k SLURM_NTASKS=3 \
		sh -c '"$0" "$@"' "$TD2HF" -q --model-name glm_moe_dsa --input "$E2E/$F/ckpt" \
		--hf-checkpoint "$E2E/$F/hf" --chunk-size 4096 --vocab-size 250 \
		--output "$out" --part auto
done
conv "$out" --finish && same "$out" && ok "--part auto with SLURM_PROCID/SLURM_NTASKS" ||
	bad "--part auto (Slurm)"
for v in "OMPI_COMM_WORLD_RANK=1 OMPI_COMM_WORLD_SIZE=2" "PMI_RANK=1 PMI_SIZE=2"; do
	# shellcheck disable=SC2086
	env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS $v "$TD2HF" \
		--arch qwen3 --input "$E2E/qwen3/ckpt" --output "$TMP/x" --part auto \
		2>"$TMP/err" >/dev/null
	grep -q "part 1/2 (${v%%=*}/" "$TMP/err" && ok "--part auto with ${v%%=*}" ||
		bad "--part auto with ${v%%=*}" "$(cat "$TMP/err")"
done
expect_fail "--part auto with no launcher" 2 "no launcher told this process its rank" -- \
	env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS -u OMPI_COMM_WORLD_RANK \
	-u OMPI_COMM_WORLD_SIZE -u PMI_RANK -u PMI_SIZE "$TD2HF" --arch qwen3 \
	--input "$E2E/qwen3/ckpt" --output "$TMP/y" --part auto
for bad_part in 4/4 1/0 a/2 1/ -1/2 1/2/3 99999999999/2; do
	expect_fail "--part $bad_part refused" 2 "--part" -- \
		"$TD2HF" --arch qwen3 --input "$E2E/qwen3/ckpt" --output "$TMP/y" --part "$bad_part"
done

# docs/parallel.md's recipes under real launchers, where installed: Open
# MPI's mpirun (OMPI_COMM_WORLD_RANK/_SIZE) and MPICH's mpiexec (PMI_RANK/
# PMI_SIZE) start 3 parts; --finish; byte-identical.
launch() { # name out command...
	name=$1 out=$2
	shift 2
	if "$@" "$TD2HF" -q --model-name glm_moe_dsa --input "$E2E/$F/ckpt" \
		--hf-checkpoint "$E2E/$F/hf" --chunk-size 4096 --vocab-size 250 \
		--output "$out" --part auto >"$TMP/err" 2>&1 &&
		conv "$out" --finish 2>>"$TMP/err" && same "$out"; then
		ok "$name -n 3 td2hf --part auto, then --finish: byte-identical"
	else
		bad "$name recipe" "$(tail -5 "$TMP/err")"
	fi
}
clean_env="env -u RANK -u WORLD_SIZE -u SLURM_PROCID -u SLURM_NTASKS"
if command -v mpirun.openmpi >/dev/null; then
	launch mpirun "$TMP/ompi" $clean_env mpirun.openmpi --allow-run-as-root \
		--oversubscribe -n 3
else
	echo "SKIP: mpirun (Open MPI) not installed"
fi
if command -v mpiexec.hydra >/dev/null; then
	launch mpiexec "$TMP/hydra" $clean_env mpiexec.hydra -n 3
else
	echo "SKIP: mpiexec (MPICH) not installed"
fi

# --resume: one process, resumable.
out="$TMP/res"
if paused shard-done -- conv "$out" --resume -j 1; then
	kill -KILL $pid; kill -CONT $pid 2>/dev/null; wait $job 2>/dev/null
fi
conv "$out" --resume && same "$out" && ok "--resume after SIGKILL: byte-identical" ||
	bad "--resume"
finish
