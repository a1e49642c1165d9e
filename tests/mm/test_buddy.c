/* The buddy allocator: split and merge under random operations, on the simulator with
 * several tasks interleaving, until the arena is one free block again. */
#include "helpers.h"
#include "mm/internal.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(buddy, .timeout = 60);

#define OPS_PER_TASK 25000
#define SLOTS 64

struct churn {
	struct rsv_system *sys;
	unsigned long ops, failures;
	int check_errors;
};

static unsigned random_order(void)
{
	uint64_t r = rsv_task_random() % 100;

	/* Mostly small blocks, some large ones up to the maximum order. */
	return r < 60 ? 0 : r < 80 ? (unsigned)(rsv_task_random() % 4)
				   : (unsigned)(rsv_task_random() % (RSV_MAX_ORDER + 1));
}

static int churn_task(void *arg)
{
	struct churn *c = arg;
	struct rsv_page *held[SLOTS] = { 0 };
	unsigned order[SLOTS];

	for (int i = 0; i < OPS_PER_TASK; i++) {
		unsigned s = (unsigned)(rsv_task_random() % SLOTS);

		if (held[s]) {
			rsv_free_pages(held[s], order[s]);
			held[s] = NULL;
		} else {
			order[s] = random_order();
			held[s] = rsv_alloc_pages(RSV_GFP_ATOMIC, order[s]);
			c->failures += !held[s];
		}
		c->ops++;
		if (i % 5000 == 0 && rsv_system_check(c->sys, 0))
			c->check_errors++;
		rsv_sched_point();
	}
	for (int s = 0; s < SLOTS; s++)
		if (held[s])
			rsv_free_pages(held[s], order[s]);
	return 0;
}

Test(buddy, random_ops_merge_back_to_one_block, .timeout = 60)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 42);
	struct churn c = { .sys = sys };
	struct rsv_system *inner = sys;

	for (int t = 0; t < 4; t++)
		rsv_task_create(sys, "churn", churn_task, &c);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(c.ops, 4 * OPS_PER_TASK);
	cr_assert_eq(c.check_errors, 0, "%s", rsv_system_error(sys));
	cr_assert_gt(c.failures, 0, "the workload never hit the watermarks");
	cr_assert_eq(rsv_system_check(sys, RSV_CHECK_WHOLE), 0, "%s", rsv_system_error(sys));
	/* 1024 pages merge back into exactly one order-10 block. */
	cr_assert_eq(atomic_load(&inner->zone.free_area[RSV_MAX_ORDER].nr_free), 1);
	for (unsigned o = 0; o < RSV_MAX_ORDER; o++)
		cr_assert_eq(atomic_load(&inner->zone.free_area[o].nr_free), 0, "order %u", o);
	teardown_whole(sys);
}

Test(buddy, odd_sized_arena_lays_out_and_recovers)
{
	/* 1000 = 512 + 256 + 128 + 64 + 32 + 8 pages. */
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1000, 1);
	static const unsigned expect[RSV_NR_ORDERS] = { [3] = 1, [5] = 1, [6] = 1, [7] = 1,
							[8] = 1, [9] = 1 };
	struct rsv_page *big;

	for (unsigned o = 0; o < RSV_NR_ORDERS; o++)
		cr_assert_eq(atomic_load(&sys->zone.free_area[o].nr_free), expect[o], "order %u",
			     o);
	rsv_task_attach(sys, "setup");
	cr_assert_null(rsv_alloc_pages(RSV_GFP_ATOMIC, 10), "no order-10 block exists");
	big = rsv_alloc_pages(RSV_GFP_ATOMIC, 9);
	cr_assert_not_null(big);
	cr_assert_eq(rsv_page_to_pfn(big), 0);
	cr_assert_eq(rsv_free_pages(big, 9), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

/* Pages cached by a sleeping task are reachable: a failing allocation drains them. */
struct strand {
	struct rsv_page *pages[8];
	struct rsv_page *big;
};

static int cache_and_sleep(void *arg)
{
	struct strand *s = arg;

	for (int i = 0; i < 8; i++)
		s->pages[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	for (int i = 0; i < 8; i++)
		rsv_free_pages(s->pages[i], 0); /* into this task's cache */
	rsv_msleep(100);
	return 0;
}

static int want_everything(void *arg)
{
	struct strand *s = arg;

	rsv_msleep(10);
	s->big = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_MEMALLOC, 4);
	if (s->big)
		rsv_free_pages(s->big, 4);
	return 0;
}

Test(buddy, drain_reaches_a_sleeping_tasks_cache, .timeout = 10)
{
	/* 16 pages, 8 cached by a sleeper: an order-4 request needs all of them. */
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 16, 3);
	struct strand s;

	memset(&s, 0, sizeof(s));

	rsv_task_create(sys, "cacher", cache_and_sleep, &s);
	rsv_task_create(sys, "wanter", want_everything, &s);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_not_null(s.big, "the cached pages were not drained");
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_DRAIN_ALL), 0);
	teardown_whole(sys);
}

/* The same on real threads, in both cache protocols: the drainer must stop the owner's cache
 * (membarrier in the asymmetric one, the spinlock in the locked one) while the owner is alive. */
static void drain_os(bool locked)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 16, .backend = RSV_BACKEND_OS, .pcp_locked = locked,
		.misuse = RSV_MISUSE_RETURN });
	struct strand s;

	memset(&s, 0, sizeof(s));
	cr_assert_not_null(sys);
	rsv_task_create(sys, "cacher", cache_and_sleep, &s);
	rsv_task_create(sys, "wanter", want_everything, &s);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_not_null(s.big, "the cached pages were not drained");
	teardown_whole(sys);
}

Test(buddy, os_drain_asymmetric, .timeout = 10) { drain_os(false); }
Test(buddy, os_drain_locked, .timeout = 10) { drain_os(true); }

/* Address translations work within the calling task's system, as allocation does. */
Test(buddy, translations_belong_to_the_callers_system)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_system *other = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_page *p;
	void *addr;

	rsv_task_attach(sys, "t");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	addr = rsv_page_address(p);
	cr_assert_eq(rsv_virt_to_page(addr), p);
	cr_assert_eq(rsv_virt_to_page((char *)addr + 100), p, "any byte of the page");
	cr_assert_lt(rsv_page_to_pfn(p), 256);
	cr_assert_null(rsv_virt_to_page(&addr), "not in the arena");
	rsv_task_detach();
	cr_assert_null(rsv_virt_to_page(addr), "not a task");
	cr_assert_eq(rsv_page_to_pfn(p), RSV_NO_PFN);
	rsv_task_attach(other, "o");
	cr_assert_null(rsv_page_address(p), "a page of another system");
	cr_assert_null(rsv_virt_to_page(addr));
	cr_assert_eq(rsv_page_to_pfn(p), RSV_NO_PFN);
	rsv_task_detach();
	rsv_task_attach(sys, "t");
	rsv_free_pages(p, 0);
	rsv_task_detach();
	teardown_whole(sys);
	teardown_whole(other);
}
