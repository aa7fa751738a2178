/* program.h — a compiled rule set: the tables of a .mapbc file in memory.
 *
 * mapc builds one (compile.c), writes it (mp_write) and disassembles it
 * (mp_disasm); td2hf loads one (mp_read), which validates every index,
 * operand and stack effect before anything runs. docs/bytecode.md is the
 * byte-level description. */
#ifndef TD_PROGRAM_H
#define TD_PROGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/err.h"
#include "opcodes.h"

#define MP_MAGIC "TD2HFMAP"
#define MP_VERSION 3
#define MP_NO (-1)   /* "absent" for optional indexes */

/* Limits every valid program keeps: mp_validate checks them and the VM
 * sizes its stacks by them, so a program that loads cannot overrun. */
#define MP_MAX_STACK 256     /* integers on the stack */
#define MP_MAX_STREAMS 64    /* working (and saved) tensors */
#define MP_MAX_CAPS 17       /* a pattern's 16 captures + a rewrite's split
			      * index */

typedef struct mp_instr {
	uint8_t op;
	uint8_t a;       /* counts (RESHAPE, SPLIT, ...) */
	uint16_t line;   /* source line, for diagnostics (0: unknown) */
	int32_t c;       /* operand */
} mp_instr;

typedef enum mp_item_kind { PI_LIT, PI_INT, PI_TEXT, PI_STAR } mp_item_kind;

typedef struct mp_item {
	uint32_t kind;   /* mp_item_kind */
	uint32_t arg;    /* LIT: string id; INT/TEXT: capture slot */
	uint32_t name;   /* INT/TEXT: string id of the capture's name */
} mp_item;

typedef struct mp_pattern {
	uint32_t first, n;   /* items[first .. first+n) */
	uint32_t ncaps;
} mp_pattern;

typedef enum mp_param_kind { PK_REQUIRED, PK_DEFAULT, PK_LET } mp_param_kind;

typedef struct mp_param {
	uint32_t name;   /* string id */
	uint32_t kind;   /* mp_param_kind */
	int32_t code;    /* default / value expression, or MP_NO */
} mp_param;

typedef struct mp_rewrite {
	uint32_t pat;
	int32_t unless;      /* pattern, or MP_NO */
	int32_t split_slot;  /* capture bound to the split index, or MP_NO */
	int32_t count_code;  /* expression: entries along axis 0, or MP_NO */
	int32_t name_code;   /* name program */
	uint32_t file, line; /* where it was written (string id, line) */
} mp_rewrite;

typedef struct mp_rule {
	uint32_t pat;
	int32_t code;        /* rule program; MP_NO for skip */
	uint32_t file, line;
} mp_rule;

typedef struct mp_group {
	int32_t when_code;   /* expression, or MP_NO */
	uint32_t first, n;   /* members[first .. first+n): pattern ids */
	uint32_t file, line;
} mp_group;

/* `require EXPR, "why"`: the checkpoint these rules convert. */
typedef struct mp_require {
	int32_t code;        /* expression: none or 0 refuses the checkpoint */
	uint32_t why;        /* string: what it means, for the message */
	uint32_t file, line;
} mp_require;

/* `quantize "P" unless "G", ...`: the outputs --quantize converts to
 * FP8, one line a record: P (kind QK_MATCH) and each G (QK_UNLESS). */
typedef enum mp_quant_kind { QK_MATCH, QK_UNLESS } mp_quant_kind;

typedef struct mp_quant {
	uint32_t pat;        /* pattern over output names */
	uint32_t kind;       /* mp_quant_kind */
	uint32_t file, line;
} mp_quant;

typedef struct mp_program {
	char **strs;
	uint32_t *str_len;
	uint32_t nstrs;
	int64_t *kint;
	uint32_t nkint;
	mp_param *params;
	uint32_t nparams;
	mp_item *items;
	uint32_t nitems;
	mp_pattern *pats;
	uint32_t npats;
	mp_rewrite *rewrites;
	uint32_t nrewrites;
	mp_rule *skips;      /* applied to stored keys before rewrites */
	uint32_t nskips;
	mp_rule *rules;
	uint32_t nrules;
	mp_group *groups;
	uint32_t ngroups;
	uint32_t *members;
	uint32_t nmembers;
	mp_require *requires;
	uint32_t nrequires;
	mp_quant *quants;
	uint32_t nquants;
	mp_instr *code;
	uint32_t ncode;
} mp_program;

void mp_free(mp_program *p);

/* Serializes p (little-endian, docs/bytecode.md). */
int mp_write(const mp_program *p, const char *path, td_err *err);

/* Reads and validates a .mapbc file.  Any defect is an error naming the
 * file; nothing in the result needs checking again. */
int mp_read(const char *path, mp_program *p, td_err *err);
int mp_read_buffer(const unsigned char *buf, size_t len, const char *name,
		   mp_program *p, td_err *err);

/* Pattern id as it reads in a rules file ("decoder.layers.<i>.x"). */
void mp_print_pattern(const mp_program *p, uint32_t id, FILE *out);

/* Human-readable listing of every table and instruction. */
void mp_disasm(const mp_program *p, FILE *out);

/* Validation alone (used by mp_read and by the compiler's self-check). */
int mp_validate(const mp_program *p, td_err *err);

#endif
