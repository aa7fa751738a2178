#!/usr/bin/env python3
"""Accounts for every byte a conversion read from the .distcp files.

    strace -qq -y -s 0 -e trace=read,pread64,copy_file_range -o LOG td2hf -j 1 ...
    td2hf inspect --json --metadata-only CKPT > CATALOG.json
    bench/io_account.py LOG CATALOG.json

Each read (pread64 at an offset, copy_file_range from an offset) is
split over the storage items of the catalog (file, offset, length): bytes
inside items the converter skips (optimizer state, _extra_state,
rng_state) must be zero.  Prints one line:
  read R skipped S converted-items C outside-items O
Plain Python, no torch: runs on the host.  Needs a single-threaded run
(-j 1) so that strace prints every call on one line.
"""
import bisect
import collections
import json
import re
import sys

PREAD = re.compile(r'^(?:\d+ +)?pread64\(\d+<([^>]*)>, .*, (\d+), (\d+)\) = (\d+)$')
CFR = re.compile(r'^(?:\d+ +)?copy_file_range\(\d+<([^>]*)>, \[(\d+)\], .*\) = (\d+)$')
READ = re.compile(r'^(?:\d+ +)?read\(\d+<([^>]*\.distcp)>, .*\) = (\d+)$')


def items_by_file(catalog):
    """file name -> sorted [(offset, end, skipped)]"""
    by = collections.defaultdict(list)
    for k in catalog["keys"]:
        for c in k["chunks"]:
            by[c["file"]].append((c["offset"], c["offset"] + c["length"], bool(k["skip"])))
    for v in by.values():
        v.sort()
    return by


def split(ranges, lo, hi):
    """bytes of [lo, hi) inside skipped items, kept items, and outside"""
    starts = [r[0] for r in ranges]
    i = max(0, bisect.bisect_right(starts, lo) - 1)
    skipped = kept = 0
    while i < len(ranges) and ranges[i][0] < hi:
        a, b = max(lo, ranges[i][0]), min(hi, ranges[i][1])
        if b > a:
            if ranges[i][2]:
                skipped += b - a
            else:
                kept += b - a
        i += 1
    return skipped, kept, (hi - lo) - skipped - kept


def main(argv):
    with open(argv[1]) as fh:
        by = items_by_file(json.load(fh))
    total = skipped = kept = outside = 0
    with open(argv[0]) as fh:
        for line in fh:
            m = PREAD.match(line.strip())
            if m:
                path, off, n = m.group(1), int(m.group(3)), int(m.group(4))
            else:
                m = CFR.match(line.strip())
                if m:
                    path, off, n = m.group(1), int(m.group(2)), int(m.group(3))
                elif READ.match(line.strip()):
                    sys.exit("a read() without an offset from a .distcp file: " + line)
                else:
                    continue
            name = path.rsplit("/", 1)[-1]
            if not name.endswith(".distcp") or n <= 0:
                continue
            s, k, o = split(by.get(name, []), off, off + n)
            total += n
            skipped += s
            kept += k
            outside += o
    print("read %d skipped %d converted-items %d outside-items %d"
          % (total, skipped, kept, outside))


if __name__ == "__main__":
    main(sys.argv[1:])
