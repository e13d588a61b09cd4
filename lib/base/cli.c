/* cli: the one command-line parser every program uses (see cli.h). */
#include "cli.h"
#include "amount.h"
#include "timefmt.h"
#include "util.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void __attribute__((noreturn))
vusage(const char *pre, const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", dml_prog);
	if (dml_getsub())
		fprintf(stderr, "%s: ", dml_getsub());
	if (pre)
		fprintf(stderr, "%s: ", pre);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	if (dml_getsub())
		fprintf(stderr, "Try '%s %s --help'.\n", dml_prog,
		    dml_getsub());
	else
		fprintf(stderr, "Try '%s --help'.\n", dml_prog);
	exit(DML_EXIT_USAGE);
}

void
cli_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vusage(NULL, fmt, ap);
	va_end(ap);
}

static const char *
spell(const cli_opt *o, char buf[80])
{
	if (o->name)
		snprintf(buf, 80, "--%s", o->name);
	else
		snprintf(buf, 80, "-%c", o->letter);
	return buf;
}

void
cli_opt_error(const cli *c, const char *fmt, ...)
{
	char buf[80];
	va_list ap;

	va_start(ap, fmt);
	vusage(c->cur ? spell(c->cur, buf) : NULL, fmt, ap);
	va_end(ap);
}

const char *
cli_name(const cli *c, int id)
{
	static char buf[80];

	for (const cli_opt *o = c->opts; o->name || o->letter; o++)
		if ((o->id ? o->id : o->letter) == id)
			return spell(o, buf);
	return "?";
}

static int
has_word(const char *list, const char *w)
{
	size_t n = strlen(w);

	for (const char *p = list; (p = strstr(p, w)); p += n)
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return 1;
	return 0;
}

/* The option a short letter or long name means: *old set when it is an
 * old spelling. NULL: none. */
static const cli_opt *
find_short(const cli_opt *t, int ch, int *old)
{
	for (const cli_opt *o = t; o->name || o->letter; o++)
		if (o->letter == ch)
			return *old = 0, o;
	for (const cli_opt *o = t; o->name || o->letter; o++)
		if (o->old == ch)
			return *old = 1, o;
	return NULL;
}

static const cli_opt *
find_long(const cli_opt *t, const char *name, size_t n, int *old)
{
	for (const cli_opt *o = t; o->name || o->letter; o++)
		if (o->name && strlen(o->name) == n &&
		    strncmp(o->name, name, n) == 0)
			return *old = 0, o;
	for (const cli_opt *o = t; o->name || o->letter; o++)
		if (o->oldname && strlen(o->oldname) == n &&
		    strncmp(o->oldname, name, n) == 0)
			return *old = 1, o;
	return NULL;
}

static void
help(const cli *c)
{
	fputs(c->cmd && c->cmd->usage ? c->cmd->usage : c->usage, stdout);
	dml_close_stdout();
	exit(DML_EXIT_OK);
}

/* Does argument `a` (an option) swallow the next argument as its value? */
static int
takes_next(const cli_opt *t, const char *a)
{
	const cli_opt *o;
	int old;

	if (a[1] == '-') {
		const char *eq = strchr(a + 2, '=');
		if (eq)
			return 0;
		o = find_long(t, a + 2, strlen(a + 2), &old);
		return o && o->arg;
	}
	for (const char *p = a + 1; *p; p++) {
		o = find_short(t, *p, &old);
		if (!o)
			return 0;
		if (o->arg)
			return p[1] == 0;
	}
	return 0;
}

static int
is_cmd(const cli_cmd *t, const char *name)
{
	for (const cli_cmd *k = t; k->name; k++)
		if (k->name[0] && strcmp(k->name, name) == 0)
			return 1;
	return 0;
}

