/* opcodes.h — the one table of every bytecode instruction.
 *
 * OP(name, operand, class, int_pops, int_pushes, t_in, t_out, doc)
 *   operand   what the instruction's operand c (or a) names:
 *             NONE, KINT (index into the integer constants), PARAM (param
 *             index), CAPT (integer capture slot), TEXT (text capture
 *             slot), STR (string id), DTYPE (dtype enum), STREAM (saved
 *             tensor index), COUNT (a: item count)
 *   class     which programs may hold it: INT (integer instructions: any
 *             program), RET (expressions), NAME (names and rules), TENSOR
 *             (rules), END (names and rules)
 *   int_pops  integers popped; -1 means "operand a of them", -2 means
 *             "operand a of them plus one" (the dim before the list)
 *   t_in      working tensors it needs: ANY (none needed), ONE (exactly
 *             one), SOME (one or more; each is transformed)
 *   t_out     working set after it: SAME (unchanged), ONE (one tensor),
 *             A (operand a tensors)
 *
 * The compiler, the loader's validator, the disassembler and the VM all
 * expand this table, so they cannot disagree about an instruction.  Each
 * doc string is what docs/bytecode.md lists. */
#ifndef TD_OPCODES_H
#define TD_OPCODES_H

#define TD_OPCODES(OP) \
	/* ---- integer expressions */ \
	OP(PUSHK,     KINT,   INT,    0, 1, ANY,  SAME, "push integer constant K[c]") \
	OP(NONE,      NONE,   INT,    0, 1, ANY,  SAME, "push none") \
	OP(PARAM,     PARAM,  INT,    0, 1, ANY,  SAME, "push the value of parameter c") \
	OP(CAPT,      CAPT,   INT,    0, 1, ANY,  SAME, "push integer capture c") \
	OP(DIM,       NONE,   TENSOR, 1, 1, ONE,  SAME, "pop k; push size of dimension k of the current tensor") \
	OP(ADD,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push a + b") \
	OP(SUB,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push a - b") \
	OP(MUL,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push a * b") \
	OP(DIV,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push a / b (floor division, as Python //)") \
	OP(MOD,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push a mod b (sign of b, as Python %)") \
	OP(NEG,       NONE,   INT,    1, 1, ANY,  SAME, "pop a; push -a") \
	OP(MIN,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push min(a, b)") \
	OP(MAX,       NONE,   INT,    2, 1, ANY,  SAME, "pop b, a; push max(a, b)") \
	OP(RET,       NONE,   RET,    1, 0, ANY,  SAME, "pop the value of this expression and stop") \
	/* ---- tensor views (applied to every tensor of the working set) */ \
	OP(SRC,       NONE,   TENSOR, 0, 0, ANY,  ONE,  "working set := [the source tensor]; first instruction of every rule, and only there") \
	OP(RESHAPE,   COUNT,  TENSOR, -1, 0, SOME, SAME, "pop a sizes (one may be -1); reshape") \
	OP(PERMUTE,   COUNT,  TENSOR, -1, 0, SOME, SAME, "pop a dims; permute") \
	OP(TRANSPOSE, NONE,   TENSOR, 2, 0, SOME, SAME, "pop d1, d0; swap dimensions d0 and d1") \
	OP(NARROW,    NONE,   TENSOR, 3, 0, SOME, SAME, "pop len, start, dim; keep [start, start+len) of dim") \
	OP(SLICE,     NONE,   TENSOR, 3, 0, SOME, SAME, "pop end, start, dim; keep [start:end] of dim, Python slice rules, none = open") \
	OP(SELECT,    NONE,   TENSOR, 2, 0, SOME, SAME, "pop index, dim; keep one index of dim and drop dim") \
	OP(SPLIT,     COUNT,  TENSOR, -2, 0, ONE,  A,    "pop a sizes then dim; split the one tensor into a tensors") \
	OP(CHUNK,     COUNT,  TENSOR, 1, 0, ONE,  A,    "pop dim; split the one tensor into a equal tensors") \
	OP(CAT,       COUNT,  TENSOR, -2, 0, SOME, ONE,  "pop a stream indexes (a = 0: all, in order) then dim; concatenate into one tensor") \
	OP(CAST,      DTYPE,  TENSOR, 0, 0, SOME, SAME, "convert to dtype c") \
	/* ---- outputs */ \
	OP(SAVE,      NONE,   TENSOR, 0, 0, SOME, SAME, "saved set := working set") \
	OP(TAKE,      STREAM, TENSOR, 0, 0, ANY,  ONE,  "working set := [saved tensor c]; c below the number saved") \
	OP(NAMELIT,   STR,    NAME,   0, 0, ANY,  SAME, "append string c to the name") \
	OP(NAMEINT,   NONE,   NAME,   1, 0, ANY,  SAME, "pop n; append n in decimal to the name") \
	OP(NAMETEXT,  TEXT,   NAME,   0, 0, ANY,  SAME, "append text capture c to the name") \
	OP(EMIT,      NONE,   TENSOR, 0, 0, ONE,  SAME, "output the one working tensor under the name; clear the name") \
	OP(END,       NONE,   END,    0, 0, ANY,  SAME, "end of a rule or name program")

