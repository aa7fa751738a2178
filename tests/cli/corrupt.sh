#!/bin/sh
# Damaged checkpoints made from the real llama fixture (the .metadata files
# in tests/corrupt/ come from tests/fixtures/gen/gen_corrupt.py, written by
# torch's own classes and pickle): each conversion must fail with status 1,
# one message naming the file or key and the problem, and leave nothing.
. "$(dirname "$0")/lib.sh"
RULES=$(dirname "$TD2HF")/rules
CK="$SRCDIR/tests/fixtures/e2e/llama/ckpt/iter_0000100"

while read -r name needle; do
	[ -n "$name" ] || continue
	rm -rf "$TMP/ck" "$TMP/res"
	mkdir -p "$TMP/ck"
	cp "$CK"/* "$TMP/ck/"
	cp "$SRCDIR/tests/corrupt/$name.metadata" "$TMP/ck/.metadata"
	expect_fail "$name" 1 "$needle" -- \
		"$TD2HF" -q --rules "$RULES/llama.mapbc" --input "$TMP/ck" --output "$TMP/res"
	if ls -a "$TMP" | grep -q "^res"; then
		bad "$name: output left behind"
	fi
done <<'CASES'
bad_dtype        unsupported dtype torch.complex64
chunk_gap        its chunks cover 4064 of 4096 elements
chunk_outside    chunk lies outside the tensor's shape (dimension 1)
chunk_overlap    chunks 0 and 1 overlap
missing_storage  no storage_data entry for a chunk
negative_dim     shape is negative or too large
offset_past_eof  range is past the end of the file
path_escape      is not a plain file name in the checkpoint directory
size_overflow    shape is negative or too large
too_many_dims    has more than 8 dimensions
transform        stored with transforms
CASES
finish
