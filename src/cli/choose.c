/* choose.c — which rules a conversion runs (see choose.h). */
#include "choose.h"

#include <limits.h>
#include <string.h>

#include "../common/file.h"
#include "../lang/compile.h"
#include "family.h"
#include "rulesdir.h"

#define NAME_MAX_LEN 256

/* The rules path, and in `why` what chose it. */
static int choose_path(const choose_request *rq, const char *dir, char *path,
		       size_t size, char *why, size_t wsize, td_err *err)
{
	char model[NAME_MAX_LEN];

	if (rq->rules) {
		snprintf(path, size, "%s", rq->rules);
		snprintf(why, wsize, "--rules");
		return 0;
	}
	if (rq->arch) {
		snprintf(why, wsize, "--arch %s", rq->arch);
		return family_arch_path(dir, rq->arch, path, size, err);
	}
	if (rq->model)
		snprintf(model, sizeof model, "%s", rq->model);
	else if (family_model_name(rq->hf, model, sizeof model, err) != 0)
		return -1;
	if (rq->model)
		snprintf(why, wsize, "--model-name %s", model);
	else
		snprintf(why, wsize, "%s/config.json: %s", rq->hf, model);
	return family_rules_path(dir, model, path, size, err);
}

/* The family name of a rules path: its file name less .map/.mapbc. */
static void family_of(const char *path, char *buf, size_t size)
{
	const char *base = strrchr(path, '/') ? strrchr(path, '/') + 1 : path;
	size_t n = strcspn(base, ".");

	snprintf(buf, size, "%.*s", (int)n, base);
}

/* A model name (--model-name, config.json) whose family is not the one
 * of the rules used is worth a warning: the output would be named for
 * another model. */
static void check_name(const char *dir, const char *used, const char *model,
		       const char *source)
{
	char path[PATH_MAX], fam[NAME_MAX_LEN], ufam[NAME_MAX_LEN];
	td_err err;

	if (family_rules_path(dir, model, path, sizeof path, &err) != 0)
		return;
	family_of(path, fam, sizeof fam);
	family_of(used, ufam, sizeof ufam);
	if (strcmp(fam, ufam) != 0)
		fprintf(stderr, "td2hf: warning: %s names a %s model, but the "
			"rules used are %s's (%s)\n", source, fam, ufam, used);
}

static void report(const choose_request *rq, const char *dir, const char *path,
		   const char *why)
{
	char model[NAME_MAX_LEN], source[PATH_MAX + 32];
	td_err err;

	if (rq->notes)
		fprintf(rq->notes, "td2hf: rules %s (chosen by %s)\n", path, why);
	if (rq->notes && rq->model && (rq->rules || rq->arch))
		fprintf(rq->notes, "td2hf: %s chooses the rules; --model-name "
			"is only checked against them\n",
			rq->rules ? "--rules" : "--arch");
	if (rq->model && (rq->rules || rq->arch))
		check_name(dir, path, rq->model, "--model-name");
	if (rq->hf && (rq->rules || rq->arch || rq->model) &&
	    family_model_name(rq->hf, model, sizeof model, &err) == 0) {
		snprintf(source, sizeof source, "%s/config.json (%s)", rq->hf,
			 model);
		check_name(dir, path, model, source);
	}
}

static int load(const choose_request *rq, const char *dir, const char *path,
		program *prog)
{
	const char *inc[CH_MAX_INCLUDES + 1];
	compile_options mo = {inc, 0, stderr, 0};
	td_err err;
	int n;

	if (!td_ends_with(path, ".map")) {
		if (prog_read(path, prog, &err) == 0)
			return 0;
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return -1;
	}
	for (n = 0; n < rq->nincludes; n++)
		inc[n] = rq->includes[n];
	inc[n++] = dir;
	mo.ninclude_dirs = n;
	n = compile_rules(path, &mo, prog);
	if (n)
		fprintf(stderr, "td2hf: %s: %d error%s\n", path, n,
			n == 1 ? "" : "s");
	return n ? -1 : 0;
}

int choose_load(const choose_request *rq, program *prog)
{
	char dir[PATH_MAX], path[PATH_MAX], why[PATH_MAX + 64];
	td_err err;

	rules_dir(dir, sizeof dir);
	if (choose_path(rq, dir, path, sizeof path, why, sizeof why,
			&err) != 0) {
		fprintf(stderr, "td2hf: %s\n", err.msg);
		return -1;
	}
	report(rq, dir, path, why);
	return load(rq, dir, path, prog);
}
