/* args.c — common.pt is {"args": argparse.Namespace(...), "iteration": N,
 * "checkpoint_version": 3.0, ...}; the Namespace pickles as NEWOBJ with
 * BUILD of its attribute dict.  Values that are not plain scalars (enums,
 * torch dtypes, lists, paths) are kept as ARG_OTHER with a rendering. */
#include "args.h"

#include <stdlib.h>
#include <string.h>

#include "../common/file.h"
#include "pickle.h"
#include "torchsave.h"

#define RENDER_MAX 256

const char *arg_type_name(arg_type t)
{
	static const char *const names[] = {
		"none", "bool", "int", "float", "str", "other"
	};

	return (unsigned)t < 6 ? names[t] : "?";
}

static int set_entry(arg_entry *e, const pickle_value *name, const pickle_value *v)
{
	char buf[RENDER_MAX];

	e->name = strdup(pickle_str(name));
	switch (v->kind) {
	case PK_NONE:  e->type = ARG_NONE; break;
	case PK_BOOL:  e->type = ARG_BOOL; e->i = v->u.b; break;
	case PK_INT:   e->type = ARG_INT; e->i = v->u.i; break;
	case PK_FLOAT: e->type = ARG_FLOAT; e->f = v->u.f; break;
	case PK_STR:
		e->type = ARG_STR;
		e->text = strdup(v->u.s.p);
		return e->name && e->text ? 0 : -1;
	default:
		e->type = ARG_OTHER;
		pickle_repr(v, buf, sizeof buf);
		e->text = strdup(buf);
		return e->name && e->text ? 0 : -1;
	}
	return e->name ? 0 : -1;
}

static int read_namespace(const char *path, arg_table *t, const pickle_value *ns,
			  td_err *err)
{
	const pickle_value *st;
	size_t i, n;

	if (!pickle_is_instance(ns, "argparse", "Namespace"))
		return td_errf(err, "%s: 'args' is not an argparse.Namespace",
			       path);
	st = ns->u.obj->state;
	if (!st || st->kind != PK_DICT)
		return td_errf(err, "%s: the args Namespace has no attributes",
			       path);
	n = st->u.seq.n / 2;
	t->v = calloc(n ? n : 1, sizeof *t->v);
	if (!t->v)
		return td_errf(err, "%s: out of memory", path);
	for (i = 0; i < n; i++) {
		if (!pickle_str(st->u.seq.v[2 * i]))
			return td_errf(err, "%s: args has a non-string "
				       "attribute name", path);
		t->n++;
		if (set_entry(&t->v[i], st->u.seq.v[2 * i],
			      st->u.seq.v[2 * i + 1]) != 0)
			return td_errf(err, "%s: out of memory", path);
	}
	return 0;
}

static void read_extras(arg_table *t, const pickle_value *root)
{
	const pickle_value *it = pickle_dict_get(root, "iteration");
	const pickle_value *ver = pickle_dict_get(root, "checkpoint_version");

	t->iteration = it && it->kind == PK_INT ? it->u.i : -1;
	if (ver && (ver->kind == PK_FLOAT || ver->kind == PK_INT)) {
		t->has_version = 1;
		t->checkpoint_version = ver->kind == PK_FLOAT ? ver->u.f
							      : (double)ver->u.i;
	}
}

int args_load(const char *path, arg_table *t, td_err *err)
{
	pickle_doc *doc = NULL;
	const pickle_value *root;
	td_file f;
	int rc;

	memset(t, 0, sizeof *t);
	if (td_file_open(&f, path, err) != 0)
		return -1;
	rc = torchsave_read_pickle(&f, 0, f.size, &doc, err);
	td_file_close(&f);
	if (rc != 0)
		return -1;
	root = pickle_root(doc);
	if (!root || root->kind != PK_DICT || !pickle_dict_get(root, "args"))
		rc = td_errf(err, "%s: not a Megatron common.pt (no 'args' "
			     "entry in a dict)", path);
	else
		rc = read_namespace(path, t, pickle_dict_get(root, "args"), err);
	if (rc == 0)
		read_extras(t, root);
	pickle_doc_free(doc);
	if (rc != 0)
		args_free(t);
	return rc;
}

void args_free(arg_table *t)
{
	size_t i;

	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].text);
	}
	free(t->v);
	memset(t, 0, sizeof *t);
}

const arg_entry *args_find(const arg_table *t, const char *name)
{
	size_t i;

	for (i = 0; i < t->n; i++)
		if (strcmp(t->v[i].name, name) == 0)
			return &t->v[i];
	return NULL;
}
