/* Runs the tests registered through the Criterion stand-in (criterion/criterion.h here), each
 * in a child process with its timeout, and counts them as Criterion's synthesis does. A test
 * fails on a failed assertion, a signal it did not expect, a timeout, or a ThreadSanitizer
 * report (TSan exits the child with status 66 when halt_on_error is set).
 *
 *   rsv_tsan_tests [substring]   runs the tests whose suite/name contains it */
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <criterion/criterion.h>
#undef rsv_system_create
#undef rsv_platform_create
#undef rsv_scenario_run

#define DEFAULT_TIMEOUT_S 60

static struct shim_suite *suites;
static struct shim_test *tests, **tests_tail = &tests;

void shim_register_suite(struct shim_suite *s)
{
	s->next = suites;
	suites = s;
}

/* Constructors run in link order; the list keeps it, so a run reads in file order. */
void shim_register_test(struct shim_test *t)
{
	*tests_tail = t;
	tests_tail = &t->next;
}

_Noreturn void shim_fail(const char *file, int line, const char *what, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s:%d: assertion failed: %s", file, line, what);
	if (fmt[0]) {
		fputs(": ", stderr);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
	}
	fputc('\n', stderr);
	exit(1);
}

_Noreturn void shim_skip(const char *why)
{
	if (why[0])
		fprintf(stderr, "skipped: %s\n", why);
	exit(SHIM_EXIT_SKIPPED);
}

struct rsv_system *shim_system_create(const struct rsv_system_config *cfg)
{
	if (cfg && cfg->backend == RSV_BACKEND_SIM)
		shim_skip("");
	return rsv_system_create(cfg);
}

struct rsv_platform *shim_platform_create(const struct rsv_platform_config *cfg)
{
	if (cfg && cfg->backend == RSV_BACKEND_SIM)
		shim_skip("");
	return rsv_platform_create(cfg);
}

int shim_scenario_run(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
		      struct rsv_scenario_result *res)
{
	if (o && o->backend == RSV_BACKEND_SIM)
		shim_skip("");
	return rsv_scenario_run(s, o, res);
}

static double timeout_of(const struct shim_test *t)
{
	if (t->timeout > 0)
		return t->timeout;
	for (const struct shim_suite *s = suites; s; s = s->next)
		if (!strcmp(s->name, t->suite) && s->timeout > 0)
			return s->timeout;
	return DEFAULT_TIMEOUT_S;
}

enum outcome { PASSED, FAILED, SKIPPED };

static enum outcome run_one(const struct shim_test *t)
{
	unsigned timeout = (unsigned)(timeout_of(t) + 0.999);
	int status;
	pid_t pid;

	fflush(NULL);
	if ((pid = fork()) < 0) {
		perror("fork");
		return FAILED;
	}
	if (!pid) {
		alarm(timeout);
		t->fn();
		exit(0);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (WIFEXITED(status) && WEXITSTATUS(status) == SHIM_EXIT_SKIPPED)
		return SKIPPED;
	if (t->signal) {
		if (WIFSIGNALED(status) && WTERMSIG(status) == t->signal)
			return PASSED;
		fprintf(stderr, "[FAIL] %s::%s: expected signal %d\n", t->suite, t->name,
			t->signal);
		return FAILED;
	}
	if (WIFEXITED(status) && !WEXITSTATUS(status))
		return PASSED;
	if (WIFSIGNALED(status))
		fprintf(stderr, "[FAIL] %s::%s: %s\n", t->suite, t->name,
			WTERMSIG(status) == SIGALRM ? "timed out" : strsignal(WTERMSIG(status)));
	else
		fprintf(stderr, "[FAIL] %s::%s: exit status %d\n", t->suite, t->name,
			WEXITSTATUS(status));
	return FAILED;
}

int main(int argc, char **argv)
{
	unsigned counts[3] = { 0 };

	for (const struct shim_test *t = tests; t; t = t->next) {
		char full[256];

		snprintf(full, sizeof(full), "%s/%s", t->suite, t->name);
		if (argc > 1 && !strstr(full, argv[1]))
			continue;
		struct timespec a, b;
		enum outcome o;

		clock_gettime(CLOCK_MONOTONIC, &a);
		o = run_one(t);
		clock_gettime(CLOCK_MONOTONIC, &b);
		if (o != SKIPPED)
			fprintf(stderr, "[%s] %s (%.2f s)\n", o == PASSED ? "PASS" : "FAIL", full,
				(double)(b.tv_sec - a.tv_sec) +
					(double)(b.tv_nsec - a.tv_nsec) / 1e9);
		counts[o]++;
	}
	printf("tsan tests: %u passed, %u failed, %u skipped (simulator systems)\n",
	       counts[PASSED], counts[FAILED], counts[SKIPPED]);
	return counts[FAILED] ? 1 : 0;
}
