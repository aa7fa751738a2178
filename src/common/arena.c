#include "arena.h"

#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN (64 * 1024)

struct block {
	struct block *next;
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

struct td_arena {
	struct block *head;
	size_t cap, total;
};

td_arena *td_arena_new(size_t cap)
{
	td_arena *a = calloc(1, sizeof *a);

	if (a)
		a->cap = cap;
	return a;
}

void td_arena_free(td_arena *a)
{
	struct block *b, *next;

	if (!a)
		return;
	for (b = a->head; b; b = next) {
		next = b->next;
		free(b);
	}
	free(a);
}

static struct block *new_block(td_arena *a, size_t need)
{
	size_t size = need > BLOCK_MIN ? need : BLOCK_MIN;
	struct block *b;

	if (size > a->cap || a->total > a->cap - size)
		return NULL;
	b = malloc(sizeof *b + size);
	if (!b)
		return NULL;
	b->size = size;
	b->used = 0;
	b->next = a->head;
	a->head = b;
	a->total += size;
	return b;
}

void *td_arena_alloc(td_arena *a, size_t n)
{
	struct block *b = a->head;
	void *p;

	if (n > a->cap)
		return NULL;
	n = (n + 7) & ~(size_t)7;
	if (!b || b->size - b->used < n) {
		b = new_block(a, n);
		if (!b)
			return NULL;
	}
	p = b->data + b->used;
	b->used += n;
	memset(p, 0, n);
	return p;
}

char *td_arena_strndup(td_arena *a, const char *s, size_t n)
{
	char *p;

	if (n == (size_t)-1)
		return NULL;
	p = td_arena_alloc(a, n + 1);
	if (p) {
		memcpy(p, s, n);
		p[n] = '\0';
	}
	return p;
}

size_t td_arena_used(const td_arena *a)
{
	return a->total;
}
