/*
 * cli: the one command-line parser every program uses.
 *
 * A program describes its options in a table (cli_opt), then loops on
 * cli_next(), which returns each option's id with its value in c->arg.
 * The parser gives every program the same behaviour:
 *   - "-x VALUE", "-xVALUE", "--name VALUE", "--name=VALUE", clustered
 *     flags ("-nv"), "--" ending the options, "-" an operand (stdin);
 *     operands may come before, between or after options;
 *   - -h/--help prints the usage to stdout and exits 0; --version prints
 *     the version and exits 0;
 *   - every misuse exits 2 with one message that names the option as the
 *     table spells it ("dml-x: --threshold: '0' is out of range [1,
 *     1000]"), then "Try 'dml-x --help'.";
 *   - a program with subcommands gives a table of them (cli_cmd); the
 *     first operand names one, every diagnostic after that reads
 *     "dml-x: SUBCOMMAND: ...", and an option a subcommand does not take
 *     is refused by name;
 *   - an old spelling of an option (a letter that meant something else in
 *     an earlier release) still works, with a warning on stderr.
 * The letters that mean the same in every program (dml(7)): -k/--key the
 * caller's own secret key (default $DML_KEY), -o/--output, -j/--job,
 * -m/--model, --seed, -h/--help, --version.
 *
 * Not for: what an option means; the program decides, and the library
 * modules check the records. Everything here exits on misuse, so it is
 * for programs' main functions only.
 */
#ifndef DML_CLI_H
#define DML_CLI_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Ids of the common long-only options (single letters are their own id). */
enum { CLI_SEED = 0x7001, CLI_ID_BASE = 0x7100 };

typedef struct cli_opt {
	const char *name;	/* long name, without "--" */
	int letter;		/* short letter, or 0 for long only */
	int arg;		/* 1: takes a value */
	int id;			/* what cli_next returns (0: the letter) */
	const char *subs;	/* the subcommands that take it, space
				 * separated ("genesis transfer"); NULL: all */
	int old;		/* an old short spelling that still works,
				 * with a warning, or 0 */
	const char *oldname;	/* an old long spelling, likewise, or NULL */
} cli_opt;

/* The common options, spelled the same in every table. */
#define CLI_KEY    {"key", 'k', 1, 0, NULL, 0, NULL}
#define CLI_OUTPUT {"output", 'o', 1, 0, NULL, 0, NULL}
#define CLI_JOB    {"job", 'j', 1, 0, NULL, 0, NULL}
#define CLI_MODEL  {"model", 'm', 1, 0, NULL, 0, NULL}
#define CLI_SEEDOPT {"seed", 0, 1, CLI_SEED, NULL, 0, NULL}
#define CLI_END    {NULL, 0, 0, 0, NULL, 0, NULL}

typedef struct cli cli;

/* A subcommand: its name, the function that runs it (its exit status),
 * and its usage text (NULL: the program's). A command named "" is the
 * default, run when no operand names another (an option's `subs` names
 * it "-"). */
typedef struct cli_cmd {
	const char *name;
	int (*run)(cli *c);
	const char *usage;
} cli_cmd;

struct cli {
	int argc;
	char **argv;
	const cli_opt *opts;
	const char *usage;
	const cli_cmd *cmds;	/* NULL: no subcommands */
	const cli_cmd *cmd;	/* the subcommand chosen */
	const cli_opt *cur;	/* the option cli_next just returned */
	const char *arg;	/* its value (NULL for a flag) */
	char **ops;		/* the operands, in order (argv's strings) */
	int nops;
	int i;			/* next argv index to read */
	const char *cluster;	/* rest of a "-abc" cluster, or NULL */
	int done;		/* "--" seen */
	int subpos;		/* argv index of the subcommand, or 0 */
	const char *key;	/* -k's value, or $DML_KEY */
};

/* Start parsing (argv[0] names the program for every message). With
 * `cmds`, the first operand must name one of them: it is found now, so
 * options before and after it both apply, and an unknown name is a
 * usage error. `usage` is printed by --help (the subcommand's own when it
 * has one). */
void cli_init(cli *c, int argc, char **argv, const cli_opt *opts,
    const char *usage, const cli_cmd *cmds);
/* The next option's id, or -1 when the arguments are all read. -k and
 * --seed are returned too (after -k, c->key is set). */
int cli_next(cli *c);
/* Run the chosen subcommand and return its exit status (no command
 * given: a usage error listing them). Call it after cli_next's loop. */
int cli_run(cli *c);

/* The current option's value, checked; each exits 2 naming the option. */
long cli_long(cli *c, long lo, long hi);
double cli_double(cli *c, double lo, double hi);
uint64_t cli_u64(cli *c);
/* A decimal token amount (amount_ok). */
const char *cli_amount(cli *c);
/* An RFC 3339 UTC time (timefmt): the string, and *t if t is not NULL. */
const char *cli_time(cli *c, long long *t);
/* A text of at most `max` bytes of UTF-8 (a record field it becomes). */
const char *cli_text(cli *c, size_t max);
/* One of `names` (NULL-terminated): its index. */
int cli_choice(cli *c, const char *const *names);

/* The secret key file: -k's value, else $DML_KEY, else NULL. */
const char *cli_key(const cli *c);
/* Like cli_key but a usage error when there is none. */
const char *cli_need_key(const cli *c);

/* At most `max` operands (after the subcommand), else a usage error
 * naming the first extra one. */
void cli_max_operands(const cli *c, int max);
/* The k-th operand (after the subcommand), or NULL. */
const char *cli_operand(const cli *c, int k);

/* Usage errors: "prog: [sub: ]what" (cli_opt_error: "prog: [sub:]
 * --name: what"), then "Try 'prog [sub] --help'.", exit 2. */
void cli_usage_error(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), noreturn));
void cli_opt_error(const cli *c, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* "--name" of an option id in c's table (for messages about options not
 * current, e.g. two that exclude each other). */
const char *cli_name(const cli *c, int id);

#ifdef __cplusplus
}
#endif

#endif
