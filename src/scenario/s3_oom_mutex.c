/* s3-oom-mutex-livelock (Rientjes' tasks A, B and C, in "Re: [RFC PATCH 1/2]
 * mempool: do not consume memory reserves from the reclaim path", July 2016).
 *
 * Memory is exhausted below min with nothing reclaimable. A takes the last element of pool
 * `a` and then wants mutex `b`. B holds `b` and allocates a page: the OOM killer picks C, the
 * biggest task. C, killed, asks pool `a` for an element. Whether C may dip into the reserves
 * for it (mempool=2016) or must wait for the pool, and whether the reaper frees C's memory
 * meanwhile (oom=reaper), decides if anyone moves again. Holding an element while taking a
 * lock that a reclaimer holds is the caller bug Weiner and Hocko named; the scenario shows
 * what each policy does about it.
 *
 * race=1 lets A and B go without waiting for each other, B with some way to go before the
 * mutex: the livelock needs A to take the last element, then B the mutex, before A takes it.
 * Under the random walk about one schedule in ten does (the others let A through, and C is
 * served at once: invalid-setup, not the seed's situation); the fixes never livelock. */
#include <errno.h>
#include <stdlib.h>
#include "scenario/internal.h"

enum { P_FREE, P_VICTIM, P_RACE, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_FREE] = { "free", 120, 0, 1000, "free pages when A, B and C start (min is 128)" },
	[P_VICTIM] = { "victim_pages", 500, 1, 3000, "anonymous pages C owns" },
	[P_RACE] = { "race", 0, 0, 1,
		     "1: A and B do not wait for each other: the livelock "
		     "needs A to take the element, then B the mutex, before A "
		     "takes it",
		     .axis = true },
};

/* memdie decides what the victim C may take below min (ALLOC_OOM or all of it), which the
 * 2016 and memdie-only policies let it use for its pool allocation. */
static const enum rsv_policy_key keys[] = { RSV_POLICY_MEMPOOL, RSV_POLICY_OOM,
					     RSV_POLICY_MEMDIE };

#define FILL_MAX 4096

struct s3 {
	struct rsv_scenario_run *run;
	struct rsv_mempool *a;
	struct rsv_mutex b;
	_Atomic bool c_ready, exhausted, b_held, a_has_element, c_unneeded, c_served_at_once;
	_Atomic int finished;
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
};

static void finished(struct s3 *s)
{
	atomic_fetch_add(&s->finished, 1);
	rsv_progress_inc(&s->run->progress);
}

static void wait_for(_Atomic bool *flag)
{
	while (!atomic_load(flag))
		rsv_msleep(1);
}

static const char element_of_a[] = "an element of mempool a";

#define RACE_STEPS 10

/* A: the pool's last element, then the mutex. */
static int task_a(void *arg)
{
	struct s3 *s = arg;
	void *e;

	wait_for(s->run->p[P_RACE] ? &s->exhausted : &s->b_held);
	e = rsv_mempool_alloc(s->a, RSV_GFP_KERNEL);
	rsv_lockdep_acquire(s->run->sys, element_of_a); /* what A holds, told to the checker */
	atomic_store(&s->a_has_element, true);
	rsv_mutex_lock(&s->b);
	rsv_mutex_unlock(&s->b);
	rsv_mempool_free(e, s->a);
	rsv_lockdep_release(s->run->sys, element_of_a);
	finished(s);
	return 0;
}

/* B: holds the mutex across an allocation that needs the OOM killer. */
static int task_b(void *arg)
{
	struct s3 *s = arg;
	struct rsv_page *p;

	wait_for(&s->exhausted);
	/* The racy variant: B has some way to go before the mutex (RACE_STEPS scheduling
	 * points, its work before the allocation), so that most schedules let A through first. */
	for (int i = 0; s->run->p[P_RACE] && i < RACE_STEPS; i++)
		rsv_sched_point();
	rsv_mutex_lock(&s->b);
	atomic_store(&s->b_held, true);
	if (!s->run->p[P_RACE])
		wait_for(&s->a_has_element);
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_mutex_unlock(&s->b);
	if (p)
		rsv_free_pages(p, 0);
	finished(s);
	return 0;
}

