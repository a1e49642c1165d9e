/* Regressions: verdicts that were wrong away from the default parameters (issue 13), each on
 * the simulator at the point where it was seen, named after what it was. */
#include "helpers.h"

TestSuite(regress_verdicts, .timeout = 120);

static void run1(struct rsv_scenario_result *r, const char *scenario, const char *policy,
		 const char *p1, const char *p2, uint64_t seed)
{
	const struct rsv_scenario *s = rsv_scenario_find(scenario);
	struct rsv_scenario_opts o;
	char err[256];

	cr_assert_not_null(s);
	rsv_scenario_opts_init(s, &o);
	o.seed = seed;
	cr_assert_eq(rsv_policy_parse(&o.policy, policy, err, sizeof(err)), 0, "%s", err);
	if (p1)
		cr_assert_eq(rsv_scenario_set_param(s, &o, p1, err, sizeof(err)), 0, "%s", err);
	if (p2)
		cr_assert_eq(rsv_scenario_set_param(s, &o, p2, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rsv_scenario_run(s, &o, r), 0, "%s", r->why);
}

/* The stall floor was pool x 1000 / io_ms x floor_pct %: a larger pool raised the floor, not
 * the write rate, and the fixed policy became a stall with kcryptd never throttled. */
Test(regress_verdicts, s2_stall_floor_grew_with_the_pool)
{
	struct rsv_scenario_result r;

	run1(&r, "s2-writeout-throttle", "throttle=reclaim-throttle", "pool=128", NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_PROGRESS, "%s", r.why);
	cr_assert_eq(rsv_scenario_counter(&r, "kcryptd_throttles"), 0);
}

/* ...and a slow disk lowered it: 63 throttle sleeps, 16 times the fixed policy's time, were
 * progress. */
Test(regress_verdicts, s2_stall_floor_fell_with_a_slow_disk)
{
	struct rsv_scenario_result r;

	run1(&r, "s2-writeout-throttle", "throttle=throttle-vm-writeout", "io_ms=50", NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_STALL, "%s", r.why);
	cr_assert_gt(2 * rsv_scenario_counter(&r, "kcryptd_throttled_ms"),
		     rsv_scenario_counter(&r, "writeback_ms"));
}

/* Below the background limit nothing started writeback: 0 pages written, a livelock under
 * every policy. Periodic writeback writes them; the situation is not the seed's. */
Test(regress_verdicts, s2_no_periodic_writeback_below_the_background_limit)
{
	struct rsv_scenario_result r;

	run1(&r, "s2-writeout-throttle", "throttle=throttle-vm-writeout", "thresh=800", NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_INVALID_SETUP, "%s", r.why);
	cr_assert(strstr(r.why, "thresh=800"), "%s", r.why);
	cr_assert_eq(rsv_scenario_counter(&r, "written"), 400);
	cr_assert_gt(rsv_scenario_counter(&r, "flusher_kupdate_pages"), 0,
		     "not the periodic round");
}

/* B's allocation succeeded without a kill and C waited for one for ever: a livelock under
 * every policy, the reaper's included. */
Test(regress_verdicts, s3_livelock_when_no_kill_was_needed)
{
	struct rsv_scenario_result r;

	run1(&r, "s3-oom-mutex-livelock", "mempool=upstream,oom=reaper", "free=150", NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_INVALID_SETUP, "%s", r.why);
	cr_assert(strstr(r.why, "free=150"), "%s", r.why);
	cr_assert_lt(r.virtual_ns, RSV_NSEC_PER_SEC, "C still waited for a kill");
}

/* memdie decides s3 under the 2016 policy but was not a key of s3: never crossed. */
Test(regress_verdicts, s3_memdie_was_not_a_key)
{
	const struct rsv_scenario *s = rsv_scenario_find("s3-oom-mutex-livelock");
	struct rsv_scenario_result r;
	bool listed = false;

	for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++)
		listed |= rsv_scenario_key(s, k) == RSV_POLICY_MEMDIE;
	cr_assert(listed);
	run1(&r, "s3-oom-mutex-livelock", "mempool=2016,oom=no-reaper,memdie=partial", "free=60",
	     NULL, 1);
	cr_assert(r.verdict == RSV_VERDICT_LIVELOCK || r.verdict == RSV_VERDICT_DEADLOCK, "%s",
		  r.why);
	run1(&r, "s3-oom-mutex-livelock", "mempool=2016,oom=no-reaper,memdie=full", "free=60",
	     NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_PROGRESS, "%s", r.why);
}

/* throttle decides s1 under 2016 (the old throttle caps the swap-outs in flight) but was not
 * a key of s1. */
Test(regress_verdicts, s1_throttle_was_not_a_key)
{
	const struct rsv_scenario *s = rsv_scenario_find("s1-crypt-swap-reserves");
	struct rsv_scenario_result r;
	bool listed = false;

	for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++)
		listed |= rsv_scenario_key(s, k) == RSV_POLICY_THROTTLE;
	cr_assert(listed);
	run1(&r, "s1-crypt-swap-reserves", "mempool=2016,throttle=throttle-vm-writeout", NULL,
	     NULL, 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_PROGRESS, "%s", r.why);
}

/* The README said case A's gfp-fs fix holds with either loop; with loop=plain kswapd closes
 * case B's cycle, as the 2020 thread says any GFP_KERNEL reclaimer can. */
Test(regress_verdicts, s5_case_a_gfp_fs_deadlocks_through_kswapd_with_a_plain_loop)
{
	struct rsv_scenario_result r;
	const char *cycle;

	run1(&r, "s5-nofs-bufio-loop", "bufio=gfp-fs,loop=plain", "case=0", "dirty=8", 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_DEADLOCK, "%s", r.why);
	cycle = strstr(r.report, "wait-for cycle");
	cr_assert(cycle && strstr(cycle, "kswapd0") && strstr(cycle, "loop0"), "%s", r.report);
	run1(&r, "s5-nofs-bufio-loop", "bufio=gfp-fs,loop=noio", "case=0", "dirty=8", 1);
	cr_assert_eq(r.verdict, RSV_VERDICT_PROGRESS, "%s", r.why);
}

/* s1 called every OOM kill needless: hogs wanting more than memory and swap are killed of
 * necessity. */
Test(regress_verdicts, s1_necessary_kills_called_needless)
{
	struct rsv_scenario_result r;

	run1(&r, "s1-crypt-swap-reserves", "mempool=upstream", "hog_pages=2000", NULL, 1);
	cr_assert_gt(rsv_scenario_counter(&r, "oom_kill"), 0);
	cr_assert_eq(rsv_scenario_counter(&r, "oom_kill_reclaimable"), 0);
	cr_assert_eq(r.verdict, RSV_VERDICT_PROGRESS, "%s", r.why);
}
