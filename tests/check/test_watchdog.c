/* Watchdogs: hung tasks (blocked uninterruptibly in one wait) and stalled progress
 * (livelocks the hung-task check cannot see), without spoiling exact deadlock detection. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(watchdog, .timeout = 60);

struct wd_test {
	struct rsv_mutex lock;
	struct rsv_waitqueue never;
	struct rsv_progress work;
	bool holder_has_it;
};

static int holder(void *arg)
{
	struct wd_test *t = arg;

	rsv_mutex_lock(&t->lock);
	t->holder_has_it = true;
	rsv_msleep(100 * 1000);
	rsv_mutex_unlock(&t->lock);
	return 0;
}

static int d_state(void *arg)
{
	struct wd_test *t = arg;

	while (!t->holder_has_it)
		rsv_msleep(1);
	rsv_mutex_lock(&t->lock);
	rsv_mutex_unlock(&t->lock);
	return 0;
}

/* A mempool-style waiter: 5 s timed waits, over and over, never making progress. */
static int retrier(void *arg)
{
	struct wd_test *t = arg;

	for (;;) {
		struct rsv_wait_entry we;

		rsv_wait_entry_init(&we);
		rsv_prepare_to_wait(&t->never, &we, RSV_TASK_UNINTERRUPTIBLE);
		rsv_schedule_timeout(5 * RSV_NSEC_PER_SEC);
		rsv_finish_wait(&t->never, &we);
	}
	return 0;
}

static struct rsv_system *wd_system(struct wd_test *t, const struct rsv_watchdog_config *cfg)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 3);

	memset(t, 0, sizeof(*t));
	rsv_mutex_init(&t->lock, "i_mutex");
	rsv_waitqueue_init(&t->never, "pool->wait");
	cr_assert_eq(rsv_progress_register(sys, &t->work, "bios completed"), 0);
	cr_assert_eq(rsv_watchdog_start(sys, cfg), 0);
	cr_assert_eq(rsv_watchdog_start(sys, cfg), -EBUSY);
	return sys;
}

Test(watchdog, hung_task_in_d_state)
{
	struct wd_test t;
	struct rsv_system *sys = wd_system(&t, &(struct rsv_watchdog_config){
		.hung_timeout_ns = 10 * RSV_NSEC_PER_SEC, .stop_run = true });
	const char *r;

	rsv_task_create(sys, "holder", holder, &t);
	rsv_task_create(sys, "writer", d_state, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_HUNG_TASK);
	r = rsv_platform_report(rsv_system_platform(sys));
	cr_assert(strstr(r, "watchdog: task \"writer\""), "%s", r);
	cr_assert(strstr(r, "waits for mutex \"i_mutex\", held by \"holder\""), "%s", r);
	cr_assert(strstr(r, "run stopped at virtual time 1"), "not stopped at ~10 s: %s", r);
	cr_assert_null(strstr(r, "kswapd0\" (#1) blocked"), "an idle service thread was hung: %s",
		       r);
	rsv_system_destroy(sys);
}

/* Waits that time out and begin again on a queue nobody wakes: never hung, and, since the
 * task sits in the same wait at every look, a deadlock rather than a livelock. */
Test(watchdog, timed_retries_are_not_hung_but_are_a_disguised_deadlock)
{
	struct wd_test t;
	struct rsv_system *sys = wd_system(&t, &(struct rsv_watchdog_config){
		.hung_timeout_ns = 10 * RSV_NSEC_PER_SEC,
		.progress_timeout_ns = 30 * RSV_NSEC_PER_SEC, .stop_run = true });
	const char *r;

	rsv_task_create(sys, "kcryptd", retrier, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_DEADLOCK);
	cr_assert_eq(rsv_watchdog_events(sys, RSV_WATCHDOG_HUNG_TASK), 0,
		     "a task in 5 s timed waits looked hung");
	r = rsv_platform_report(rsv_system_platform(sys));
	cr_assert(strstr(r, "progress counter \"bios completed\" stuck at 0"), "%s", r);
	cr_assert(strstr(r, "deadlock: its waits time out and begin again"), "%s", r);
	cr_assert(strstr(r, "thread \"kcryptd\" (#"), "%s", r);
	rsv_system_destroy(sys);
}

/* A poller sleeps between looks at a flag nobody sets; a spinner never sleeps at all. Both
 * run without progress: livelocks. */
static int poller(void *arg)
{
	bool *never = arg;

	while (!*never)
		rsv_msleep(2);
	return 0;
}

static int spinner(void *arg)
{
	bool *never = arg;

	while (!*never)
		rsv_yield();
	return 0;
}

Test(watchdog, polling_and_spinning_without_progress_are_livelocks)
{
	int (*const fns[])(void *) = { poller, spinner };

	for (unsigned i = 0; i < 2; i++) {
		struct wd_test t;
		struct rsv_system *sys = wd_system(&t, &(struct rsv_watchdog_config){
			.progress_timeout_ns = 5 * RSV_NSEC_PER_SEC, .stop_run = true });
		bool never = false;

		rsv_task_create(sys, "poller", fns[i], &never);
		cr_assert_eq(rsv_system_run(sys), RSV_RUN_STOPPED);
		cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_LIVELOCK, "%s",
			     rsv_platform_report(rsv_system_platform(sys)));
		cr_assert(strstr(rsv_platform_report(rsv_system_platform(sys)), "(livelock)"));
		rsv_system_destroy(sys);
	}
}

static struct rsv_mutex la, lb;

static int ab(void *arg)
{
	rsv_mutex_lock(&la);
	rsv_msleep(1);
	rsv_mutex_lock(&lb);
	return 0;
}

