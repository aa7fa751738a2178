#include "family.h"

#include <cjson/cJSON.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../common/file.h"

#ifndef TD_RULES_DIR
#define TD_RULES_DIR "/usr/local/share/td2hf/rules"
#endif

const char *family_rules_dir(void)
{
	const char *env = getenv("TD2HF_RULES_DIR");

	return env && *env ? env : TD_RULES_DIR;
}

/* Lower-case, without '_' and '-' (slime's normalization). */
static void normalize(const char *in, char *out, size_t size)
{
	size_t n = 0;

	for (; *in && n + 1 < size; in++)
		if (*in != '_' && *in != '-')
			out[n++] = (char)tolower((unsigned char)*in);
	out[n] = '\0';
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
	char *list = td_path_join(dir, "families"), norm[256], line[512];
	FILE *f = list ? fopen(list, "r") : NULL;
	int rc = -1;

	normalize(model, norm, sizeof norm);
	if (!f) {
		td_errf(err, "%s: cannot read the families table (is td2hf "
			"installed? set TD2HF_RULES_DIR or use --rules)",
			list ? list : dir);
		free(list);
		return -1;
	}
	while (rc < 0 && fgets(line, sizeof line, f)) {
		char pat[256], rules[256];

		if (line[0] == '#' || sscanf(line, "%255s %255s", pat, rules) != 2)
			continue;
		if (strstr(norm, pat)) {
			snprintf(path, size, "%s/%s.mapbc", dir, rules);
			rc = 0;
		}
	}
	fclose(f);
	if (rc < 0)
		td_errf(err, "model '%s' matches no family in %s (use --rules)",
			model, list);
	free(list);
	return rc;
}

int family_list(const char *dir)
{
	char *list = td_path_join(dir, "families"), line[512];
	FILE *f = list ? fopen(list, "r") : NULL;

	if (!f) {
		fprintf(stderr, "td2hf: %s: no rules installed here (set "
			"TD2HF_RULES_DIR)\n", dir);
		free(list);
		return 1;
	}
	printf("rules in %s\n\n%-16s %-14s %s\n", dir, "model name has",
	       "rules", "installed");
	while (fgets(line, sizeof line, f)) {
		char pat[256], rules[256], *p;
		FILE *r;

		if (line[0] == '#' || sscanf(line, "%255s %255s", pat, rules) != 2)
			continue;
		p = malloc(strlen(dir) + strlen(rules) + 8);
		if (!p)
			break;
		sprintf(p, "%s/%s.mapbc", dir, rules);
		r = fopen(p, "rb");
		printf("%-16s %-14s %s\n", pat, rules, r ? "yes" : "no (not yet written)");
		if (r)
			fclose(r);
		free(p);
	}
	fclose(f);
	free(list);
	return 0;
}
