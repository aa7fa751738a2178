/* units.c — byte sizes for people. */
#include "units.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The multiplier a suffix names, or 0 for an unknown suffix. */
static uint64_t suffix_mult(const char *s)
{
	static const char *const names = "KMGT";
	const char *p;
	uint64_t m = 1;
	int power;

	if (!*s || strcasecmp(s, "B") == 0)
		return 1;
	p = strchr(names, s[0] >= 'a' ? s[0] - 32 : s[0]);
	if (!p)
		return 0;
	power = (int)(p - names) + 1;
	if (s[1] == '\0' || strcasecmp(s + 1, "iB") == 0) {
		while (power--)
			m <<= 10;
		return m;
	}
	if (strcasecmp(s + 1, "B") == 0) {
		while (power--)
			m *= 1000;
		return m;
	}
	return 0;
}

int td_parse_size(const char *s, uint64_t *out)
{
	uint64_t whole = 0, frac = 0, scale = 1, mult, v;
	const char *p = s;
	int digits = 0;

	for (; *p >= '0' && *p <= '9'; p++, digits++) {
		if (whole > (UINT64_MAX - 9) / 10)
			return -1;
		whole = whole * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, digits++)
			if (scale < 1000000000ull) {
				frac = frac * 10 + (uint64_t)(*p - '0');
				scale *= 10;
			}
	mult = suffix_mult(p);
	if (digits == 0 || mult == 0 || (frac && mult == 1) ||
	    (whole && mult > UINT64_MAX / whole))
		return -1;
	v = whole * mult;
	if (frac) {
		/* frac/scale of mult, rounded down, without overflow:
		 * frac < scale <= 10^9 and mult <= 10^12. */
		uint64_t part = (mult / scale) * frac +
				(mult % scale) * frac / scale;

		if (part > UINT64_MAX - v)
			return -1;
		v += part;
	}
	if (v == 0)
		return -1;
	*out = v;
	return 0;
}

void td_human_bytes(uint64_t n, char *buf, size_t size)
{
	static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB",
					    "PiB"};
	double v = (double)n;
	int u = 0;

	while (v >= 1024 && u < 5) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}
