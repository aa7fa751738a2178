/* family.c — which rules convert which model (see family.h). */
#include "family.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../common/file.h"
#include "../plan/plan.h"

#define FAM_MAX 64
#define FAM_NAME 64

/* dir/families: "pattern rules" lines, first match wins. */
typedef struct fam_table {
	char pat[FAM_MAX][FAM_NAME];
	char rules[FAM_MAX][FAM_NAME];
	int n;
} fam_table;

/* Lower-case, without '_' and '-' (slime's normalization). */
static void normalize(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		if (*in != '_' && *in != '-')
			out[n++] = (char)tolower((unsigned char)*in);
	out[n] = '\0';
}

static int read_table(const char *dir, fam_table *t, td_err *err)
{
	char *list = td_path_join(dir, "families"), line[512];
	FILE *f = list ? fopen(list, "r") : NULL;

	t->n = 0;
	if (!f) {
		td_errf(err, "%s: no rules installed here (build td2hf with "
			"make, install it, or set TD2HF_RULES_DIR; --rules FILE "
			"needs none)", dir);
		free(list);
		return -1;
	}
	while (t->n < FAM_MAX && fgets(line, sizeof line, f)) {
		if (line[0] == '#' || sscanf(line, "%63s %63s", t->pat[t->n],
					      t->rules[t->n]) != 2)
			continue;
		t->n++;
	}
	fclose(f);
	free(list);
	return 0;
}

/* Whether rules[i] first appears at i (each family listed once). */
static int first_of(const fam_table *t, int i)
{
	for (int j = 0; j < i; j++)
		if (strcmp(t->rules[j], t->rules[i]) == 0)
			return 0;
	return 1;
}

/* "a, b, c" of the patterns (which = 0) or the distinct families (1). */
static void join(const fam_table *t, int which, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = '\0';
	for (int i = 0; i < t->n && n < size; i++) {
		if (which && !first_of(t, i))
			continue;
		n += (size_t)snprintf(buf + n, size - n, "%s%s", n ? ", " : "",
				      which ? t->rules[i] : t->pat[i]);
	}
}

int family_model_name(const char *hf_dir, char *name, size_t size, td_err *err)
{
	char *path = td_path_join(hf_dir, "config.json");
	unsigned char *buf = NULL;
	const cJSON *am, *ac, *mt;
	cJSON *j = NULL;
	char cls[256];
	size_t len;
	int rc = -1;

	if (path && td_slurp(path, 16 << 20, &buf, &len, err) == 0 &&
	    !(j = cJSON_ParseWithLength((char *)buf, len)))
		td_errf(err, "%s: not valid JSON", path);
	am = cJSON_GetObjectItemCaseSensitive(j, "auto_map");
	ac = cJSON_GetObjectItemCaseSensitive(am, "AutoConfig");
	mt = cJSON_GetObjectItemCaseSensitive(j, "model_type");
	if (cJSON_IsString(ac) && strrchr(ac->valuestring, '.')) {
		snprintf(cls, sizeof cls, "%s", strrchr(ac->valuestring, '.') + 1);
		rc = 0;
	} else if (cJSON_IsString(mt)) {
		snprintf(cls, sizeof cls, "%sconfig", mt->valuestring);
		rc = 0;
	} else if (j) {
		td_errf(err, "%s: no model_type (use --model-name or --rules)",
			path);
	}
	if (rc == 0)
		normalize(cls, name, size);
	cJSON_Delete(j);
	free(buf);
	free(path);
	return rc;
}

int family_rules_path(const char *dir, const char *model, char *path,
		      size_t size, td_err *err)
{
	char norm[256], names[FAM_MAX * (FAM_NAME + 2)];
	fam_table t;

	if (read_table(dir, &t, err) != 0)
		return -1;
	normalize(model, norm, sizeof norm);
	for (int i = 0; i < t.n; i++)
		if (strstr(norm, t.pat[i])) {
			snprintf(path, size, "%s/%s.mapbc", dir, t.rules[i]);
			return 0;
		}
	join(&t, 0, names, sizeof names);
	return td_errf(err, "model '%s' matches no family: the name, "
		       "lower-cased without '_' and '-', must contain one of "
		       "%s (td2hf rules lists them; or give --rules FILE)",
		       model, names);
}

int family_arch_path(const char *dir, const char *arch, char *path,
		     size_t size, td_err *err)
{
	char names[FAM_MAX * (FAM_NAME + 2)];
	struct stat st;
	fam_table t;

	if (read_table(dir, &t, err) != 0)
		return -1;
	for (int i = 0; i < t.n; i++) {
		if (strcmp(arch, t.rules[i]) != 0)
			continue;
		snprintf(path, size, "%s/%s.mapbc", dir, arch);
		if (stat(path, &st) == 0)
			return 0;
		return td_errf(err, "--arch %s: %s is missing (rebuild or "
			       "reinstall td2hf)", arch, path);
	}
	join(&t, 1, names, sizeof names);
	return td_errf(err, "--arch %s: unknown family; the families are %s "
		       "(see td2hf rules)", arch, names);
}

