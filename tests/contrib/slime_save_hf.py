"""Real torch.distributed (gloo, WORLD processes) runs contrib/slime's
save_hf_with_td2hf on a fixture checkpoint, as slime's actor would after a
save; prints OK when every rank returned, or the first rank's error.

Usage (inside the torch chroot): python3 slime_save_hf.py WORK WORLD
  WORK holds td2hf, td2hf_save_hf.py, save/ (a Megatron save dir) and hf/;
  the HF checkpoint is written to WORK/out.  Extra arguments for td2hf come
  from WORK/extra.args (one per line).
"""
import os
import sys
from datetime import timedelta
from argparse import Namespace

import torch.distributed as dist
import torch.multiprocessing as mp


def rank_main(rank, world, work, queue):
    os.environ["GLOO_SOCKET_IFNAME"] = "lo"
    sys.path.insert(0, work)
    from td2hf_save_hf import save_hf_with_td2hf

    try:
        dist.init_process_group(
            "gloo",
            init_method=f"file://{work}/rendezvous",
            rank=rank,
            world_size=world,
            timeout=timedelta(seconds=120),
        )
        with open(os.path.join(work, "extra.args")) as f:
            extra = [line.strip() for line in f if line.strip()]
        args = Namespace(save=f"{work}/save", hf_checkpoint=f"{work}/hf", model_name="glm_moe_dsa")
        save_hf_with_td2hf(args, 100, f"{work}/out", td2hf=f"{work}/td2hf", extra=extra)
        result = None
    except Exception as e:  # reported by the parent
        result = repr(e)
    # Flush the report before tearing gloo down: destroy_process_group can
    # block while holding the GIL, which would keep the queue's feeder
    # thread from ever sending it.
    queue.put((rank, result))
    queue.close()
    queue.join_thread()
    if dist.is_initialized():
        dist.destroy_process_group()


def main():
    work, world = sys.argv[1], int(sys.argv[2])
    if os.path.exists(f"{work}/rendezvous"):
        os.unlink(f"{work}/rendezvous")
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=rank_main, args=(r, world, work, queue)) for r in range(world)]
    for p in procs:
        p.start()
    results = {}
    try:
        for _ in procs:
            rank, error = queue.get(timeout=180)
            results[rank] = error
    except Exception:  # queue.Empty: name the ranks that never reported
        missing = sorted(set(range(world)) - set(results))
        print(f"ranks {missing} did not report within 180 s")
    for p in procs:  # a rank stuck tearing gloo down must not hang the test
        p.join(timeout=30)
        if p.is_alive():
            p.kill()
    errors = [f"rank {r}: {e}" for r, e in sorted(results.items()) if e]
    print("OK" if not errors else "; ".join(errors))


if __name__ == "__main__":
    main()
