#!/bin/sh
# The test command: builds td2hf with AddressSanitizer and UBSan in
# _build/check, runs every test (`make check`), then the threaded
# conversions under ThreadSanitizer (`make check-tsan`, its own build in
# _build/tsan), then `make distcheck` with a plain build.  Ends with one
# summary line: "N passed, N failed".
set -u
cd "$(dirname "$0")"
scripts/install-deps.sh --tests || exit 1
[ -x configure ] || autoreconf -fi || exit 1
mkdir -p _build/check
(cd _build/check && { [ -f Makefile ] || ../../configure --quiet --enable-sanitizers; } &&
	make -j"$(nproc)" check) 
status=$?
(cd _build/check && make check-tsan TSAN_BUILD="$PWD/../tsan" >/dev/null 2>&1) ||
	{ cat _build/tsan/threads.log 2>/dev/null; echo "check-tsan FAILED"; status=1; }
for log in _build/check/tests/unit/unit_tests.log _build/check/tests/cli/*.log; do
	[ -f "$log" ] || continue
	[ $status -ne 0 ] && cat "$log"
done
if [ "${TD2HF_SKIP_DISTCHECK:-0}" != 1 ]; then
	mkdir -p _build/dist
	(cd _build/dist && { [ -f Makefile ] || ../../configure --quiet; } &&
		make -j"$(nproc)" distcheck >distcheck.log 2>&1) ||
		{ tail -40 _build/dist/distcheck.log; echo "distcheck FAILED"; status=1; }
fi
# One line for CI: the sum of every test program's own summary.
cat _build/check/tests/unit/unit_tests.log _build/check/tests/cli/*.log \
	_build/tsan/threads.log 2>/dev/null |
	awk '/^[0-9]+ passed, [0-9]+ failed$/ { p += $1; f += $3 }
	     END { printf "%d passed, %d failed\n", p, f }'
exit $status
