/* The lockdep-style checker: lock orders seen in a run that did not deadlock, the fs_reclaim
 * pseudo-lock of the allocator, and waits that only pseudo-locks follow. */
#include "helpers.h"

TestSuite(lockdep, .timeout = 60);

/* Each test runs on the simulator; the _on_real_threads ones set this first (each Criterion
 * test is its own process). */
static enum rsv_backend ld_backend = RSV_BACKEND_SIM;

struct ld_test {
	struct rsv_mutex a, b;
	_Atomic bool first_done;
	bool reverse_done;
	int reports; /* what the report hook heard */
	char last[2048];
};

static void heard(void *arg, const char *report)
{
	struct ld_test *t = arg;

	t->reports++;
	snprintf(t->last, sizeof(t->last), "%s", report);
}

/* A then B, and later (never at the same time) B then A: no deadlock, one cycle. */
static int a_then_b(void *arg)
{
	struct ld_test *t = arg;

	rsv_mutex_lock(&t->a);
	rsv_mutex_lock(&t->b);
	rsv_mutex_unlock(&t->b);
	rsv_mutex_unlock(&t->a);
	atomic_store(&t->first_done, true);
	return 0;
}

static int b_then_a(void *arg)
{
	struct ld_test *t = arg;

	while (!atomic_load(&t->first_done)) /* never at the same time: no real deadlock */
		rsv_msleep(1);
	rsv_mutex_lock(&t->b);
	rsv_mutex_lock(&t->a);
	rsv_mutex_unlock(&t->a);
	rsv_mutex_unlock(&t->b);
	return 0;
}

static int b_trylock_a(void *arg)
{
	struct ld_test *t = arg;

	rsv_msleep(10);
	rsv_mutex_lock(&t->b);
	if (rsv_mutex_trylock(&t->a))
		rsv_mutex_unlock(&t->a);
	rsv_mutex_unlock(&t->b);
	return 0;
}

static struct rsv_system *ld_system(struct ld_test *t)
{
	struct rsv_system *sys = test_system(ld_backend, 1024, 1);

	memset(t, 0, sizeof(*t));
	rsv_mutex_init(&t->a, "lock_a");
	rsv_mutex_init(&t->b, "lock_b");
	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	cr_assert_eq(rsv_lockdep_enable(sys), -EBUSY);
	rsv_lockdep_set_report_hook(sys, heard, t);
	return sys;
}

static void abba(void)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);
	char buf[512];

	rsv_task_create(sys, "first", a_then_b, &t);
	rsv_task_create(sys, "second", b_then_a, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 1);
	cr_assert(strstr(buf, "lock_b -> lock_a (second took it)"), "%s", buf);
	cr_assert(strstr(buf, "lock_a -> lock_b (first took it)"), "%s", buf);
	cr_assert_eq(t.reports, 1, "the hook hears a cycle once");
	cr_assert_str_eq(t.last, buf);
	rsv_system_destroy(sys);
}

Test(lockdep, an_abba_order_is_reported_without_deadlocking)
{
	abba();
}

Test(lockdep, an_abba_order_is_reported_on_real_threads)
{
	ld_backend = RSV_BACKEND_OS;
	abba();
}

Test(lockdep, one_order_or_a_trylock_is_fine)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);
	char buf[512];

	rsv_task_create(sys, "first", a_then_b, &t);
	rsv_task_create(sys, "again", a_then_b, &t);
	rsv_task_create(sys, "trying", b_trylock_a, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 0, "%s", buf);
	rsv_system_destroy(sys);
}

/* A lock held across a GFP_KERNEL allocation, and the same lock taken by a shrinker: the
 * pattern fs_reclaim exists to catch, found even though memory was plentiful. */
static unsigned long count_one(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	return 1;
}

static unsigned long scan_locking(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct ld_test *t = s->private_data;

	if (!(sc->gfp_mask & RSV___GFP_FS))
		return RSV_SHRINK_STOP;
	rsv_mutex_lock(&t->a);
	rsv_mutex_unlock(&t->a);
	return 0;
}

static int alloc_under_a(void *arg)
{
	struct ld_test *t = arg;
	struct rsv_page *p;

	rsv_mutex_lock(&t->a);
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_mutex_unlock(&t->a);
	rsv_free_pages(p, 0);
	return 0;
}

