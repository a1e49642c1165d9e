/* Each platform primitive on both backends, through the same test body: threads and their
 * records, the clock, spinlocks, mutexes, semaphores, wait queues (with waking a thread out
 * of any sleep), stopping a run, and the thread dump. The os backend runs them on real
 * threads; the simulator under a seeded schedule. */
#include <stdio.h>
#include <stdlib.h>
#include "helpers.h"
#include "platform/internal.h" /* rsv__membarrier*(): internal, tested here */

TestSuite(primitives, .timeout = 60);

static struct rsv_platform *platform(enum rsv_backend backend, uint64_t seed)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = backend, .seed = seed });

	cr_assert_not_null(p);
	cr_assert_eq(rsv_platform_backend(p), backend);
	return p;
}

/* Two tests per body: one per backend. */
#define ON_BOTH(name)                                                                         \
	static void name(enum rsv_backend backend);                                           \
	Test(primitives, name##_on_the_simulator) { name(RSV_BACKEND_SIM); }                  \
	Test(primitives, name##_on_real_threads) { name(RSV_BACKEND_OS); }                    \
	static void name(enum rsv_backend backend)

/* ---- threads and the clock ---- */

struct who {
	struct rsv_thread *self;
	uint64_t slept_from, slept_to;
};

static int whoami(void *arg)
{
	struct who *w = arg;

	w->self = rsv_thread_self();
	w->slept_from = rsv_now();
	rsv_sleep_ns(2 * RSV_NSEC_PER_MSEC);
	w->slept_to = rsv_now();
	return 42;
}

ON_BOTH(threads_know_themselves_and_their_exit)
{
	struct rsv_platform *p = platform(backend, 1);
	struct who w = { 0 };
	struct rsv_thread *t = rsv_thread_create(p, "whoami", whoami, &w);

	cr_assert_not_null(t);
	cr_assert_str_eq(rsv_thread_name(t), "whoami");
	cr_assert_gt(rsv_thread_id(t), 0);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(w.self, t, "rsv_thread_self() inside the thread is its record");
	cr_assert(rsv_thread_exited(t));
	cr_assert_eq(rsv_thread_exit_code(t), 42);
	cr_assert_geq(w.slept_to - w.slept_from, 2 * RSV_NSEC_PER_MSEC, "the clock moved");
	cr_assert_str_eq(rsv_thread_name(NULL), "(none)");
	rsv_platform_destroy(p);
}

/* ---- spinlocks and mutexes ---- */

#define ROUNDS 2000

struct excl {
	struct rsv_spinlock spin;
	struct rsv_mutex mutex;
	long spun, locked;
	_Atomic int trylock_failures;
	_Atomic int owner_right;
};

static int exclude(void *arg)
{
	struct excl *e = arg;

	for (int i = 0; i < ROUNDS; i++) {
		rsv_spin_lock(&e->spin);
		e->spun++;
		rsv_spin_unlock(&e->spin);
		rsv_mutex_lock(&e->mutex);
		e->locked++;
		if (rsv_mutex_owner(&e->mutex) == rsv_thread_self())
			atomic_fetch_add(&e->owner_right, 1);
		rsv_sched_point(); /* the simulator may switch while the mutex is held */
		rsv_mutex_unlock(&e->mutex);
		if (!rsv_mutex_trylock(&e->mutex)) {
			atomic_fetch_add(&e->trylock_failures, 1); /* outside the lock */
			continue;
		}
		e->locked++;
		rsv_mutex_unlock(&e->mutex);
	}
	return 0;
}

ON_BOTH(spinlocks_and_mutexes_exclude)
{
	struct rsv_platform *p = platform(backend, 2);
	struct excl e = { 0 };

	rsv_spin_init(&e.spin);
	rsv_mutex_init(&e.mutex, "excl");
	for (int i = 0; i < 3; i++)
		cr_assert_not_null(rsv_thread_create(p, "excl", exclude, &e));
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_eq(e.spun, 3 * ROUNDS);
	cr_assert_eq(e.owner_right, 3 * ROUNDS, "the owner is the thread inside");
	cr_assert_eq(e.locked, 3 * ROUNDS * 2 - e.trylock_failures);
	cr_assert_null(rsv_mutex_owner(&e.mutex));
	cr_assert(rsv_spin_trylock(&e.spin), "free again");
	cr_assert(!rsv_spin_trylock(&e.spin), "held");
	rsv_spin_unlock(&e.spin);
	rsv_platform_destroy(p);
}

/* ---- semaphores ---- */

struct sem {
	struct rsv_semaphore s;
	struct rsv_spinlock lock;
	int inside, max_inside;
	_Atomic int took_by_trylock; /* two holders at once may count: atomic, not under lock */
};

static int sem_user(void *arg)
{
	struct sem *s = arg;

	for (int i = 0; i < 200; i++) {
		if (rsv_down_trylock(&s->s)) {
			atomic_fetch_add(&s->took_by_trylock, 1);
		} else {
			rsv_down(&s->s);
		}
		rsv_spin_lock(&s->lock);
		if (++s->inside > s->max_inside)
			s->max_inside = s->inside;
		rsv_spin_unlock(&s->lock);
		rsv_sched_point();
		rsv_spin_lock(&s->lock);
		s->inside--;
		rsv_spin_unlock(&s->lock);
		rsv_up(&s->s);
	}
	return 0;
}

ON_BOTH(semaphores_bound_their_holders)
{
	struct rsv_platform *p = platform(backend, 3);
	struct sem s = { 0 };

	rsv_sema_init(&s.s, "two", 2);
	rsv_spin_init(&s.lock);
	for (int i = 0; i < 5; i++)
		cr_assert_not_null(rsv_thread_create(p, "sem", sem_user, &s));
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert_leq(s.max_inside, 2);
	cr_assert_geq(s.max_inside, 1);
	cr_assert_gt(atomic_load(&s.took_by_trylock), 0);
	cr_assert_eq(s.s.count, 2, "every holder gave it back");
	rsv_platform_destroy(p);
}

/* ---- wait queues, and waking a thread out of any sleep ---- */

struct wq {
	struct rsv_waitqueue q;
	_Atomic int condition, sleepers_seen;
	_Atomic(struct rsv_thread *) killable;
	uint64_t killable_left;
	bool woke_killable;
};

static int waiter(void *arg)
{
	struct wq *w = arg;

	rsv_wait_event(&w->q, atomic_load(&w->condition));
	return 0;
}

/* Sleeps killable for ten seconds, unless woken out of it. */
static int killable(void *arg)
{
	struct wq *w = arg;
	struct rsv_waitqueue never;
	struct rsv_wait_entry e;

	rsv_waitqueue_init(&never, "never");
	rsv_wait_entry_init(&e);
	rsv_prepare_to_wait(&never, &e, RSV_TASK_KILLABLE);
	atomic_store(&w->killable, rsv_thread_self());
	w->killable_left = rsv_schedule_timeout(10 * RSV_NSEC_PER_SEC);
	rsv_finish_wait(&never, &e);
	return 0;
}

static int waker(void *arg)
{
	struct wq *w = arg;
	struct rsv_thread *k;

	while (!rsv_waitqueue_active(&w->q) || !(k = atomic_load(&w->killable)))
		rsv_msleep(1);
	atomic_store(&w->sleepers_seen, 1);
	atomic_store(&w->condition, 1);
	rsv_wake_up_all(&w->q);
	while (!(w->woke_killable = rsv_wake_thread(k, RSV_TASK_KILLABLE)) && !rsv_thread_exited(k))
		rsv_msleep(1);
	return 0;
}

ON_BOTH(wait_queues_wake_their_sleepers_and_a_killable_sleep_ends_early)
{
	struct rsv_platform *p = platform(backend, 4);
	struct wq w = { 0 };

	rsv_waitqueue_init(&w.q, "cond");
	cr_assert(!rsv_waitqueue_active(&w.q));
	for (int i = 0; i < 3; i++)
		rsv_thread_create(p, "waiter", waiter, &w);
	rsv_thread_create(p, "killable", killable, &w);
	rsv_thread_create(p, "waker", waker, &w);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert(w.sleepers_seen);
	cr_assert(w.woke_killable, "rsv_wake_thread woke the killable sleeper");
	cr_assert_gt(w.killable_left, 0, "its ten-second sleep ended early");
	cr_assert(!rsv_waitqueue_active(&w.q));
	rsv_platform_destroy(p);
}

/* ---- stopping a run ---- */

static int spinner(void *arg)
{
	struct rsv_platform *p = arg;
	uint64_t start = rsv_now();

	for (;;) {
		rsv_msleep(1);
		if (rsv_now() - start > 5 * RSV_NSEC_PER_MSEC)
			rsv_platform_stop(p); /* once asked, a run ends at its next decision */
		if (rsv_now() - start > 10 * RSV_NSEC_PER_SEC)
			return 1;
	}
}

ON_BOTH(a_stopped_run_ends)
{
	struct rsv_platform *p = platform(backend, 5);
	enum rsv_run_result r;

	rsv_thread_create(p, "spinner", spinner, p);
	r = rsv_platform_run(p);
	cr_assert_neq(r, RSV_RUN_DONE, "the spinner never returns by itself: %s",
		      rsv_run_result_name(r));
	if (backend == RSV_BACKEND_SIM)
		rsv_platform_destroy(p);
	/* On real threads the stopped spinner is frozen at its next sleep: a stopped os run
	 * is abandoned, not destroyed, as rsv_system_destroy() does. */
}

/* ---- the thread dump ---- */

static struct rsv_waitqueue never;

static int hold_and_wait(void *arg)
{
	rsv_mutex_lock(arg);
	rsv_wait_event(&never, false); /* nobody wakes it: the run deadlocks */
	return 0;
}

static int want(void *arg)
{
	while (!rsv_mutex_owner(arg)) /* the holder first */
		rsv_sched_point();
	rsv_mutex_lock(arg);
	rsv_mutex_unlock(arg);
	return 0;
}

Test(primitives, the_thread_dump_names_what_each_waits_on)
{
	struct rsv_platform *p = platform(RSV_BACKEND_SIM, 6);
	struct rsv_mutex m;
	char *buf = NULL;
	size_t len = 0;
	FILE *out;

	rsv_mutex_init(&m, "contended");
	rsv_waitqueue_init(&never, "never woken");
	rsv_thread_create(p, "holder", hold_and_wait, &m);
	rsv_thread_create(p, "wanter", want, &m);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DEADLOCK);
	out = open_memstream(&buf, &len);
	rsv_platform_dump_threads(p, out);
	fclose(out);
	cr_assert(strstr(buf,
			 "\"wanter\" (#2) waits for mutex \"contended\", held by \"holder\"") &&
			  strstr(buf, "never woken"),
		  "%s", buf);
	free(buf);
	rsv_platform_destroy(p);
}

/* The generator behind every seeded choice: a seed gives one sequence, another seed another. */
Test(primitives, the_generator_repeats_for_a_seed_and_differs_across_seeds)
{
	struct rsv_rand a, b, c;
	int same_as_c = 0;

	rsv_rand_seed(&a, 11);
	rsv_rand_seed(&b, 11);
	rsv_rand_seed(&c, 12);
	for (int i = 0; i < 1000; i++) {
		uint64_t x = rsv_rand_next(&a);

		cr_assert_eq(x, rsv_rand_next(&b));
		same_as_c += x == rsv_rand_next(&c);
	}
	cr_assert_eq(same_as_c, 0);
}

/* ---- a workspace lends its mappings to one system after another ---- */

static int touch_pages(void *arg)
{
	(void)arg;
	for (int i = 0; i < 50; i++) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, (unsigned)(i % 3));

		rsv_sched_point();
		rsv_free_pages(p, (unsigned)(i % 3));
	}
	return 0;
}

