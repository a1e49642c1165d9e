/* The sim backend: determinism, exact deadlock detection and reports, virtual time. */
#include <string.h>
#include <time.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(sim, .timeout = 60);

static struct rsv_platform *sim(uint64_t seed)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_SIM, .seed = seed });

	cr_assert_not_null(p);
	return p;
}

/* ---- determinism ---- */

struct shared {
	struct rsv_mutex lock;
	struct rsv_waitqueue wq;
	uint64_t counter;
	int order[16];
	int nr_order;
};

static int mixer(void *arg)
{
	struct shared *s = arg;

	for (int i = 0; i < 50; i++) {
		rsv_mutex_lock(&s->lock);
		s->counter = s->counter * 31 + rsv_thread_id(rsv_thread_self());
		rsv_mutex_unlock(&s->lock);
		if (i % 7 == 0)
			rsv_sleep_ns(1000 * (uint64_t)(i % 3 + 1));
		rsv_sched_point();
	}
	return 0;
}

static uint64_t run_mixer(uint64_t seed, uint64_t *counter)
{
	struct rsv_platform *p = sim(seed);
	struct shared s = { 0 };
	uint64_t hash;

	rsv_mutex_init(&s.lock, "mixer");
	for (int i = 0; i < 4; i++)
		rsv_thread_create(p, "mixer", mixer, &s);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	hash = rsv_platform_trace_hash(p);
	rsv_platform_destroy(p);
	*counter = s.counter;
	return hash;
}

Test(sim, same_seed_same_trace, .timeout = 10)
{
	uint64_t c1, c2;
	uint64_t h1 = run_mixer(12345, &c1), h2 = run_mixer(12345, &c2);

	cr_assert_eq(h1, h2, "trace hash differs for one seed");
	cr_assert_eq(c1, c2, "the interleaving-dependent result differs for one seed");
}

Test(sim, seeds_explore_different_interleavings, .timeout = 20)
{
	uint64_t hashes[100];
	uint64_t results[100];
	int distinct = 0, distinct_results = 0;

	for (int i = 0; i < 100; i++) {
		hashes[i] = run_mixer((uint64_t)i, &results[i]);
		bool seen = false, seen_result = false;

		for (int j = 0; j < i; j++) {
			seen |= hashes[j] == hashes[i];
			seen_result |= results[j] == results[i];
		}
		distinct += !seen;
		distinct_results += !seen_result;
	}
	cr_assert_gt(distinct, 1, "100 seeds gave one trace");
	cr_assert_gt(distinct_results, 1, "100 seeds gave one outcome");
}

/* ---- deadlock detection ---- */

static struct rsv_mutex lock_a, lock_b;

static int take_ab(void *arg)
{
	rsv_mutex_lock(&lock_a);
	rsv_msleep(1);
	rsv_mutex_lock(&lock_b);
	rsv_mutex_unlock(&lock_b);
	rsv_mutex_unlock(&lock_a);
	return 0;
}

static int take_ba(void *arg)
{
	rsv_mutex_lock(&lock_b);
	rsv_msleep(1);
	rsv_mutex_lock(&lock_a);
	rsv_mutex_unlock(&lock_a);
	rsv_mutex_unlock(&lock_b);
	return 0;
}

Test(sim, abba_deadlock_named, .timeout = 10)
{
	struct rsv_platform *p = sim(7);
	const char *r;

	rsv_mutex_init(&lock_a, "lock_a");
	rsv_mutex_init(&lock_b, "lock_b");
	rsv_thread_create(p, "task_A", take_ab, NULL);
	rsv_thread_create(p, "task_B", take_ba, NULL);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DEADLOCK);
	r = rsv_platform_report(p);
	cr_assert(strstr(r,
			 "thread \"task_A\" (#1) waits for mutex \"lock_b\", held by \"task_B\""),
		  "report: %s", r);
	cr_assert(strstr(r,
			 "thread \"task_B\" (#2) waits for mutex \"lock_a\", held by \"task_A\""),
		  "report: %s", r);
	cr_assert(strstr(r, "wait-for cycle: \"task_A\" -> \"task_B\" -> \"task_A\""), "report: %s",
		  r);
	rsv_platform_destroy(p);
}

/* Without the sleeps, whether ABBA deadlocks depends on the interleaving: some seeds must
 * find it, and those seeds must find it again on replay. */
static int take_ab_fast(void *arg)
{
	rsv_mutex_lock(&lock_a);
	rsv_mutex_lock(&lock_b);
	rsv_mutex_unlock(&lock_b);
	rsv_mutex_unlock(&lock_a);
	return 0;
}

static int take_ba_fast(void *arg)
{
	rsv_mutex_lock(&lock_b);
	rsv_mutex_lock(&lock_a);
	rsv_mutex_unlock(&lock_a);
	rsv_mutex_unlock(&lock_b);
	return 0;
}

static enum rsv_run_result run_abba_fast(uint64_t seed, uint64_t *hash)
{
	struct rsv_platform *p = sim(seed);
	enum rsv_run_result r;