static void
find_subcommand(cli *c)
{
	const char *name = NULL;
	int i, dash = 0;

	for (i = 1; i < c->argc; i++) {
		const char *a = c->argv[i];
		if (!dash && strcmp(a, "--") == 0) {
			dash = 1;
			continue;
		}
		if (!dash && a[0] == '-' && a[1]) {
			if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0 ||
			    strcmp(a, "--version") == 0)
				return;	/* cli_next answers it */
			i += takes_next(c->opts, a);
			continue;
		}
		name = a;
		break;
	}
	for (const cli_cmd *k = c->cmds; k->name; k++)
		if (!k->name[0] && (!name || !is_cmd(c->cmds, name))) {
			c->cmd = k;	/* the default command */
			return;
		}
	if (!name)
		return;		/* cli_run says what is missing */
	for (const cli_cmd *k = c->cmds; k->name; k++)
		if (strcmp(k->name, name) == 0) {
			c->cmd = k;
			c->subpos = i;
			dml_setsub(k->name);
			return;
		}
	cli_usage_error("'%s' is not a command", name);
}

void
cli_init(cli *c, int argc, char **argv, const cli_opt *opts,
    const char *usage, const cli_cmd *cmds)
{
	memset(c, 0, sizeof *c);
	dml_setprog(argv[0]);
	c->argc = argc;
	c->argv = argv;
	c->opts = opts;
	c->usage = usage;
	c->cmds = cmds;
	c->i = 1;
	c->ops = xcalloc((size_t)argc + 1, sizeof *c->ops);
	c->key = getenv("DML_KEY");
	if (c->key && !*c->key)
		c->key = NULL;
	if (cmds)
		find_subcommand(c);
}

static void
old_spelling(const cli_opt *o, const char *given)
{
	dml_warn("warning: %s is an old spelling of --%s; it still works in "
	    "this release, not in the next (see dml(7))", given, o->name);
}

/* Accept option o with its value; returns its id. */
static int
accept(cli *c, const cli_opt *o, const char *arg)
{
	c->cur = o;
	c->arg = arg;
	if (c->cmd && o->subs && !has_word(o->subs, c->cmd->name[0] ?
	    c->cmd->name : "-"))
		cli_opt_error(c, "not an option of this command");
	if (o->letter == 'k' && o->name && strcmp(o->name, "key") == 0)
		c->key = arg;
	return o->id ? o->id : o->letter;
}

static int
short_opt(cli *c)
{
	char given[3] = {'-', *c->cluster, 0};
	const cli_opt *o;
	int old;

	c->cluster++;
	if (given[1] == 'h')
		help(c);
	if (!(o = find_short(c->opts, given[1], &old))) {
		c->cur = NULL;
		cli_usage_error("%s: unknown option", given);
	}
	if (old)
		old_spelling(o, given);
	if (!o->arg)
		return accept(c, o, NULL);
	if (*c->cluster) {
		const char *v = c->cluster;
		c->cluster = NULL;
		return accept(c, o, v);
	}
	c->cluster = NULL;
	if (c->i >= c->argc) {
		c->cur = o;
		cli_opt_error(c, "needs a value");
	}
	return accept(c, o, c->argv[c->i++]);
}

static int
long_opt(cli *c, const char *a)
{
	const char *name = a + 2, *eq = strchr(name, '=');
	size_t n = eq ? (size_t)(eq - name) : strlen(name);
	const cli_opt *o;
	int old;

	if (n == 4 && strncmp(name, "help", 4) == 0)
		help(c);
	if (n == 7 && strncmp(name, "version", 7) == 0)
		dml_version();
	if (!(o = find_long(c->opts, name, n, &old))) {
		c->cur = NULL;
		cli_usage_error("--%.*s: unknown option", (int)(n > 60 ? 60 : n),
		    name);
	}
	if (old) {
		char given[80];
		snprintf(given, sizeof given, "--%.*s", (int)n, name);
		old_spelling(o, given);
	}
	c->cur = o;
	if (!o->arg) {
		if (eq)
			cli_opt_error(c, "takes no value");
		return accept(c, o, NULL);
	}
	if (eq)
		return accept(c, o, eq + 1);
	if (c->i >= c->argc)
		cli_opt_error(c, "needs a value");
	return accept(c, o, c->argv[c->i++]);
}

