#!/usr/bin/env python3
"""Write a large qwen3-like Megatron torch_dist checkpoint for bench/run.sh.

    bench/in-chroot.sh DATA_DIR bench/gen_bench_ckpt.py [DATA_DIR] [options]

(DATA_DIR defaults to /work/bench-data; bench/in-chroot.sh makes it visible
at the same path inside the Debian chroot that has real torch.)

Writes

    DATA_DIR/ckpt/iter_0000100/   real torch.distributed.checkpoint output of
                                  4 gloo ranks (FileSystemWriter, 2 threads
                                  each -> 8 __R_I.distcp files), Megatron key
                                  names, per-layer keys (or, --stacked, one key
                                  per weight with the layer axis first and a
                                  chunk per layer and TP rank, as Megatron
                                  saves dense models), TP=2 chunking as in
                                  tests/fixtures/gen/gen_e2e_fixtures.py, plus
                                  common.pt, metadata.json
    DATA_DIR/ckpt/latest_checkpointed_iteration.txt
    DATA_DIR/hf/                  the "original HF dir": config.json,
                                  generation_config.json, tokenizer_config.json
                                  and a tiny dummy safetensors + index
                                  (never copied by the converters)
    DATA_DIR/bench.json           the dimensions used and the byte counts

Defaults (about 2.3 GB of bf16): hidden 2048, 20 layers, 16 heads, 8 query
groups, head_dim 128, ffn 6144, vocab 31900 (padded to 32000), untied
embeddings, qk-norm, TP=2.  The largest tensor is the embedding (and the
output layer), 32000 x 2048 bf16 = 131 MB.

Unlike megatron_ckpt.save_torch_dist (which pickles every full tensor to
every rank), each rank here generates only the chunks it holds, so peak
memory is about one rank's share per process (~0.6 GB) rather than several
copies of the model.  The data are pseudo-random (fixed seed per key and
chunk; uniform fills, which are the cheapest torch draws), so reruns give the
same .distcp bytes.  The layout (chunk specs, planner, common.pt args, HF
dir) is taken from the fixture generators by importing them.
"""

import argparse
import collections
import json
import os
import shutil
import sys
import time

import torch

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures", "gen"))
import megatron_ckpt as mc  # noqa: E402
import fixturelib as fl  # noqa: E402
import gen_e2e_fixtures as ge  # noqa: E402

ITERATION = 100
SEED = 20250118
WORLD = 4
THREADS = 2
WORKER_TIMEOUT = 3600  # seconds


def family(a):
    """A gen_e2e_fixtures-style family dict (qwen3, per-layer or stacked
    keys)."""
    f = dict(ge.FAMILIES["qwen3"])
    f.update(layers=a.layers, hidden=a.hidden, heads=a.heads, groups=a.groups,
             head_dim=a.head_dim, ffn=a.ffn, vocab=a.vocab,
             divisible_by=a.divisible_by, tp=a.tp, tied=not a.untied,
             max_pos=4096, stacked=a.stacked)
    return f


def key_plan(f, args):
    """Ordered (key, shape, kind, chunk spec) list: the keys, shapes and
    chunking gen_e2e_fixtures.make_megatron_tensors gives a per-layer (or,
    with f["stacked"], a stacked) qwen3 checkpoint, drawn on the meta
    device (no memory); without its optimizer keys and rng state.  kind is
    "w" (weight), "n" (norm) or "b" (bytes entry)."""
    with torch.device("meta"):
        T, _ = ge.make_megatron_tensors(f, ge.make_hf_weights(f), args)
    K = []
    for item in T:
        key = item[0]
        if key.startswith("optimizer."):
            continue
        if isinstance(item[1], mc.Bytes):
            K.append((key, None, "b", None))
        else:
            K.append((key, tuple(item[1].shape), "n" if "norm" in key else "w", item[2]))
    return K


def assign(K):
    """Chunks and their ranks: a counter over all chunks of all keys
    (megatron_ckpt's assign="global"), so the ranks' shares are even, as
    in a fully parallel save.  Bytes entries go round-robin too."""
    out, counter = [], 0
    for ki, (key, shape, kind, spec) in enumerate(K):
        if kind == "b":
            out.append((ki, key, shape, kind, counter % WORLD))
            counter += 1
            continue
        chunks, _ = mc.expand_chunk_spec(shape, spec)
        cs = []
        for o, s in chunks:
            cs.append((o, s, counter % WORLD))
            counter += 1
        out.append((ki, key, shape, kind, cs))
    return out


def fill(kind, sizes, ki, ci):
    g = torch.Generator().manual_seed(SEED * 1000003 + ki * 1009 + ci)
    t = torch.empty(sizes, dtype=torch.bfloat16)
    if kind == "n":
        return t.uniform_(0.9, 1.1, generator=g)
    return t.uniform_(-0.05, 0.05, generator=g)