/* The rule language's operations, as a rule writes them; each becomes
 * the instruction named (docs/language.md, "Operations", lists them by
 * these signatures: tests/cli/docs.sh checks it does).
 *
 * RULE_OP(name, opcode, min_args, max_args, form, signature)
 *   form   INTS: every argument an integer expression, their count the
 *          instruction's a; FIXED: integer expressions, a = 0; SPLIT:
 *          dim, [sizes]; CHUNK: dim, literal n; CAT: dim[, [order]];
 *          CAST: a dtype name */
#define TD_RULE_OPS(RULE_OP) \
	RULE_OP(view,      RESHAPE,   1, 8, INTS,  "view(s0, …)") \
	RULE_OP(reshape,   RESHAPE,   1, 8, INTS,  "reshape(s0, …)") \
	RULE_OP(permute,   PERMUTE,   1, 8, INTS,  "permute(d0, …)") \
	RULE_OP(transpose, TRANSPOSE, 2, 2, FIXED, "transpose(d0, d1)") \
	RULE_OP(narrow,    NARROW,    3, 3, FIXED, "narrow(dim, start, length)") \
	RULE_OP(slice,     SLICE,     3, 3, FIXED, "slice(dim, start, end)") \
	RULE_OP(select,    SELECT,    2, 2, FIXED, "select(dim, index)") \
	RULE_OP(split,     SPLIT,     2, 2, SPLIT, "split(dim, [s0, s1, …])") \
	RULE_OP(chunk,     CHUNK,     2, 2, CHUNK, "chunk(dim, n)") \
	RULE_OP(cat,       CAT,       1, 2, CAT,   "cat(dim, [k, …])") \
	RULE_OP(cast,      CAST,      1, 1, CAST,  "cast(T)")

typedef enum opcode {
#define TD_OP_ENUM(name, operand, cls, pops, pushes, tin, tout, doc) OP_##name,
	TD_OPCODES(TD_OP_ENUM)
#undef TD_OP_ENUM
	OP_COUNT
} opcode;

typedef enum op_operand {
	OPERAND_NONE, OPERAND_KINT, OPERAND_PARAM, OPERAND_CAPT, OPERAND_TEXT, OPERAND_STR, OPERAND_DTYPE,
	OPERAND_STREAM, OPERAND_COUNT
} op_operand;

typedef enum op_class { OPCLASS_INT, OPCLASS_RET, OPCLASS_NAME, OPCLASS_TENSOR, OPCLASS_END } op_class;

/* Working tensors an instruction needs (t_in) and leaves (t_out). */
typedef enum op_tensors { TENSORS_ANY, TENSORS_ONE, TENSORS_SOME, TENSORS_SAME, TENSORS_A } op_tensors;

typedef struct opinfo {
	const char *name;
	op_operand operand;
	op_class cls;
	int pops, pushes;
	op_tensors t_in, t_out;
	const char *doc;
} opinfo;

extern const opinfo opinfo_table[OP_COUNT];

/* Integers the instruction (op, count a) pops: the table's int_pops with
 * -1 and -2 resolved.  op must be below OP_COUNT. */
int op_pops(unsigned op, unsigned a);

#endif
