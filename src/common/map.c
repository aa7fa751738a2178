#include "map.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
	char *key;  /* NULL: empty */
	size_t klen, value;
	uint64_t hash;
} slot;

struct td_map {
	slot *slots;
	size_t cap, count;  /* cap is a power of two */
};

uint64_t td_hash(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	while (n--) {
		h ^= *b++;
		h *= 1099511628211ull;
	}
	return h;
}

static uint64_t fnv1a(const char *s, size_t n)
{
	return td_hash(TD_HASH_INIT, s, n);
}

td_map *td_map_new(void)
{
	td_map *m = calloc(1, sizeof *m);

	if (!m)
		return NULL;
	m->cap = 64;
	m->slots = calloc(m->cap, sizeof *m->slots);
	if (!m->slots) {
		free(m);
		return NULL;
	}
	return m;
}

void td_map_free(td_map *m)
{
	size_t i;

	if (!m)
		return;
	for (i = 0; i < m->cap; i++)
		free(m->slots[i].key);
	free(m->slots);
	free(m);
}

static slot *probe(const td_map *m, const char *key, size_t klen, uint64_t h)
{
	size_t i = (size_t)h & (m->cap - 1);

	for (;;) {
		slot *s = &m->slots[i];

		if (!s->key || (s->hash == h && s->klen == klen &&
				memcmp(s->key, key, klen) == 0))
			return s;
		i = (i + 1) & (m->cap - 1);
	}
}

static int grow(td_map *m)
{
	slot *old = m->slots;
	size_t i, oldcap = m->cap;

	m->slots = calloc(oldcap * 2, sizeof *m->slots);
	if (!m->slots) {
		m->slots = old;
		return -1;
	}
	m->cap = oldcap * 2;
	for (i = 0; i < oldcap; i++)
		if (old[i].key)
			*probe(m, old[i].key, old[i].klen, old[i].hash) = old[i];
	free(old);
	return 0;
}

int td_map_put(td_map *m, const char *key, size_t klen, size_t value,
	       size_t *old)
{
	uint64_t h = fnv1a(key, klen);
	slot *s;

	if ((m->count + 1) * 2 > m->cap && grow(m) != 0)
		return -1;
	s = probe(m, key, klen, h);
	if (s->key) {
		if (old)
			*old = s->value;
		return 1;
	}
	s->key = malloc(klen ? klen : 1);
	if (!s->key)
		return -1;
	memcpy(s->key, key, klen);
	s->klen = klen;
	s->hash = h;
	s->value = value;
	m->count++;
	return 0;
}

int td_map_get(const td_map *m, const char *key, size_t klen, size_t *value)
{
	const slot *s = probe(m, key, klen, fnv1a(key, klen));

	if (!s->key)
		return 0;
	*value = s->value;
	return 1;
}

size_t td_map_count(const td_map *m)
{
	return m->count;
}