int
cli_next(cli *c)
{
	for (;;) {
		const char *a;

		if (c->cluster && *c->cluster)
			return short_opt(c);
		c->cluster = NULL;
		if (c->i >= c->argc) {
			c->cur = NULL;
			c->arg = NULL;
			return -1;
		}
		a = c->argv[c->i++];
		if (c->done || a[0] != '-' || a[1] == 0) {
			if (c->i - 1 != c->subpos)
				c->ops[c->nops++] = (char *)a;
			continue;
		}
		if (strcmp(a, "--") == 0) {
			c->done = 1;
			continue;
		}
		if (a[1] == '-')
			return long_opt(c, a);
		c->cluster = a + 1;
	}
}

int
cli_run(cli *c)
{
	if (!c->cmd) {
		fprintf(stderr, "%s: give a command:", dml_prog);
		for (const cli_cmd *k = c->cmds; k->name; k++)
			if (k->name[0])
				fprintf(stderr, " %s", k->name);
		fprintf(stderr, "\nTry '%s --help'.\n", dml_prog);
		exit(DML_EXIT_USAGE);
	}
	return c->cmd->run(c);
}

long
cli_long(cli *c, long lo, long hi)
{
	long v;

	if (dml_parse_long(c->arg, lo, hi, &v) < 0)
		cli_opt_error(c, "%s", dml_errmsg());
	return v;
}

double
cli_double(cli *c, double lo, double hi)
{
	double v;

	if (dml_parse_double(c->arg, &v) < 0)
		cli_opt_error(c, "%s", dml_errmsg());
	if (v < lo || v > hi)
		cli_opt_error(c, "'%s' is out of range [%g, %g]", c->arg, lo,
		    hi);
	return v;
}

uint64_t
cli_u64(cli *c)
{
	const char *s = c->arg;
	unsigned long long v;
	char *end;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (!*s || strspn(s, "0123456789") != strlen(s) || *end || errno)
		cli_opt_error(c, "'%.40s' is not an integer in [0, 2^64)", s);
	return (uint64_t)v;
}

const char *
cli_amount(cli *c)
{
	if (!amount_ok(c->arg))
		cli_opt_error(c, "'%.80s' is not a token amount (a decimal "
		    "integer without leading zeros)", c->arg);
	return c->arg;
}

const char *
cli_time(cli *c, long long *t)
{
	long long v;

	if (timefmt_parse(c->arg, &v) < 0)
		cli_opt_error(c, "%s", dml_errmsg());
	if (t)
		*t = v;
	return c->arg;
}

const char *
cli_text(cli *c, size_t max)
{
	json_t *t;

	if (strlen(c->arg) > max)
		cli_opt_error(c, "at most %zu bytes", max);
	if (!(t = json_string(c->arg)))	/* jansson checks the UTF-8 */
		cli_opt_error(c, "not UTF-8");
	json_decref(t);
	return c->arg;
}

int
cli_choice(cli *c, const char *const *names)
{
	char list[512] = "";
	size_t n = 0;

	for (int i = 0; names[i]; i++) {
		if (strcmp(c->arg, names[i]) == 0)
			return i;
		n += (size_t)snprintf(list + n, n < sizeof list ?
		    sizeof list - n : 0, "%s%s", i ? ", " : "", names[i]);
		if (n >= sizeof list)
			n = sizeof list - 1;
	}
	cli_opt_error(c, "'%.40s' is not one of %s", c->arg, list);
}

const char *
cli_key(const cli *c)
{
	return c->key;
}

const char *
cli_need_key(const cli *c)
{
	if (!c->key)
		cli_usage_error("give your secret key with -k FILE (or "
		    "DML_KEY)");
	return c->key;
}

void
cli_max_operands(const cli *c, int max)
{
	if (c->nops > max)
		cli_usage_error("unexpected argument '%.80s'", c->ops[max]);
}

const char *
cli_operand(const cli *c, int k)
{
	return k < c->nops ? c->ops[k] : NULL;
}
