/* opcodes.h — the one table of every bytecode instruction.
 *
 * OP(name, operand, int_pops, int_pushes, doc)
 *   operand   what the instruction's operand c (or a) names:
 *             NONE, KINT (index into the integer constants), PARAM (param
 *             index), CAPT (capture slot), STR (string id), DTYPE (dtype
 *             enum), STREAM (stream index), COUNT (a: item count)
 *   int_pops  integers popped; -1 means "operand a of them", -2 means
 *             "operand a of them plus one" (the dim before the list)
 *
 * The compiler, the loader's validator, the disassembler and the VM all
 * expand this table, so they cannot disagree about an instruction.  Each
 * doc string is what docs/bytecode.md lists. */
#ifndef TD_OPCODES_H
#define TD_OPCODES_H

#define TD_OPCODES(OP) \
	/* ---- integer expressions */ \
	OP(PUSHK,     KINT,   0, 1, "push integer constant K[c]") \
	OP(NONE,      NONE,   0, 1, "push none") \
	OP(PARAM,     PARAM,  0, 1, "push the value of parameter c") \
	OP(CAPT,      CAPT,   0, 1, "push integer capture c") \
	OP(DIM,       NONE,   1, 1, "pop k; push size of dimension k of the current tensor") \
	OP(ADD,       NONE,   2, 1, "pop b, a; push a + b") \
	OP(SUB,       NONE,   2, 1, "pop b, a; push a - b") \
	OP(MUL,       NONE,   2, 1, "pop b, a; push a * b") \
	OP(DIV,       NONE,   2, 1, "pop b, a; push a / b (floor division, as Python //)") \
	OP(MOD,       NONE,   2, 1, "pop b, a; push a mod b (sign of b, as Python %)") \
	OP(NEG,       NONE,   1, 1, "pop a; push -a") \
	OP(MIN,       NONE,   2, 1, "pop b, a; push min(a, b)") \
	OP(MAX,       NONE,   2, 1, "pop b, a; push max(a, b)") \
	OP(RET,       NONE,   1, 0, "pop the value of this expression and stop") \
	/* ---- tensor views (applied to every tensor of the working set) */ \
	OP(SRC,       NONE,   0, 0, "working set := [the source tensor]") \
	OP(RESHAPE,   COUNT, -1, 0, "pop a sizes (one may be -1); reshape") \
	OP(PERMUTE,   COUNT, -1, 0, "pop a dims; permute") \
	OP(TRANSPOSE, NONE,   2, 0, "pop d1, d0; swap dimensions d0 and d1") \
	OP(NARROW,    NONE,   3, 0, "pop len, start, dim; keep [start, start+len) of dim") \
	OP(SLICE,     NONE,   3, 0, "pop end, start, dim; keep [start:end] of dim, Python slice rules, none = open") \
	OP(SELECT,    NONE,   2, 0, "pop index, dim; keep one index of dim and drop dim") \
	OP(SPLIT,     COUNT, -2, 0, "pop a sizes then dim; split the one tensor into a tensors") \
	OP(CHUNK,     COUNT,  1, 0, "pop dim; split the one tensor into a equal tensors") \
	OP(CAT,       COUNT, -2, 0, "pop a stream indexes (a = 0: all, in order) then dim; concatenate into one tensor") \
	OP(CAST,      DTYPE,  0, 0, "convert to dtype c") \
	/* ---- outputs */ \
	OP(SAVE,      NONE,   0, 0, "saved set := working set") \
	OP(TAKE,      STREAM, 0, 0, "working set := [saved tensor c]") \
	OP(NAMELIT,   STR,    0, 0, "append string c to the name") \
	OP(NAMEINT,   NONE,   1, 0, "pop n; append n in decimal to the name") \
	OP(NAMETEXT,  CAPT,   0, 0, "append text capture c to the name") \
	OP(EMIT,      NONE,   0, 0, "output the one working tensor under the name; clear the name") \
	OP(END,       NONE,   0, 0, "end of a rule or name program")

typedef enum mp_opcode {
#define TD_OP_ENUM(name, operand, pops, pushes, doc) MP_##name,
	TD_OPCODES(TD_OP_ENUM)
#undef TD_OP_ENUM
	MP_OPCODE_COUNT
} mp_opcode;

typedef enum mp_operand {
	MPO_NONE, MPO_KINT, MPO_PARAM, MPO_CAPT, MPO_STR, MPO_DTYPE,
	MPO_STREAM, MPO_COUNT
} mp_operand;

typedef struct mp_opinfo {
	const char *name;
	mp_operand operand;
	int pops, pushes;
	const char *doc;
} mp_opinfo;

extern const mp_opinfo mp_opinfo_table[MP_OPCODE_COUNT];

#endif