static int reclaim_with(void *arg)
{
	rsv_try_to_free_pages((rsv_gfp_t)(uintptr_t)arg, 0);
	return 0;
}

static unsigned fs_reclaim_cycles(rsv_gfp_t reclaim_gfp, char *buf, size_t len)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);
	struct rsv_shrinker s = { .count_objects = count_one, .scan_objects = scan_locking,
				  .seeks = 0, .batch = 1, .name = "locking", .private_data = &t };
	unsigned n;

	cr_assert_eq(rsv_register_shrinker(sys, &s), 0);
	rsv_task_create(sys, "holder", alloc_under_a, &t);
	rsv_task_create(sys, "reclaimer", reclaim_with, (void *)(uintptr_t)reclaim_gfp);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	n = rsv_lockdep_report(sys, buf, len);
	teardown_whole(sys);
	return n;
}

Test(lockdep, a_lock_held_across_allocation_and_taken_in_fs_reclaim)
{
	char buf[512];

	cr_assert_eq(fs_reclaim_cycles(RSV_GFP_KERNEL, buf, sizeof(buf)), 1);
	cr_assert(strstr(buf, "fs_reclaim"), "%s", buf);
}

/* The same with NOFS reclaim: no fs_reclaim, nothing to see (the shrinker skips, too). */
Test(lockdep, nofs_reclaim_holds_no_fs_reclaim)
{
	char buf[512];

	cr_assert_eq(fs_reclaim_cycles(RSV_GFP_NOFS, buf, sizeof(buf)), 0, "%s", buf);
}

Test(lockdep, disabled_it_reports_nothing)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	char buf[8] = "x";

	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "");
	rsv_lockdep_acquire(sys, "io:nothing"); /* a no-op without the checker */
	rsv_system_destroy(sys);
}

/* Pseudo-locks: a region held across a lock taken inside it orders them; a wait on a class
 * orders what the waiter holds before it, mutexes included: waiting for a device's I/O is
 * taking what its worker holds. */
static int pseudo_regions(void *arg)
{
	struct ld_test *t = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	rsv_lockdep_acquire(sys, "io:disk");
	rsv_mutex_lock(&t->a);
	rsv_mutex_unlock(&t->a);
	rsv_lockdep_release(sys, "io:disk");
	rsv_mutex_lock(&t->b); /* after the region ended: not ordered after io:disk */
	rsv_lockdep_wait(sys, "io:disk"); /* lock_b held: lock_b -> io:disk */
	rsv_mutex_unlock(&t->b);
	rsv_lockdep_acquire(sys, "io:loop");
	rsv_lockdep_wait(sys, "io:disk"); /* io:loop held: io:disk ordered after it */
	rsv_lockdep_release(sys, "io:loop");
	return 0;
}

Test(lockdep, pseudo_lock_regions_and_waits_order_what_they_cover)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);

	rsv_task_create(sys, "regions", pseudo_regions, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert(rsv_lockdep_ordered(sys, "io:disk", "lock_a"), "taken inside the region");
	cr_assert(!rsv_lockdep_ordered(sys, "io:disk", "lock_b"), "taken after it was released");
	cr_assert(rsv_lockdep_ordered(sys, "io:loop", "io:disk"), "waited for while held");
	cr_assert(rsv_lockdep_ordered(sys, "lock_b", "io:disk"), "a wait orders the mutex held");
	cr_assert(!rsv_lockdep_ordered(sys, "lock_a", "io:disk"));
	cr_assert(!rsv_lockdep_ordered(sys, "io:loop", "lock_b"));
	rsv_system_destroy(sys);
}

/* ---- the 2020 dm-bufio/loop deadlocks: predicted from runs of each path that do not deadlock ----
 */

struct stack_test {
	struct rsv_fs *fs;
	struct rsv_bufio_client *bufio;
	rsv_gfp_t reclaim_gfp;
	bool fs_path;
	int reports;
	char report[2048];
};

static void stack_heard(void *arg, const char *report)
{
	struct stack_test *t = arg;

	t->reports++;
	snprintf(t->report, sizeof(t->report), "%s", report);
}

