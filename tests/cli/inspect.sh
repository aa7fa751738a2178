#!/bin/sh
# td2hf inspect on the real fixtures: text, JSON, save dir vs iter dir.
. "$(dirname "$0")/lib.sh"

expect_ok "help" "td2hf inspect [--json]" -- "$TD2HF" --help
expect_ok "version" "td2hf " -- "$TD2HF" --version
expect_ok "text listing" "decoder.layers.self_attention.linear_qkv.weight" -- \
	"$TD2HF" inspect "$FIX/stacked"
expect_ok "text shape" "[2, 64, 32]" -- "$TD2HF" inspect "$FIX/stacked"
# which keys a conversion drops is the rules' skips (megatron.map's by
# default), each shown as its pattern
expect_ok "skip reason" "skip: *optimizer*" -- "$TD2HF" inspect "$FIX/stacked"
expect_ok "skip reason in JSON" '"skip":	"*_state*"' -- \
	"$TD2HF" inspect --json --metadata-only "$FIX/stacked"
printf 'skip "*layernorm*"\n' >"$TMP/skips.map"
expect_ok "skips of --rules" \
	"decoder.final_layernorm.weight                                              F32    [32]                      1      128 B  skip: *layernorm*" -- \
	"$TD2HF" inspect --rules "$TMP/skips.map" "$FIX/stacked"
if grep -q 'skip: \*optimizer' "$TMP/out"; then
	bad "skips of --rules: only its own"
else
	ok "skips of --rules: only its own"
fi
expect_fail "inspect --arch unknown" 1 "--arch nope: unknown family" -- \
	"$TD2HF" inspect --arch nope "$FIX/stacked"
expect_ok "args listed" "num_layers" -- "$TD2HF" inspect "$FIX/perlayer"
expect_ok "iter dir directly" "iteration   100" -- \
	"$TD2HF" inspect "$FIX/stacked/iter_0000100"
# the DCP format version torch 2.14 writes (Metadata.version, "1.0.0"), none
# from torch 2.6, and the zstd stream transform of _extensions=[ZStandard()]
E2E="$SRCDIR/tests/fixtures/e2e"
expect_ok "inspect: torch 2.14's DCP version" "format      DCP 1.0.0" -- \
	"$TD2HF" inspect "$E2E/qwen3_t214/ckpt"
expect_ok "inspect: torch 2.6 has no DCP version" "format      no Metadata.version" -- \
	"$TD2HF" inspect "$E2E/qwen3/ckpt"
expect_ok "inspect: zstd items named" "transforms  stream.zstd/1 (" -- \
	"$TD2HF" inspect "$E2E/qwen3_t214_zstd/ckpt"
if "$TD2HF" inspect "$E2E/qwen3_t214/ckpt" | grep -q "^transforms"; then
	bad "inspect: no transforms line without transforms"
else
	ok "inspect: no transforms line without transforms"
fi
expect_ok "metadata only" "\"sizes\"" -- \
	"$TD2HF" inspect --json --metadata-only "$FIX/perlayer"
if grep -q data_offset "$TMP/out"; then
	bad "metadata only reads no archive" "data_offset present"
else
	ok "metadata only reads no archive"
fi

# Every CRC-32 td2hf reports for a tensor chunk is one torch computed
# from the tensor it loaded back, and every tensor chunk has one.
for ck in stacked perlayer; do
	"$TD2HF" inspect --json "$FIX/$ck" >"$TMP/ours.json" 2>"$TMP/err" ||
		bad "json $ck" "$(cat "$TMP/err")"
	grep -o '"crc32":[[:space:]]*[0-9]*' "$TMP/ours.json" |
		sed 's/.*[^0-9]//' | sort >"$TMP/ours.crc"
	grep -o '"crc32": [0-9]*' "$FIX/$ck/torch_view.json" |
		sed 's/.*[^0-9]//' | sort >"$TMP/torch.crc"
	n=$(wc -l <"$TMP/ours.crc")
	chunks=$(grep -c '"data_offset"' "$TMP/ours.json")
	missing=$(comm -23 "$TMP/ours.crc" "$TMP/torch.crc" | wc -l)
	if [ "$n" -gt 0 ] && [ "$n" -eq "$chunks" ] && [ "$missing" -eq 0 ]; then
		ok "json crc32 $ck ($n chunks)"
	else
		bad "json crc32 $ck" "$n crcs, $chunks chunks, $missing unknown"
	fi
done
finish
