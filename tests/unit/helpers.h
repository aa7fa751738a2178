/* helpers.h — shared by the unit test suites. */
#ifndef TD_TEST_HELPERS_H
#define TD_TEST_HELPERS_H

#include <stddef.h>

/* Path under the source tree (TD_SRCDIR): static buffer, next call reuses. */
const char *src_path(const char *rel);

/* Whole file into a malloc'd buffer; aborts the test run if missing. */
unsigned char *read_all(const char *path, size_t *len);

/* A fresh temporary directory (removed by rm_rf). */
char *make_temp_dir(void);
void write_file(const char *dir, const char *name, const void *buf,
		size_t len);
void copy_dir(const char *from, const char *to);
void rm_rf(const char *dir);

#endif
