/* match.h — matching tensor names against compiled patterns. */
#ifndef TD_MATCH_H
#define TD_MATCH_H

#include <stddef.h>
#include <stdint.h>

#include "../lang/program.h"

#define VM_MAX_CAPS PROG_MAX_CAPS

typedef struct vm_caps {
	int64_t ints[VM_MAX_CAPS];      /* PI_INT captures */
	const char *text[VM_MAX_CAPS];  /* PI_TEXT captures: into the name */
	size_t text_len[VM_MAX_CAPS];
} vm_caps;

/* Matches the whole of name against pattern pat.  <n> matches one or
 * more digits (longest first), {t} one or more characters and * zero or
 * more (shortest first); the first full match found wins.  Returns 1 on
 * a match (caps filled), else 0. */
int vm_match(const program *p, uint32_t pat, const char *name,
	     vm_caps *caps);

#endif
