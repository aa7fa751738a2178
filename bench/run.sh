#!/bin/bash
# td2hf benchmark: conversion time against `cp` of the same checkpoint on the
# same disk, against the disk's own write bandwidth (dd oflag=direct), and
# against slime's real converters (tools/convert_torch_dist_to_hf.py and its
# threaded convert_torch_dist_to_hf_parallel.py, run in the torch chroot by
# tests/fixtures/gen/slime_convert.py); peak RSS against the memory bound;
# where td2hf's time goes (--stats); and a byte-for-byte check of td2hf's
# output against slime's.  All ratios come from runs of this one invocation.
#
# Usage (as root, for drop_caches and the chroot):
#   bench/in-chroot.sh DATA_DIR bench/gen_bench_ckpt.py DATA_DIR   # once
#   bench/run.sh [DATA_DIR]                                        # default /work/bench-data
#
# Environment:
#   BENCH_REPS      runs of each cp / td2hf measurement (default 5, min 2)
#   BENCH_PY_REPS   runs of each slime converter (default 1)
#   BENCH_SETTLE    seconds to wait after sync before each run (default 2;
#                   lets the deletes of the previous outputs settle)
#   BENCH_DROP      1: drop the page cache before every run (default 1 when
#                   root), 0: keep it (warm-cache figures)
#   TD2HF, RULES    binary and rules (default _build/td2hf, _build/rules/qwen3.mapbc)
#   TD2HF_CHROOT    the torch chroot (see tests/fixtures/gen/run-in-chroot.sh)
#
# Every timed command is followed by `sync` inside the timing, so that each
# figure includes writing its output back to disk (td2hf fdatasyncs its
# shards itself; cp and safetensors do not).  Scratch output goes to
# DATA_DIR/scratch.PID (same disk as the input) and is removed on exit.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DATA=$(realpath "${1:-/work/bench-data}")
REPS=${BENCH_REPS:-5}
PY_REPS=${BENCH_PY_REPS:-1}
SETTLE=${BENCH_SETTLE:-2}
TD2HF=${TD2HF:-$REPO/_build/td2hf}
RULES=${RULES:-$REPO/_build/rules/qwen3.mapbc}
[ "$REPS" -ge 2 ] || REPS=2
[ "$PY_REPS" -ge 1 ] || PY_REPS=1

die() { echo "run.sh: $*" >&2; exit 1; }

[ -d "$DATA/ckpt" ] || die "$DATA/ckpt missing (generate it: bench/in-chroot.sh $DATA bench/gen_bench_ckpt.py $DATA)"
ITER=$DATA/ckpt/iter_$(printf %07d "$(cat "$DATA/ckpt/latest_checkpointed_iteration.txt")")
HF=$DATA/hf
[ -f "$ITER/.metadata" ] || die "$ITER/.metadata missing"
[ -x "$TD2HF" ] || die "$TD2HF missing (make -C _build td2hf mapc)"
[ -f "$RULES" ] || die "$RULES missing"
[ -x /usr/bin/time ] || die "/usr/bin/time missing (apt-get install time)"
command -v jq >/dev/null || die "jq missing"
[ "$(id -u)" = 0 ] || die "must run as root (chroot for the Python pipeline)"

DROP=${BENCH_DROP:-1}
if [ "$DROP" = 1 ] && ! { sync && echo 3 > /proc/sys/vm/drop_caches; } 2>/dev/null; then
    DROP=0
    echo "note: cannot write /proc/sys/vm/drop_caches; running with a warm cache" >&2
fi

SCRATCH=$DATA/scratch.$$
mkdir "$SCRATCH"
cleanup() { rm -rf "$SCRATCH"; }
trap cleanup EXIT
trap 'exit 130' INT TERM

