/* vmharness.c — see vmharness.h. */
#include "vmharness.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "src/lang/program.h"
#include "src/plan/plan.h"
#include "src/reader/checkpoint.h"

#define MAX_SETS 8

struct fz_catalogs {
	td_checkpoint ck[FZ_MAX_CKPTS];
	int n;
	FILE *null;
};

static const char *const fixtures[FZ_MAX_CKPTS] = {
	"tests/fixtures/e2e/qwen3/ckpt", "tests/fixtures/e2e/glm5/ckpt",
};

fz_catalogs *fz_open(const char *srcdir)
{
	fz_catalogs *c = calloc(1, sizeof *c);
	char path[4096];
	td_err err;

	if (!c || !(c->null = fopen("/dev/null", "w"))) {
		free(c);
		return NULL;
	}
	for (c->n = 0; c->n < FZ_MAX_CKPTS; c->n++) {
		snprintf(path, sizeof path, "%s/%s", srcdir, fixtures[c->n]);
		if (ckpt_open(path, &c->ck[c->n], &err) != 0) {
			fprintf(stderr, "fuzz: %s\n", err.msg);
			fz_close(c);
			return NULL;
		}
	}
	return c;
}

void fz_close(fz_catalogs *c)
{
	int i;

	if (!c)
		return;
	for (i = 0; i < c->n; i++)
		ckpt_close(&c->ck[i]);
	if (c->null)
		fclose(c->null);
	free(c);
}

typedef struct sets {
	plan_override ov[MAX_SETS];
	char value[MAX_SETS][24];
	int n;
} sets;

static int64_t le64(const uint8_t *b)
{
	uint64_t v = 0;
	int i;

	for (i = 7; i >= 0; i--)
		v = v << 8 | b[i];
	return (int64_t)v;
}

/* The parameter records in front of the program; *skip is their size. */
static void read_sets(const uint8_t *data, size_t size, size_t *skip,
		      uint8_t *idx, int64_t *val, int *n)
{
	int i;

	*n = 0;
	*skip = 0;
	if (size == 0 || (size >= 8 && memcmp(data, PROG_MAGIC, 8) == 0))
		return;
	*n = data[0] % (MAX_SETS + 1);
	if (size < 1 + 9 * (size_t)*n) {
		*n = 0;
		*skip = size;
		return;
	}
	for (i = 0; i < *n; i++) {
		idx[i] = data[1 + 9 * i];
		val[i] = le64(data + 2 + 9 * i);
	}
	*skip = 1 + 9 * (size_t)*n;
}

/* The records as --set overrides of the program's non-let parameters. */
static void make_sets(const program *p, const uint8_t *idx,
		      const int64_t *val, int n, sets *s)
{
	uint32_t settable[256], ns = 0, i;
	int k;

	s->n = 0;
	for (i = 0; i < p->nparams && ns < 256; i++)
		if (p->params[i].kind != PK_LET)
			settable[ns++] = i;
	for (k = 0; k < n && ns; k++) {
		s->ov[s->n].name = p->strs[p->params[settable[idx[k] % ns]].name];
		if (val[k] == INT64_MIN)
			snprintf(s->value[s->n], sizeof s->value[0], "none");
		else
			snprintf(s->value[s->n], sizeof s->value[0], "%" PRId64,
				 val[k]);
		s->ov[s->n].value = s->value[s->n];
		s->n++;
	}
}

static int plan_one(const fz_catalogs *c, int i, const program *p,
		    const sets *s)
{
	plan_options o = {4096, s->ov, s->n, NULL, NULL};
	td_checkpoint *ck = (td_checkpoint *)&c->ck[i];
	td_err err;
	plan pl;
	char *index;

	if (plan_build(ck, p, &o, &pl, &err) != 0)
		return -1;
	plan_print(&pl, ck, p, c->null);
	plan_print_unused(&pl, p, c->null);
	index = plan_index_json(&pl);
	free(index);
	plan_free(&pl);
	return 0;
}

int fz_run_mapbc(const fz_catalogs *c, const uint8_t *data, size_t size)
{
	uint8_t idx[MAX_SETS];
	int64_t val[MAX_SETS];
	program p;
	size_t skip;
	td_err err;
	sets s;
	int i, n, rc = -1;

	read_sets(data, size, &skip, idx, val, &n);
	if (prog_read_buffer(data + skip, size - skip, "fuzz", &p, &err) != 0)
		return -1;
	prog_disasm(&p, c->null);
	make_sets(&p, idx, val, n, &s);
	for (i = 0; i < c->n; i++)
		if (plan_one(c, i, &p, &s) == 0)
			rc = 0;
	prog_free(&p);
	return rc;
}
