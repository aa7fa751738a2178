#!/usr/bin/env python3
"""The Python reference pipeline timed by bench/run.sh: what slime's
tools/convert_torch_dist_to_hf.py does for a qwen3 checkpoint, as emulated
by tests/fixtures/gen/gen_e2e_fixtures.py (whose functions are used here):

  1. load: torch DCP load of every non-optimizer, non-_state tensor of the
     checkpoint into full in-memory tensors (load_checkpoint);
  2. convert: layer unstacking, vocab padding removal, the qwen3 handler,
     slime's sharding loop (emulate; default chunk size 5 GiB);
  3. save: safetensors.torch.save_file per shard, index JSON, asset copy
     (write_output).

    bench/in-chroot.sh DATA_DIR bench/py_reference.py ITER_DIR HF_DIR OUT_DIR [--chunk-size N]

Prints one line of JSON with the phase times (seconds) and peak RSS.
"""

import argparse
import json
import os
import resource
import sys
import time

T_START = time.time()

import torch  # noqa: E402,F401

REPO = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "fixtures", "gen"))
import gen_e2e_fixtures as ge  # noqa: E402
import megatron_ckpt as mc  # noqa: E402

# common.pt pickles megatron.core enums; slime has Megatron installed, here
# the fixture stand-ins are registered under the same module paths.
mc.install_fake_megatron_modules()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("iter_dir")
    ap.add_argument("hf_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--chunk-size", type=int, default=ge.DEFAULT_CHUNK)
    ap.add_argument("--model-name", default="qwen3")
    a = ap.parse_args()
    t0 = time.time()
    state, _skipped, args, _order = ge.load_checkpoint(a.iter_dir)
    t1 = time.time()
    shards, total, _emitted = ge.emulate(a.model_name, state, args, a.chunk_size,
                                         None, a.hf_dir, False)
    t2 = time.time()
    ge.write_output(a.out_dir, shards, total, a.hf_dir)
    t3 = time.time()
    print(json.dumps({
        "import_s": round(t0 - T_START, 3),
        "load_s": round(t1 - t0, 3),
        "convert_s": round(t2 - t1, 3),
        "save_s": round(t3 - t2, 3),
        "total_s": round(t3 - T_START, 3),
        "shards": len(shards),
        "total_size": total,
        "maxrss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
    }))


if __name__ == "__main__":
    main()
