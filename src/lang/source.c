#include "source.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../common/file.h"

#define MAX_RULE_FILE ((uint64_t)16 << 20)

src_file *src_load(const char *path, td_err *err)
{
	src_file *f = calloc(1, sizeof *f);
	unsigned char *buf;
	size_t len;

	if (!f)
		return td_errf(err, "%s: out of memory", path), NULL;
	if (td_slurp(path, MAX_RULE_FILE, &buf, &len, err) != 0) {
		free(f);
		return NULL;
	}
	f->text = realloc(buf, len + 1);
	f->path = strdup(path);
	if (!f->text || !f->path) {
		free(f->text ? f->text : (char *)buf);
		free(f->path);
		free(f);
		return td_errf(err, "%s: out of memory", path), NULL;
	}
	f->text[len] = '\0';
	f->len = len;
	if (memchr(f->text, '\0', len)) {
		td_errf(err, "%s: contains a NUL byte (not a rule file)", path);
		src_free(f);
		return NULL;
	}
	return f;
}

void src_free(src_file *f)
{
	if (!f)
		return;
	free(f->text);
	free(f->path);
	free(f);
}

/* Prints line `line` of f and a caret under column `col`. */
static void quote_line(FILE *out, const src_file *f, int line, int col)
{
	const char *p = f->text, *end;
	int i;

	for (i = 1; i < line && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p)
		return;
	end = strchr(p, '\n');
	if (!end)
		end = p + strlen(p);
	fprintf(out, "  %.*s\n  ", (int)(end - p), p);
	for (i = 1; i < col && p + i - 1 < end; i++)
		fputc(p[i - 1] == '\t' ? '\t' : ' ', out);
	fputs("^\n", out);
}

void src_error(src_diag *d, src_loc loc, const char *fmt, ...)
{
	va_list ap;

	d->errors++;
	if (!d->out || (d->max_errors && d->errors > d->max_errors))
		return;
	if (loc.file)
		fprintf(d->out, "%s:%d:%d: error: ", loc.file->path, loc.line,
			loc.col);
	else
		fputs("error: ", d->out);
	va_start(ap, fmt);
	vfprintf(d->out, fmt, ap);
	va_end(ap);
	fputc('\n', d->out);
	if (loc.file)
		quote_line(d->out, loc.file, loc.line, loc.col);
}
