/* jsoneq A B [KEY...]: exit 0 when the JSON files A and B hold the same
 * value (objects compared as mappings, key order aside), arrays under a
 * member named KEY compared as sets (slime builds modules_to_not_convert
 * and ignore from a Python set, so their order is arbitrary); else print
 * what differs and exit 1.  A test helper for tests/cli/quantize.sh. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static cJSON *load(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;
	cJSON *j = NULL;

	if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
	    fread(buf, 1, (size_t)n, f) == (size_t)n) {
		buf[n] = '\0';
		j = cJSON_Parse(buf);
	}
	if (f)
		fclose(f);
	free(buf);
	if (!j)
		fprintf(stderr, "jsoneq: %s: cannot read it as JSON\n", path);
	return j;
}

static int by_text(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Sorts array a by the compact text of its items. */
static void sort_array(cJSON *a)
{
	int n = cJSON_GetArraySize(a), i;
	char **t = calloc((size_t)n + 1, sizeof *t);

	if (!t)
		exit(2);
	for (i = 0; i < n; i++)
		t[i] = cJSON_PrintUnformatted(cJSON_GetArrayItem(a, i));
	qsort(t, (size_t)n, sizeof *t, by_text);
	while (cJSON_GetArraySize(a))
		cJSON_DeleteItemFromArray(a, 0);
	for (i = 0; i < n; i++) {
		cJSON_AddItemToArray(a, cJSON_Parse(t[i]));
		free(t[i]);
	}
	free(t);
}

static void normalize(cJSON *j, char **keys, int nkeys)
{
	cJSON *c;

	cJSON_ArrayForEach(c, j) {
		for (int k = 0; k < nkeys; k++)
			if (c->string && cJSON_IsArray(c) &&
			    strcmp(c->string, keys[k]) == 0)
				sort_array(c);
		normalize(c, keys, nkeys);
	}
}

int main(int argc, char **argv)
{
	cJSON *a, *b;
	int same;

	if (argc < 3) {
		fprintf(stderr, "usage: jsoneq A B [KEY...]\n");
		return 2;
	}
	a = load(argv[1]);
	b = load(argv[2]);
	if (!a || !b)
		return 2;
	normalize(a, argv + 3, argc - 3);
	normalize(b, argv + 3, argc - 3);
	same = cJSON_Compare(a, b, 1);
	if (!same) {
		char *ta = cJSON_Print(a), *tb = cJSON_Print(b);

		fprintf(stderr, "jsoneq: %s and %s differ:\n%s\n---\n%s\n",
			argv[1], argv[2], ta, tb);
		free(ta);
		free(tb);
	}
	cJSON_Delete(a);
	cJSON_Delete(b);
	return same ? 0 : 1;
}
