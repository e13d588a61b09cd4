/* kill-loop: a test helper that runs a command over and over and kills it
 * with SIGKILL at a random moment, to test what a crash leaves behind.
 *
 *   kill-loop [-k KILLS] [-n MAXCYCLES] [-s SEED] [-c CALIBRATE] -- CMD [ARG...]
 *
 * "{}" in an argument becomes the cycle number (1, 2, ...). The first
 * CALIBRATE cycles (default 5) run to their end and time the command; each
 * later cycle is sent SIGKILL after a delay drawn uniformly from [0, 1.2 x
 * their median], so kills land anywhere in the command's life (or just
 * after it). It stops when KILLS cycles (default 200) were killed while
 * running, or after MAXCYCLES (default 10 x KILLS). One line per cycle:
 * "N exit CODE" or "N killed". -e FILE appends the command's stderr to
 * FILE (default: /dev/null, like its stdout).
 *
 * With -w FILE there is no calibration and no random delay: each cycle is
 * killed the moment FILE grows past its last newline as the cycle began
 * (a torn line the command discards first does not count), which for a
 * large append lands in the middle of its write() (the command runs at
 * nice 10 so that the watcher sees the file grow in time). A cycle
 * that left FILE without a newline at its end prints "N killed torn", and
 * KILLS counts those. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <fcntl.h>

static double
now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static unsigned long long rng = 88172645463325252ULL;

static double
uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) / 9007199254740992.0;
}

static const char *errfile = "/dev/null", *watch;

static long long
size_of(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 ? (long long)st.st_size : -1;
}

/* The size of the file up to and with its last newline. */
static long long
whole_lines(const char *path)
{
	int fd = open(path, O_RDONLY);
	long long pos = size_of(path);
	char buf[65536];

	while (fd >= 0 && pos > 0) {
		long long n = pos < (long long)sizeof buf ? pos : (long long)sizeof buf;
		if (pread(fd, buf, (size_t)n, pos - n) != n)
			break;
		for (long long i = n - 1; i >= 0; i--)
			if (buf[i] == '\n') {
				close(fd);
				return pos - n + i + 1;
			}
		pos -= n;
	}
	if (fd >= 0)
		close(fd);
	return 0;
}

/* Does the file end in the middle of a line? */
static int
torn(const char *path)
{
	int fd = open(path, O_RDONLY);
	long long n = size_of(path);
	char c = '\n';

	if (fd >= 0 && n > 0 && pread(fd, &c, 1, n - 1) != 1)
		c = '\n';
	if (fd >= 0)
		close(fd);
	return c != '\n';
}

/* Kill pid as soon as the watched file grows past base (unless it exits
 * first); if it starts longer (a torn line), first wait for the command to
 * cut it. */
static void
kill_on_growth(pid_t pid, long long base)
{
	int cut = size_of(watch) <= base;

	for (;;) {
		siginfo_t si;
		long long n = size_of(watch);
		if (!cut && n <= base)
			cut = 1;
		if (cut && n > base) {
			kill(pid, SIGKILL);
			return;
		}
		si.si_pid = 0;	/* the child stays waitable (WNOWAIT) */
		if (waitid(P_PID, (id_t)pid, &si, WEXITED | WNOHANG |
		    WNOWAIT) == 0 && si.si_pid == pid)
			return;
	}
}

static pid_t
start(char **argv, int cycle)
{
	pid_t pid = fork();

	if (pid == 0) {
		char num[32], **v;
		int n = 0, fd = open("/dev/null", O_WRONLY),
		    efd = open(errfile, O_WRONLY | O_APPEND | O_CREAT, 0644);

		while (argv[n])
			n++;
		v = calloc((size_t)n + 1, sizeof *v);
		snprintf(num, sizeof num, "%d", cycle);
		for (int i = 0; i < n; i++) {
			char *p = strstr(argv[i], "{}");
			if (p) {
				v[i] = malloc(strlen(argv[i]) + 32);
				sprintf(v[i], "%.*s%s%s", (int)(p - argv[i]),
				    argv[i], num, p + 2);
			} else
				v[i] = argv[i];
		}
		dup2(fd, 1);
		dup2(efd, 2);
		if (watch && nice(10) == -1)
			_exit(126);
		execvp(v[0], v);
		_exit(127);
	}
	return pid;
}

int
main(int argc, char **argv)
{
	int n = 0, cal = 5, kills = 200, killed = 0, c, st;
	double window = 0, times[64];

	while ((c = getopt(argc, argv, "e:k:n:s:c:w:")) != -1) {
		switch (c) {
		case 'w': watch = optarg; cal = 0; break;
		case 'e': errfile = optarg; break;
		case 'k': kills = atoi(optarg); break;
		case 'n': n = atoi(optarg); break;
		case 's': rng = strtoull(optarg, NULL, 10) * 2654435761ULL + 1; break;
		case 'c': cal = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: kill-loop [-e FILE] [-k KILLS] [-n N] "
			    "[-s SEED] [-c CAL] [-w FILE] -- CMD [ARG...]\n");
			return 2;
		}
	}
	if (optind >= argc || (cal < 1 && !watch) || cal > 64)
		return 2;
	if (n == 0)
		n = cal + 10 * kills;
	for (int i = 1; i <= n && killed < kills; i++) {
		double t0 = now();
		long long base = watch ? whole_lines(watch) : 0;
		pid_t pid = start(argv + optind, i);

		if (pid < 0)
			return 2;
		if (watch)
			kill_on_growth(pid, base);
		else if (i > cal) {
			double d = uniform() * window;
			struct timespec ts = {(time_t)d,
			    (long)((d - (double)(time_t)d) * 1e9)};
			nanosleep(&ts, NULL);
			kill(pid, SIGKILL);
		}
		if (waitpid(pid, &st, 0) < 0)
			return 2;
		if (i <= cal) {
			times[i - 1] = now() - t0;
			if (i == cal) {	/* the median (insertion sort) */
				for (int a = 1; a < cal; a++)
					for (int b = a; b > 0 &&
					    times[b - 1] > times[b]; b--) {
						double x = times[b];
						times[b] = times[b - 1];
						times[b - 1] = x;
					}
				window = 1.2 * times[cal / 2];
			}
		}
		if (WIFSIGNALED(st) && watch) {
			int t = torn(watch);
			printf("%d killed%s\n", i, t ? " torn" : "");
			killed += t;
		} else if (WIFSIGNALED(st)) {
			printf("%d killed\n", i);
			killed++;
		}
		else
			printf("%d exit %d\n", i, WEXITSTATUS(st));
	}
	if (!watch)
		fprintf(stderr, "kill-loop: window %.2f ms\n", window * 1e3);
	return 0;
}
