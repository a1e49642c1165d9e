/* Fault injection: the kernel's knobs in the kernel's order, fail-nth, the mempool
 * attributes that force a mempool onto its elements, and RSV_FAIL. Each test runs in an attached
 * task: the decisions are the calling task's. */
#include <stdlib.h>
#include "helpers.h"

TestSuite(fault, .timeout = 60);

static struct rsv_system *fault_system(void)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 7);

	cr_assert_not_null(rsv_task_attach(sys, "tester"));
	return sys;
}

static void done(struct rsv_system *sys)
{
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	rsv_system_destroy(sys);
}

static void set(struct rsv_system *sys, const char *spec)
{
	char err[256];

	cr_assert_eq(rsv_fault_parse(sys, spec, err, sizeof(err)), 0, "%s: %s", spec, err);
}

Test(fault, bad_settings_name_the_bad_word)
{
	struct rsv_system *sys = fault_system();
	static const char *const bad[][2] = {
		{ "fail_nothing:times=1", "fail_nothing" },
		{ "fail_slab:timez=1", "timez" },
		{ "fail_slab:probability=101", "probability=101" },
		{ "fail_slab:times=-2", "times=-2" },
		{ "fail_slab:times=x", "'x'" },
		{ "fail_slab:times", "want name=value" },
	};
	char err[256];

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		cr_assert_eq(rsv_fault_parse(sys, bad[i][0], err, sizeof(err)), -EINVAL, "%s",
			     bad[i][0]);
		cr_assert(strstr(err, bad[i][1]), "%s: '%s' lacks '%s'", bad[i][0], err, bad[i][1]);
	}
	cr_assert_eq(rsv_fault_set(sys, RSV_NR_FAULT_ATTRS, &(struct rsv_fault_config){ 0 }),
		     -EINVAL);
	done(sys);
}

/* The defaults fail one call, and never one that may sleep or must not fail. */
Test(fault, page_alloc_defaults_spare_sleepers_and_nofail)
{
	struct rsv_system *sys = fault_system();
	struct rsv_page *p;

	set(sys, "fail_page_alloc");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	cr_assert_not_null(p, "ignore_gfp_wait is on by default");
	rsv_free_pages(p, 0);
	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOWAIT, 0));
	cr_assert_eq(errno, ENOMEM);
	p = rsv_alloc_pages(RSV_GFP_NOWAIT, 0); /* times=1: spent */
	cr_assert_not_null(p);
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_fault_injected(sys, RSV_FAIL_PAGE_ALLOC), 1);
	set(sys, "fail_page_alloc:ignore_gfp_wait=0,times=-1");
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, 0));
	p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 0);
	cr_assert_not_null(p, "__GFP_NOFAIL is never failed");
	rsv_free_pages(p, 0);
	done(sys);
}

Test(fault, interval_space_and_min_order)
{
	struct rsv_system *sys = fault_system();
	unsigned failed = 0;

	set(sys, "fail_page_alloc:interval=3,times=-1");
	for (int i = 0; i < 30; i++) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_NOWAIT, 0);

		if (p) {
			rsv_free_pages(p, 0);
			continue;
		}
		failed++;
		cr_assert_eq(i % 3, 2, "call %d failed", i);
	}
	cr_assert_eq(failed, 10);
	/* space must stay above the size asked for (the kernel's test): 7 pages pass. */
	set(sys, "fail_page_alloc:space=32768,times=-1");
	for (int i = 0; i < 12; i++) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_NOWAIT, 0);

		cr_assert_eq(p == NULL, i >= 7, "call %d", i);
		if (p)
			rsv_free_pages(p, 0);
	}
	set(sys, "fail_page_alloc:min_order=2,times=-1");
	{
		struct rsv_page *small = rsv_alloc_pages(RSV_GFP_NOWAIT, 1);

		cr_assert_not_null(small);
		cr_assert_null(rsv_alloc_pages(RSV_GFP_NOWAIT, 2));
		rsv_free_pages(small, 1);
	}
	done(sys);
}

static unsigned count_failures(uint64_t seed)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, seed);
	unsigned failed = 0;

	rsv_task_attach(sys, "tester");
	set(sys, "fail_slab:probability=30,times=-1");
	for (int i = 0; i < 1000; i++) {
		void *o = rsv_kmalloc(64, RSV_GFP_NOWAIT);

		if (!o)
			failed++;
		rsv_kfree(o);
	}
	done(sys);
	return failed;
}

/* probability draws from the task's seeded generator: the same seed fails the same calls. */
Test(fault, probability_is_seeded)
{
	unsigned a = count_failures(3), b = count_failures(3);

	cr_assert_eq(a, b);
	cr_assert(a > 220 && a < 380, "%u of 1000 failed at 30%%", a);
}

static int marked_task(void *arg)
{
	struct rsv_kmem_cache *c = arg;
	void *o = rsv_kmem_cache_alloc(c, RSV_GFP_NOWAIT);

	rsv_kmem_cache_free(c, o);
	return o ? 0 : 1;
}

Test(fault, task_filter_fails_only_marked_tasks)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_kmem_cache *c;
	struct rsv_task *a, *b;
	char err[128];

	rsv_task_attach(sys, "setup");
	c = rsv_kmem_cache_create(sys, "obj", 128, 0, 0, NULL);
	rsv_task_detach();
	cr_assert_eq(rsv_fault_parse(sys, "fail_slab:task_filter=1,times=-1", err, sizeof(err)), 0);
	a = rsv_task_create(sys, "marked", marked_task, c);
	b = rsv_task_create(sys, "unmarked", marked_task, c);
	rsv_task_make_it_fail(a, true);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_task_exit_code(a), 1, "the marked task's allocation should fail");
	cr_assert_eq(rsv_task_exit_code(b), 0);
	rsv_task_attach(sys, "teardown");
	rsv_kmem_cache_destroy(c);
	rsv_task_detach();
	rsv_system_destroy(sys);
}

