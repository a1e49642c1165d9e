/* The os backend: real threads contending on the same primitives. */
#include <string.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(os, .timeout = 60);
TestSuite(rand, .timeout = 60);

static struct rsv_platform *os(void)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_OS });

	cr_assert_not_null(p);
	return p;
}

struct counter {
	struct rsv_mutex m;
	struct rsv_semaphore sem;
	long value;
	int inside, max_inside;
};

static int count_up(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 100000; i++) {
		rsv_mutex_lock(&c->m);
		c->value++;
		rsv_mutex_unlock(&c->m);
	}
	return 0;
}

Test(os, mutex_excludes_under_contention, .timeout = 30)
{
	struct rsv_platform *p = os();
	struct counter c = { 0 };

	rsv_mutex_init(&c.m, "counter");
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(rsv_thread_create(p, "counter", count_up, &c));
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(c.value, 400000);
	cr_assert_null(rsv_mutex_owner(&c.m));
	rsv_platform_destroy(p);
}

static int sem_user(void *arg)
{
	struct counter *c = arg;

	for (int i = 0; i < 2000; i++) {
		rsv_down(&c->sem);
		rsv_mutex_lock(&c->m);
		if (++c->inside > c->max_inside)
			c->max_inside = c->inside;
		rsv_mutex_unlock(&c->m);
		rsv_mutex_lock(&c->m);
		c->inside--;
		rsv_mutex_unlock(&c->m);
		rsv_up(&c->sem);
	}
	return 0;
}

Test(os, semaphore_bounds_holders, .timeout = 30)
{
	struct rsv_platform *p = os();
	struct counter c = { 0 };

	rsv_mutex_init(&c.m, "inside");
	rsv_sema_init(&c.sem, "two", 2);
	for (int i = 0; i < 4; i++)
		rsv_thread_create(p, "sem", sem_user, &c);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_leq(c.max_inside, 2);
	cr_assert_gt(c.max_inside, 0);
	rsv_platform_destroy(p);
}

struct pc {
	struct rsv_waitqueue wq;
	_Atomic int items;
	int consumed;
};

static int consumer(void *arg)
{
	struct pc *pc = arg;

	while (pc->consumed < 20000) {
		rsv_wait_event(&pc->wq, atomic_load(&pc->items) > 0);
		atomic_fetch_sub(&pc->items, 1);
		pc->consumed++;
	}
	return 0;
}

static int producer(void *arg)
{
	struct pc *pc = arg;

	for (int i = 0; i < 20000; i++) {
		atomic_fetch_add(&pc->items, 1);
		rsv_wake_up(&pc->wq);
	}
	return 0;
}

Test(os, waitqueue_loses_no_wakeups, .timeout = 30)
{
	struct rsv_platform *p = os();
	struct pc pc = { 0 };

	rsv_waitqueue_init(&pc.wq, "items");
	rsv_thread_create(p, "consumer", consumer, &pc);
	rsv_thread_create(p, "producer", producer, &pc);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(pc.consumed, 20000);
	rsv_platform_destroy(p);
}

static uint64_t slept_ns, left_ns;

static int timed(void *arg)
{
	struct rsv_waitqueue *wq = arg;
	struct rsv_wait_entry e;
	uint64_t t0 = rsv_now();

	rsv_wait_entry_init(&e);
	rsv_prepare_to_wait(wq, &e, RSV_TASK_UNINTERRUPTIBLE);
	left_ns = rsv_schedule_timeout(20 * RSV_NSEC_PER_MSEC);
	rsv_finish_wait(wq, &e);
	slept_ns = rsv_now() - t0;
	return 0;
}

Test(os, timed_wait_expires_in_real_time, .timeout = 10)
{
	struct rsv_platform *p = os();
	struct rsv_waitqueue wq;

	rsv_waitqueue_init(&wq, "timed");
	rsv_thread_create(p, "timed", timed, &wq);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(left_ns, 0);
	cr_assert_geq(slept_ns, 20 * RSV_NSEC_PER_MSEC);
	rsv_platform_destroy(p);
}

Test(os, foreign_thread_can_lock)
{
	struct rsv_mutex m;

	rsv_mutex_init(&m, "foreign");
	rsv_mutex_lock(&m);
	cr_assert_not_null(rsv_mutex_owner(&m));
	cr_assert(!rsv_mutex_trylock(&m));
	rsv_mutex_unlock(&m);
	cr_assert_null(rsv_mutex_owner(&m));
}

Test(os, unlock_by_non_owner_aborts, .signal = SIGABRT)
{
	struct rsv_mutex m;

	rsv_mutex_init(&m, "victim");
	rsv_mutex_unlock(&m);
}

Test(rand, bounded_and_deterministic)
{
	struct rsv_rand a, b;
	int hist[10] = { 0 };

	rsv_rand_seed(&a, 99);
	rsv_rand_seed(&b, 99);
	for (int i = 0; i < 100000; i++) {
		uint64_t x = rsv_rand_below(&a, 10);

		cr_assert_lt(x, 10);
		cr_assert_eq(x, rsv_rand_below(&b, 10));
		hist[x]++;
	}
	for (int i = 0; i < 10; i++)
		cr_assert(hist[i] > 9000 && hist[i] < 11000, "bucket %d: %d", i, hist[i]);
	cr_assert_eq(rsv_rand_below(&a, 0), 0);
	cr_assert_eq(rsv_rand_below(&a, 1), 0);
}
