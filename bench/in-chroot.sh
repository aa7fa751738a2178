#!/bin/bash
# Run a python script of this repository inside the Debian chroot that has
# real torch (tests/fixtures/gen/run-in-chroot.sh), with DATA_DIR
# bind-mounted at the same path inside the chroot, so paths under it mean
# the same thing inside and outside.
#
# Usage (as root): bench/in-chroot.sh DATA_DIR SCRIPT.py [args...]
# Environment: TD2HF_CHROOT (default /work/chroot/trixie).
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
CHROOT=${TD2HF_CHROOT:-/work/chroot/trixie}

if [ $# -lt 2 ]; then
    echo "usage: $0 DATA_DIR SCRIPT.py [args...]" >&2
    exit 2
fi
if [ "$(id -u)" != 0 ]; then
    echo "error: must run as root (mount/chroot)" >&2
    exit 1
fi
mkdir -p "$1"
DATA=$(realpath "$1"); shift
case "$DATA" in
    /) echo "error: DATA_DIR must not be /" >&2; exit 1 ;;
esac

target="$CHROOT$DATA"
made_dir=""
mounted=""
cleanup() {
    if [ -n "$mounted" ]; then
        umount "$target" || echo "warning: could not unmount $target" >&2
    fi
    # remove the directories this run created (empty), innermost first
    if [ -n "$made_dir" ]; then
        local d=$target
        while :; do
            rmdir "$d" 2>/dev/null || break
            [ "$d" = "$made_dir" ] && break
            d=$(dirname "$d")
        done
    fi
}
trap cleanup EXIT

if ! mountpoint -q "$target"; then
    if [ ! -d "$target" ]; then
        made_dir=$target        # the outermost directory that is missing
        while [ ! -d "$(dirname "$made_dir")" ]; do
            made_dir=$(dirname "$made_dir")
        done
        mkdir -p "$target"
    fi
    mount --bind "$DATA" "$target"
    mounted=1
fi

"$REPO/tests/fixtures/gen/run-in-chroot.sh" "$@"
