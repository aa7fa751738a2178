#!/bin/bash
# ab.sh — two td2hf builds (and cp -r) run alternately on one checkpoint:
# on a machine whose write speed swings x2 from minute to minute, only
# runs interleaved like this can be compared.
#
#   bench/ab.sh DATA_DIR OLD_TD2HF NEW_TD2HF [ROUNDS]     (default 12 rounds)
#
# DATA_DIR is a gen_bench_ckpt.py directory (ckpt/, hf/); the rules are
# RULES (default: NEW's build tree, rules/qwen3.mapbc).  Each round runs
# `cp -r ckpt` and both conversions (default -j, --stats; extra options in
# TD2HF_ARGS), each followed by `sync`, with the output removed and synced
# away before each; six rounds take the three in each of their six orders
# (use a multiple of 6).  Printed: best
# and median time of each, GNU time's CPU% and --stats' CPU cores
# (medians), and round by round NEW's time over OLD's and over cp's.
set -eu
[ $# -ge 3 ] || { sed -n '2,15p' "$0"; exit 2; }
DATA=$1 OLD=$2 NEW=$3 ROUNDS=${4:-12}
RULES=${RULES:-$(dirname "$NEW")/rules/qwen3.mapbc}
SCRATCH=$DATA/scratch-ab.$$
LOG=$SCRATCH/log
mkdir -p "$SCRATCH"
trap 'rm -rf "$SCRATCH"' EXIT
LABEL=(cp old new)
TDARGS="--rules '$RULES' --input '$DATA/ckpt' --hf-checkpoint '$DATA/hf' --stats ${TD2HF_ARGS:-} --output '$SCRATCH/out'"
CMD=("cp -r '$DATA/ckpt' '$SCRATCH/out'" "'$OLD' $TDARGS" "'$NEW' $TDARGS")
# every order of the three in turn: a run after cp (whose freed page cache
# the next run's writes allocate again) is not always the same one's
ORDERS=("0 1 2" "1 2 0" "2 0 1" "0 2 1" "2 1 0" "1 0 2")
for r in $(seq "$ROUNDS"); do
	for i in ${ORDERS[$(((r - 1) % 6))]}; do
		rm -rf "$SCRATCH/out"
		sync
		/usr/bin/time -f '%e %P' -o "$SCRATCH/time" bash -c \
			"${CMD[i]} >/dev/null 2>'$SCRATCH/err' && sync" ||
			{ cat "$SCRATCH/err" >&2; exit 1; }
		cores=$(sed -n 's/.*; CPU \([0-9.]*\) cores.*/\1/p' "$SCRATCH/err")
		echo "$r ${LABEL[i]} $(tail -1 "$SCRATCH/time" | tr -d %) ${cores:--}" >>"$LOG"
	done
done
rm -rf "$SCRATCH/out"
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
echo "== bench/ab.sh $DATA, $ROUNDS rounds (old: $OLD; new: $NEW; args: ${TD2HF_ARGS:--})"
for l in "${LABEL[@]}"; do
	ts=$(awk -v l="$l" '$2 == l { print $3 }' "$LOG")
	printf '  %-4s best %5.2f s  median %5.2f s  CPU %3s%% (time)  %s cores (--stats)  runs: %s\n' \
		"$l" "$(echo "$ts" | sort -n | head -1)" "$(echo "$ts" | median)" \
		"$(awk -v l="$l" '$2 == l { print $4 }' "$LOG" | median)" \
		"$(awk -v l="$l" '$2 == l { print $5 }' "$LOG" | median)" "$(echo $ts)"
done
for pair in "new old" "new cp" "old cp"; do
	set -- $pair
	awk -v a="$1" -v b="$2" '$2 == a { x[$1] = $3 } $2 == b { y[$1] = $3 }
		END { for (r in x) print x[r] / y[r] }' "$LOG" | sort -n |
	awk -v p="$1/$2" '{ a[NR] = $1; w += $1 < 1 }
		END { printf "  %-7s per round: median %.2f (%.2f-%.2f), %d of %d rounds below 1\n",
		      p, a[int((NR + 1) / 2)], a[1], a[NR], w, NR }'
done
