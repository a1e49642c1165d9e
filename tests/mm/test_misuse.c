/* Bad input: a clear error (or, in abort mode, a clear message and SIGABRT); the arena's
 * accounting stays whole. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(misuse, .timeout = 60);

static struct rsv_system *setup(enum rsv_misuse_mode mode)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.backend = RSV_BACKEND_SIM, .misuse = mode });

	cr_assert_not_null(sys);
	cr_assert_not_null(rsv_task_attach(sys, "setup"));
	return sys;
}

static void finish(struct rsv_system *sys)
{
	rsv_task_detach();
	teardown_whole(sys);
}

Test(misuse, double_free_refused)
{
	struct rsv_system *sys = setup(RSV_MISUSE_RETURN);
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 1);

	cr_assert_eq(rsv_free_pages(p, 1), 0);
	cr_assert_eq(rsv_free_pages(p, 1), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "double free"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 1);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	finish(sys);
}

Test(misuse, wrong_order_tail_and_foreign_pointers)
{
	struct rsv_system *sys = setup(RSV_MISUSE_RETURN);
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 2);
	char *addr = rsv_page_address(p);
	static char not_arena[8192];

	cr_assert_eq(rsv_free_pages(p, 1), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "different order"));
	cr_assert_eq(rsv_free_pages(rsv_virt_to_page(addr + RSV_PAGE_SIZE), 0), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "not the first page"));
	cr_assert_eq(rsv_free_pages(p, 11), -EINVAL);
	cr_assert_eq(rsv_free_pages_addr(addr + 8, 2), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "page-aligned"));
	cr_assert_eq(rsv_free_pages_addr(not_arena, 0), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "outside this system's arena"));
	cr_assert_eq(rsv_free_pages((struct rsv_page *)not_arena, 0), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "not a page of this system"));
	cr_assert_eq(rsv_free_pages(NULL, 0), 0);
	cr_assert_eq(rsv_free_pages_addr(NULL, 0), 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 6);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_free_pages_addr(addr, 2), 0);
	finish(sys);
}

Test(misuse, bad_gfp_and_order_refused)
{
	struct rsv_system *sys = setup(RSV_MISUSE_RETURN);

	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, 11));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_alloc_pages(0x200, 0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_alloc_pages(RSV_GFP_ATOMIC | RSV___GFP_NOFAIL, 0));
	cr_assert(strstr(rsv_system_error(sys), "__GFP_NOFAIL without __GFP_DIRECT_RECLAIM"), "%s",
		  rsv_system_error(sys));
	cr_assert_null(rsv_get_free_pages(RSV___GFP_FS | RSV___GFP_DIRECT_RECLAIM, 0));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 4);
	finish(sys);
}

/* A page of system A freed by a task of system B. */
struct cross {
	struct rsv_page *foreign;
	int result;
};

static int free_foreign(void *arg)
{
	struct cross *c = arg;

	c->result = rsv_free_pages(c->foreign, 0);
	return 0;
}

Test(misuse, task_of_another_system, .timeout = 10)
{
	struct rsv_system *a = setup(RSV_MISUSE_RETURN);
	struct rsv_system *b = test_system(RSV_BACKEND_SIM, 1024, 2);
	struct cross c = { .foreign = rsv_alloc_pages(RSV_GFP_KERNEL, 0) };

	rsv_task_create(b, "intruder", free_foreign, &c);
	cr_assert_eq(rsv_system_run(b), RSV_RUN_DONE);
	cr_assert_eq(c.result, -EINVAL);
	cr_assert(strstr(rsv_system_error(b), "not a page of this system"), "%s",
		  rsv_system_error(b));
	cr_assert_eq(rsv_system_check(a, 0), 0);
	cr_assert_eq(rsv_free_pages(c.foreign, 0), 0);
	teardown_whole(b);
	finish(a);
}

Test(misuse, double_free_aborts_in_abort_mode, .signal = SIGABRT)
{
	struct rsv_page *p;

	setup(RSV_MISUSE_ABORT);
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_free_pages(p, 0);
	rsv_free_pages(p, 0);
}

Test(misuse, check_catches_corruption)
{
	struct rsv_system *sys = setup(RSV_MISUSE_RETURN);
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 3);
	unsigned char *raw = (unsigned char *)rsv_virt_to_page((char *)rsv_page_address(p) +
							       RSV_PAGE_SIZE);

	/* Forge a head inside the block (byte 8 is the state): the per-page walk must see it. */
	raw[8] = 3;
	cr_assert_eq(rsv_system_check(sys, 0), -EUCLEAN);
	cr_assert(strstr(rsv_system_error(sys), "inside the order-3 block"), "%s",
		  rsv_system_error(sys));
	raw[8] = 0;
	cr_assert_eq(rsv_system_check(sys, 0), 0);
	cr_assert_eq(rsv_system_check(sys, RSV_CHECK_WHOLE), -EUCLEAN);
	cr_assert(strstr(rsv_system_error(sys), "8 pages still allocated"), "%s",
		  rsv_system_error(sys));
	rsv_free_pages(p, 3);
	finish(sys);
}
