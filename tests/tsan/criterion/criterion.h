/* A stand-in for Criterion's header, for the os-backend tests built with ThreadSanitizer:
 * Criterion cannot start under TSan (its inheritable arena fails to map: Snaipe/Criterion#274).
 * It keeps the subset the tests use, with Criterion's meaning: Test and TestSuite with
 * .timeout and .signal, the cr_assert family, cr_log_info, cr_skip_test. tests/tsan/runner.c
 * runs each test in a child process, as Criterion does.
 *
 * Only real threads are exercised here: a test that creates a simulator system, platform or
 * scenario run is skipped, through the three definitions at the end (the simulator runs
 * every task on one OS thread, where TSan has nothing to find). */
#ifndef RSV_TSAN_CRITERION_SHIM_H
#define RSV_TSAN_CRITERION_SHIM_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir/harness.h>

struct shim_suite {
	const char *name;
	double timeout;
	struct shim_suite *next;
};

struct shim_test {
	const char *suite, *name;
	void (*fn)(void);
	double timeout;
	int signal;
	struct shim_test *next;
};

void shim_register_suite(struct shim_suite *s);
void shim_register_test(struct shim_test *t);
_Noreturn void shim_fail(const char *file, int line, const char *what, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
_Noreturn void shim_skip(const char *why);
struct rsv_system *shim_system_create(const struct rsv_system_config *cfg);
struct rsv_platform *shim_platform_create(const struct rsv_platform_config *cfg);
int shim_scenario_run(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
		      struct rsv_scenario_result *res);

#define SHIM_EXIT_SKIPPED 77

#define TestSuite(sname, ...)                                                              \
	static struct shim_suite shim_suite_##sname = { .name = #sname, __VA_ARGS__ };     \
	__attribute__((constructor)) static void shim_suite_reg_##sname(void)              \
	{                                                                                  \
		shim_register_suite(&shim_suite_##sname);                                  \
	}

#define Test(sname, tname, ...)                                                            \
	static void sname##_##tname##_impl(void);                                          \
	static struct shim_test shim_test_##sname##_##tname = {                             \
		.suite = #sname, .name = #tname, .fn = sname##_##tname##_impl, __VA_ARGS__ };   \
	__attribute__((constructor)) static void shim_test_reg_##sname##_##tname(void)     \
	{                                                                                  \
		shim_register_test(&shim_test_##sname##_##tname);                          \
	}                                                                                  \
	static void sname##_##tname##_impl(void)

#define SHIM_CHECK(cond, what, ...)                                                        \
	do {                                                                               \
		if (!(cond))                                                               \
			shim_fail(__FILE__, __LINE__, what, "" __VA_ARGS__);                \
	} while (0)

#define cr_assert(cond, ...) SHIM_CHECK(cond, #cond, __VA_ARGS__)
#define cr_assert_eq(a, b, ...) SHIM_CHECK((a) == (b), #a " == " #b, __VA_ARGS__)
#define cr_assert_neq(a, b, ...) SHIM_CHECK((a) != (b), #a " != " #b, __VA_ARGS__)
#define cr_assert_lt(a, b, ...) SHIM_CHECK((a) < (b), #a " < " #b, __VA_ARGS__)
#define cr_assert_leq(a, b, ...) SHIM_CHECK((a) <= (b), #a " <= " #b, __VA_ARGS__)
#define cr_assert_gt(a, b, ...) SHIM_CHECK((a) > (b), #a " > " #b, __VA_ARGS__)
#define cr_assert_geq(a, b, ...) SHIM_CHECK((a) >= (b), #a " >= " #b, __VA_ARGS__)
#define cr_assert_null(p, ...) SHIM_CHECK((p) == NULL, #p " == NULL", __VA_ARGS__)
#define cr_assert_not_null(p, ...) SHIM_CHECK((p) != NULL, #p " != NULL", __VA_ARGS__)
#define cr_assert_str_eq(a, b, ...) SHIM_CHECK(!strcmp((a), (b)), #a " equals " #b, __VA_ARGS__)
#define cr_log_info(...) (fprintf(stderr, "[info] " __VA_ARGS__), fputc('\n', stderr))
#define cr_skip_test(...) shim_skip("" __VA_ARGS__)

/* Tests reach the simulator through these: such tests are skipped. */
#define rsv_system_create(...) shim_system_create(__VA_ARGS__)
#define rsv_platform_create(...) shim_platform_create(__VA_ARGS__)
#define rsv_scenario_run(...) shim_scenario_run(__VA_ARGS__)

#endif
