#!/bin/sh
# bench/parts.sh DATA_DIR [CHUNK_SIZE] — one process against N parts on the
# same checkpoint, interleaved, best of 3, in one run; prints ratios.
#
# DATA_DIR holds ckpt/ (a Megatron save dir or iteration dir), hf/ and
# scale.json (model_name; or set MODEL), as bench/gen_scale_ckpt.py and
# bench/gen_bench_ckpt.py write them.  Each
# part repeats the catalog and the plan, so with many keys and few bytes
# (the scale checkpoints) this measures what splitting costs; with many
# bytes it measures what it gains.  Every output is compared with the
# single run's.
set -eu
DATA=$1
CHUNK=${2:-64M}
TD2HF=${TD2HF:-_build/rel/td2hf}
MODEL=${MODEL:-$(sed -n 's/.*"model_name": *"\([^"]*\)".*/\1/p' "$DATA/scale.json" 2>/dev/null)}
SCRATCH=$(mktemp -d "$DATA/../parts-bench.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
args() { echo --input "$DATA/ckpt" --hf-checkpoint "$DATA/hf" --model-name "$MODEL" \
	--chunk-size "$CHUNK" -q --output "$1"; }
now() { date +%s.%N; }
single() { # out
	# shellcheck disable=SC2046
	"$TD2HF" $(args "$1") -j 2
}
parts() { # out n
	k=0
	while [ "$k" -lt "$2" ]; do
		# shellcheck disable=SC2046
		"$TD2HF" $(args "$1") -j 1 --part "$k/$2" &
		k=$((k + 1))
	done
	wait
	# shellcheck disable=SC2046
	"$TD2HF" $(args "$1") --finish
}
best_single=999999 best_2=999999 best_4=999999
for round in 1 2 3; do
	for what in single 2 4; do
		out="$SCRATCH/$what-$round"
		t0=$(now)
		if [ "$what" = single ]; then single "$out"; else parts "$out" "$what"; fi
		t=$(echo "$(now) - $t0" | bc)
		[ "$what" = single ] || diff -r "$SCRATCH/single-1" "$out" >/dev/null ||
			{ echo "error: $what parts differ from the single run" >&2; exit 1; }
		eval "b=\$best_$what"
		[ "$(echo "$t < $b" | bc)" = 1 ] && eval "best_$what=$t"
		[ "$round" = 1 ] && [ "$what" = single ] || rm -rf "$out"
	done
done
shards=$(ls "$SCRATCH/single-1" | grep -c safetensors$)
echo "checkpoint $DATA: $shards shards of at most $CHUNK, best of 3, interleaved"
printf "  single process (-j 2)      %.3f s\n" "$best_single"
printf "  2 parts (-j 1) + --finish  %.3f s   %.2f x the single run's time\n" "$best_2" "$(echo "$best_2 / $best_single" | bc -l)"
printf "  4 parts (-j 1) + --finish  %.3f s   %.2f x the single run's time\n" "$best_4" "$(echo "$best_4 / $best_single" | bc -l)"
echo "  every output byte-identical to the single run's"
