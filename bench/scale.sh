#!/bin/bash
# Scale benchmark (issue 11): catalog and conversion at 10^3..10^6 chunks.
#
# Usage (as root, the Python parts run in the torch chroot):
#   bench/scale.sh DATA_DIR
# Generates what DATA_DIR lacks with bench/gen_scale_ckpt.py (checkpoints
# qwen-moe, dsv3, qwen-moe-optim-dp, qwen-moe-optim-full; metadata-only
# catalogs md-1e3 .. md-1e6), then prints, from this one run:
#   - per checkpoint: catalog parse time (td2hf inspect --metadata-only)
#     against torch's FileSystemReader.read_metadata() on the same file,
#     catalog and catalog+plan (--dry-run) peak RSS against the .metadata
#     size, conversion time and RSS, bytes read from the .distcp files
#     against the converted tensor bytes, and a cmp with the reference
#   - a table of catalog time and RSS from 10^3 to 10^6 chunks with the
#     time ratio of each 10x step
# Environment: TD2HF (default _build/td2hf, else _build/rel/td2hf),
# SCALE_REPS (default 3: best of), SCALE_SIZES (default "1e3 1e4 1e5 1e6"),
# SCALE_SHAPES (default "qwen-moe dsv3 qwen-moe-optim-dp qwen-moe-optim-full").
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
[ $# -eq 1 ] || { echo "usage: $0 DATA_DIR" >&2; exit 2; }
mkdir -p "$1"
DATA=$(realpath "$1")
REPS=${SCALE_REPS:-3}
SIZES=${SCALE_SIZES:-"1e3 1e4 1e5 1e6"}
SHAPES=${SCALE_SHAPES:-"qwen-moe dsv3 qwen-moe-optim-dp qwen-moe-optim-full"}
TD2HF=${TD2HF:-}
if [ -z "$TD2HF" ]; then
    for c in "$REPO/_build/td2hf" "$REPO/_build/rel/td2hf"; do
        [ -x "$c" ] && { TD2HF=$c; break; }
    done
fi
[ -x "${TD2HF:-}" ] || { echo "error: no td2hf binary (set TD2HF)" >&2; exit 1; }
SCRATCH="$DATA/scratch.$$"
trap 'rm -rf "$SCRATCH"' EXIT
mkdir -p "$SCRATCH"

gen() {  # NAME ARGS...: generate DATA/NAME once
    local name=$1; shift
    [ -e "$DATA/$name/ckpt/iter_0000100/.metadata" ] && return 0
    echo "generating $name ..." >&2
    "$HERE/in-chroot.sh" "$DATA" "$HERE/gen_scale_ckpt.py" "$DATA/$name" "$@" >&2
}

# best-of-REPS wall time (s, from bash's clock: GNU time's has 10 ms
# steps) and the largest peak RSS (KiB, from GNU time) of a command
measure() {
    local best="" rss=0 i t m t0 t1
    for ((i = 0; i < REPS; i++)); do
        t0=$EPOCHREALTIME
        /usr/bin/time -f "%M" -o "$SCRATCH/time" "$@" > /dev/null 2> "$SCRATCH/err" \
            || { cat "$SCRATCH/err" >&2; return 1; }
        t1=$EPOCHREALTIME
        t=$(awk -v a="$t0" -v b="$t1" 'BEGIN{printf "%.3f", b - a}')
        read -r m < "$SCRATCH/time"
        best=$(awk -v a="${best:-1e99}" -v b="$t" 'BEGIN{print (b < a) ? b : a}')
        if [ "$m" -gt "$rss" ]; then rss=$m; fi
    done
    echo "$best $rss"
}

torch_read_metadata() {  # ITER_DIR: best-of-REPS seconds of read_metadata()
    "$HERE/in-chroot.sh" "$DATA" "$HERE/read_metadata.py" "$1" "$REPS" 2>/dev/null | tail -1
}

# every byte a one-thread conversion reads from the .distcp files, split
# over the catalog's items (bench/io_account.py): "read R skipped S ..."
# best-of-REPS catalog and plan seconds measured inside td2hf (--stats of
# a --dry-run): the same work as torch's read_metadata() plus the args of
# common.pt, without process start-up or printing
catalog_time() {  # td2hf args...: "CATALOG_S PLAN_S"
    local i c p best_c="" best_p=""
    for ((i = 0; i < REPS; i++)); do
        "$@" --dry-run --stats -q 2>&1 >/dev/null |
            sed -n 's/.*catalog \([0-9.]*\) s.*plan \([0-9.]*\) s.*/\1 \2/p' > "$SCRATCH/st"
        read -r c p < "$SCRATCH/st"
        best_c=$(awk -v a="${best_c:-1e99}" -v b="$c" 'BEGIN{print (b < a) ? b : a}')
        best_p=$(awk -v a="${best_p:-1e99}" -v b="$p" 'BEGIN{print (b < a) ? b : a}')
    done
    echo "$best_c $best_p"
}

distcp_reads() {  # CATALOG_JSON td2hf args...
    local cat=$1; shift
    strace -qq -y -s 0 -e trace=read,pread64,copy_file_range \
        -e signal=none -o "$SCRATCH/strace" "$@" -j 1 > /dev/null 2>&1
    python3 "$HERE/io_account.py" "$SCRATCH/strace" "$cat"
}

ratio() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a / b; else print "inf" }'; }

