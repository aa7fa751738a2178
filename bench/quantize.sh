#!/bin/bash
# The cost of FP8 export: `td2hf --quantize SCHEME` against the plain bf16
# conversion of the same checkpoint, run alternately in this one
# invocation; prints each one's median wall time and peak RSS and the
# ratio.  The plain conversion copies most tensors file to file
# (copy_file_range); a quantized weight is gathered into memory,
# quantized a tile row at a time and written.
#
# Usage:
#   bench/quantize.sh [DATA_DIR [SCHEME...]]   # default /work/bench-data fp8-block
#
# DATA_DIR is one bench/gen_bench_ckpt.py wrote (ckpt/, hf/; qwen3 rules).
# Environment: BENCH_REPS (default 3), BENCH_DROP (1: drop the page cache
# before every run, needs root; default 0: warm cache), TD2HF, RULES
# (default _build/release/td2hf and its rules/qwen3.mapbc), JOBS (-j,
# default the number of cores).  Scratch output goes to
# DATA_DIR/scratch-quantize.PID and is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DATA=$(realpath "${1:-/work/bench-data}")
shift || true
SCHEMES=("$@")
[ ${#SCHEMES[@]} -gt 0 ] || SCHEMES=(fp8-block)
REPS=${BENCH_REPS:-3}
DROP=${BENCH_DROP:-0}
TD2HF=${TD2HF:-$REPO/_build/release/td2hf}
RULES=${RULES:-$(dirname "$TD2HF")/rules/qwen3.mapbc}
JOBS=${JOBS:-$(nproc)}
OUT=$DATA/scratch-quantize.$$
trap 'rm -rf "$OUT"' EXIT

[ -x "$TD2HF" ] || { echo "quantize.sh: no $TD2HF (build it, or set TD2HF)" >&2; exit 1; }
[ -d "$DATA/ckpt" ] || { echo "quantize.sh: no $DATA/ckpt (bench/gen_bench_ckpt.py)" >&2; exit 1; }

# run ARGS...: one conversion; prints "SECONDS KB"
run() {
	rm -rf "$OUT"
	sync
	if [ "$DROP" = 1 ]; then echo 3 >/proc/sys/vm/drop_caches; fi
	/usr/bin/time -f '%e %M' -o "$OUT.time" "$TD2HF" -q --rules "$RULES" \
		--input "$DATA/ckpt" --output "$OUT" --hf-checkpoint "$DATA/hf" \
		-j "$JOBS" "$@"
	tail -n 1 "$OUT.time"
	rm -f "$OUT.time"
}

median() { printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A T M
names=(bf16 "${SCHEMES[@]}")
for ((i = 0; i < REPS; i++)); do
	for s in "${names[@]}"; do
		if [ "$s" = bf16 ]; then read -r t m < <(run); else read -r t m < <(run --quantize "$s"); fi
		T[$s]="${T[$s]:-} $t"
		M[$s]=$(( ${M[$s]:-0} > m ? ${M[$s]:-0} : m ))
	done
done
size=$(du -sb "$DATA/ckpt" | cut -f1)
echo "checkpoint $DATA/ckpt: $((size / 1048576)) MiB; $REPS runs each, -j $JOBS, page cache $([ "$DROP" = 1 ] && echo dropped || echo warm)"
# shellcheck disable=SC2086
base=$(median ${T[bf16]})
for s in "${names[@]}"; do
	# shellcheck disable=SC2086
	med=$(median ${T[$s]})
	printf '  %-12s median %6.2f s  peak RSS %5d MiB  (runs:%s)  %s\n' "$s" "$med" \
		"$((M[$s] / 1024))" "${T[$s]}" \
		"$(awk -v a="$med" -v b="$base" 'BEGIN { printf "%.2fx the bf16 conversion", a / b }')"
done