static int ba(void *arg)
{
	rsv_mutex_lock(&lb);
	rsv_msleep(1);
	rsv_mutex_lock(&la);
	return 0;
}

Test(watchdog, deadlocks_stay_exact)
{
	struct wd_test t;
	struct rsv_system *sys = wd_system(&t, &(struct rsv_watchdog_config){
		.hung_timeout_ns = 10 * RSV_NSEC_PER_SEC,
		.progress_timeout_ns = 30 * RSV_NSEC_PER_SEC, .stop_run = true });

	rsv_mutex_init(&la, "a");
	rsv_mutex_init(&lb, "b");
	rsv_task_create(sys, "A", ab, NULL);
	rsv_task_create(sys, "B", ba, NULL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DEADLOCK);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_NONE);
	rsv_system_destroy(sys);
}

static int progressing(void *arg)
{
	struct wd_test *t = arg;

	for (int i = 0; i < 100; i++) {
		rsv_msleep(1000);
		rsv_progress_inc(&t->work);
	}
	return 0;
}

Test(watchdog, steady_progress_is_left_alone)
{
	struct wd_test t;
	struct rsv_system *sys = wd_system(&t, &(struct rsv_watchdog_config){
		.progress_timeout_ns = 5 * RSV_NSEC_PER_SEC, .stop_run = true });

	rsv_task_create(sys, "steady", progressing, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_NONE);
	rsv_system_destroy(sys);
}

static int stuck_os(void *arg)
{
	rsv_msleep(300);
	return 0;
}

Test(watchdog, os_backend_reports_from_its_monitor_thread)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_OS, 1024, 3);
	struct rsv_progress work = { 0 };

	rsv_progress_register(sys, &work, "work");
	cr_assert_eq(rsv_watchdog_start(sys, &(struct rsv_watchdog_config){
			     .progress_timeout_ns = 50 * RSV_NSEC_PER_MSEC }),
		     0);
	rsv_task_create(sys, "sleeper", stuck_os, NULL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "the os backend only reports");
	cr_assert_eq(rsv_watchdog_fired(sys), RSV_WATCHDOG_LIVELOCK);
	cr_assert(strstr(rsv_platform_report(rsv_system_platform(sys)), "\"work\" stuck"));
	rsv_system_destroy(sys);
}

static void count_sample(void *arg, uint64_t now)
{
	atomic_fetch_add((_Atomic unsigned *)arg, 1);
}

/* What a sampler reads may be freed once the watchdog has stopped: no look comes after. */
Test(watchdog, stop_ends_the_sampler_on_real_threads)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_OS, 1024, 3);
	_Atomic unsigned samples = 0;
	struct rsv_watchdog_config cfg = { .progress_timeout_ns = RSV_NSEC_PER_SEC,
					   .sample_period_ns = RSV_NSEC_PER_MSEC,
					   .sample = count_sample, .sample_arg = &samples };
	unsigned seen;

	cr_assert_eq(rsv_watchdog_start(sys, &cfg), 0);
	rsv_task_create(sys, "sleeper", stuck_os, NULL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	rsv_watchdog_stop(sys);
	seen = atomic_load(&samples);
	cr_assert_gt(seen, 0);
	usleep(20 * 1000);
	cr_assert_eq(atomic_load(&samples), seen, "sampled after the stop");
	cr_assert_eq(rsv_watchdog_start(sys, &cfg), 0, "a stopped watchdog may start again");
	rsv_watchdog_stop(sys);
	rsv_system_destroy(sys);
}

Test(watchdog, bad_config)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 3);

	cr_assert_eq(rsv_watchdog_start(sys, &(struct rsv_watchdog_config){ 0 }), -EINVAL);
	cr_assert_eq(rsv_progress_register(sys, NULL, "x"), -EINVAL);
	rsv_system_destroy(sys);
}

/* The count of blocked threads the watchdogs and timelines read: a mutex waiter counts, a
 * sleeper on a timer does not, and the system's own idle service tasks never do. */
struct blocked_test {
	struct rsv_mutex m;
	_Atomic int held;
	unsigned seen_blocked, seen_after;
};

static int m_holder(void *arg)
{
	struct blocked_test *b = arg;

	rsv_mutex_lock(&b->m);
	atomic_store(&b->held, 1);
	rsv_msleep(20);
	rsv_mutex_unlock(&b->m);
	return 0;
}

static int m_contender(void *arg)
{
	struct blocked_test *b = arg;

	while (!atomic_load(&b->held))
		rsv_msleep(1);
	rsv_mutex_lock(&b->m);
	rsv_mutex_unlock(&b->m);
	return 0;
}

static int m_observer(void *arg)
{
	struct blocked_test *b = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	while (!atomic_load(&b->held))
		rsv_msleep(1);
	rsv_msleep(10);
	b->seen_blocked = rsv_system_nr_blocked(sys);
	rsv_msleep(30);
	b->seen_after = rsv_system_nr_blocked(sys);
	return 0;
}

Test(watchdog, blocked_threads_are_counted_from_what_they_wait_on)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 1);
	struct blocked_test b = { 0 };

	rsv_mutex_init(&b.m, "m");
	rsv_task_create(sys, "holder", m_holder, &b);
	rsv_task_create(sys, "contender", m_contender, &b);
	rsv_task_create(sys, "observer", m_observer, &b);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(b.seen_blocked, 1, "the contender; not the sleeping holder, not kswapd");
	cr_assert_eq(b.seen_after, 0);
	teardown_whole(sys);
}
