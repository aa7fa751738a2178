"""Save an HF checkpoint with td2hf from every rank of a slime job.

slime's ``--save-hf`` writes HuggingFace weights after each save.  This
module converts the torch_dist checkpoint Megatron has just written
instead, with td2hf, on every rank of the job at once:

1. every rank runs ``td2hf ... --part RANK/WORLD`` (each writes a share of
   the shards, balanced by bytes, into ``OUTPUT.td2hf-parts``);
2. the ranks meet (``all_gather_object`` of each part's outcome, which is
   also the barrier);
3. rank 0 runs ``td2hf ... --finish`` (checks every part, writes the index
   and the config/tokenizer files, renames the directory into place) and
   broadcasts the outcome.

Every rank raises the same ``RuntimeError`` when any part fails, so the job
never goes on with a half-written checkpoint.  Nothing here moves tensors
between ranks: the shared filesystem is the only channel, as in td2hf's own
protocol (docs/parallel.md).

Use: see ``slime-save-hf-td2hf.patch`` beside this file, or call
``save_hf_with_td2hf(args, rollout_id, output_dir)`` after
``save_checkpoint`` has returned on every rank (and, with ``--async-save``,
after ``maybe_finalize_async_save(blocking=True)``).
"""

import os
import shutil
import subprocess
from pathlib import Path


def iteration_dir(save_dir, iteration):
    """Where Megatron's save_checkpoint put ``iteration`` under ``save_dir``."""
    return Path(save_dir) / f"iter_{int(iteration):07d}"


def td2hf_command(td2hf, input_dir, output_dir, hf_checkpoint, model_name=None, extra=()):
    """The td2hf command line shared by every part and by --finish."""
    cmd = [
        td2hf,
        "--input", str(input_dir),
        "--output", str(output_dir),
        "--hf-checkpoint", str(hf_checkpoint),
        "--force",
        "--quiet",
    ]
    if model_name:
        cmd += ["--model-name", str(model_name)]
    return cmd + [str(x) for x in extra]


def _run(cmd):
    """None on success, else the command's error (its last stderr lines)."""
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    if proc.returncode == 0:
        return None
    lines = proc.stderr.strip().splitlines()[-5:]
    return f"exit {proc.returncode}: " + " | ".join(lines)


def _rank_world():
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size(), dist
    return 0, 1, None


def save_hf_with_td2hf(args, iteration, output_dir, *, td2hf=None, extra=(), group=None):
    """Convert ``args.save``'s ``iteration`` to HF in ``output_dir`` with every rank.

    ``args`` needs ``save`` and ``hf_checkpoint``; ``model_name`` (slime's
    ``--model-name``) is passed on when set.  ``td2hf`` defaults to
    ``$TD2HF`` or the ``td2hf`` on PATH.  ``group``: the process group for
    the two small collectives (a gloo group when the default one is NCCL,
    e.g. slime's ``get_gloo_group()``).  Must be called by every rank.
    """
    td2hf = td2hf or os.environ.get("TD2HF") or shutil.which("td2hf") or "td2hf"
    rank, world, dist = _rank_world()
    base = td2hf_command(
        td2hf,
        iteration_dir(args.save, iteration),
        output_dir,
        args.hf_checkpoint,
        getattr(args, "model_name", None),
        extra,
    )

    error = _run(base + ["--part", f"{rank}/{world}"])
    errors = [error]
    if dist is not None:
        errors = [None] * world
        dist.all_gather_object(errors, error, group=group)
    failed = [f"rank {r}: {e}" for r, e in enumerate(errors) if e]
    if failed:
        raise RuntimeError("td2hf --part failed on " + "; ".join(failed))

    payload = [_run(base + ["--finish"]) if rank == 0 else None]
    if dist is not None:
        dist.broadcast_object_list(payload, src=0, group=group)
    if payload[0]:
        raise RuntimeError(f"td2hf --finish failed: {payload[0]}")
