/* Each scenario's failing policy on real threads (issue 13): the run ends within the progress
 * watchdog's window with the verdict the simulator gives, the blocked chain and the counters,
 * where it used to hang with nothing printed. The stuck tasks are frozen and the system is
 * abandoned; each Criterion test is its own process, which exits after it. */
#include "helpers.h"

TestSuite(os_stuck, .timeout = 120);

#define WINDOW_NS (3 * RSV_NSEC_PER_SEC)

struct failing {
	const char *scenario, *policy, *param;
	unsigned verdicts;
	bool abandoned;      /* the run got stuck: the tasks were left frozen */
	const char *chain;   /* a line of the blocked chain or of the scenario's report */
	const char *counter; /* a counter the judge must have filled in */
};

#define V(v) (1u << (v))

static void fired(void *arg, enum rsv_watchdog_event e, const char *report)
{
	(void)e;
	(void)report;
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

static void run_on_os(const struct failing *f)
{
	const struct rsv_scenario *s = rsv_scenario_find(f->scenario);
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	struct rsv_scenario_opts o;
	char err[256];
	uint64_t start;

	cr_assert_not_null(s);
	rsv_scenario_opts_init(s, &o);
	o.backend = RSV_BACKEND_OS;
	o.progress_timeout_ns = WINDOW_NS;
	cr_assert_eq(rsv_policy_parse(&o.policy, f->policy, err, sizeof(err)), 0, "%s", err);
	if (f->param)
		cr_assert_eq(rsv_scenario_set_param(s, &o, f->param, err, sizeof(err)), 0, "%s",
			     err);
	start = rsv_now();
	cr_assert_eq(rsv_scenario_run(s, &o, r), 0, "%s", r->why);
	cr_assert(f->verdicts & V(r->verdict), "%s %s on os: %s (%s)\n%s", f->scenario, f->policy,
		  rsv_verdict_name(r->verdict), r->why, r->report);
	if (f->abandoned) {
		/* Within the window after the last progress, plus the set-up's own time. */
		cr_assert_lt(rsv_now() - start, 4 * WINDOW_NS, "took %.1f s",
			     (double)(rsv_now() - start) / 1e9);
		cr_assert(strstr(r->why, "abandoned"), "%s", r->why);
		cr_assert(strstr(r->report, "watchdog: progress counter \"work\" stuck"), "%s",
			  r->report);
	}
	cr_assert(strstr(r->report, f->chain) || strstr(r->why, f->chain), "no '%s' in:\n%s\n%s",
		  f->chain, r->why, r->report);
	cr_assert_geq(rsv_scenario_counter(r, f->counter), 0, "counter %s missing", f->counter);
	free(r);
}

Test(os_stuck, s1_2016_drains_the_reserves_on_real_threads)
{
	run_on_os(&(struct failing){ "s1-crypt-swap-reserves", "mempool=2016", NULL,
				     V(RSV_VERDICT_RESERVE_DEPLETED) | V(RSV_VERDICT_NEEDLESS_OOM),
				     false, "below min", "below_min_by_mempool" });
}

Test(os_stuck, s2_gfp_kernel_kcryptd_under_throttle_vm_writeout_is_a_livelock)
{
	run_on_os(&(struct failing){ "s2-writeout-throttle", "throttle=throttle-vm-writeout",
				     "gfp_kernel=1", V(RSV_VERDICT_LIVELOCK), true,
				     "thread \"kcryptd/crypt\"", "kcryptd_throttles" });
}

Test(os_stuck, s3_revert_without_the_reaper_is_stuck)
{
	run_on_os(&(struct failing){ "s3-oom-mutex-livelock", "mempool=revert,oom=no-reaper", NULL,
				     V(RSV_VERDICT_LIVELOCK) | V(RSV_VERDICT_DEADLOCK), true,
				     "thread \"A\"", "finished" });
}

Test(os_stuck, s4_watermarks_alone_deadlock)
{
	run_on_os(&(struct failing){ "s4-global-reserve-pool", "reservation=watermarks", NULL,
				     V(RSV_VERDICT_DEADLOCK) | V(RSV_VERDICT_LIVELOCK), true,
				     "thread \"fs_writer\"", "pages_written" });
}

Test(os_stuck, s5_case_a_gfp_io_deadlocks)
{
	run_on_os(&(struct failing){ "s5-nofs-bufio-loop", "bufio=gfp-io,loop=noio", "case=0",
				     V(RSV_VERDICT_DEADLOCK), true, "thread \"F\"",
				     "bufio_scans" });
}

Test(os_stuck, s5_case_b_gfp_fs_on_a_plain_loop_deadlocks)
{
	run_on_os(&(struct failing){ "s5-nofs-bufio-loop", "bufio=gfp-fs,loop=plain", "case=1",
				     V(RSV_VERDICT_DEADLOCK), true, "thread \"loop0\"",
				     "bufio_scans" });
}

/* What a library user gets on real threads: the fired callback with the report, the run
 * ended, the system abandoned and left alone by destroy. */
static struct rsv_mutex x, y;

static int xy(void *arg)
{
	rsv_mutex_lock(&x);
	rsv_msleep(20);
	rsv_mutex_lock(&y);
	return 0;
}

static int yx(void *arg)
{
	rsv_mutex_lock(&y);
	rsv_msleep(20);
	rsv_mutex_lock(&x);
	return 0;
}

Test(os_stuck, a_library_user_hears_of_the_deadlock_and_the_run_ends)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_OS, 1024, 1);
	struct rsv_progress work = { 0 };
	_Atomic unsigned calls = 0;
	const char *report;

	rsv_mutex_init(&x, "x");
	rsv_mutex_init(&y, "y");
	rsv_progress_register(sys, &work, "work");
	cr_assert_eq(rsv_watchdog_start(sys, &(struct rsv_watchdog_config){
			     .progress_timeout_ns = 300 * RSV_NSEC_PER_MSEC, .stop_run = true,
			     .fired = fired, .fired_arg = &calls }), 0);
	cr_assert_not_null(rsv_task_create(sys, "xy", xy, NULL));
	cr_assert_not_null(rsv_task_create(sys, "yx", yx, NULL));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
	rsv_watchdog_stop(sys);
	cr_assert_eq(atomic_load(&calls), 1);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_DEADLOCK, "%s",
		     rsv_platform_report(rsv_system_platform(sys)));
	report = rsv_platform_report(rsv_system_platform(sys));
	cr_assert(strstr(report, "wait-for cycle: \"xy\" -> \"yx\" -> \"xy\""), "%s", report);
	cr_assert(rsv_system_abandoned(sys));
	rsv_system_destroy(sys); /* a no-op: the frozen tasks still hold x and y */
}
