#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* dst = a + sep + b + sep2 + c, truncated to fit. */
static void join(char *dst, size_t size, const char *const *parts, int n)
{
	size_t len = 0, k;
	int i;

	for (i = 0; i < n && len + 1 < size; i++) {
		k = strlen(parts[i]);
		if (k > size - 1 - len)
			k = size - 1 - len;
		memcpy(dst + len, parts[i], k);
		len += k;
	}
	dst[len] = '\0';
}

int td_errf(td_err *err, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof err->msg, fmt, ap);
	va_end(ap);
	return -1;
}

int td_err_prefix(td_err *err, const char *fmt, ...)
{
	char head[TD_ERR_MAX], old[TD_ERR_MAX];
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(head, sizeof head, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	join(err->msg, sizeof err->msg,
	     (const char *const[]){head, ": ", old}, 3);
	return -1;
}

int td_err_context(td_err *err, const char *path, const char *fmt, ...)
{
	char ctx[TD_ERR_MAX], old[TD_ERR_MAX];
	size_t plen = strlen(path);
	const char *rest;
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(ctx, sizeof ctx, fmt, ap);
	va_end(ap);
	memcpy(old, err->msg, sizeof old);
	rest = old;
	if (strncmp(old, path, plen) == 0 && strncmp(old + plen, ": ", 2) == 0)
		rest = old + plen + 2;
	join(err->msg, sizeof err->msg,
	     (const char *const[]){path, ": ", ctx, ": ", rest}, 5);
	return -1;
}
