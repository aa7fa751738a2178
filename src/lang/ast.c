#include "ast.h"

#include <string.h>

int ast_push(td_arena *a, ast_list *l, void *item)
{
	if (l->n == l->cap) {
		int cap = l->cap ? l->cap * 2 : 4;
		void **nv = td_arena_alloc(a, (size_t)cap * sizeof *nv);

		if (!nv)
			return -1;
		if (l->n)
			memcpy(nv, l->v, (size_t)l->n * sizeof *nv);
		l->v = nv;
		l->cap = cap;
	}
	l->v[l->n++] = item;
	return 0;
}
