#!/bin/sh
# contrib/slime/td2hf_save_hf.py with real torch.distributed: 4 gloo
# processes in the torch chroot (tests/fixtures/gen/README.md) each run
# their part, rank 0 finishes; the result equals the single-process run.
# Skipped where there is no such chroot or no root to enter it.
. "$(dirname "$0")/lib.sh"
E2E="$SRCDIR/tests/fixtures/e2e"
CHROOT=${TD2HF_CHROOT:-/work/chroot/trixie}
if [ "$(id -u)" -ne 0 ] || [ ! -x "$CHROOT/usr/bin/python3" ] ||
	! chroot "$CHROOT" python3 -c "import torch" 2>/dev/null; then
	echo "SKIP: no torch chroot at $CHROOT (or not root)"
	finish
	exit 0
fi
W="$CHROOT/tmp/td2hf-contrib-$$"
mkdir -p "$W"
cleanup() {
	for m in "$CHROOT/dev/shm" "$CHROOT/dev" "$CHROOT/proc"; do
		[ -f "$TMP/mounted-$(basename "$m")" ] && umount "$m"
	done
	rm -rf "$W"
}
trap 'cleanup; rm -rf "$TMP"' EXIT
for m in /proc /dev /dev/shm; do
	if ! mountpoint -q "$CHROOT$m"; then
		mount --bind "$m" "$CHROOT$m" && : >"$TMP/mounted-$(basename "$m")"
	fi
done
cp "$TD2HF" "$W/td2hf"
cp "$SRCDIR/contrib/slime/td2hf_save_hf.py" "$SRCDIR/tests/contrib/slime_save_hf.py" "$W/"
cp -r "$E2E/glm5/ckpt" "$W/save"
cp -r "$E2E/glm5/hf" "$W/hf"
printf -- '--chunk-size\n4096\n--vocab-size\n250\n' >"$W/extra.args"
cp -r "$(dirname "$TD2HF")/rules" "$W/rules"
export TD2HF_RULES_DIR=/tmp/td2hf-contrib-$$/rules
res=$(timeout 300 chroot "$CHROOT" /usr/bin/env TD2HF_RULES_DIR="$TD2HF_RULES_DIR" \
	python3 "/tmp/td2hf-contrib-$$/slime_save_hf.py" "/tmp/td2hf-contrib-$$" 4 2>"$TMP/err")
if [ "$res" = OK ] && diff -r "$E2E/glm5/expected/small" "$W/out" >/dev/null; then
	ok "slime's save_hf with td2hf on 4 gloo ranks: byte-identical to the single run"
else
	bad "slime's save_hf with td2hf on 4 gloo ranks" "$res" "$(tail -5 "$TMP/err")"
fi
# A failing part: every rank raises the same error.
rm -rf "$W/out" "$W/out.td2hf-parts"
printf -- '--chunk-size\n4096\n--vocab-size\n250\n--set\nno_such_param=1\n' >"$W/extra.args"
res=$(timeout 300 chroot "$CHROOT" /usr/bin/env TD2HF_RULES_DIR="$TD2HF_RULES_DIR" \
	python3 "/tmp/td2hf-contrib-$$/slime_save_hf.py" "/tmp/td2hf-contrib-$$" 4 2>"$TMP/err")
n=$(echo "$res" | grep -o "td2hf --part failed on rank 0: exit 1" | wc -l)
if [ "$(echo "$res" | grep -o 'rank [0-3]: RuntimeError' | wc -l)" -eq 4 ] && [ ! -e "$W/out" ]; then
	ok "a failing part: all 4 ranks raise, no output"
else
	bad "a failing part" "$res" "$(tail -5 "$TMP/err")"
fi
finish