def _worker(rank, world_size, init_file, plan, out_dir, save_id):
    mc.worker_begin(rank, world_size, init_file, save_id, timeout=WORKER_TIMEOUT)
    import torch.distributed.checkpoint as dcp
    t0 = time.time()
    state_dict = {}
    for ki, key, shape, kind, cs in plan:
        if kind == "b":
            if cs == rank:
                state_dict[key] = fl.te_extra_state()
            continue
        state_dict[key] = mc.sharded_tensor(
            shape, torch.bfloat16, cs, rank,
            lambda ci, offs, sizes: fill(kind, sizes, ki, ci))
    t1 = time.time()
    writer = dcp.FileSystemWriter(out_dir, thread_count=THREADS)
    dcp.save(state_dict, storage_writer=writer, planner=mc._make_planner_class()())
    print("rank %d: generated in %.1fs, saved in %.1fs" % (rank, t1 - t0, time.time() - t1),
          flush=True)
    mc.worker_end()   # see there: gloo teardown may hang


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("data_dir", nargs="?", default="/work/bench-data")
    ap.add_argument("--layers", type=int, default=20)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--heads", type=int, default=16)
    ap.add_argument("--groups", type=int, default=8)
    ap.add_argument("--head-dim", type=int, default=128)
    ap.add_argument("--ffn", type=int, default=6144)
    ap.add_argument("--vocab", type=int, default=31900)
    ap.add_argument("--divisible-by", type=int, default=128)
    ap.add_argument("--tp", type=int, default=2)
    ap.add_argument("--tied", dest="untied", action="store_false",
                    help="tied embeddings (no output_layer); default untied")
    ap.add_argument("--stacked", action="store_true",
                    help="one key per weight with a stacked layer axis (a "
                         "chunk per layer and TP rank), as Megatron saves "
                         "dense models; default per-layer keys")
    a = ap.parse_args()

    import torch.multiprocessing as mp
    import uuid

    data = os.path.abspath(a.data_dir)
    save_dir = os.path.join(data, "ckpt")
    iter_dir = os.path.join(save_dir, "iter_%07d" % ITERATION)
    hf_dir = os.path.join(data, "hf")
    os.makedirs(data, exist_ok=True)
    for d in (save_dir, hf_dir):
        if os.path.exists(d):
            shutil.rmtree(d)
    os.makedirs(iter_dir)

    f = family(a)
    args = ge.make_megatron_args(f)
    args.tokenizer_model = "/models/bench-qwen3"
    K = key_plan(f, args)
    plan = assign(K)
    weight_bytes = sum(2 * int(torch.Size(s).numel()) for _, s, k, _ in K if k != "b")
    # the largest tensor converted at once: a stacked key's is one layer's
    per = [(key, s[1:] if f["stacked"] and key.startswith("decoder.layers.") else s)
           for key, s, k, _ in K if k != "b"]
    largest = max(((2 * int(torch.Size(s).numel()), key) for key, s in per),
                  key=lambda t: t[0])   # the first of equals: the embedding
    print("writing %s: %d keys, %.2f GB of bf16 weights, largest %s (%.1f MB)"
          % (iter_dir, len(K), weight_bytes / 1e9, largest[1], largest[0] / 1e6), flush=True)

    t0 = time.time()
    save_id = str(uuid.uuid5(uuid.NAMESPACE_URL, "td2hf-bench:" + iter_dir))
    init_dir = os.path.join(data, ".pg-init")
    shutil.rmtree(init_dir, ignore_errors=True)
    os.makedirs(init_dir)
    try:
        mp.start_processes(_worker,
                           args=(WORLD, os.path.join(init_dir, "pg_init"), plan,
                                 iter_dir, save_id),
                           nprocs=WORLD, join=True, start_method="spawn")
    finally:
        shutil.rmtree(init_dir, ignore_errors=True)

    mc.write_megatron_files(iter_dir, args, ITERATION)

    dummy = collections.OrderedDict(
        [("model.norm.weight", torch.full((f["hidden"],), 0.5, dtype=torch.bfloat16))])
    ge.write_hf_dir(f, dummy, hf_dir)

    distcp = sum(os.path.getsize(os.path.join(iter_dir, n))
                 for n in os.listdir(iter_dir) if n.endswith(".distcp"))
    info = collections.OrderedDict([
        ("model", "qwen3 (%s keys)" % ("stacked" if f["stacked"] else "per-layer")),
        ("iter_dir", iter_dir), ("hf_dir", hf_dir),
        ("layers", f["layers"]), ("hidden", f["hidden"]), ("heads", f["heads"]),
        ("query_groups", f["groups"]), ("head_dim", f["head_dim"]),
        ("ffn", f["ffn"]), ("vocab", f["vocab"]),
        ("padded_vocab", args.padded_vocab_size), ("tied", f["tied"]),
        ("tp", f["tp"]), ("ranks", WORLD), ("writer_threads", THREADS),
        ("keys", len(K)), ("weight_bytes", weight_bytes),
        ("largest_tensor", largest[1]), ("largest_tensor_bytes", largest[0]),
        ("distcp_bytes", distcp),
        ("seconds", round(time.time() - t0, 1)),
    ])
    with open(os.path.join(data, "bench.json"), "w") as fh:
        json.dump(info, fh, indent=1)
        fh.write("\n")
    print("done in %.1fs: %.2f GB in .distcp files" % (time.time() - t0, distcp / 1e9))


if __name__ == "__main__":
    main()
