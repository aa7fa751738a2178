/* builder.h — growing the tables of a program while compiling. */
#ifndef TD_BUILDER_H
#define TD_BUILDER_H

#include "../common/map.h"
#include "program.h"

typedef struct builder {
	program p;
	td_map *str_index;   /* interned strings -> id */
	int oom;
} builder;

int build_init(builder *b);
void build_release(builder *b);  /* frees the index; p stays */

uint32_t build_str(builder *b, const char *s);
uint32_t build_kint(builder *b, int64_t v);
int32_t build_code_here(const builder *b);
void build_instr(builder *b, opcode op, int a, int32_t c, int line);

/* Appends one element to a table; returns its index (or 0 with b->oom). */
uint32_t build_param(builder *b, prog_param v);
uint32_t build_item(builder *b, prog_item v);
uint32_t build_pattern(builder *b, prog_pattern v);
uint32_t build_rewrite(builder *b, prog_rewrite v);
uint32_t build_skip(builder *b, prog_rule v);
uint32_t build_rule(builder *b, prog_rule v);
uint32_t build_group(builder *b, prog_group v);
uint32_t build_require(builder *b, prog_require v);
uint32_t build_member(builder *b, uint32_t pat);
uint32_t build_quant(builder *b, prog_quant v);

#endif
