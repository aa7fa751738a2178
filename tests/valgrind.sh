#!/bin/sh
# `make check-valgrind`: the command-line tests with every td2hf and mapc
# run under valgrind memcheck (any error or definite leak fails the run).
#   tests/valgrind.sh SRCDIR BUILDDIR
set -u
SRC=$1 BLD=$2
command -v valgrind >/dev/null || { echo "valgrind not found (apt-get install valgrind)"; exit 1; }
for tool in td2hf mapc; do
	cat >"$BLD/$tool-vg" <<WRAP
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$BLD/$tool" "\$@"
WRAP
	chmod +x "$BLD/$tool-vg"
done
status=0
for t in inspect errors mapc convert ops; do
	echo "== $t.sh under valgrind"
	TD2HF="$BLD/td2hf-vg" MAPC="$BLD/mapc-vg" SRCDIR="$SRC" sh "$SRC/tests/cli/$t.sh" >"$BLD/valgrind-$t.log" 2>&1 || status=1
	tail -1 "$BLD/valgrind-$t.log"
done
rm -f "$BLD/td2hf-vg" "$BLD/mapc-vg"
exit $status
