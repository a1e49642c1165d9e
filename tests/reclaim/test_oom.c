/* The OOM killer and reaper (mm/oom_kill.c), on the simulator. Three "processes" own anonymous
 * memory with no swap; an allocator then exhausts the arena. */
#include <stdlib.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(oom, .timeout = 60);

#define NR_OWNERS 3

struct oom_test {
	struct rsv_mutex stuck; /* held by the blocker: a victim that takes it cannot exit */
	struct rsv_waitqueue never;     /* nobody wakes it: only a fatal signal ends the wait */
	struct rsv_task *owner[NR_OWNERS];
	long size[NR_OWNERS];
	int adj[NR_OWNERS];
	bool victim_stuck;
	bool blocker_holds;
	int ready;
	int interrupted[NR_OWNERS];
	bool allocator_done;
	int allocator_failures;
	long allocated, wanted;
	struct rsv_progress progress;
	rsv_gfp_t allocator_gfp;
	uint64_t killed_at, reaped_at;
	struct rsv_task *first_victim;
};

static int owner_main(void *arg)
{
	struct oom_test *t = arg;
	struct rsv_task *me = rsv_task_current();
	struct rsv_mapping *m = rsv_mapping_create(rsv_task_system(me), RSV_MAPPING_ANON, "heap",
						   NULL, 0);
	int i = 0;

	while (t->owner[i] != me)
		i++;
	rsv_task_set_oom_score_adj(me, t->adj[i]);
	for (long p = 0; p < t->size[i]; p++)
		rsv_mapping_add_page(m, RSV_GFP_KERNEL, (uint64_t)p);
	t->ready++;
	if (t->victim_stuck && t->size[i] == 800) {
		while (!t->blocker_holds)
			rsv_msleep(1);
		rsv_mutex_lock(&t->stuck); /* D-state: the fatal signal cannot get it out */
		rsv_mutex_unlock(&t->stuck);
		return 0;
	}
	t->interrupted[i] = rsv_wait_event_killable(&t->never, false) == -EINTR;
	return 0;
}

static int blocker_main(void *arg)
{
	struct oom_test *t = arg;

	rsv_mutex_lock(&t->stuck);
	t->blocker_holds = true;
	rsv_msleep(100 * 1000); /* long after the test cares */
	rsv_mutex_unlock(&t->stuck);
	return 0;
}

static int allocator_main(void *arg)
{
	struct oom_test *t = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	while (t->ready < NR_OWNERS)
		rsv_msleep(1);
	/* More than is free, less than is free plus the biggest task: one kill must do. */
	t->wanted = (long)rsv_system_free_pages(sys) + 200;
	for (long i = 0; i < t->wanted; i++) {
		struct rsv_page *p = rsv_alloc_pages(t->allocator_gfp, 0);

		if (!p) {
			t->allocator_failures++;
			break;
		}
		t->allocated++;
		rsv_progress_inc(&t->progress);
		if (!t->killed_at && rsv_stats_get(sys, RSV_STAT_OOM_KILL))
			t->killed_at = rsv_now();
		if (!t->reaped_at && rsv_stats_get(sys, RSV_STAT_OOM_REAPED))
			t->reaped_at = rsv_now();
	}
	t->allocator_done = true;
	/* Let whoever is still waiting go (the exempt, the survivors): a clean end of the run. */
	for (int i = 0; i < NR_OWNERS; i++)
		rsv_task_kill(t->owner[i]);
	return 0;
}

static struct rsv_system *oom_system(enum rsv_oom_policy policy, uint64_t seed, uint64_t limit_ns)
{
	struct rsv_system *sys = rsv_system_create(
		&(struct rsv_system_config){ .nr_pages = 2048,
					     .backend = RSV_BACKEND_SIM,
					     .seed = seed,
					     .time_limit_ns = limit_ns,
					     .misuse = RSV_MISUSE_RETURN,
					     .policy.value[RSV_POLICY_OOM] = policy });

	cr_assert_not_null(sys);
	return sys;
}

static enum rsv_run_result run_oom(struct rsv_system *sys, struct oom_test *t)
{
	static const long sizes[NR_OWNERS] = { 100, 800, 300 };

	rsv_mutex_init(&t->stuck, "stuck_lock");
	rsv_waitqueue_init(&t->never, "never");
	if (!t->allocator_gfp)
		t->allocator_gfp = RSV_GFP_KERNEL;
	for (int i = 0; i < NR_OWNERS; i++) {
		t->size[i] = sizes[i];
		t->owner[i] = rsv_task_create(sys, "owner", owner_main, t);
	}
	if (t->victim_stuck)
		rsv_task_create(sys, "blocker", blocker_main, t);
	rsv_task_create(sys, "allocator", allocator_main, t);
	return rsv_system_run(sys);
}

Test(oom, the_biggest_task_is_the_victim)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct rsv_system *sys = oom_system(RSV_OOM_REAPER, seed, 0);
		struct oom_test t = { 0 };

		cr_assert_eq(run_oom(sys, &t), RSV_RUN_DONE, "%s",
			     rsv_platform_report(rsv_system_platform(sys)));
		cr_assert(t.interrupted[1], "seed %lu: the 800-page task was not killed",
			  (unsigned long)seed);
		cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 1, "one kill was enough");
		cr_assert_eq(t.allocator_failures, 0);
		cr_assert_eq(rsv_task_rss(t.owner[1]), 0, "the victim's memory was not released");
		cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
		rsv_system_destroy(sys);
	}
}

