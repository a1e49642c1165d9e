/* An allocation that may not fail, with nothing the OOM killer may kill: the kernel panics
 * ("Out of memory and no killable processes"), and so does a system (issue 13: it used to
 * return NULL, a failure no kernel caller of GFP_KERNEL order 0 ever sees). */
#include <setjmp.h>
#include "helpers.h"

TestSuite(panic, .timeout = 60);

/* Takes every page a blocking request may have, with nothing killable around. */
static void exhaust(void)
{
	while (rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_RETRY_MAYFAIL, 0))
		;
}

static jmp_buf out;
static char heard[256];

static void take_back_control(void *arg, const char *msg)
{
	snprintf(heard, sizeof(heard), "%s", msg);
	longjmp(*(jmp_buf *)arg, 1);
}

Test(panic, gfp_kernel_with_nothing_to_kill_panics_instead_of_failing)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 1024, .backend = RSV_BACKEND_SIM, .panic = take_back_control,
		.panic_arg = &out });
	struct rsv_page *volatile p = NULL;

	cr_assert_not_null(sys);
	cr_assert_not_null(rsv_task_attach(sys, "setup")); /* attached: never an OOM victim */
	exhaust();
	cr_assert_null(rsv_system_panicked(sys));
	if (!setjmp(out))
		p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	cr_assert_null(p, "the allocation returned");
	cr_assert_not_null(rsv_system_panicked(sys));
	cr_assert(strstr(rsv_system_panicked(sys), "Out of memory and no killable processes"),
		  "%s", rsv_system_panicked(sys));
	cr_assert_str_eq(heard, rsv_system_panicked(sys));
	cr_assert(strstr(rsv_platform_report(rsv_system_platform(sys)), "panic: Out of memory"));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 0);
	/* Requests that may fail still fail, and costly orders never reach the killer. */
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY, 0));
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, RSV_COSTLY_ORDER + 1));
}

Test(panic, without_a_callback_the_process_aborts_with_the_message, .signal = SIGABRT)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);

	rsv_task_attach(sys, "setup");
	exhaust();
	rsv_alloc_pages(RSV_GFP_KERNEL, 0);
}

static void note(void *arg, const char *msg)
{
	atomic_fetch_add((_Atomic int *)arg, 1);
	(void)msg;
}

static int unkillable_allocator(void *arg)
{
	(void)arg;
	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	exhaust();
	rsv_alloc_pages(RSV_GFP_KERNEL, 0); /* never returns */
	return 1;
}

static void panic_in_a_run(enum rsv_backend backend)
{
	_Atomic int calls = 0;
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 1024, .backend = backend, .seed = 3, .panic = note,
		.panic_arg = &calls });

	cr_assert_not_null(sys);
	cr_assert_not_null(rsv_task_create(sys, "unkillable", unkillable_allocator, NULL));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
	cr_assert_eq(atomic_load(&calls), 1);
	cr_assert(strstr(rsv_system_panicked(sys), "task \"unkillable\""), "%s",
		  rsv_system_panicked(sys));
	cr_assert_eq(rsv_system_abandoned(sys), backend == RSV_BACKEND_OS);
	rsv_system_destroy(sys); /* on real threads a no-op: the task is still in panic() */
}

Test(panic, a_panic_stops_a_simulated_run) { panic_in_a_run(RSV_BACKEND_SIM); }
Test(panic, a_panic_stops_a_run_on_real_threads) { panic_in_a_run(RSV_BACKEND_OS); }

/* s5's P1 allocates GFP_KERNEL with everything else unkillable but the filler, the rest of
 * the machine: with the filler at -1000 too, as it was, P1 panics (the old runs got NULL
 * instead and retried). */
Test(panic, s5s_filler_is_what_the_killer_may_take)
{
	const struct rsv_scenario *s = rsv_scenario_find("s5-nofs-bufio-loop");
	struct rsv_scenario_opts o;
	struct rsv_scenario_result r;
	char err[128];

	rsv_scenario_opts_init(s, &o);
	cr_assert_str_eq(rsv_verdict_name(RSV_VERDICT_PANIC), "panic");
	cr_assert_eq(rsv_scenario_set_param(s, &o, "case=1", err, sizeof(err)), 0);
	cr_assert_eq(rsv_policy_parse(&o.policy, "bufio=workqueue", err, sizeof(err)), 0);
	for (o.seed = 0; o.seed < 20; o.seed++) {
		cr_assert_eq(rsv_scenario_run(s, &o, &r), 0);
		cr_assert_neq(r.verdict, RSV_VERDICT_PANIC, "%s", r.why);
		cr_assert_eq(rsv_scenario_counter(&r, "oom_kill"), 1);
	}
}
