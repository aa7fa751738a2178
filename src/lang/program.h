/* program.h — a compiled rule set: the tables of a .mapbc file in memory.
 *
 * mapc builds one (compile.c), writes it (prog_write) and disassembles it
 * (prog_disasm); td2hf loads one (prog_read), which validates every index,
 * operand and stack effect before anything runs. docs/bytecode.md is the
 * byte-level description. */
#ifndef TD_PROGRAM_H
#define TD_PROGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../common/err.h"
#include "opcodes.h"

#define PROG_MAGIC "TD2HFMAP"
#define PROG_VERSION 3
#define PROG_NO (-1)   /* "absent" for optional indexes */

/* Limits every valid program keeps: prog_validate checks them and the VM
 * sizes its stacks by them, so a program that loads cannot overrun. */
#define PROG_MAX_STACK 256     /* integers on the stack */
#define PROG_MAX_STREAMS 64    /* working (and saved) tensors */
#define PROG_MAX_CAPS 17       /* a pattern's 16 captures + a rewrite's split
			      * index */

typedef struct prog_instr {
	uint8_t op;
	uint8_t a;       /* counts (RESHAPE, SPLIT, ...) */
	uint16_t line;   /* source line, for diagnostics (0: unknown) */
	int32_t c;       /* operand */
} prog_instr;

typedef enum prog_item_kind { PI_LIT, PI_INT, PI_TEXT, PI_STAR } prog_item_kind;

typedef struct prog_item {
	uint32_t kind;   /* prog_item_kind */
	uint32_t arg;    /* LIT: string id; INT/TEXT: capture slot */
	uint32_t name;   /* INT/TEXT: string id of the capture's name */
} prog_item;

typedef struct prog_pattern {
	uint32_t first, n;   /* items[first .. first+n) */
	uint32_t ncaps;
} prog_pattern;

typedef enum prog_param_kind { PK_REQUIRED, PK_DEFAULT, PK_LET } prog_param_kind;

typedef struct prog_param {
	uint32_t name;   /* string id */
	uint32_t kind;   /* prog_param_kind */
	int32_t code;    /* default / value expression, or PROG_NO */
} prog_param;

typedef struct prog_rewrite {
	uint32_t pat;
	int32_t unless;      /* pattern, or PROG_NO */
	int32_t split_slot;  /* capture bound to the split index, or PROG_NO */
	int32_t count_code;  /* expression: entries along axis 0, or PROG_NO */
	int32_t name_code;   /* name program */
	uint32_t file, line; /* where it was written (string id, line) */
} prog_rewrite;

typedef struct prog_rule {
	uint32_t pat;
	int32_t code;        /* rule program; PROG_NO for skip */
	uint32_t file, line;
} prog_rule;

typedef struct prog_group {
	int32_t when_code;   /* expression, or PROG_NO */
	uint32_t first, n;   /* members[first .. first+n): pattern ids */
	uint32_t file, line;
} prog_group;

/* `require EXPR, "why"`: the checkpoint these rules convert. */
typedef struct prog_require {
	int32_t code;        /* expression: none or 0 refuses the checkpoint */
	uint32_t why;        /* string: what it means, for the message */
	uint32_t file, line;
} prog_require;

/* `quantize "P" unless "G", ...`: the outputs --quantize converts to
 * FP8, one line a record: P (kind QK_MATCH) and each G (QK_UNLESS). */
typedef enum prog_quant_kind { QK_MATCH, QK_UNLESS } prog_quant_kind;

typedef struct prog_quant {
	uint32_t pat;        /* pattern over output names */
	uint32_t kind;       /* prog_quant_kind */
	uint32_t file, line;
} prog_quant;

typedef struct program {
	char **strs;
	uint32_t *str_len;
	uint32_t nstrs;
	int64_t *kint;
	uint32_t nkint;
	prog_param *params;
	uint32_t nparams;
	prog_item *items;
	uint32_t nitems;
	prog_pattern *pats;
	uint32_t npats;
	prog_rewrite *rewrites;
	uint32_t nrewrites;
	prog_rule *skips;      /* applied to stored keys before rewrites */
	uint32_t nskips;
	prog_rule *rules;
	uint32_t nrules;
	prog_group *groups;
	uint32_t ngroups;
	uint32_t *members;
	uint32_t nmembers;
	prog_require *requires;
	uint32_t nrequires;
	prog_quant *quants;
	uint32_t nquants;
	prog_instr *code;
	uint32_t ncode;
} program;

void prog_free(program *p);

/* Serializes p (little-endian, docs/bytecode.md). */
int prog_write(const program *p, const char *path, td_err *err);

/* Reads and validates a .mapbc file.  Any defect is an error naming the
 * file; nothing in the result needs checking again. */
int prog_read(const char *path, program *p, td_err *err);
int prog_read_buffer(const unsigned char *buf, size_t len, const char *name,
		     program *p, td_err *err);

/* Pattern id as it reads in a rules file ("decoder.layers.<i>.x"). */
void prog_print_pattern(const program *p, uint32_t id, FILE *out);

/* Human-readable listing of every table and instruction. */
void prog_disasm(const program *p, FILE *out);

/* Validation alone (used by prog_read and by the compiler's self-check). */
int prog_validate(const program *p, td_err *err);

#endif
