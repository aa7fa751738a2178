#!/usr/bin/env python3
"""Best-of-N wall time of torch's FileSystemReader(DIR).read_metadata().

    bench/in-chroot.sh DATA bench/read_metadata.py ITER_DIR [N]

Prints the seconds (one number) of the fastest of N calls (default 3),
each reading and unpickling ITER_DIR/.metadata as torch's DCP loader
does; the import of torch is not timed.
"""
import sys
import time

from torch.distributed.checkpoint import FileSystemReader


def main(argv):
    reps = int(argv[1]) if len(argv) > 1 else 3
    best = float("inf")
    for _ in range(reps):
        t = time.perf_counter()
        FileSystemReader(argv[0]).read_metadata()
        best = min(best, time.perf_counter() - t)
    print("%.3f" % best)


if __name__ == "__main__":
    main(sys.argv[1:])