int family_list(const char *dir, FILE *out)
{
	char path[PATH_MAX];
	struct stat st;
	fam_table t;
	td_err err;

	if (read_table(dir, &t, &err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return 1;
	}
	fprintf(out, "rules in %s\n\n"
		"A model name (--model-name, or the --hf-checkpoint's config "
		"class) is lower-cased\nwithout '_' and '-'; the first line "
		"whose pattern it contains selects the rules.\n"
		"--arch FAMILY selects them directly.\n\n%-14s %-13s %s\n",
		dir, "name contains", "family", "rules file");
	for (int i = 0; i < t.n; i++) {
		snprintf(path, sizeof path, "%s/%s.mapbc", dir, t.rules[i]);
		fprintf(out, "%-14s %-13s %s%s\n", t.pat[i], t.rules[i], path,
			stat(path, &st) == 0 ? "" : "  (missing)");
	}
	return 0;
}

/* ---------------------------------------------------------------- detect */

typedef struct fit {
	const char *name;    /* the family */
	int covers;          /* every stored key mapped or skipped */
	uint32_t unused;     /* rules that matched nothing */
	uint32_t outputs;
	char why[TD_ERR_MAX];
} fit;

static void try_family(const char *dir, td_checkpoint *ck, fit *f)
{
	plan_options po = {(uint64_t)5 << 30, NULL, 0, NULL, NULL};
	char path[PATH_MAX];
	program prog;
	td_err err;
	plan pl;

	snprintf(path, sizeof path, "%s/%s.mapbc", dir, f->name);
	if (prog_read(path, &prog, &err) != 0) {
		snprintf(f->why, sizeof f->why, "%s", err.msg);
		return;
	}
	if (plan_build(ck, &prog, &po, &pl, &err) != 0) {
		snprintf(f->why, sizeof f->why, "%s", err.msg);
	} else {
		f->covers = 1;
		f->unused = plan_unused_rules(&pl, &prog);
		f->outputs = pl.nemitted;
		plan_free(&pl);
	}
	prog_free(&prog);
}

/* Best first: covering every key, then fewest unused rules; families
 * that fit equally well are listed together, by name. */
static int fit_cmp(const void *a, const void *b)
{
	const fit *x = a, *y = b;

	if (x->covers != y->covers)
		return y->covers - x->covers;
	if (x->covers && x->unused != y->unused)
		return x->unused < y->unused ? -1 : 1;
	if (x->covers && x->outputs != y->outputs)
		return x->outputs > y->outputs ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int same_fit(const fit *x, const fit *y)
{
	return x->covers && y->covers && x->unused == y->unused &&
	       x->outputs == y->outputs;
}

static void print_fits(const fit *fits, int n, FILE *out)
{
	for (int i = 0; i < n; i++) {
		const fit *f = &fits[i];
		int j = i;

		if (!f->covers) {
			fprintf(out, "  %-13s no: %s\n", f->name, f->why);
			continue;
		}
		fprintf(out, "  %s", f->name);
		while (j + 1 < n && same_fit(f, &fits[j + 1]))
			fprintf(out, ", %s", fits[++j].name);
		fprintf(out, "%s every stored key: %u outputs, %u rules "
			"unused\n", j > i ? " (equally) cover" : " covers",
			f->outputs, f->unused);
		i = j;
	}
}

int family_detect(const char *dir, const char *checkpoint, FILE *out)
{
	fit fits[FAM_MAX];
	td_checkpoint ck;
	fam_table t;
	td_err err;
	int n = 0, i, ok = 0;

	if (read_table(dir, &t, &err) != 0 || ckpt_open(checkpoint, &ck, &err)) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return 1;
	}
	for (i = 0; i < t.n; i++) {
		if (!first_of(&t, i))
			continue;
		memset(&fits[n], 0, sizeof fits[n]);
		fits[n].name = t.rules[i];
		try_family(dir, &ck, &fits[n]);
		ok += fits[n++].covers;
	}
	ckpt_close(&ck);
	qsort(fits, (size_t)n, sizeof *fits, fit_cmp);
	fprintf(out, "families for %s, best first:\n", checkpoint);
	print_fits(fits, n, out);
	if (!ok)
		fprintf(out, "no installed family covers this checkpoint; "
			"write rules for it (docs/adding-a-model.md)\n");
	return ok ? 0 : 1;
}
