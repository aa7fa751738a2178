#!/bin/sh
# Builds the libFuzzer targets with clang (Debian: clang-14 and
# libclang-rt-14-dev), ASan and UBSan: `make fuzz` runs this.
#   fuzz/build.sh SRCDIR BUILDDIR     -> BUILDDIR/fuzz/<target>
# FUZZ_LIBS: the libraries configure found (libzstd, ISA-L), as make passes.
set -eu
SRC=$1 BLD=$2
CC=${FUZZ_CC:-clang}
command -v "$CC" >/dev/null || { echo "fuzz: $CC not found (apt-get install clang libclang-rt-14-dev)" >&2; exit 1; }
[ -f "$BLD/grammar/parser.c" ] || { echo "fuzz: build td2hf first (make)" >&2; exit 1; }
mkdir -p "$BLD/fuzz"
FLAGS="-g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined \
 -std=c11 -D_XOPEN_SOURCE=700 -I$SRC -I$BLD -I$SRC/src"
COMMON="$SRC/src/common/err.c $SRC/src/common/arena.c $SRC/src/common/file.c \
 $SRC/src/common/crc32.c $SRC/src/common/shape.c $SRC/src/common/map.c \
 $SRC/src/common/intops.c $SRC/src/common/dtype.c $SRC/src/common/grow.c"
READER="$SRC/src/reader/pickle.c $SRC/src/reader/pickle_value.c $SRC/src/reader/zip.c \
 $SRC/src/reader/torchsave.c $SRC/src/reader/dcp.c \
 $SRC/src/reader/tiling.c $SRC/src/reader/xform.c"
LANG="$SRC/src/lang/source.c $SRC/src/lang/ast.c $SRC/src/lang/program.c \
 $SRC/src/lang/validate.c $SRC/src/lang/disasm.c $SRC/src/lang/builder.c \
 $SRC/src/lang/compile.c $SRC/src/lang/codegen.c $SRC/src/lang/opdef.c \
 $SRC/src/lang/shadow.c $SRC/src/lang/tree.c $BLD/grammar/parser.c $BLD/grammar/lexer.c"
build() { # target sources...
	t=$1; shift
	echo "  FUZZ     fuzz/$t"
	# shellcheck disable=SC2086
	$CC $FLAGS -o "$BLD/fuzz/$t" "$SRC/fuzz/$t.c" "$@" -Wno-unused-function \
		${FUZZ_LIBS:-}
}
build pickle $COMMON $READER
build torchsave $COMMON $READER
build metadata $COMMON $READER
# mapbc runs the VM and the plan too (fuzz/vmharness.c) on fixtures under
# the source tree
VMPLAN="$SRC/src/reader/args.c $SRC/src/reader/checkpoint.c \
 $SRC/src/vm/match.c $SRC/src/vm/vm.c $SRC/src/vm/ops.c $SRC/src/plan/params.c \
 $SRC/src/plan/plan.c $SRC/src/plan/header.c $SRC/src/plan/print.c \
 $SRC/src/plan/origin.c $SRC/src/plan/quant.c $SRC/src/plan/quantize.c \
 $SRC/fuzz/vmharness.c"
build mapbc $COMMON $READER $SRC/src/lang/program.c \
	$SRC/src/lang/validate.c $SRC/src/lang/disasm.c $VMPLAN \
	-DTD_SRCDIR="\"$SRC\"" $(pkg-config --cflags --libs libcjson)
build mapc $COMMON $LANG
