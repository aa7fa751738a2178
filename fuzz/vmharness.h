/* vmharness.h — what the .mapbc fuzzer runs on an input the loader
 * accepts: the VM and the plan on real catalogs (e2e fixture
 * checkpoints), with parameter values taken from the input.  Shared by
 * fuzz/mapbc.c and the replay of tests/fuzz-regressions/mapbc-vm/.
 *
 * Input: either a .mapbc file as is (it starts with "TD2HFMAP"), or
 *   u8 n, then n (at most 8) records of u8 parameter, i64 value (LE),
 *   then a .mapbc file.
 * Each record sets parameter (index mod the number of parameters that
 * are not lets) to the value as `--set` would; INT64_MIN stands for
 * none. */
#ifndef TD_FUZZ_VMHARNESS_H
#define TD_FUZZ_VMHARNESS_H

#include <stddef.h>
#include <stdint.h>

#define FZ_MAX_CKPTS 2

typedef struct fz_catalogs fz_catalogs;

/* Opens the fixture checkpoints under srcdir; NULL on failure. */
fz_catalogs *fz_open(const char *srcdir);
void fz_close(fz_catalogs *c);

/* Loads, disassembles and plans the input on every catalog.  0 when some
 * plan was built, -1 when everything refused it (cleanly). */
int fz_run_mapbc(const fz_catalogs *c, const uint8_t *data, size_t size);

#endif
