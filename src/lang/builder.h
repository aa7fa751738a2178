/* builder.h — growing the tables of a program while compiling. */
#ifndef TD_BUILDER_H
#define TD_BUILDER_H

#include "../common/map.h"
#include "program.h"

typedef struct mp_builder {
	mp_program p;
	td_map *str_index;   /* interned strings -> id */
	int oom;
} mp_builder;

int mb_init(mp_builder *b);
void mb_release(mp_builder *b);  /* frees the index; p stays */

uint32_t mb_str(mp_builder *b, const char *s);
uint32_t mb_kint(mp_builder *b, int64_t v);
int32_t mb_code_here(const mp_builder *b);
void mb_instr(mp_builder *b, mp_opcode op, int a, int32_t c, int line);

/* Appends one element to a table; returns its index (or 0 with b->oom). */
uint32_t mb_param(mp_builder *b, mp_param v);
uint32_t mb_item(mp_builder *b, mp_item v);
uint32_t mb_pattern(mp_builder *b, mp_pattern v);
uint32_t mb_rewrite(mp_builder *b, mp_rewrite v);
uint32_t mb_skip(mp_builder *b, mp_rule v);
uint32_t mb_rule(mp_builder *b, mp_rule v);
uint32_t mb_group(mp_builder *b, mp_group v);
uint32_t mb_require(mp_builder *b, mp_require v);
uint32_t mb_member(mp_builder *b, uint32_t pat);
uint32_t mb_quant(mp_builder *b, mp_quant v);

#endif
