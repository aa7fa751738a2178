"""Two copies of one Megatron checkpoint written by torch >= 2.7 (run it
in the sid chroot, torch 2.14): OUT/plain and OUT/zstd, the latter with
FileSystemWriter(_extensions=[ZStandard()]).  Each is a save dir with
ckpt/iter_0000100 and hf/ (config, no weights), as the e2e fixtures: the
qwen3 family of tests/fixtures/gen/gen_e2e_fixtures.py scaled up (random
bf16 weights, about 2 * 8 * 14.7M + 2 * 16M parameters: ~0.3 GB).

Usage: bench/in-chroot.sh OUT bench/gen_zstd_ckpt.py OUT   (TD2HF_CHROOT=sid)
"""
import os
import shutil
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "fixtures", "gen"))

import torch  # noqa: E402
import megatron_ckpt as mc  # noqa: E402
import gen_e2e_fixtures as base  # noqa: E402


def main(out):
    f = dict(base.FAMILIES["qwen3"], layers=8, hidden=1024, heads=16,
             groups=4, head_dim=64, ffn=4096, vocab=31900)
    torch.manual_seed(1)
    hf = base.make_hf_weights(f)
    args = base.make_megatron_args(f)
    T, extra = base.make_megatron_tensors(f, hf, args)
    dummy = base.dummy_hf_tensors(f, hf)
    for name, zstd in (("plain", False), ("zstd", True)):
        root = os.path.join(out, name)
        shutil.rmtree(root, ignore_errors=True)
        mc.save_torch_dist(os.path.join(root, "ckpt", "iter_0000100"), T,
                           args, extra_bytes=extra, zstd=zstd)
        base.write_hf_dir(f, {k: v[:1] for k, v in list(dummy.items())[:1]},
                          os.path.join(root, "hf"))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1]))
