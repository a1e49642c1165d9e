/* reservoir/explore.h for a user's own program: the first failure with a schedule that
 * replays it exactly, a shrink that keeps its blocked chain, and bad configs refused. */
#include "helpers.h"

TestSuite(explore_api, .timeout = 60);

struct order {
	struct rsv_mutex a, b;
};

static struct order ord;

/* An ABBA pair: a deadlock only when both take their first lock before either takes its
 * second. */
static int ab(void *arg)
{
	struct order *o = arg;

	rsv_mutex_lock(&o->a);
	rsv_sched_point();
	rsv_mutex_lock(&o->b);
	rsv_mutex_unlock(&o->b);
	rsv_mutex_unlock(&o->a);
	return 0;
}

static int ba(void *arg)
{
	struct order *o = arg;

	rsv_mutex_lock(&o->b);
	rsv_sched_point();
	rsv_mutex_lock(&o->a);
	rsv_mutex_unlock(&o->a);
	rsv_mutex_unlock(&o->b);
	return 0;
}

static int setup(struct rsv_system *sys, void *arg)
{
	struct order *o = arg;

	rsv_mutex_init(&o->a, "a");
	rsv_mutex_init(&o->b, "b");
	return rsv_task_create(sys, "ab", ab, o) && rsv_task_create(sys, "ba", ba, o) ? 0 : -ENOMEM;
}

Test(explore_api, finds_replays_and_shrinks_an_abba_deadlock)
{
	struct rsv_explore_config cfg = {
		.system = { .nr_pages = 256 }, .runs = 500, .setup = setup, .arg = &ord
	};
	struct rsv_explore_result res, again;
	char sig[1024], sig2[1024];

	cr_assert_eq(rsv_explore(&cfg, &res), 0);
	cr_assert_eq(res.failures, 1, "the random walk finds it within 500 runs");
	cr_assert_eq(res.run, RSV_RUN_DEADLOCK);
	cr_assert(strstr(res.report, "wait-for cycle"), "%s", res.report);
	cr_assert_eq(rsv_explore_replay(&cfg, (uint64_t)res.first_failing_seed, res.schedule,
					res.nr_schedule, &again),
		     0);
	cr_assert_eq(again.trace_hash, res.trace_hash, "the schedule reproduces it");
	rsv_explore_result_free(&again);
	rsv_report_signature(res.report, sig, sizeof(sig));
	cr_assert_eq(rsv_explore_shrink(&cfg, &res, 5000), 0);
	rsv_report_signature(res.report, sig2, sizeof(sig2));
	cr_assert_str_eq(sig2, sig, "shrunk, it fails the same way");
	cr_assert(strstr(sig, "wait-for cycle") && strstr(sig, "\"ab\"") && strstr(sig, "\"ba\""),
		  "%s", sig);
	rsv_explore_result_free(&res);
}

Test(explore_api, bad_configs_are_refused)
{
	struct rsv_explore_config cfg = { .runs = 1 };
	struct rsv_explore_result res;

	cr_assert_eq(rsv_explore(&cfg, &res), -EINVAL, "no setup");
	cfg.setup = setup;
	cfg.runs = 0;
	cr_assert_eq(rsv_explore(&cfg, &res), -EINVAL, "no runs");
	cfg.runs = 1;
	cfg.system.sched.pct_depth = 99;
	cfg.system.sched.strategy = RSV_SCHED_PCT;
	cfg.arg = &ord;
	cr_assert_eq(rsv_explore(&cfg, &res), -EINVAL, "a bad strategy");
	res.first_failing_seed = -1;
	res.schedule = NULL;
	cr_assert_eq(rsv_explore_shrink(&cfg, &res, 10), -EINVAL, "nothing to shrink");
}

/* Swarm's options for a user's program: on under any other strategy; under swarm a coin of
 * the seed, about half off, the same for the same seed, independent across options. */
Test(explore_api, swarm_options_are_a_coin_of_the_seed)
{
	unsigned off[2] = { 0, 0 }, differ = 0;

	for (uint64_t seed = 0; seed < 400; seed++) {
		struct rsv_system_config c = { .backend = RSV_BACKEND_SIM,
					       .nr_pages = 256,
					       .seed = seed };
		struct rsv_system *sys = rsv_system_create(&c);
		bool on[2];

		cr_assert_not_null(sys);
		cr_assert(rsv_swarm_option(sys, 0) && rsv_swarm_option(sys, 1000), "random: on");
		rsv_system_destroy(sys);
		c.sched.strategy = RSV_SCHED_SWARM;
		cr_assert_not_null(sys = rsv_system_create(&c));
		for (unsigned i = 0; i < 2; i++) {
			on[i] = rsv_swarm_option(sys, i);
			cr_assert_eq(on[i], !rsv_swarm_coin(seed, i));
			cr_assert_eq(rsv_swarm_option(sys, i), on[i], "asked twice, the same");
			off[i] += !on[i];
		}
		differ += on[0] != on[1];
		rsv_system_destroy(sys);
	}
	cr_assert(off[0] > 150 && off[0] < 250 && off[1] > 150 && off[1] < 250, "off: %u, %u",
		  off[0], off[1]);
	cr_assert(differ > 150 && differ < 250, "options 0 and 1 differ on %u of 400 seeds",
		  differ);
}