	rsv_mutex_init(&lock_a, "lock_a");
	rsv_mutex_init(&lock_b, "lock_b");
	rsv_thread_create(p, "A", take_ab_fast, NULL);
	rsv_thread_create(p, "B", take_ba_fast, NULL);
	r = rsv_platform_run(p);
	*hash = rsv_platform_trace_hash(p);
	rsv_platform_destroy(p);
	return r;
}

Test(sim, abba_found_by_some_seeds_and_replayed, .timeout = 10)
{
	int deadlocks = 0, clean = 0;

	for (uint64_t seed = 0; seed < 200; seed++) {
		uint64_t h1, h2;
		enum rsv_run_result r = run_abba_fast(seed, &h1);

		cr_assert_eq(run_abba_fast(seed, &h2), r, "seed %lu did not replay",
			     (unsigned long)seed);
		cr_assert_eq(h1, h2);
		deadlocks += r == RSV_RUN_DEADLOCK;
		clean += r == RSV_RUN_DONE;
	}
	cr_assert_gt(deadlocks, 0, "no seed found the ABBA deadlock");
	cr_assert_gt(clean, 0, "every seed deadlocked");
}

static struct rsv_waitqueue lonely_wq;

static int wait_forever(void *arg)
{
	rsv_wait_event(&lonely_wq, false);
	return 0;
}

Test(sim, waitqueue_nobody_wakes_is_deadlock, .timeout = 10)
{
	struct rsv_platform *p = sim(1);

	rsv_waitqueue_init(&lonely_wq, "pool->wait");
	rsv_thread_create(p, "sleeper", wait_forever, NULL);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DEADLOCK);
	cr_assert(strstr(rsv_platform_report(p), "waits on \"pool->wait\""), "%s",
		  rsv_platform_report(p));
	rsv_platform_destroy(p);
}

static struct rsv_semaphore sem;

static int down_twice(void *arg)
{
	rsv_down(&sem);
	rsv_down(&sem);
	return 0;
}

Test(sim, semaphore_deadlock_names_last_holder, .timeout = 10)
{
	struct rsv_platform *p = sim(1);

	rsv_sema_init(&sem, "reservation_sem", 1);
	rsv_thread_create(p, "writer", down_twice, NULL);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DEADLOCK);
	cr_assert(strstr(rsv_platform_report(p), "waits for semaphore \"reservation_sem\" "
						 "(count 0), last taken by \"writer\""),
		  "%s", rsv_platform_report(p));
	rsv_platform_destroy(p);
}

/* ---- virtual time ---- */

static uint64_t woke_at;

static int sleep_5s(void *arg)
{
	rsv_sleep_ns(5 * RSV_NSEC_PER_SEC);
	woke_at = rsv_now();
	return 0;
}

Test(sim, five_second_sleep_is_virtual, .timeout = 10)
{
	struct rsv_platform *p = sim(1);
	struct timespec t0, t1;
	double wall_ms;

	rsv_thread_create(p, "sleeper", sleep_5s, NULL);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	wall_ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
	cr_assert_geq(woke_at, 5 * RSV_NSEC_PER_SEC);
	cr_assert_lt(woke_at, 5 * RSV_NSEC_PER_SEC + RSV_NSEC_PER_MSEC);
	cr_assert_lt(wall_ms, 10.0, "5 s of virtual sleep took %.3f ms of wall time", wall_ms);
	rsv_platform_destroy(p);
}

static int wake_order[3], nr_woken;

static int sleep_ms_arg(void *arg)
{
	int ms = (int)(intptr_t)arg;

	rsv_msleep((unsigned)ms);
	wake_order[nr_woken++] = ms;
	return 0;
}

Test(sim, timers_fire_in_virtual_time_order, .timeout = 10)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct rsv_platform *p = sim(seed);

		nr_woken = 0;
		rsv_thread_create(p, "s30", sleep_ms_arg, (void *)(intptr_t)30);
		rsv_thread_create(p, "s10", sleep_ms_arg, (void *)(intptr_t)10);
		rsv_thread_create(p, "s20", sleep_ms_arg, (void *)(intptr_t)20);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		cr_assert_eq(wake_order[0], 10);
		cr_assert_eq(wake_order[1], 20);
		cr_assert_eq(wake_order[2], 30);
		rsv_platform_destroy(p);
	}
}

static int spin_forever(void *arg)
{
	for (;;)
		rsv_sched_point();
	return 0;
}

Test(sim, livelock_ends_at_time_limit, .timeout = 10)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_SIM, .seed = 3, .time_limit_ns = 100 * RSV_NSEC_PER_MSEC });

	rsv_thread_create(p, "spinner", spin_forever, NULL);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_TIME_LIMIT);
	cr_assert(strstr(rsv_platform_report(p), "thread \"spinner\" (#1) is runnable"), "%s",
		  rsv_platform_report(p));
	rsv_platform_destroy(p);
}

/* ---- wait queues ---- */

struct wq_test {
	struct rsv_waitqueue wq;
	int ready;
	int woken;
	uint64_t left;
};

