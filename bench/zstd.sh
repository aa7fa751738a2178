#!/bin/bash
# The cost of zstd items: td2hf converts the same checkpoint saved plain
# and through torch's ZStandard transform (bench/gen_zstd_ckpt.py, torch
# 2.14 in the sid chroot; generated once into DIR), checks that both
# outputs are identical, and prints the sizes, the best of N wall times of
# each and their ratio.
#
# Usage (as root for the generation): bench/zstd.sh [DIR] [N]
#   DIR default _build/bench-zstd, N default 3; TD2HF (default
#   _build/release/td2hf, else _build/check/td2hf), TD2HF_CHROOT (default
#   /work/chroot/sid), TD2HF_ARGS (e.g. "-j 4").
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
DIR=$(realpath -m "${1:-$REPO/_build/bench-zstd}")
N=${2:-3}
export TD2HF_CHROOT=${TD2HF_CHROOT:-/work/chroot/sid}
TD2HF=${TD2HF:-$REPO/_build/release/td2hf}
[ -x "$TD2HF" ] || TD2HF=$REPO/_build/check/td2hf
RULES=$(dirname "$TD2HF")/rules/qwen3.mapbc

if [ ! -f "$DIR/zstd/ckpt/iter_0000100/.metadata" ]; then
    mkdir -p "$DIR"
    "$HERE/in-chroot.sh" "$DIR" "$HERE/gen_zstd_ckpt.py" "$DIR" >"$DIR/gen.log" 2>&1 ||
        { tail -5 "$DIR/gen.log"; exit 1; }
fi

best() { # kind -> best wall seconds of N conversions
    local b="" t s e
    for _ in $(seq "$N"); do
        rm -rf "$DIR/out-$1"
        s=$(date +%s.%N)
        # shellcheck disable=SC2086
        "$TD2HF" -q --rules "$RULES" --input "$DIR/$1/ckpt" \
            --output "$DIR/out-$1" --hf-checkpoint "$DIR/$1/hf" ${TD2HF_ARGS:-}
        e=$(date +%s.%N)
        t=$(echo "$e - $s" | bc)
        if [ -z "$b" ] || [ "$(echo "$t < $b" | bc)" = 1 ]; then b=$t; fi
    done
    echo "$b"
}

plain=$(best plain)
zstd=$(best zstd)
diff -r "$DIR/out-plain" "$DIR/out-zstd" >/dev/null ||
    { echo "outputs differ" >&2; exit 1; }
sz() { du -sb "$DIR/$1/ckpt/iter_0000100" | cut -f1; }
printf 'checkpoint: plain %s bytes, zstd %s bytes (%.3f)\n' "$(sz plain)" "$(sz zstd)" \
    "$(echo "$(sz zstd) / $(sz plain)" | bc -l)"
printf 'td2hf%s: plain %.3f s, zstd %.3f s (best of %s): zstd/plain %.2f\n' \
    "${TD2HF_ARGS:+ $TD2HF_ARGS}" "$plain" "$zstd" "$N" "$(echo "$zstd / $plain" | bc -l)"
