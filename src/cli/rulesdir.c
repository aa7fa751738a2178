/* rulesdir.c — where td2hf and mapc find the installed rules. */
#include "rulesdir.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#ifndef TD_RULES_DIR
#define TD_RULES_DIR "/usr/local/share/td2hf/rules"
#endif

/* "<dir of the running program>/rules" when it holds "families". */
static int beside_program(char *buf, size_t size)
{
	char exe[PATH_MAX], probe[PATH_MAX + 32];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	struct stat st;
	char *slash;

	if (n <= 0)
		return 0;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return 0;
	*slash = '\0';
	snprintf(probe, sizeof probe, "%s/rules/families", exe);
	if (stat(probe, &st) != 0 || !S_ISREG(st.st_mode))
		return 0;
	return snprintf(buf, size, "%s/rules", exe) < (int)size;
}

const char *rules_dir(char *buf, size_t size)
{
	const char *env = getenv("TD2HF_RULES_DIR");

	if (env && *env)
		snprintf(buf, size, "%s", env);
	else if (!beside_program(buf, size))
		snprintf(buf, size, "%s", TD_RULES_DIR);
	return buf;
}
