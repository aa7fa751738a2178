#!/usr/bin/env python3
"""Scale-shaped Megatron torch_dist checkpoints with tiny dimensions.

    bench/in-chroot.sh DATA bench/gen_scale_ckpt.py DATA/NAME --shape qwen-moe
    bench/in-chroot.sh DATA bench/gen_scale_ckpt.py DATA/NAME --shape dsv3
    bench/in-chroot.sh DATA bench/gen_scale_ckpt.py DATA/NAME --shape qwen-moe --optim dp
    bench/in-chroot.sh DATA bench/gen_scale_ckpt.py DATA/NAME --metadata-only CHUNKS

Shapes (issue 11):
  qwen-moe  48 layers x 256 experts, per-layer keys (the key and chunk
            counts of Qwen3.5-122B-A10B; qwen3-moe attention, so the
            qwen3_moe rules convert it)
  dsv3      61 layers (3 dense) x 256 experts + 1 MTP layer, DeepSeek-V3
            multi-latent attention
--optim:
  none      weights only (default)
  dp        + the distributed optimizer's default dp_reshardable state: flat
            fp32 buckets per DP group and chain
            (chained_<c>.optimizer.distributed.dp_group_idx_<d>.gbuf_idx_0.
            dtype_(torch.bfloat16, torch.float32).bucket_idx_0.{param,exp_avg,
            exp_avg_sq}) plus its bytes items
  full      + --dist-ckpt-optim-fully-reshardable state:
            optimizer.state.{param,exp_avg,exp_avg_sq}.<model key>, fp32, the
            model key's global shape and chunking

How (real torch, not Megatron's save_checkpoint): the tensors are built
from random HF-layout weights by tests/fixtures/gen/gen_e2e_moe.py's
functions (Megatron's key names, module order and chunking: per expert and
gate/up half, TP=2 row/column cuts) and saved by real
torch.distributed.checkpoint from --ranks gloo processes with --threads
writer threads each (megatron_ckpt.save_torch_dist).  Each grouped-expert
linear also gets one TransformerEngine `_extra_state` bytes item per expert
(as the issue's measured checkpoint has: ~24.6k bytes keys).  The expected
output (OUT/expected) is computed independently: torch's own DCP reader
loads the checkpoint, an emulation of slime's converter converts it, the
real safetensors library writes it, and every tensor is asserted equal to
the HF weights drawn first.

--metadata-only CHUNKS writes only OUT/ckpt/iter_0000100/.metadata (and
common.pt): torch's own Metadata dataclasses, pickled as
FileSystemWriter.finish pickles them, for a qwen-moe-like key list with 48
layers and as many experts as give about CHUNKS chunks.  No .distcp files:
for timing the catalog (td2hf inspect --metadata-only) from 10^3 to 10^6
chunks.
"""

import argparse
import collections
import json
import os
import pickle
import shutil
import sys
import time

import torch

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures", "gen"))
import megatron_ckpt as mc  # noqa: E402
import fixturelib as fl  # noqa: E402
import slime_emu as emu  # noqa: E402
import gen_e2e_moe as moe  # noqa: E402

# spawned workers import this module as __mp_main__ before running: give
# the big saves more time than the fixtures' 120 s
mc.WORKER_TIMEOUT = 3600

ITERATION = 100
F32 = torch.float32


def family(shape, layers, experts):
    if shape == "qwen-moe":
        f = dict(moe.FAMILIES["qwen3moe"])
        f.update(stacked=False, layers=layers or 48)
        f["moe"] = dict(f["moe"], experts=experts or 256, topk=8)
    else:
        f = dict(moe.FAMILIES["deepseekv3"])
        f.update(layers=layers or 61)
        f["moe"] = dict(f["moe"], experts=experts or 256, topk=8,
                        first_k_dense=min(3, (layers or 61) - 1))
    return f


def add_expert_extra_state(T, E, ranks):
    """One TE _extra_state bytes item per grouped-linear expert, before the
    expert weight key it belongs to."""
    out = []
    for entry in T:
        key = entry[0]
        if key.endswith("mlp.experts.experts.linear_fc1.weight") or \
                key.endswith("mlp.experts.experts.linear_fc2.weight"):
            stem = key[:-len("weight")]
            for e in range(E):
                out.append(("%s_extra_state%d/shard_0_1" % (stem, e),
                            mc.Bytes(fl.te_extra_state(), rank=e % ranks)))
        out.append(entry)
    return out


def model_entries(T):
    return [t for t in T if not isinstance(t[1], mc.Bytes)
            and not t[0].startswith("optimizer.")]


def optim_full(T):
    """optimizer.state.{param,exp_avg,exp_avg_sq}.<key>, fp32, same chunks."""
    out = []
    for state in ("param", "exp_avg", "exp_avg_sq"):
        for key, t, spec in model_entries(T):
            v = t.to(F32) if state == "param" else torch.randn(t.shape) * 1e-3
            out.append(("optimizer.state.%s.%s" % (state, key), v.contiguous(), spec))
    return out