/* C's element of `a`, noting how it got it: waiting for the pool, below min, or from memory
 * the reaper had freed by then. None of these is the page allocator serving C above min at
 * once: memory was not exhausted when C asked, which the seed's situation needs. */
static void ask(struct s3 *s)
{
	struct rsv_mempool_stats before, after;
	uint64_t reaped = rsv_stats_get(s->run->sys, RSV_STAT_OOM_REAPED);

	rsv_mempool_stats(s->a, &before);
	rsv_mempool_free(rsv_mempool_alloc(s->a, RSV_GFP_KERNEL), s->a);
	rsv_mempool_stats(s->a, &after);
	atomic_store(&s->c_served_at_once, after.waits == before.waits &&
					   after.reserves_granted == before.reserves_granted &&
					   !reaped);
}

/* C: owns the memory; once chosen, it needs one element of `a` to finish and exit. */
static int task_c(void *arg)
{
	struct s3 *s = arg;
	struct rsv_mapping *heap = rsv_mapping_create(s->run->sys, RSV_MAPPING_ANON, "heap",
						      NULL, 0);

	for (long i = 0; heap && i < s->run->p[P_VICTIM]; i++)
		rsv_mapping_add_page(heap, RSV_GFP_KERNEL, (uint64_t)i);
	atomic_store(&s->c_ready, true);
	/* Until chosen; or, when A and B got through without a kill, the situation is not the
	 * seed's and C has nothing to do (the judge says so). */
	while (!rsv_task_is_oom_victim(rsv_task_current())) {
		/* finished counts C only after its kill: 2 here is A and B. */
		if (atomic_load(&s->finished) == 2 && !rsv_task_is_oom_victim(rsv_task_current())) {
			atomic_store(&s->c_unneeded, true);
			return 0;
		}
		rsv_msleep(1);
	}
	ask(s);
	finished(s);
	return 0; /* its memory goes with it */
}

