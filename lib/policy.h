/* SPDX-License-Identifier: MIT */
/* The policy language (idsrd-policy(5)): parse, compile to a lookup table, answer accesses. */
#ifndef IDSR_POLICY_H
#define IDSR_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What the `rule` column holds when no policy line answered. */
#define POLICY_RULE_DEFAULT	0	/* nothing matched: UNDEF (the kernel's default) */
#define POLICY_RULE_EL0		(-1)	/* built-in: EL0 accesses are UNDEF */
#define POLICY_RULE_REPLAY	(-2)	/* answered from a recorded boot */
#define POLICY_RULE_STRICT	(-3)	/* replay diverged in strict mode: UNDEF */
#define POLICY_RULE_IMPORTED	(-4)	/* recorded elsewhere and imported (idsrctl import) */
#define POLICY_RULE_RESENT	(-5)	/* answered by an idsrd that died; re-sent by the VMM */

enum policy_action {
	POLICY_UNDEF,
	POLICY_RAZ_WI,
	POLICY_VALUE,
	POLICY_IGNORE,
	POLICY_STORAGE,
	POLICY_COUNTER,
	POLICY_RANDOM,
};

enum policy_direction { POLICY_ANY = 0, POLICY_READ = 1, POLICY_WRITE = 2 };

struct policy_rule {
	int line;			/* 1-based line in the policy text */
	const char *text;		/* the rule's line, trimmed */
	enum policy_direction dir;
	int el;				/* -1 = any */
	int64_t vcpu;			/* -1 = any */
	bool has_pc;
	uint64_t pc_lo, pc_hi;		/* inclusive */
	enum policy_action action;
	uint64_t value;			/* value V, storage init, counter start */
	uint64_t wmask;			/* storage */
	uint64_t step;			/* counter */
	bool has_seed;
	uint64_t seed;			/* random */
	bool scope_vm;			/* storage/counter/random shared by all vCPUs */
};

/* The source name of a policy edited by `idsrctl policy set' or `unset': its
 * lines are the live text's, no longer any file's (views name its rules by
 * their text). */
#define POLICY_SOURCE_EDITED	"live"

struct policy;		/* compiled, immutable once built: share it between threads */

struct policy_error {
	char file[256];
	int line, column;		/* 1-based; 0 when not about a position */
	char message[256];		/* what was wrong and what was expected */
};

/* Parses and compiles text. file names it in errors. Returns 0 or -EINVAL
 * (and fills *err: "policy.conf:3:14: expected an action, got `foo'"). */
int policy_parse(const char *text, size_t len, const char *file,
		 struct policy **out, struct policy_error *err);
/* Reads and parses a file; -errno when unreadable (err says so). */
int policy_load_file(const char *path, struct policy **out, struct policy_error *err);
void policy_free(struct policy *p);
/* "file:line:col: message" into buf. */
const char *policy_error_format(const struct policy_error *err, char *buf, size_t len);

const char *policy_text(const struct policy *p);
const char *policy_source(const struct policy *p);	/* the file name given to parse */
const char *policy_hash(const struct policy *p);	/* 16 hex digits of the text's hash */
const char *policy_impl(const struct policy *p);	/* `impl` directive or NULL */
bool policy_allows_el0(const struct policy *p);		/* `allow-el0` directive */
size_t policy_rule_count(const struct policy *p);
/* The action's keyword in the language ("raz-wi", "storage", …). */
const char *policy_action_name(enum policy_action action);
const struct policy_rule *policy_rule_at(const struct policy *p, size_t i);

struct policy_access {
	uint32_t key;
	uint32_t vcpu;
	uint64_t pc;
	uint8_t el;
	bool is_write;
	uint64_t value;			/* written value */
};

/* The first rule that matches a, or NULL. Lock-free; no allocation. */
const struct policy_rule *policy_match(const struct policy *p, const struct policy_access *a);

/* Rule i of p against the IDSR space (lib/policy_lint.c): how many
 * registers it names (one access each, as its qualifiers accept), how many
 * of those an earlier rule answers first, and the first such rule. */
struct policy_shadow {
	size_t named, shadowed;
	const struct policy_rule *by;
};
int policy_rule_shadow(const struct policy *p, size_t i, struct policy_shadow *out);
/* Calls warn for each rule that can never answer (after rules that answer
 * all it names, outside the trapped space, el=0 without allow-el0); the count. */
size_t policy_lint(const struct policy *p, void (*warn)(void *arg, const struct policy_rule *r, const char *msg),
		   void *arg);

/* Per-boot state of storage, counters and random streams, keyed by register
 * (and vCPU unless scope=vm), so that it survives policy reloads.
 * Thread-safe: vCPUs of one boot may be served from several threads. */
struct policy_state;
/* seed feeds random rules without a seed= (a fresh one per boot). */
struct policy_state *policy_state_new(uint64_t seed);
void policy_state_free(struct policy_state *st);

struct policy_verdict {
	bool undef;
	uint64_t value;			/* what a read returns (writes: 0) */
	int rule;			/* rule line, or POLICY_RULE_* */
};

/* Answers a under p, updating st. Applies the EL0 rule and the UNDEF default. */
void policy_decide(const struct policy *p, struct policy_state *st,
		   const struct policy_access *a, struct policy_verdict *v);
/* Whether every access from EL1 or above to key in that direction gets the
 * same verdict under p, whatever its vCPU, PC, EL and written value: its
 * first rule is value, raz-wi, ignore or undef without el=, vcpu= or pc=
 * (or no rule names it: the UNDEF default). If so, fills *v with it
 * (the fast path's table, idsrd/fastpath.c). */
bool policy_stateless(const struct policy *p, uint32_t key, bool is_write, struct policy_verdict *v);

#endif