def optim_dp(T, ranks):
    """dp_reshardable: per chain (0 dense, 1 experts) one flat fp32 buffer
    per state, padded to a multiple of the DP size and cut across it."""
    dense = sum(t.numel() for k, t, _ in model_entries(T) if ".experts." not in k)
    expert = sum(t.numel() for k, t, _ in model_entries(T) if ".experts." in k)
    out, extra = [], []
    dt = "dtype_(torch.bfloat16, torch.float32)"
    for c, n in ((0, dense), (1, expert)):
        n = -(-n // ranks) * ranks
        p = "chained_%d.optimizer.distributed.dp_group_idx_0.gbuf_idx_0.%s.bucket_idx_0." % (c, dt)
        for state in ("param", "exp_avg", "exp_avg_sq"):
            out.append((p + state, torch.randn(n) * 1e-3, [ranks]))
        extra.append(("chained_%d.optimizer.distributed.dp_group_idx_0.optimizer/shard_0_1" % c,
                      {"param_groups": [{"lr": 1e-4, "step": 1, "params": [0]}]}))
        extra.append(("chained_%d.optimizer.distributed.dp_group_idx_0.gbuf_idx_0.%s."
                      "per_bucket_numel" % (c, dt), [n]))
        extra.append(("chained_%d.optimizer.distributed.dp_group_idx_0.gbuf_idx_0.%s."
                      "per_bucket_numel_unpadded" % (c, dt), [n]))
    return out, extra


def full_checkpoint(a):
    f = family(a.shape, a.layers, a.experts)
    torch.manual_seed(20261130)
    t0 = time.time()
    hf = moe.make_hf_weights(f)
    args = moe.make_megatron_args(f)
    args.world_size = a.ranks
    if a.optim != "none":
        args.use_distributed_optimizer = True
        if a.optim == "full":
            args.dist_ckpt_optim_fully_reshardable = True
    T, extra = moe.make_megatron_tensors(f, hf, args)
    T = [t for t in T if not t[0].startswith("optimizer.")]
    T = add_expert_extra_state(T, f["moe"]["experts"], a.ranks)
    if a.optim == "full":
        T += optim_full(T)
    elif a.optim == "dp":
        o, e = optim_dp(T, a.ranks)
        T += o
        extra += e
    dummy = moe.dummy_hf_tensors(f, hf)
    iter_dir = os.path.join(a.out, "ckpt", "iter_%07d" % ITERATION)
    os.makedirs(os.path.dirname(iter_dir))
    print("built %d entries in %.1f s; saving from %d ranks x %d threads"
          % (len(T) + len(extra), time.time() - t0, a.ranks, a.threads), flush=True)
    t0 = time.time()
    common_extra = None
    if a.optim != "none":
        common_extra = {
            "optimizer": {"param_state_sharding_type":
                          "fully_reshardable" if a.optim == "full" else "dp_reshardable"},
            "opt_param_scheduler": {"max_lr": 1e-4, "min_lr": 1e-5, "num_steps": 1},
        }
    cm = dict(mc.DEFAULT_CONTENT_METADATA)
    if a.optim == "full":
        cm["distrib_optim_sharding_type"] = "fully_reshardable"
    mc.save_torch_dist(iter_dir, T, args, world_size=a.ranks, thread_count=a.threads,
                       extra_bytes=extra, iteration=ITERATION,
                       content_metadata=cm, common_extra=common_extra)
    print("saved in %.1f s" % (time.time() - t0), flush=True)
    hf_dir = os.path.join(a.out, "hf")
    moe.write_hf_dir(f, dummy, hf_dir)
    if a.no_expected:
        return
    t0 = time.time()
    state, skipped, args_back, _ = emu.load_checkpoint(iter_dir)
    sh = emu.emulate(emu.select_handler(f["model_name"]), state, args_back,
                     fl.DEFAULT_CHUNK, None)
    conv = sh.tensors()
    emu.assert_converted(conv, hf, a.shape)
    out_dir = os.path.join(a.out, "expected")
    names, _ = emu.write_output(out_dir, sh.shards, sh.total, hf_dir)
    print("expected output: %d tensors, %d shard(s), %.1f s"
          % (len(conv), len(names), time.time() - t0), flush=True)
    info = dict(shape=a.shape, optim=a.optim, ranks=a.ranks, threads=a.threads,
                layers=f["layers"], experts=f["moe"]["experts"],
                model_name=f["model_name"], skipped_keys=len(skipped),
                hf_tensors=len(conv), total_size=sh.total)
    with open(os.path.join(a.out, "scale.json"), "w") as fh:
        json.dump(info, fh, indent=1)


# ---------------------------------------------------------------------------
# --metadata-only: torch's Metadata classes, pickled as DCP does

def layer_keys(f):
    """(rest, shape, chunk grid) of a MoE decoder layer of family f, as
    gen_e2e_moe.megatron_layer lays it out (drawn on the meta device)."""
    p = "model.layers.0."
    with torch.device("meta"):
        d = moe.megatron_layer(f, moe.hf_layer_weights(f, p, True), p, True)
    return [(rest, tuple(t.shape), tuple(spec) if spec is not None else (1,) * t.dim())
            for rest, (t, spec) in d.items()]


def metadata_only(a):
    from torch.distributed.checkpoint.filesystem import _StorageInfo
    from torch.distributed.checkpoint.metadata import (
        ChunkStorageMetadata, Metadata, MetadataIndex, TensorProperties,
        TensorStorageMetadata, BytesStorageMetadata)
    L = 48
    per_expert = 3          # chunks: fc1's gate and up halves, fc2
    E = max(1, round((a.metadata_only / L - 8) / per_expert))
    files = ["__%d_%d.distcp" % (r, t) for r in range(a.ranks) for t in range(a.threads)]
    sdm, storage = {}, {}
    pos = collections.defaultdict(int)
    count = [0]

    def put(key, shape, grid, dtype=torch.bfloat16):
        chunks = []
        steps = [s // g for s, g in zip(shape, grid)]
        idx = [0] * len(shape)
        while True:
            off = torch.Size([i * s for i, s in zip(idx, steps)])
            chunks.append(ChunkStorageMetadata(offsets=off, sizes=torch.Size(steps)))
            fn = files[count[0] % len(files)]
            n = 1
            for s in steps:
                n *= s
            ln = 1100 + 2 * n
            storage[MetadataIndex(key, off)] = _StorageInfo(fn, pos[fn], ln)
            pos[fn] += ln
            count[0] += 1
            d = len(idx) - 1
            while d >= 0:
                idx[d] += 1
                if idx[d] < grid[d]:
                    break
                idx[d] = 0
                d -= 1
            if d < 0:
                break
        sdm[key] = TensorStorageMetadata(
            properties=TensorProperties(dtype=dtype), size=torch.Size(shape), chunks=chunks)

    def put_bytes(key):
        fn = files[count[0] % len(files)]
        sdm[key] = BytesStorageMetadata()
        storage[MetadataIndex(key)] = _StorageInfo(fn, pos[fn], 1000)
        pos[fn] += 1000
        count[0] += 1

    lk = layer_keys(family("qwen-moe", L, E))
    put("embedding.word_embeddings.weight", (128, 32), (2, 1))
    for i in range(L):
        p = "decoder.layers.%d." % i
        for rest, shape, grid in lk:
            if rest.startswith("self_attention.linear_proj"):
                put_bytes(p + "self_attention.core_attention._extra_state/shard_0_1")
            if rest.startswith("mlp.experts.experts."):
                for e in range(E):
                    put_bytes("%s%s_extra_state%d/shard_0_1" % (p, rest[:-len("weight")], e))
            put(p + rest, shape, grid)
    put("decoder.final_layernorm.weight", (32,), (1,))
    put("output_layer.weight", (128, 32), (2, 1))
    put_bytes("rng_state/shard_0.0_1.4")
    md = Metadata(state_dict_metadata=sdm, storage_data=storage)
    iter_dir = os.path.join(a.out, "ckpt", "iter_%07d" % ITERATION)
    os.makedirs(iter_dir)
    with open(os.path.join(iter_dir, ".metadata"), "wb") as fh:
        pickle.dump(md, fh)
    f = family("qwen-moe", L, E)
    args = moe.make_megatron_args(f)
    args.world_size = a.ranks
    mc.install_fake_megatron_modules()
    torch.save({"args": args, "checkpoint_version": 3.0, "iteration": ITERATION,
                "content_metadata": dict(mc.DEFAULT_CONTENT_METADATA)},
               os.path.join(iter_dir, "common.pt"))
    nchunks = sum(len(m.chunks) for m in sdm.values() if hasattr(m, "chunks"))
    info = dict(layers=L, experts=E, keys=len(sdm), chunks=nchunks,
                storage_items=len(storage),
                metadata_bytes=os.path.getsize(os.path.join(iter_dir, ".metadata")))
    with open(os.path.join(a.out, "scale.json"), "w") as fh:
        json.dump(info, fh, indent=1)
    print(json.dumps(info))


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--shape", choices=("qwen-moe", "dsv3"), default="qwen-moe")
    ap.add_argument("--optim", choices=("none", "dp", "full"), default="none")
    ap.add_argument("--layers", type=int, default=0)
    ap.add_argument("--experts", type=int, default=0)
    ap.add_argument("--ranks", type=int, default=32)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-expected", action="store_true")
    ap.add_argument("--metadata-only", type=int, default=0, metavar="CHUNKS")
    a = ap.parse_args(argv)
    if os.path.exists(a.out):
        shutil.rmtree(a.out)
    os.makedirs(a.out)
    if a.metadata_only:
        metadata_only(a)
    else:
        full_checkpoint(a)


if __name__ == "__main__":
    main(sys.argv[1:])