/* Takes every free page above the scenario's level, as an unkillable task. */
static int filler(void *arg)
{
	struct s3 *s = arg;
	struct rsv_system *sys = s->run->sys;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	wait_for(&s->c_ready);
	s->nr_fill = rsv__scenario_exhaust(sys, (unsigned long)s->run->p[P_FREE], s->fill,
					   FILL_MAX, false);
	atomic_store(&s->exhausted, true);
	while (atomic_load(&s->finished) < 3 && !atomic_load(&s->c_unneeded))
		rsv_msleep(10);
	while (s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	struct s3 *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	rsv_mutex_init(&s->b, "b");
	if ((err = rsv__scenario_lockdep(run)))
		return err;
	if (!(s->a = rsv_mempool_create_page_pool(run->sys, 1, 0)))
		return -ENOMEM;
	rsv_mempool_set_name(s->a, "a");
	if (run->paths_apart)
		return 0;
	return rsv__scenario_task(run, "C", task_c, s) ?:
	       rsv__scenario_task(run, "filler", filler, s) ?:
	       rsv__scenario_task(run, "B", task_b, s) ?: rsv__scenario_task(run, "A", task_a, s);
}

/* The three paths apart, memory to spare, each followed by reclaim in GFP_KERNEL context:
 * A takes an element and then the mutex; B allocates holding the mutex; C, as if chosen,
 * takes an element of `a`. */
static void path_a(void *arg)
{
	struct s3 *s = arg;
	void *e = rsv_mempool_alloc(s->a, RSV_GFP_KERNEL);

	rsv_lockdep_acquire(s->run->sys, element_of_a);
	rsv_mutex_lock(&s->b);
	rsv_mutex_unlock(&s->b);
	rsv_mempool_free(e, s->a);
	rsv_lockdep_release(s->run->sys, element_of_a);
}

static void path_b(void *arg)
{
	struct s3 *s = arg;
	struct rsv_page *p;

	rsv_mutex_lock(&s->b);
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_mutex_unlock(&s->b);
	if (p)
		rsv_free_pages(p, 0);
}

static void path_c(void *arg)
{
	struct s3 *s = arg;

	rsv_mempool_free(rsv_mempool_alloc(s->a, RSV_GFP_KERNEL), s->a);
}

static const struct rsv_scenario_path *paths(const long *p, unsigned *n)
{
	static const struct rsv_scenario_path abc[] = {
		{ "A", path_a, RSV_GFP_KERNEL },
		{ "B", path_b, RSV_GFP_KERNEL },
		{ "C", path_c, RSV_GFP_KERNEL },
	};

	(void)p;
	*n = sizeof(abc) / sizeof(abc[0]);
	return abc;
}

/* Weiner and Hocko: whatever the policy, A holding an element while it takes a lock that is
 * held across reclaim is the caller's bug. The lock-order checker has seen both halves. */
static void caller_bug(struct rsv_scenario_run *run)
{
	bool element_then_b = rsv_lockdep_ordered(run->sys, element_of_a, "b");
	bool b_then_reclaim = rsv_lockdep_ordered(run->sys, "b", "fs_reclaim");

	rsv__scenario_counter(run, "caller_bug", element_then_b && b_then_reclaim);
	if (element_then_b && b_then_reclaim)
		rsv__scenario_note(run,
				   "caller bug: A took mutex b holding an element of mempool a, "
				   "and B holds b across GFP_KERNEL reclaim, which may need "
				   "that element back (Weiner, Hocko)");
}

static void judge(struct rsv_scenario_run *run)
{
	struct s3 *s = run->data;
	struct rsv_mempool_stats st;

	rsv_mempool_stats(s->a, &st);
	rsv__scenario_counter(run, "finished", atomic_load(&s->finished));
	rsv__scenario_stat(run, RSV_STAT_OOM_KILL);
	rsv__scenario_stat(run, RSV_STAT_OOM_REAPED);
	rsv__scenario_counter(run, "reserves_used",
			      (int64_t)(rsv_stats_get(run->sys, RSV_STAT_BELOW_MIN_OOM_VICTIM) +
					rsv_stats_get(run->sys, RSV_STAT_BELOW_MIN_PF_MEMALLOC)));
	rsv__scenario_counter(run, "pool_waits", (int64_t)st.waits);
	rsv__scenario_counter(run, "pool_reserves_granted", (int64_t)st.reserves_granted);
	caller_bug(run);
	if (!rsv_stats_get(run->sys, RSV_STAT_OOM_KILL)) {
		rsv__scenario_invalid(run, "B's allocation succeeded without the OOM killer, so C "
				      "was never chosen (free=%ld, victim_pages=%ld): the seed's "
				      "situation needs B to need a kill", run->p[P_FREE],
				      run->p[P_VICTIM]);
		return;
	}
	if (atomic_load(&s->c_served_at_once)) {
		rsv__scenario_invalid(
			run,
			"C, once killed, got its element from the page allocator "
			"above min at once, neither waiting, nor below min, nor helped "
			"by the reaper (free=%ld): memory was not exhausted when it "
			"asked",
			run->p[P_FREE]);
		return;
	}
	if (run->res->verdict == RSV_VERDICT_PROGRESS)
		rsv__scenario_verdict(run, RSV_VERDICT_PROGRESS, "A, B and C finished (%s)",
				      st.reserves_granted ? "C used the reserves"
							: "without touching the reserves");
}

static void pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct s3 *s = run->data;

	if (!s->a)
		return;
	*fill = rsv_mempool_curr_nr(s->a);
	*size = rsv_mempool_min_nr(s->a);
}

static void teardown(struct rsv_scenario_run *run)
{
	struct s3 *s = run->data;

	if (!s)
		return;
	/* After a stuck run A may still hold its element: the pool says so, and goes anyway. */
	rsv_mempool_destroy(s->a);
	free(s);
}

/* What an exploration should see happen in some run, whatever the policy. */
static const struct rsv_scenario_property sometimes[] = {
	{ "the OOM killer chooses a victim", "oom_kill" },
	{ "A holds an element of a while it takes the mutex B holds across reclaim", "caller_bug" },
};

const struct rsv_scenario rsv__s3_oom_mutex = {
	.name = "s3-oom-mutex-livelock",
	RSV__SCENARIO_TABLES,
	.summary = "A holds the pool's last element and wants B's mutex; B's allocation kills C; "
		   "C needs an element of the pool",
	.nr_pages = 4096,
	.setup = setup,
	.paths = paths,
	.judge = judge,
	.pools = pools,
	.teardown = teardown,
};
