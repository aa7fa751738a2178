#!/bin/sh
# One command from a fresh clone: install build dependencies (apt), build
# td2hf, and run it on the sample checkpoint shipped in tests/fixtures.
set -eu
cd "$(dirname "$0")"
scripts/install-deps.sh
[ -x configure ] || autoreconf -fi
mkdir -p _build/release
cd _build/release
[ -f Makefile ] || ../../configure --quiet
make -j"$(nproc)" td2hf
echo
echo "== ./_build/release/td2hf inspect tests/fixtures/ckpt/stacked"
./td2hf inspect ../../tests/fixtures/ckpt/stacked