static uint64_t run_in(struct rsv_workspace *ws, void **arena)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 512, .backend = RSV_BACKEND_SIM, .seed = 9, .workspace = ws });
	struct rsv_page *p;
	uint64_t hash;

	cr_assert_not_null(sys);
	rsv_task_attach(sys, "probe");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	*arena = (char *)rsv_page_address(p) - RSV_PAGE_SIZE * rsv_page_to_pfn(p);
	rsv_free_pages(p, 0);
	rsv_task_detach();
	rsv_task_create(sys, "toucher", touch_pages, NULL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	hash = rsv_platform_trace_hash(rsv_system_platform(sys));
	teardown_whole(sys);
	return hash;
}

Test(primitives, a_workspace_lends_the_same_arena_to_each_system_in_turn)
{
	struct rsv_workspace *ws = rsv_workspace_create();
	void *first, *second, *alone;
	uint64_t h1, h2, h3;

	cr_assert_not_null(ws);
	h1 = run_in(ws, &first);
	h2 = run_in(ws, &second);
	h3 = run_in(NULL, &alone);
	cr_assert_eq(first, second, "the second system got the first one's arena back");
	cr_assert_eq(h1, h2, "and ran the same run");
	cr_assert_eq(h1, h3, "as a system without a workspace does");
	rsv_workspace_destroy(ws);
}

/* ---- membarrier, the slow side of the page caches' asymmetric fence ---- */

Test(primitives, membarrier_is_probed_once_and_usable_when_offered)
{
	bool offered = rsv__membarrier_available();

	cr_assert_eq(rsv__membarrier_available(), offered, "the probe's answer is stable");
	if (offered)
		rsv__membarrier(); /* must return: a failure after registration aborts */
}