Test(oom, score_adj_exempts_and_shifts)
{
	struct rsv_system *sys = oom_system(RSV_OOM_REAPER, 1, 0);
	struct oom_test t = { .adj = { 0, -1000, 0 } };

	cr_assert_eq(run_oom(sys, &t), RSV_RUN_DONE);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 1);
	cr_assert_eq(rsv_task_rss(t.owner[1]), 0, "the exempt task exited when told to at the end");
	cr_assert_eq(t.allocator_failures, 0);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_system_destroy(sys);
}

Test(oom, no_kill_without_gfp_fs)
{
	struct rsv_system *sys = oom_system(RSV_OOM_REAPER, 1, 20 * RSV_NSEC_PER_SEC);
	struct oom_test t = { .allocator_gfp = RSV_GFP_NOFS };

	/* NOFS never kills: the allocator waits for memory that never comes. */
	cr_assert_eq(run_oom(sys, &t), RSV_RUN_TIME_LIMIT);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 0);
	cr_assert(!t.allocator_done);
	rsv_system_destroy(sys);
}

Test(oom, reaper_frees_a_stuck_victim_within_two_seconds)
{
	for (uint64_t seed = 0; seed < 10; seed++) {
		struct rsv_system *sys = oom_system(RSV_OOM_REAPER, seed, 60 * RSV_NSEC_PER_SEC);
		struct oom_test t = { .victim_stuck = true };

		/* The blocker keeps the victim in D-state for 100 s; the run ends at the limit. */
		run_oom(sys, &t);
		cr_assert(t.allocator_done, "seed %lu: the allocator never got its memory",
			  (unsigned long)seed);
		cr_assert_eq(t.allocator_failures, 0);
		cr_assert_gt(t.killed_at, 0);
		cr_assert_gt(rsv_stats_get(sys, RSV_STAT_OOM_REAPED), 0);
		cr_assert_leq(t.reaped_at - t.killed_at,
			      2 * RSV_NSEC_PER_SEC + 10 * RSV_NSEC_PER_MSEC,
			      "reaped %.3f s after the kill",
			      (double)(t.reaped_at - t.killed_at) / 1e9);
		cr_assert_eq(rsv_task_rss(t.owner[1]), 0);
		rsv_system_destroy(sys);
	}
}

Test(oom, without_the_reaper_a_stuck_victim_stalls_everyone)
{
	struct rsv_system *sys = oom_system(RSV_OOM_NO_REAPER, 1, 0);
	struct oom_test t = { .victim_stuck = true };
	enum rsv_run_result r;

	/* Until the blocker lets go (after 100 s) the victim keeps its memory, the killer waits
	 * for it, and the allocator retries without progress: the progress watchdog reports a
	 * livelock after 30 s of virtual time. */
	rsv_progress_register(sys, &t.progress, "allocations");
	rsv_watchdog_start(sys, &(struct rsv_watchdog_config){
		.progress_timeout_ns = 30 * RSV_NSEC_PER_SEC, .stop_run = true });
	r = run_oom(sys, &t);
	cr_assert_eq(r, RSV_RUN_STOPPED);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_LIVELOCK);
	cr_assert(strstr(rsv_platform_report(rsv_system_platform(sys)),
			 "progress counter \"allocations\" stuck"));
	cr_assert(!t.allocator_done);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 1,
		     "the killer must wait for its victim");
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_REAPED), 0);
	cr_assert_eq(rsv_task_rss(t.owner[1]), 800);
	cr_assert(strstr(rsv_platform_report(rsv_system_platform(sys)),
			 "waits for mutex \"stuck_lock\""),
		  "%s", rsv_platform_report(rsv_system_platform(sys)));
	rsv_system_destroy(sys);
}

/* ---- __GFP_ACCOUNT ---- */

#define HOG_PAGES 900

struct hog {
	struct rsv_page *held[HOG_PAGES];
	long rss_held, rss_after;
	bool interrupted;
	struct rsv_waitqueue never;
};

/* Holds pages it allocated with GFP_USER (accounted) until killed, then unwinds. */
static int hog_main(void *arg)
{
	struct hog *h = arg;

	for (int i = 0; i < HOG_PAGES; i++)
		h->held[i] = rsv_alloc_pages(RSV_GFP_USER, 0);
	h->rss_held = rsv_task_rss(rsv_task_current());
	h->interrupted = rsv_wait_event_killable(&h->never, false) == -EINTR;
	for (int i = 0; i < HOG_PAGES; i++)
		rsv_free_pages(h->held[i], 0);
	h->rss_after = rsv_task_rss(rsv_task_current());
	return 0;
}

static int greedy_main(void *arg)
{
	long *failures = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	rsv_msleep(10);
	for (long n = (long)rsv_system_free_pages(sys) + 200; n > 0; n--)
		*failures += !rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	return 0;
}

/* Pages allocated with __GFP_ACCOUNT make their task the biggest one; the charge goes when
 * they are freed. The greedy allocator's own pages are not accounted: it is not chosen. */
Test(oom, accounted_pages_make_the_victim)
{
	struct rsv_system *sys = oom_system(RSV_OOM_REAPER, 3, 0);
	struct hog *h = calloc(1, sizeof(*h));
	long failures = 0;

	rsv_waitqueue_init(&h->never, "never");
	cr_assert_not_null(rsv_task_create(sys, "hog", hog_main, h));
	cr_assert_not_null(rsv_task_create(sys, "greedy", greedy_main, &failures));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "%s",
		     rsv_platform_report(rsv_system_platform(sys)));
	cr_assert_eq(h->rss_held, HOG_PAGES);
	cr_assert(h->interrupted, "the hog was not killed");
	cr_assert_eq(h->rss_after, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_OOM_KILL), 1);
	cr_assert_eq(failures, 0);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_system_destroy(sys);
	free(h);
}