# Private copies: the binary and rules under test must not change between
# runs of one invocation (others may rebuild _build/ meanwhile).
TD2HF_SRC=$TD2HF
TD2HF_ID="$(cd "$REPO" && git describe --always --dirty 2>/dev/null || echo '?'), built $(date -u -r "$TD2HF" +%Y-%m-%dT%H:%M:%SZ)"
cp "$TD2HF" "$SCRATCH/td2hf"
cp "$RULES" "$SCRATCH/rules.${RULES##*.}"
TD2HF=$SCRATCH/td2hf
RULES_NAME=$(basename "$RULES")
RULES=$SCRATCH/rules.${RULES##*.}

f2() { awk -v x="$1" 'BEGIN { printf "%.2f", x }'; }
fdiv() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a / b }'; }
mbps() { awk -v b="$1" -v t="$2" 'BEGIN { printf "%.0f", b / 1e6 / t }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }
now() { date +%s.%N; }

prep() {   # before every measurement
    sync
    sleep "$SETTLE"
    if [ "$DROP" = 1 ]; then echo 3 > /proc/sys/vm/drop_caches; fi
}

# measure OUTVAR_PREFIX cmd...: wall seconds of `cmd; sync` -> ${P}_T,
# peak RSS of cmd (KiB, GNU time: the largest process of its tree) -> ${P}_RSS
measure() {
    local p=$1; shift
    local t0 t1 rc=0
    prep
    t0=$(now)
    /usr/bin/time -f "%M %P" -o "$SCRATCH/rss" "$@" > "$SCRATCH/out" 2> "$SCRATCH/err" || rc=$?
    sync
    t1=$(now)
    if [ $rc != 0 ] && [ -z "${MAY_FAIL:-}" ]; then
        echo "FAILED ($rc): $*" >&2
        cat "$SCRATCH/err" >&2
        exit 1
    fi
    printf -v "${p}_RC" %s "$rc"
    printf -v "${p}_T" %s "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')"
    read -r rss cpu < <(tail -n 1 "$SCRATCH/rss")
    printf -v "${p}_RSS" %s "$rss"
    printf -v "${p}_CPU" %s "${cpu%\%}"
}

# stats NAME times...: sets BEST, MED and prints "name: best X s, median Y s (runs: ...)"
stats() {
    local name=$1; shift
    local sorted
    sorted=$(printf '%s\n' "$@" | sort -g)
    BEST=$(echo "$sorted" | head -n 1)
    MED=$(echo "$sorted" | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else printf "%.3f\n", (a[NR / 2] + a[NR / 2 + 1]) / 2 }')
    printf '  %-32s best %7.2f s   median %7.2f s   (runs: %s)\n' "$name" "$BEST" "$MED" "$*"
}

# ------------------------------------------------------------------ facts
sumsize() { find "$@" -printf '%s\n' | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
DISTCP_BYTES=$(sumsize "$ITER" -maxdepth 1 -name '*.distcp')
ITER_BYTES=$(sumsize "$ITER" -maxdepth 1 -type f)
INSPECT=$("$TD2HF" inspect --json --metadata-only "$ITER")
# the largest tensor converted at once: the largest output (td2hf's plan;
# a stacked key is converted a layer at a time)
LARGEST=$("$TD2HF" --dry-run --rules "$RULES" --input "$ITER" --hf-checkpoint "$HF" 2>/dev/null |
    awk '$1 == "->" { sz = ($3 ~ /^(F32|I32|U32)$/) ? 4 : ($3 ~ /^(F64|I64|U64)$/) ? 8 : ($3 ~ /^(F8|I8|U8|BOOL)/) ? 1 : 2
        shape = $4; for (i = 5; i <= NF && shape !~ /\]$/; i++) shape = shape $i
        n = shape; gsub(/[\[\]]/, "", n); k = split(n, d, ","); b = sz; for (j = 1; j <= k; j++) b *= d[j]
        if (b > best) { best = b; name = $2; dims = n; dt = $3 } }
        END { gsub(/,/, "x", dims); printf "%.0f %s %s %s\n", best, name, dims, dt }')
LARGEST_BYTES=${LARGEST%% *}
NKEYS=$(echo "$INSPECT" | jq '[.keys[] | select(.kind == "tensor" and .skip == null)] | length')
JOBS_DEFAULT=$(nproc)
# Extra td2hf variants (default -j), run when the binary has the option:
# they show what the file-to-file copy and the CRC check cost.
EXTRA_OPTS=()
for o in --no-direct-copy --no-verify; do
    if "$TD2HF" --help 2>&1 | grep -q -- "$o"; then EXTRA_OPTS+=("$o"); fi
done

echo "== td2hf benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine:    $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')), $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo) RAM, kernel $(uname -r)"
LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
dev=$(df --output=source "$DATA" | tail -n 1)
blk=$(basename "$dev")
rot=$(cat "/sys/block/$blk/queue/rotational" 2>/dev/null || echo "?")
echo "disk:       $dev ($(df --output=fstype "$DATA" | tail -n 1)), rotational=$rot, $(df -h --output=avail "$DATA" | tail -n 1 | tr -d ' ') free"
echo "td2hf:      $TD2HF_SRC (tree $TD2HF_ID), rules $RULES_NAME"
echo "checkpoint: $ITER"
echo "            $NKEYS tensors to convert, $(mib "$DISTCP_BYTES") MiB in .distcp files ($DISTCP_BYTES bytes; iter dir $ITER_BYTES bytes)"
echo "            largest tensor: ${LARGEST#* } = $(mib "$LARGEST_BYTES") MiB"
if [ "$DROP" = 1 ]; then
    echo "page cache: dropped (sync; echo 3 > /proc/sys/vm/drop_caches) before every run"
else
    echo "page cache: NOT dropped (warm-cache figures)"
fi
echo "load:       $LOAD0 (1/5/15-min load average before the runs; other work on the machine skews the figures)"
echo "timing:     wall clock of 'command; sync'; $REPS runs each, interleaved (slime: $PY_REPS runs);"
echo "            ratios from the best (minimum) times, with the ratio of medians in brackets"
echo

# ------------------------------------------------------------------ runs
# td2hf variants: label and extra arguments; V_TS[i] = times, V_RSS[i] = max
# RSS, V_CPU[i] = CPU% (GNU time) of each run
V_LABEL=("td2hf -j $JOBS_DEFAULT (default)" "td2hf -j 1")
V_ARGS=("" "-j 1")
for o in "${EXTRA_OPTS[@]}"; do
    V_LABEL+=("td2hf -j $JOBS_DEFAULT $o"); V_ARGS+=("$o")
done
NV=${#V_LABEL[@]}
V_TS=() V_RSS=() V_CPU=()
for ((i = 0; i < NV; i++)); do V_TS[i]=""; V_RSS[i]=0; V_CPU[i]=""; done
CP_TS=() CP_CPUS=""
OUT_BYTES=0
TDARGS=(--rules "$RULES" --input "$DATA/ckpt" --hf-checkpoint "$HF")
for ((r = 1; r <= REPS; r++)); do
    echo "run $r/$REPS ..." >&2
    measure CP cp -r "$ITER" "$SCRATCH/cp"
    CP_TS+=("$CP_T"); CP_CPUS+="$CP_CPU "; rm -rf "$SCRATCH/cp"

    for ((i = 0; i < NV; i++)); do
        # shellcheck disable=SC2086  # V_ARGS holds plain words
        measure TD "$TD2HF" "${TDARGS[@]}" ${V_ARGS[i]} --stats --output "$SCRATCH/td"
        V_TS[i]+="$TD_T "
        V_CPU[i]+="$TD_CPU "
        [ "$TD_RSS" -gt "${V_RSS[i]}" ] && V_RSS[i]=$TD_RSS
        if [ $i = 0 ]; then STATS_RUNS+="    run $r ($TD_T s): $(grep '^td2hf: time: writing' "$SCRATCH/err" | sed 's/^td2hf: time: writing, summed over threads: //')"$'\n'; fi
        if [ $r = 1 ] && [ $i = 0 ]; then
            OUT_BYTES=$(sumsize "$SCRATCH/td" -maxdepth 1 -name '*.safetensors')
            SUMMARY=$(grep '^td2hf: wrote' "$SCRATCH/err" || true)
            NSHARDS=$(find "$SCRATCH/td" -maxdepth 1 -name '*.safetensors' | wc -l)
            mv "$SCRATCH/td" "$SCRATCH/td-keep"
        else
            rm -rf "$SCRATCH/td"
        fi
    done
done

# The disk's own write bandwidth for as many bytes, bypassing the page
# cache: what no copy can beat once its data must reach the disk.
DD_BEST=""
DD_COUNT=$(( (OUT_BYTES + 67108863) / 67108864 ))
for ((r = 1; r <= 2; r++)); do
    measure DD dd if=/dev/zero of="$SCRATCH/dd" bs=64M count="$DD_COUNT" oflag=direct status=none
    rm -f "$SCRATCH/dd"
    DD_BEST=$(awk -v a="${DD_BEST:-1e99}" -v b="$DD_T" 'BEGIN { print (b < a) ? b : a }')
done
DD_BYTES=$((DD_COUNT * 67108864))

# slime's converters, unchanged, in the torch chroot
S_TOOLS=(convert_torch_dist_to_hf.py convert_torch_dist_to_hf_parallel.py)
S_BEST=() S_RSS=() S_NOTE=()
for ((k = 0; k < ${#S_TOOLS[@]}; k++)); do
    S_BEST[k]="" S_RSS[k]=0 S_NOTE[k]=""
    for ((r = 1; r <= PY_REPS; r++)); do
        echo "slime ${S_TOOLS[k]} run $r/$PY_REPS ..." >&2
        rm -rf "$SCRATCH/slime$k"
        MAY_FAIL=1 measure PY "$HERE/in-chroot.sh" "$DATA" \
            "$REPO/tests/fixtures/gen/slime_convert.py" --tool "${S_TOOLS[k]}" \
            --model-name qwen3 --input-dir "$ITER" --output-dir "$SCRATCH/slime$k" \
            --origin-hf-dir "$HF"
        if [ "$PY_RC" != 0 ]; then
            S_NOTE[k]="failed (exit $PY_RC): $(grep -v '^\s' "$SCRATCH/err" | grep -E 'Error|error' | tail -n 1)"
            break
        fi
        S_BEST[k]=$(awk -v a="${S_BEST[k]:-1e99}" -v b="$PY_T" 'BEGIN { print (b < a) ? b : a }')
        [ "$PY_RSS" -gt "${S_RSS[k]}" ] && S_RSS[k]=$PY_RSS
    done
done

# ------------------------------------------------------------------ report
median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
echo "times (input: $(mib "$DISTCP_BYTES") MiB of .distcp; output: $(mib "$OUT_BYTES") MiB of safetensors in $NSHARDS shard(s)):"
stats "cp -r iter dir" "${CP_TS[@]}"; CP_BEST=$BEST CP_MED=$MED
V_BEST=() V_MED=()
for ((i = 0; i < NV; i++)); do
    # shellcheck disable=SC2086
    stats "${V_LABEL[i]}" ${V_TS[i]}; V_BEST[i]=$BEST V_MED[i]=$MED
done
printf '  %-32s best %7.2f s   (%s MiB, dd oflag=direct)\n' "disk write limit" "$DD_BEST" "$(mib "$DD_BYTES")"
for ((k = 0; k < ${#S_TOOLS[@]}; k++)); do
    if [ -n "${S_BEST[k]}" ]; then
        printf '  %-32s best %7.2f s   (%s run(s))\n' "slime ${S_TOOLS[k]%.py}" "${S_BEST[k]}" "$PY_REPS"
    else
        printf '  %-32s %s\n' "slime ${S_TOOLS[k]%.py}" "${S_NOTE[k]}"
    fi
done
[ -n "${SUMMARY:-}" ] && echo "  $SUMMARY"
echo

echo "throughput (best run; MB = 10^6 bytes; in = .distcp bytes, out = safetensors bytes):"
tp() { printf '  %-32s in %6s MB/s   out %6s MB/s\n' "$1" "$(mbps "$DISTCP_BYTES" "$2")" "$(mbps "$OUT_BYTES" "$2")"; }
printf '  %-32s    %6s MB/s (iter dir bytes)\n' "cp -r" "$(mbps "$ITER_BYTES" "$CP_BEST")"
for ((i = 0; i < NV; i++)); do tp "${V_LABEL[i]}" "${V_BEST[i]}"; done
printf '  %-32s    %6s MB/s (written)\n' "disk write limit" "$(mbps "$DD_BYTES" "$DD_BEST")"
for ((k = 0; k < ${#S_TOOLS[@]}; k++)); do
    [ -n "${S_BEST[k]}" ] && tp "slime ${S_TOOLS[k]%.py}" "${S_BEST[k]}"
done
echo

verdict() { awk -v x="$1" -v t="$2" 'BEGIN { print (x >= t) ? "met" : "NOT met" }'; }
echo "ratios (this invocation; best/best [median/median]):"
for ((i = 0; i < NV; i++)); do
    r=$(fdiv "$CP_BEST" "${V_BEST[i]}")
    line="  ${V_LABEL[i]}: td2hf speed = $r × cp+sync [$(fdiv "$CP_MED" "${V_MED[i]}")]"
    [ $i = 0 ] && line+="   (target >= 0.9: $(verdict "$r" 0.9))"
    echo "$line"
done
echo "  td2hf -j $JOBS_DEFAULT output rate = $(fdiv "$(mbps "$OUT_BYTES" "${V_BEST[0]}")" "$(mbps "$DD_BYTES" "$DD_BEST")") × the disk write limit; cp+sync = $(fdiv "$(mbps "$ITER_BYTES" "$CP_BEST")" "$(mbps "$DD_BYTES" "$DD_BEST")") ×"
for ((k = 0; k < ${#S_TOOLS[@]}; k++)); do
    [ -n "${S_BEST[k]}" ] && echo "  td2hf -j $JOBS_DEFAULT = $(fdiv "${S_BEST[k]}" "${V_BEST[0]}") × slime ${S_TOOLS[k]%.py}"
done
echo "  -j $JOBS_DEFAULT is $(fdiv "${V_BEST[1]}" "${V_BEST[0]}") × as fast as -j 1 [$(fdiv "${V_MED[1]}" "${V_MED[0]}")]"
echo

echo "CPU (GNU time: CPU% of the process tree, median over runs; 100% = one core of $(nproc)):"
# shellcheck disable=SC2086
printf '  %-32s %s%%\n' "cp -r" "$(median $CP_CPUS)"
for ((i = 0; i < NV; i++)); do
    # shellcheck disable=SC2086
    printf '  %-32s %s%%\n' "${V_LABEL[i]}" "$(median ${V_CPU[i]})"
done
echo "where td2hf -j $JOBS_DEFAULT's writing time goes (--stats, seconds summed over its threads):"
printf '%s' "${STATS_RUNS:-}"
echo

TARGET=$((2 * LARGEST_BYTES + 64 * 1048576))
echo "peak RSS (GNU time, maximum over runs):"
holds() { [ $(( $1 * 1024 )) -le "$TARGET" ] && echo holds || echo "does NOT hold"; }
echo "  largest tensor ${LARGEST#* }: $(mib "$LARGEST_BYTES") MiB;  target 2 × largest + 64 MiB = $(mib "$TARGET") MiB"
for ((i = 0; i < NV; i++)); do
    echo "  ${V_LABEL[i]}: $(mib $((V_RSS[i] * 1024))) MiB  -> $(holds "${V_RSS[i]}")  ($(fdiv $((V_RSS[i] * 1024)) "$LARGEST_BYTES") × largest)"
done
for ((k = 0; k < ${#S_TOOLS[@]}; k++)); do
    [ -n "${S_BEST[k]}" ] && echo "  slime ${S_TOOLS[k]%.py}: $(mib $((S_RSS[k] * 1024))) MiB  ($(fdiv $((S_RSS[k] * 1024)) "$DISTCP_BYTES") × checkpoint)"
done
echo

echo "output check (td2hf -j $JOBS_DEFAULT, run 1, vs slime's convert_torch_dist_to_hf.py, cmp of every file):"
A=$SCRATCH/td-keep B=$SCRATCH/slime0
if [ -z "${S_BEST[0]}" ]; then
    echo "  RESULT: not checked (slime's converter ${S_NOTE[0]})"
    exit 1
fi
la=$(cd "$A" && find . -type f | sort) lb=$(cd "$B" && find . -type f | sort)
ok=1
if [ "$la" != "$lb" ]; then
    ok=0
    echo "  file lists differ:"
    diff <(echo "$la") <(echo "$lb") | sed 's/^/    /' || true
fi
n=0
while IFS= read -r f; do
    [ -f "$B/$f" ] || continue
    n=$((n + 1))
    if cmp -s "$A/$f" "$B/$f"; then
        printf '    same     %s (%s bytes)\n' "${f#./}" "$(stat -c %s "$A/$f")"
    else
        ok=0
        printf '    DIFFERS  %s: %s\n' "${f#./}" "$(cmp "$A/$f" "$B/$f" 2>&1 | head -n 1)"
    fi
done <<< "$la"
if [ $ok = 1 ]; then
    echo "  RESULT: byte-identical ($n files)"
else
    echo "  RESULT: OUTPUTS DIFFER"
fi
echo "load average after the runs: $(cut -d' ' -f1-3 /proc/loadavg)"
[ $ok = 1 ]
