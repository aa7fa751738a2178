/* rulesdir.h — where td2hf and mapc find the installed rules. */
#ifndef TD_RULESDIR_H
#define TD_RULESDIR_H

#include <stddef.h>

/* $TD2HF_RULES_DIR when set; else the rules/ directory beside the running
 * program when it holds a families table (a build tree: `make` puts the
 * compiled rules there, so td2hf works before `make install`); else the
 * installed $(pkgdatadir)/rules.  Written into buf, which is returned. */
const char *rules_dir(char *buf, size_t size);

#endif
