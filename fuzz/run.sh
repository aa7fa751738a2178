#!/bin/sh
# Runs every fuzz target from seeds made of the real fixtures.
#   fuzz/run.sh SRCDIR BUILDDIR [RUNS]      (default 1000000 executions each)
# Crashing inputs land in BUILDDIR/fuzz/crashes/<target>/; commit each as a
# regression case under tests/fuzz-regressions/<target>/.
set -u
SRC=$1 BLD=$2 RUNS=${3:-1000000}
C=$BLD/fuzz/corpus
mkdir -p "$C/pickle" "$C/torchsave" "$C/metadata" "$C/mapbc" "$C/mapc"
cp "$SRC"/tests/fixtures/pickle/*.pkl "$C/pickle/"
cp "$SRC"/tests/fixtures/zip/*.zip "$C/torchsave/"
cp "$SRC"/tests/fixtures/ckpt/stacked/iter_0000100/common.pt "$C/torchsave/"
i=0
for m in "$SRC"/tests/fixtures/ckpt/*/iter_0000100/.metadata \
	"$SRC"/tests/fixtures/e2e/*/ckpt/iter_0000100/.metadata; do
	i=$((i + 1)); cp "$m" "$C/metadata/m$i"
done
cp "$SRC"/rules/*.map "$SRC"/tests/lang/*.map "$C/mapc/"
"$BLD/mapc" -I "$SRC/rules" -o "$BLD/fuzz/ops.mapbc" "$SRC/fuzz/seeds/ops.map"
# mapbc: each compiled rules file as is, and with parameter records in
# front (fuzz/vmharness.h): parameters 0 and 1 set to -1 and INT64_MIN
# (none), and parameter 2 to 2^62
for r in "$BLD"/rules/*.mapbc "$BLD/fuzz/ops.mapbc"; do
	b=$(basename "$r")
	cp "$r" "$C/mapbc/"
	{ printf '\002\000\377\377\377\377\377\377\377\377\001\000\000\000\000\000\000\000\200'
	  cat "$r"; } >"$C/mapbc/set2-$b"
	{ printf '\001\002\000\000\000\000\000\000\000\100'; cat "$r"; } >"$C/mapbc/set1-$b"
done
status=0
for t in pickle torchsave metadata mapbc mapc; do
	mkdir -p "$BLD/fuzz/crashes/$t"
	echo "== $t: $RUNS runs"
	"$BLD/fuzz/$t" -runs="$RUNS" -max_len=65536 -timeout=10 \
		-artifact_prefix="$BLD/fuzz/crashes/$t/" "$C/$t" 2>"$BLD/fuzz/$t.log"
	rc=$?
	tail -2 "$BLD/fuzz/$t.log"
	[ $rc -eq 0 ] || { echo "   FAILED (see $BLD/fuzz/$t.log)"; status=1; }
done
exit $status