static int wq_waiter_excl(void *arg)
{
	struct wq_test *t = arg;
	struct rsv_wait_entry e;

	rsv_wait_entry_init(&e);
	rsv_prepare_to_wait_exclusive(&t->wq, &e, RSV_TASK_UNINTERRUPTIBLE);
	t->ready++;
	t->left = rsv_schedule_timeout(RSV_NSEC_PER_SEC);
	rsv_finish_wait(&t->wq, &e);
	if (t->left)
		t->woken++;
	return 0;
}

static int wq_waker_one(void *arg)
{
	struct wq_test *t = arg;

	while (t->ready < 3)
		rsv_sched_point();
	rsv_wake_up(&t->wq);
	return 0;
}

Test(sim, exclusive_wake_wakes_one, .timeout = 10)
{
	struct rsv_platform *p = sim(5);
	struct wq_test t = { 0 };

	rsv_waitqueue_init(&t.wq, "excl");
	for (int i = 0; i < 3; i++)
		rsv_thread_create(p, "waiter", wq_waiter_excl, &t);
	rsv_thread_create(p, "waker", wq_waker_one, &t);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(t.woken, 1, "wake_up woke %d exclusive waiters", t.woken);
	rsv_platform_destroy(p);
}

/* The kernel's lost-wakeup-free pattern, over many interleavings: the consumer checks the
 * condition after prepare_to_wait, the producer sets it before wake_up. */
struct pc {
	struct rsv_waitqueue wq;
	int items, consumed;
};

static int consumer(void *arg)
{
	struct pc *pc = arg;

	while (pc->consumed < 100) {
		rsv_wait_event(&pc->wq, pc->items > 0);
		pc->items--;
		pc->consumed++;
	}
	return 0;
}

static int producer(void *arg)
{
	struct pc *pc = arg;

	for (int i = 0; i < 100; i++) {
		pc->items++;
		rsv_wake_up(&pc->wq);
		if (i % 3 == 0)
			rsv_sched_point();
	}
	return 0;
}

Test(sim, no_lost_wakeups_over_500_seeds, .timeout = 20)
{
	for (uint64_t seed = 0; seed < 500; seed++) {
		struct rsv_platform *p = sim(seed);
		struct pc pc = { 0 };

		rsv_waitqueue_init(&pc.wq, "items");
		rsv_thread_create(p, "consumer", consumer, &pc);
		rsv_thread_create(p, "producer", producer, &pc);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE, "seed %lu: %s", (unsigned long)seed,
			     rsv_platform_report(p));
		cr_assert_eq(pc.consumed, 100);
		rsv_platform_destroy(p);
	}
}

static int timed_out_wait(void *arg)
{
	struct wq_test *t = arg;
	struct rsv_wait_entry e;
	uint64_t start = rsv_now();

	rsv_wait_entry_init(&e);
	rsv_prepare_to_wait(&t->wq, &e, RSV_TASK_UNINTERRUPTIBLE);
	t->left = rsv_schedule_timeout(5 * RSV_NSEC_PER_SEC);
	rsv_finish_wait(&t->wq, &e);
	t->woken = rsv_now() - start >= 5 * RSV_NSEC_PER_SEC;
	return 0;
}

Test(sim, schedule_timeout_expires, .timeout = 10)
{
	struct rsv_platform *p = sim(1);
	struct wq_test t = { 0 };

	rsv_waitqueue_init(&t.wq, "mempool wait");
	rsv_thread_create(p, "waiter", timed_out_wait, &t);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(t.left, 0, "a timed-out wait must return 0");
	cr_assert_eq(t.woken, 1, "the wait ended before 5 virtual seconds");
	rsv_platform_destroy(p);
}

/* ---- mutex handoff ---- */

struct fifo {
	struct rsv_mutex m;
	int order[3], n;
	int started;
};

static int fifo_holder(void *arg)
{
	struct fifo *f = arg;

	rsv_mutex_lock(&f->m);
	f->started = 1;
	rsv_msleep(10); /* everyone queues meanwhile, in the order they were created */
	rsv_mutex_unlock(&f->m);
	return 0;
}

static int fifo_waiter(void *arg)
{
	struct fifo *f = arg;
	unsigned id = rsv_thread_id(rsv_thread_self());

	rsv_msleep(id); /* queue in id order */
	rsv_mutex_lock(&f->m);
	f->order[f->n++] = (int)id;
	rsv_mutex_unlock(&f->m);
	return 0;
}

Test(sim, mutex_hands_off_in_fifo_order, .timeout = 10)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct rsv_platform *p = sim(seed);
		struct fifo f = { 0 };

		rsv_mutex_init(&f.m, "fifo");
		rsv_thread_create(p, "holder", fifo_holder, &f);
		for (int i = 0; i < 3; i++)
			rsv_thread_create(p, "waiter", fifo_waiter, &f);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		cr_assert_eq(f.order[0], 2);
		cr_assert_eq(f.order[1], 3);
		cr_assert_eq(f.order[2], 4);
		rsv_platform_destroy(p);
	}
}