/* One task, one path after the other: F's transaction allocating under the filesystem lock
 * (case A's first half), dirty buffers, then reclaim that meets them. */
static int stack_driver(void *arg)
{
	struct stack_test *t = arg;

	if (t->fs_path) {
		struct rsv_page *p;

		rsv_mutex_lock(rsv_fs_lock(t->fs));
		p = rsv_alloc_pages(RSV_GFP_NOFS, 0);
		rsv_mutex_unlock(rsv_fs_lock(t->fs));
		rsv_free_pages(p, 0);
	}
	for (uint64_t b = 0; b < 4; b++) {
		struct rsv_buffer *buf = rsv_bufio_new(t->bufio, b, RSV_GFP_NOIO);

		rsv_bufio_mark_dirty(buf);
		rsv_bufio_release(buf);
	}
	rsv_try_to_free_pages(t->reclaim_gfp, 0);
	return 0;
}

static int stack_cycles(const char *policy, rsv_gfp_t reclaim_gfp, bool fs_path,
			struct stack_test *t)
{
	struct rsv_system_config cfg = {
		.nr_pages = 2048, .backend = ld_backend, .seed = 4, .misuse = RSV_MISUSE_RETURN
	};
	struct rsv_system *sys;
	struct rsv_bdev *disk, *loop;

	memset(t, 0, sizeof(*t));
	t->reclaim_gfp = reclaim_gfp;
	t->fs_path = fs_path;
	cr_assert_eq(rsv_policy_parse(&cfg.policy, policy, NULL, 0), 0);
	sys = rsv_system_create(&cfg);
	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	rsv_lockdep_set_report_hook(sys, stack_heard, t);
	rsv_task_attach(sys, "setup");
	disk = rsv_ramdev_create(sys, "disk", 1024, RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	t->fs = rsv_fs_create(sys, "loop.img", disk);
	loop = rsv_loop_create(sys, "loop0", t->fs, 1024);
	t->bufio = rsv_bufio_create(sys, "bufio", loop);
	cr_assert(t->fs && loop && t->bufio);
	rsv_task_detach();
	rsv_task_create(sys, "F", stack_driver, t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "the paths, run apart, do not deadlock");
	rsv_system_destroy(sys);
	return t->reports;
}

static void case_a_predicted(void)
{
	struct stack_test t;

	cr_assert_eq(stack_cycles("bufio=gfp-io,loop=noio", RSV_GFP_NOFS, true, &t), 1);
	cr_assert(strstr(t.report, "fs lock -> io_reclaim (F allocated with GFP_NOFS)") &&
			  strstr(t.report, "io_reclaim -> bufio client mutex") &&
			  strstr(t.report, "bufio client mutex -> io:loop0 (F waited for it)") &&
			  strstr(t.report, "io:loop0 -> fs lock (loop0 took it)"),
		  "%s", t.report);
}

Test(lockdep, case_a_is_predicted_from_its_paths_run_apart)
{
	case_a_predicted();
}

Test(lockdep, case_a_is_predicted_on_real_threads)
{
	ld_backend = RSV_BACKEND_OS;
	case_a_predicted();
}

/* 9d28eb12447e gates the blocking scan on __GFP_FS; v5.9 defers it to a worker: silent. */
Test(lockdep, case_a_is_silent_under_the_fixed_bufio_policies)
{
	struct stack_test t;

	cr_assert_eq(stack_cycles("bufio=gfp-fs,loop=noio", RSV_GFP_NOFS, true, &t), 0, "%s",
		     t.report);
	cr_assert_eq(stack_cycles("bufio=workqueue,loop=noio", RSV_GFP_NOFS, true, &t), 0, "%s",
		     t.report);
}

/* Case B: the loop worker allocates while it serves; FS reclaim waits for its I/O. */
Test(lockdep, case_b_is_predicted_and_silent_under_loop_noio)
{
	struct stack_test t;

	cr_assert_eq(stack_cycles("bufio=gfp-fs,loop=plain", RSV_GFP_KERNEL, false, &t), 1);
	cr_assert(strstr(t.report, "io:loop0") && strstr(t.report, "fs_reclaim") &&
			  strstr(t.report, "loop0 allocated with"),
		  "%s", t.report);
	cr_assert_eq(stack_cycles("bufio=gfp-fs,loop=noio", RSV_GFP_KERNEL, false, &t), 0, "%s",
		     t.report);
}

/* ---- the classic case, and the scope that silences it ---- */

static int alloc_under_a_in_nofs_scope(void *arg)
{
	struct ld_test *t = arg;
	struct rsv_page *p;
	unsigned nofs;

	rsv_mutex_lock(&t->a);
	nofs = rsv_memalloc_nofs_save();
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_memalloc_nofs_restore(nofs);
	rsv_mutex_unlock(&t->a);
	rsv_free_pages(p, 0);
	if (t->reverse_done) { /* after the scope: a GFP_KERNEL allocation under a again */
		rsv_mutex_lock(&t->a);
		p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
		rsv_mutex_unlock(&t->a);
		rsv_free_pages(p, 0);
	}
	return 0;
}

static unsigned scoped_cycles(bool after_scope)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);
	struct rsv_shrinker s = { .count_objects = count_one,
				  .scan_objects = scan_locking,
				  .seeks = 0,
				  .batch = 1,
				  .name = "locking",
				  .private_data = &t };
	char buf[2048];
	unsigned n;

	t.reverse_done = after_scope;
	cr_assert_eq(rsv_register_shrinker(sys, &s), 0);
	rsv_task_create(sys, "holder", alloc_under_a_in_nofs_scope, &t);
	rsv_task_create(sys, "reclaimer", reclaim_with, (void *)(uintptr_t)RSV_GFP_KERNEL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	n = rsv_lockdep_report(sys, buf, sizeof(buf));
	teardown_whole(sys);
	return n;
}

