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
make -j"$(nproc)" td2hf mapc rules/qwen3.mapbc
cd ../..
E2E=tests/fixtures/e2e/qwen3
echo
echo "== td2hf inspect $E2E/ckpt   (what the checkpoint holds)"
_build/release/td2hf inspect "$E2E/ckpt" | head -30
echo "   ..."
echo
echo "== td2hf --rules qwen3.mapbc --input $E2E/ckpt --output _build/qwen3-hf"
_build/release/td2hf --rules _build/release/rules/qwen3.mapbc --input "$E2E/ckpt" \
	--output _build/qwen3-hf --hf-checkpoint "$E2E/hf" --force
ls -l _build/qwen3-hf
if diff -r "$E2E/expected/default" _build/qwen3-hf >/dev/null; then
	echo "== every file is byte-identical to what slime's converter writes ($E2E/expected/default)"
else
	echo "== output differs from $E2E/expected/default" >&2
	exit 1
fi
