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

. "$REPO/tests/fixtures/gen/chroot-mounts.sh"
mounts_begin
bind "$DATA" "$CHROOT$DATA"

"$REPO/tests/fixtures/gen/run-in-chroot.sh" "$@"