/* The pool's elements, forced; a blocking mempool allocation still never fails. */
Test(fault, fail_mempool_alloc_forces_the_pools_elements)
{
	struct rsv_system *sys = fault_system();
	struct rsv_mempool *pool = rsv_mempool_create_kmalloc_pool(sys, 4, 256);
	struct rsv_mempool_stats st;
	void *e[4];

	cr_assert_not_null(pool);
	set(sys, "fail_mempool_alloc:times=-1;fail_slab:times=-1,ignore_gfp_wait=0");
	for (int i = 0; i < 4; i++)
		cr_assert_not_null(e[i] = rsv_mempool_alloc(pool, RSV_GFP_KERNEL));
	rsv_mempool_stats(pool, &st);
	cr_assert_eq(st.from_pool, 4);
	cr_assert_eq(st.from_backing, 0);
	cr_assert_null(rsv_mempool_alloc(pool, RSV_GFP_NOWAIT), "empty pool, no backing");
	for (int i = 0; i < 4; i++)
		rsv_mempool_free(e[i], pool);
	cr_assert_eq(rsv_mempool_curr_nr(pool), 4);
	cr_assert_eq(rsv_fault_injected(sys, RSV_FAIL_MEMPOOL_ALLOC), 5);
	set(sys, "fail_mempool_alloc:probability=0;fail_mempool_alloc_bulk:times=-1");
	memset(e, 0, sizeof(e));
	cr_assert_eq(rsv_mempool_alloc_bulk(pool, e, 3), 3);
	rsv_mempool_stats(pool, &st);
	cr_assert_eq(st.from_pool, 7);
	rsv_mempool_free_bulk(pool, e, 3);
	rsv_mempool_destroy(pool);
	done(sys);
}

/* fail-nth: exactly the N-th site fails, whatever the knobs; it reads back 0 once fired. */
Test(fault, fail_nth_fails_exactly_the_nth_site)
{
	struct rsv_system *sys = fault_system();
	struct rsv_page *p[5];

	set(sys, "fail_page_alloc:probability=0,ignore_gfp_wait=0");
	cr_assert_eq(rsv_fail_nth_set(3), 0);
	for (int i = 0; i < 5; i++) {
		p[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
		cr_assert_eq(p[i] == NULL, i == 2, "allocation %d", i);
	}
	cr_assert_eq(rsv_fail_nth_get(), 0);
	for (int i = 0; i < 5; i++)
		if (p[i])
			rsv_free_pages(p[i], 0);
	done(sys);
}

Test(fault, fail_nth_needs_a_task)
{
	cr_assert_eq(rsv_fail_nth_set(1), -EPERM);
	cr_assert_eq(rsv_fail_nth_get(), 0);
}

Test(fault, the_environment_sets_the_knobs)
{
	struct rsv_system *sys;
	struct rsv_fault_config c;

	setenv("RSV_FAIL", "fail_slab:probability=10,times=-1;fail_page_alloc:interval=5", 1);
	sys = rsv_system_create(&(struct rsv_system_config){ .nr_pages = 1024,
							      .backend = RSV_BACKEND_SIM });
	cr_assert_not_null(sys);
	rsv_fault_get(sys, RSV_FAIL_SLAB, &c);
	cr_assert(c.enabled && c.probability == 10 && c.times == -1 && c.ignore_gfp_wait);
	rsv_fault_get(sys, RSV_FAIL_PAGE_ALLOC, &c);
	cr_assert(c.enabled && c.interval == 5 && c.times == 1);
	rsv_system_destroy(sys);
	setenv("RSV_FAIL", "fail_slab:sometimes=1", 1);
	errno = 0;
	cr_assert_null(rsv_system_create(
		&(struct rsv_system_config){ .nr_pages = 1024, .backend = RSV_BACKEND_SIM }));
	cr_assert_eq(errno, EINVAL);
	unsetenv("RSV_FAIL");
}

/* The kernel's defaults, the attributes' names as RSV_FAIL spells them, and the calls seen. */
Test(fault, defaults_names_and_counts)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_fault_config c;
	struct rsv_page *p;

	rsv_fault_config_default(&c);
	cr_assert(c.enabled);
	cr_assert_eq(c.probability, 100);
	cr_assert_eq(c.interval, 1);
	cr_assert_eq(c.times, 1);
	cr_assert_str_eq(rsv_fault_attr_name(RSV_FAIL_PAGE_ALLOC), "fail_page_alloc");
	for (int a = 0; a < RSV_NR_FAULT_ATTRS; a++)
		cr_assert(strncmp(rsv_fault_attr_name(a), "fail", 4) == 0, "%d", a);
	cr_assert_eq(rsv_fault_set(sys, RSV_FAIL_PAGE_ALLOC, &c), 0);
	rsv_task_attach(sys, "t");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0); /* GFP_KERNEL waits: ignore_gfp_wait spares it */
	cr_assert_not_null(p);
	rsv_free_pages(p, 0);
	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOWAIT, 0), "the one failure allowed");
	p = rsv_alloc_pages(RSV_GFP_NOWAIT, 0);
	cr_assert_not_null(p, "times=1: only once");
	rsv_free_pages(p, 0);
	rsv_task_detach();
	cr_assert_eq(rsv_fault_calls(sys, RSV_FAIL_PAGE_ALLOC), 2, "the two it could fail");
	cr_assert_eq(rsv_fault_injected(sys, RSV_FAIL_PAGE_ALLOC), 1);
	teardown_whole(sys);
}
