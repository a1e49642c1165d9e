/* The lockdep-style checker: lock orders seen in a run that did not deadlock, the fs_reclaim
 * pseudo-lock of the allocator, and waits that only pseudo-locks follow. */
#include "helpers.h"

TestSuite(lockdep, .timeout = 60);

struct ld_test {
	struct rsv_mutex a, b;
	bool reverse_done;
};

/* A then B, and later (never at the same time) B then A: no deadlock, one cycle. */
static int a_then_b(void *arg)
{
	struct ld_test *t = arg;

	rsv_mutex_lock(&t->a);
	rsv_mutex_lock(&t->b);
	rsv_mutex_unlock(&t->b);
	rsv_mutex_unlock(&t->a);
	return 0;
}

static int b_then_a(void *arg)
{
	struct ld_test *t = arg;

	rsv_msleep(10);
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
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);

	memset(t, 0, sizeof(*t));
	rsv_mutex_init(&t->a, "lock_a");
	rsv_mutex_init(&t->b, "lock_b");
	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	cr_assert_eq(rsv_lockdep_enable(sys), -EBUSY);
	return sys;
}

Test(lockdep, an_abba_order_is_reported_without_deadlocking)
{
	struct ld_test t;
	struct rsv_system *sys = ld_system(&t);
	char buf[512];

	rsv_task_create(sys, "first", a_then_b, &t);
	rsv_task_create(sys, "second", b_then_a, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_lockdep_report(sys, buf, sizeof(buf)), 1);
	cr_assert(strstr(buf, "second takes lock_a while holding lock_b"), "%s", buf);
	cr_assert(strstr(buf, "first took lock_b holding lock_a"), "%s", buf);
	rsv_system_destroy(sys);
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
 * orders only the pseudo-locks the waiter holds before it, not its mutexes. */
static int pseudo_regions(void *arg)
{
	struct ld_test *t = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	rsv_lockdep_acquire(sys, "io:disk");
	rsv_mutex_lock(&t->a);
	rsv_mutex_unlock(&t->a);
	rsv_lockdep_release(sys, "io:disk");
	rsv_mutex_lock(&t->b); /* after the region ended: not ordered after io:disk */
	rsv_lockdep_wait(sys, "io:disk"); /* only a mutex held: the wait orders nothing */
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
	cr_assert(!rsv_lockdep_ordered(sys, "lock_b", "io:disk"), "a wait orders no mutex");
	cr_assert(!rsv_lockdep_ordered(sys, "lock_a", "io:disk"));
	cr_assert(!rsv_lockdep_ordered(sys, "io:loop", "lock_b"));
	rsv_system_destroy(sys);
}
