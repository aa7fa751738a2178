/* vm_int.h — shared by the VM's files. */
#ifndef TD_VM_INT_H
#define TD_VM_INT_H

#include "match.h"
#include "vm.h"


/* ---- view nodes (ops.c): each checks its arguments against the input
 * shape and returns a new node, or NULL with err set.  Dimensions may be
 * negative (counted from the end), as in Python. */
vm_node *view_reshape(td_arena *a, vm_node *in, const int64_t *dims, int n,
		      td_err *err);
vm_node *view_permute(td_arena *a, vm_node *in, const int64_t *order, int n,
		      td_err *err);
vm_node *view_narrow(td_arena *a, vm_node *in, int64_t dim, int64_t start,
		     int64_t len, td_err *err);
/* Python slicing: start/end may be none (open) or negative. */
vm_node *view_slice(td_arena *a, vm_node *in, int64_t dim, const vm_value *start,
		    const vm_value *end, td_err *err);
vm_node *view_select(td_arena *a, vm_node *in, int64_t dim, int64_t index,
		     td_err *err);
vm_node *view_cat(td_arena *a, vm_node **in, int n, int64_t dim, td_err *err);
vm_node *view_cast(td_arena *a, vm_node *in, td_dtype to, td_err *err);

/* Splits in along dim: by sizes (one may be -1), or into n chunks as
 * torch.chunk does.  Fills out[0..n). */
int view_split(td_arena *a, vm_node *in, int64_t dim, const int64_t *sizes, int n,
	       vm_node **out, td_err *err);
int view_chunk(td_arena *a, vm_node *in, int64_t dim, int n, vm_node **out,
	       td_err *err);

#endif
