/* vm.h — runs compiled rules against the stored keys of a checkpoint.
 *
 * For each stored key: skips, then rewrites (which may split a stacked
 * leading axis into one entry per index), then the first matching rule,
 * whose program yields output specs: name, dtype, shape and a small tree
 * of view operations over the entry (vm_node).  No tensor data is read
 * here; src/writer/exec.c replays the tree on the data. */
#ifndef TD_VM_H
#define TD_VM_H

#include <stdint.h>

#include "../common/arena.h"
#include "../common/err.h"
#include "../common/shape.h"
#include "../lang/program.h"
#include "../common/dtype.h"

#define VM_NAME_MAX 512

typedef struct vm_value {
	int64_t v;
	int none;
} vm_value;

/* The value of every param and let of the program, by parameter index,
 * bound before the VM runs (src/plan/params.c); vm_eval computes the
 * defaults. */
typedef struct vm_params {
	vm_value *v;      /* malloc'd, n values */
	uint32_t n;
} vm_params;

void vm_params_free(vm_params *pv);

/* A tensor shape and type. */
typedef struct vm_shape {
	td_dtype dtype;
	int ndim;
	int64_t dims[TD_MAX_DIMS];
} vm_shape;

/* One source entry: a stored key, or one index along its leading axes. */
typedef struct vm_entry {
	const char *name;         /* after rewrites; during vm_expand's
				   * callback a buffer of the VM's: keep a
				   * copy (at most VM_NAME_MAX-1 bytes) */
	uint32_t key;             /* index in the catalog */
	int nfixed;               /* leading axes fixed by rewrite splits */
	int64_t fixed[TD_MAX_DIMS];
	vm_shape shape;           /* of the entry (fixed axes removed) */
} vm_entry;

typedef enum vm_node_kind {
	VN_ENTRY, VN_RESHAPE, VN_PERMUTE, VN_NARROW, VN_SELECT, VN_CAT,
	VN_CAST
} vm_node_kind;

/* A view operation and the shape it yields. */
typedef struct vm_node {
	vm_node_kind kind;
	vm_shape shape;            /* result */
	int64_t a[TD_MAX_DIMS];    /* RESHAPE: unused (shape says); PERMUTE:
				    * order; NARROW: dim, start, len; SELECT:
				    * dim, index; CAT: dim */
	int nin;
	struct vm_node **in;       /* inputs (one, or several for CAT) */
} vm_node;

typedef struct vm_output {
	const char *name;          /* in the VM's arena */
	vm_node *node;             /* its shape is the output's */
	uint64_t nbytes;
} vm_output;

typedef struct vm_result {
	int skipped;               /* matched a skip */
	uint32_t rule;             /* rule index, when not skipped */
	vm_output *out;
	int nout;
} vm_result;

typedef struct vm {
	const program *prog;
	const vm_params *params;
	td_arena *arena;           /* nodes and outputs live here */
} vm;

/* The stored key's entries after rewrites, via a callback. */
typedef int (*vm_entry_fn)(void *ctx, const vm_entry *e, td_err *err);

/* 1 if the stored key name matches a skip. */
int vm_skipped(const vm *m, const char *key_name);

/* Applies the rewrites to a stored key (not skipped) and calls fn for
 * each entry, in order. */
int vm_expand(const vm *m, uint32_t key, const char *name,
	      const vm_shape *shape, vm_entry_fn fn, void *ctx, td_err *err);

/* Runs the first matching rule for e; an entry no rule matches is an
 * error naming it. */
int vm_run(const vm *m, const vm_entry *e, vm_result *res, td_err *err);

void vm_shape_str(const vm_shape *s, char *buf, size_t size);

/* A leaf node: a whole entry of this shape (no operation). */
vm_node *view_entry(td_arena *a, const vm_shape *shape, td_err *err);

/* Evaluates the expression program at `code` (no captures, no tensor),
 * e.g. a group's condition. */
int vm_eval(const program *p, const vm_params *pv, int32_t code,
	    vm_value *out, td_err *err);

#endif
