/* util: diagnostics, checked allocation, whole-file I/O. */
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

const char *dml_prog = "dml";
static const char *dml_sub;
static _Thread_local char errbuf[1024];
static _Thread_local int errclass = DML_EXIT_REJECT;

void
dml_setprog(const char *argv0)
{
	const char *s = argv0 ? strrchr(argv0, '/') : NULL;
	dml_prog = s ? s + 1 : (argv0 ? argv0 : "dml");
}

void
dml_setsub(const char *sub)
{
	dml_sub = sub;
}

const char *
dml_getsub(void)
{
	return dml_sub;
}

int
dml_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	errclass = DML_EXIT_REJECT;
	return -1;
}

int
dml_error_sys(const char *fmt, ...)
{
	int e = errno;
	size_t n;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(errbuf, sizeof errbuf, fmt, ap);
	va_end(ap);
	n = strlen(errbuf);
	snprintf(errbuf + n, sizeof errbuf - n, ": %s", strerror(e));
	errclass = DML_EXIT_USAGE;
	errno = e;
	return -1;
}

int
dml_errclass(void)
{
	return errclass;
}

int
dml_exit_of(int rc)
{
	return rc == DML_ESYS || errclass == DML_EXIT_USAGE ? DML_EXIT_USAGE :
	    DML_EXIT_REJECT;
}

int
dml_error_prefix(const char *fmt, ...)
{
	char old[sizeof errbuf], pre[512];
	va_list ap;

	memcpy(old, errbuf, sizeof old);
	va_start(ap, fmt);
	vsnprintf(pre, sizeof pre, fmt, ap);
	va_end(ap);
	snprintf(errbuf, sizeof errbuf, "%s: %s", pre, old);
	return -1;
}

const char *
dml_errmsg(void)
{
	return errbuf[0] ? errbuf : "unknown error";
}

static void
vwarn(const char *fmt, va_list ap)
{
	fflush(stdout);
	fprintf(stderr, "%s: ", dml_prog);
	if (dml_sub)
		fprintf(stderr, "%s: ", dml_sub);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void
dml_warn(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
}

void
dml_die(int status, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	exit(status);
}

void
dml_fail(int status)
{
	dml_die(errclass == DML_EXIT_USAGE ? DML_EXIT_USAGE : status, "%s",
	    dml_errmsg());
}

void
dml_usage_error(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vwarn(fmt, ap);
	va_end(ap);
	if (dml_sub)
		fprintf(stderr, "Try '%s %s --help'.\n", dml_prog, dml_sub);
	else
		fprintf(stderr, "Try '%s --help'.\n", dml_prog);
	exit(DML_EXIT_USAGE);
}

static void
oom(void)
{
	dml_die(DML_EXIT_USAGE, "out of memory");
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (!p)
		oom();
	return p;
}

void *
xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);
	if (!p)
		oom();
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (!p)
		oom();
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = strdup(s);
	if (!p)
		oom();
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	int n;
	char *p;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	p = xmalloc((size_t)n + 1);
	va_start(ap, fmt);
	vsnprintf(p, (size_t)n + 1, fmt, ap);
	va_end(ap);
	return p;
}

int
dml_read_file(const char *path, char **buf, size_t *len)
{
	int fd, stdin_ = !path || strcmp(path, "-") == 0;
	size_t cap = 65536, n = 0;
	char *b;
	ssize_t r;

	fd = stdin_ ? 0 : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return dml_error_sys("%s", path);
	b = xmalloc(cap);
	for (;;) {
		if (cap - n < 2)
			b = xrealloc(b, cap *= 2);
		r = read(fd, b + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			int e = errno;
			free(b);
			if (!stdin_)
				close(fd);
			return dml_error("%s: %s", stdin_ ? "<stdin>" : path,
			    strerror(e));
		}
		if (r == 0)
			break;
		n += (size_t)r;
	}
	if (!stdin_)
		close(fd);
	b[n] = 0;
	*buf = b;
	*len = n;
	return 0;
}

int
dml_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len) {
		ssize_t w = write(fd, p, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

ssize_t
dml_read_full(int fd, void *buf, size_t n)
{
	unsigned char *p = buf;
	size_t got = 0;

	while (got < n) {
		ssize_t k = read(fd, p + got, n - got);
		if (k == 0)
			break;
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		got += (size_t)k;
	}
	return (ssize_t)got;
}

static void
fsync_dir(const char *path)
{
	char *d = xstrdup(path), *s = strrchr(d, '/');
	int fd;

	if (s == d)
		s[1] = 0;
	else if (s)
		*s = 0;
	else
		strcpy(d, ".");
	fd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd >= 0) {
		fsync(fd);
		close(fd);
	}
	free(d);
}

int
dml_write_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	char *tmp = xasprintf("%s.tmp.XXXXXX", path);
	int fd = mkstemp(tmp), e;

	if (fd < 0) {
		e = errno;
		free(tmp);
		return dml_error("%s: %s", path, strerror(e));
	}
	if (fchmod(fd, mode) < 0 || dml_write_all(fd, buf, len) < 0 ||
	    fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(tmp);
		free(tmp);
		return dml_error("%s: %s", path, strerror(e));
	}
	if (close(fd) < 0 || rename(tmp, path) < 0) {
		e = errno;
		unlink(tmp);
		free(tmp);
		return dml_error("%s: %s", path, strerror(e));
	}
	free(tmp);
	fsync_dir(path);
	return 0;
}

int
dml_create_file(const char *path, const void *buf, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode), e;

	if (fd < 0)
		return dml_error_sys("%s", path);
	if (dml_write_all(fd, buf, len) < 0 || fsync(fd) < 0) {
		e = errno;
		close(fd);
		unlink(path);
		return dml_error("%s: %s", path, strerror(e));
	}
	if (close(fd) < 0) {
		e = errno;
		unlink(path);
		return dml_error("%s: %s", path, strerror(e));
	}
	fsync_dir(path);
	return 0;
}

int
dml_parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (!*s || *end || errno)
		return dml_error("'%s' is not an integer", s);
	if (v < lo || v > hi)
		return dml_error("'%s' is out of range [%ld, %ld]", s, lo, hi);
	*out = v;
	return 0;
}

int
dml_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (!*s || *end || errno || !isfinite(v))
		return dml_error("'%s' is not a finite number", s);
	*out = v;
	return 0;
}

void
dml_version(void)
{
	printf("%s (dml) %s\n", dml_prog, DML_VERSION);
	dml_close_stdout();
	exit(0);
}

void
dml_close_stdout(void)
{
	if (fflush(stdout) != 0 || ferror(stdout) || fclose(stdout) != 0)
		dml_die(DML_EXIT_USAGE, "write error on stdout: %s",
		    strerror(errno));
}

void
dml_progress(const char *what, long long done, long long total)
{
	static int tty = -1;
	static struct timespec last;
	struct timespec now;

	if (tty < 0)
		tty = isatty(2);
	if (!tty)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done < total && (now.tv_sec - last.tv_sec) * 1000000000L +
	    (now.tv_nsec - last.tv_nsec) < 100000000L)
		return;
	last = now;
	fprintf(stderr, "\r%s: %s %lld/%lld%s", dml_prog, what, done, total,
	    done >= total ? "\n" : "");
}

int
dml_make_parent(const char *path)
{
	char *d = xstrdup(path);
	int rc = 0;

	for (char *p = d + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(d, 0700) < 0 && errno != EEXIST)
			rc = dml_error_sys("%s: cannot make it", d);
		*p = '/';
		if (rc)
			break;
	}
	free(d);
	return rc;
}