Test(lockdep, a_nofs_scope_silences_the_classic_case_and_ends_exactly)
{
	cr_assert_eq(scoped_cycles(false), 0, "inside memalloc_nofs_save(): no FS reclaim");
	cr_assert_eq(scoped_cycles(true), 1, "after the scope GFP_KERNEL is GFP_KERNEL again");
}

/* ---- semaphores are lock classes too ---- */

struct sem_test {
	struct rsv_semaphore s, signal;
	struct rsv_mutex m;
};

static int sem_then_mutex(void *arg)
{
	struct sem_test *t = arg;

	rsv_down(&t->s);
	rsv_mutex_lock(&t->m);
	rsv_mutex_unlock(&t->m);
	rsv_up(&t->s);
	return 0;
}

static int mutex_then_sem(void *arg)
{
	struct sem_test *t = arg;

	rsv_msleep(10);
	rsv_mutex_lock(&t->m);
	rsv_down(&t->s);
	rsv_up(&t->s);
	rsv_mutex_unlock(&t->m);
	return 0;
}

/* A semaphore used as a signal: downed by the waiter, upped by another task. The waiter does
 * not hold it afterwards, so what it takes next is not ordered after it. */
static int signal_waiter(void *arg)
{
	struct sem_test *t = arg;

	rsv_down(&t->signal);
	rsv_mutex_lock(&t->m);
	rsv_mutex_unlock(&t->m);
	return 0;
}

static int signaller(void *arg)
{
	struct sem_test *t = arg;

	rsv_msleep(5);
	rsv_up(&t->signal);
	return 0;
}

Test(lockdep, semaphores_are_ordered_and_a_signal_is_not_held)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct sem_test t;
	char buf[2048];

	rsv_sema_init(&t.s, "sem_s", 1);
	rsv_sema_init(&t.signal, "sem_signal", 0);
	rsv_mutex_init(&t.m, "mutex_m");
	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	rsv_lockdep_set_report_hook(sys, stack_heard, &(struct stack_test){ 0 });
	rsv_task_create(sys, "waiter", signal_waiter, &t);
	rsv_task_create(sys, "signaller", signaller, &t);
	rsv_task_create(sys, "first", sem_then_mutex, &t);
	rsv_task_create(sys, "second", mutex_then_sem, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 1);
	cr_assert(strstr(buf, "sem_s") && strstr(buf, "mutex_m"), "%s", buf);
	cr_assert(!rsv_lockdep_ordered(sys, "sem_signal", "mutex_m"), "the signal was let go");
	teardown_whole(sys);
}