echo "== td2hf scale benchmark  $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "machine: $(nproc) cores, $(awk '/MemTotal/{printf "%.1f GiB", $2/1048576}' /proc/meminfo), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "td2hf:   $TD2HF"
echo "timing:  best of $REPS runs; RSS: the largest peak of those runs"
echo

for s in $SHAPES; do
    case $s in
        qwen-moe) gen "$s" --shape qwen-moe --ranks 32 --threads 2 ;;
        dsv3) gen "$s" --shape dsv3 --ranks 4 --threads 16 ;;
        qwen-moe-optim-dp) gen "$s" --shape qwen-moe --optim dp --ranks 4 --threads 16 ;;
        qwen-moe-optim-full) gen "$s" --shape qwen-moe --optim full --ranks 4 --threads 16 ;;
    esac
done
for n in $SIZES; do
    gen "md-$n" --metadata-only "$(awk -v n="$n" 'BEGIN{printf "%d", n}')" --ranks 32 --threads 2
done

fail=0
echo "checkpoints (real torch DCP, 64 .distcp files: qwen-moe from 32 gloo ranks x 2 writer threads, the others 4 x 16):"
for s in $SHAPES; do
    d=$DATA/$s; it=$d/ckpt/iter_0000100
    md=$(stat -c %s "$it/.metadata")
    dist=$(cat "$it"/*.distcp | wc -c)
    read -r tc rc < <(measure "$TD2HF" inspect --metadata-only "$it")
    read -r ic ip < <(catalog_time "$TD2HF" --input "$it" --hf-checkpoint "$d/hf")
    read -r tp rp < <(measure "$TD2HF" --dry-run --input "$it" --hf-checkpoint "$d/hf")
    tt=$(torch_read_metadata "$it")
    rm -rf "$SCRATCH/out"
    read -r tv rv < <(measure sh -c 'rm -rf "$1"; exec "$2" -q --input "$3" --output "$1" --hf-checkpoint "$4"' \
        sh "$SCRATCH/out" "$TD2HF" "$it" "$d/hf")
    same=identical
    for f in "$d"/expected/*; do
        cmp -s "$f" "$SCRATCH/out/$(basename "$f")" || { same="DIFFERENT: $(basename "$f")"; fail=1; }
    done
    [ "$(ls "$d/expected" | wc -l)" = "$(ls "$SCRATCH/out" | wc -l)" ] || { same="DIFFERENT file lists"; fail=1; }
    conv=$(tr -d ' \n' < "$SCRATCH/out/model.safetensors.index.json" |
        sed 's/.*"total_size":\([0-9]*\).*/\1/')
    rm -rf "$SCRATCH/out"
    "$TD2HF" inspect --json --metadata-only "$it" > "$SCRATCH/cat.json"
    read -r _ rd _ sk _ _ < <(distcp_reads "$SCRATCH/cat.json" "$TD2HF" -q \
        --input "$it" --output "$SCRATCH/out" --hf-checkpoint "$d/hf")
    rm -rf "$SCRATCH/out"
    read -r _ rdnv _ sknv _ _ < <(distcp_reads "$SCRATCH/cat.json" "$TD2HF" -q \
        --no-verify --input "$it" --output "$SCRATCH/out" --hf-checkpoint "$d/hf")
    rm -rf "$SCRATCH/out"
    [ "$sk" = 0 ] && [ "$sknv" = 0 ] || fail=1
    skb=$(python3 -c '
import json,sys; ks=json.load(open(sys.argv[1]))["keys"]
print(sum(c["length"] for k in ks if k["skip"] for c in k["chunks"]))' "$SCRATCH/cat.json")
    nch=$(python3 -c '
import json,sys; j=json.load(sys.stdin); ks=j["keys"]
t=[k for k in ks if k["kind"] == "tensor"]; sk=[k for k in ks if k["skip"]]
print("%d keys (%d skipped), %d tensor chunks, %d storage items" % (len(ks), len(sk),
      sum(len(k["chunks"]) for k in t), sum(len(k["chunks"]) for k in ks)))' < "$SCRATCH/cat.json" 2>/dev/null || echo "?")
    echo "  $s: .metadata $md bytes; $nch; .distcp $dist bytes"
    echo "    catalog parse:   td2hf ${ic} s in-process (--stats) vs torch read_metadata ${tt} s = $(ratio "$tt" "$ic") x faster (target >= 10)"
    echo "                     as a process (inspect --metadata-only, start-up and printing included): ${tc} s = $(ratio "$tt" "$tc") x"
    echo "    plan:            ${ip} s in-process"
    echo "    catalog RSS:     $((rc / 1024)) MiB = $(ratio $((rc * 1024)) "$md") x .metadata"
    echo "    catalog+plan:    ${tp} s, RSS $((rp / 1024)) MiB = $(ratio $((rp * 1024)) "$md") x .metadata (target <= 3)"
    echo "    conversion:      ${tv} s, RSS $((rv / 1024)) MiB; output $same to the reference"
    echo "    bytes read (-j 1): $rd from .distcp = $(ratio "$rd" "$conv") x the $conv converted tensor bytes (the CRC check reads each chunk, then it is copied; archive headers)"
    echo "                     $rdnv with --no-verify = $(ratio "$rdnv" "$conv") x; all .distcp bytes = $(ratio "$dist" "$conv") x"
    echo "    skipped items:   $skb bytes of optimizer/_extra_state/rng items; read from them: $sk (--no-verify: $sknv) (target: 0)"
done
echo
echo "catalog scaling (metadata-only catalogs, 48 layers, experts scaled; td2hf inspect --metadata-only):"
printf "  %9s %12s %9s %9s %9s %9s %11s %9s %9s\n" chunks .metadata time_s inproc_s RSS_MiB RSS/md torch_s x_torch step_x
prev=""
for n in $SIZES; do
    it=$DATA/md-$n/ckpt/iter_0000100
    md=$(stat -c %s "$it/.metadata")
    ch=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["chunks"])' "$DATA/md-$n/scale.json")
    read -r t r < <(measure "$TD2HF" inspect --metadata-only "$it")
    read -r ic _ < <(catalog_time "$TD2HF" --model-name qwen3_moe --input "$it")
    tt=$(torch_read_metadata "$it")
    step=-
    if [ -n "$prev" ]; then step=$(ratio "$ic" "$prev"); fi
    printf "  %9s %12s %9s %9s %9s %9s %11s %9s %9s\n" "$ch" "$md" "$t" "$ic" $((r / 1024)) "$(ratio $((r * 1024)) "$md")" "$tt" "$(ratio "$tt" "$ic")" "$step"
    prev=$ic
done
echo "  (time_s: inspect --metadata-only as a process; inproc_s: the catalog inside td2hf (--stats),"
echo "   which x_torch compares with torch's read_metadata; step_x: inproc_s over the previous row's,"
echo "   for 10x the chunks; target <= 12)"
exit $fail
