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
transform        stored with transform 'stream.zstd', which td2hf does not read
CASES
# Damaged zstd items (torch 2.14's ZStandard transform, fixture
# qwen3_t214_zstd): the first chunk of embedding.word_embeddings.weight is
# the frame at offset 497 (7170 bytes) of __0_0.distcp (inspect --json).
ZCK="$SRCDIR/tests/fixtures/e2e/qwen3_t214_zstd/ckpt/iter_0000100"
KEY="key 'embedding.word_embeddings.weight' chunk 0"
while read -r name how needle; do
	[ -n "$name" ] || continue
	rm -rf "$TMP/ck" "$TMP/res"
	mkdir -p "$TMP/ck"
	cp "$ZCK"/* "$ZCK/.metadata" "$TMP/ck/"
	f="$TMP/ck/__0_0.distcp"
	case $how in
	trunc) truncate -s 1000 "$f" ;;
	*) printf '\377\377\377\377' |
		dd of="$f" bs=1 seek="$how" conv=notrunc 2>/dev/null ;;
	esac
	expect_fail "zstd $name" 1 "__0_0.distcp: $KEY: $needle" -- \
		"$TD2HF" -q --rules "$RULES/qwen3.mapbc" --input "$TMP/ck" --output "$TMP/res"
	if ls -a "$TMP" | grep -q "^res"; then
		bad "zstd $name: output left behind"
	fi
done <<'CASES'
magic     497   zstd item at offset 497 (7170 bytes): corrupt zstd frame
block     520   zstd item at offset 497 (7170 bytes): corrupt zstd frame
data      3497  zstd item at offset 497, decompressed: data does not match its CRC-32
tail      7000  zstd item at offset 497, decompressed: torch.save archive
trunc     trunc zstd item at offset 497 (7170 bytes): item [497, +7170) lies beyond the end of the file (1000 bytes)
CASES
finish
