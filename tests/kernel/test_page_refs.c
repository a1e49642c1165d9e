/* get_page()/put_page() through reservoir/kernel.h, as a driver shares a page between the
 * submitter and the completion: the block goes back with the last reference, whoever drops
 * it, on both backends; __free_pages() drops one reference as the kernel's does; references
 * on slab pages and on free pages are refused as misuse before anything changes. */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(kernel_page_refs, .timeout = 60);

/* ---- kernel-style code ---- */

struct shared_io {
	struct page *page;
	struct completion handed;
	struct completion done;
};

/* The completion side: uses the page, then drops the reference it was given. */
static int completer(void *arg)
{
	struct shared_io *io = arg;
	unsigned char *p;

	wait_for_completion(&io->handed);
	p = page_address(io->page);
	p[0] = 0xa5;
	put_page(io->page);
	complete(&io->done);
	return 0;
}

/* The submitter: takes a reference for the completion, hands the page over, and drops its
 * own with __free_page() while the other may still hold one. */
static int submitter(struct shared_io *io, int *count_shared)
{
	io->page = alloc_page(GFP_KERNEL);
	if (!io->page)
		return -ENOMEM;
	get_page(io->page);
	*count_shared = page_count(io->page);
	complete(&io->handed);
	__free_page(io->page);
	wait_for_completion(&io->done);
	return 0;
}

/* ---- end of kernel-style code ---- */

struct refs_run {
	struct shared_io io;
	int count_shared, err;
	unsigned long free_before, free_after;
};

static int submit_task(void *arg)
{
	struct refs_run *r = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	rsv_drain_all_pages(sys);
	r->free_before = rsv_system_free_pages(sys);
	r->err = submitter(&r->io, &r->count_shared);
	rsv_drain_all_pages(sys); /* whoever freed it may cache it */
	r->free_after = rsv_system_free_pages(sys);
	return 0;
}

static void shared_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 512, 2);
	struct refs_run r = { 0 };

	init_completion(&r.io.handed);
	init_completion(&r.io.done);
	rsv_task_create(sys, "submitter", submit_task, &r);
	rsv_task_create(sys, "completer", completer, &r.io);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(r.err, 0);
	cr_assert_eq(r.count_shared, 2, "the allocator's reference and the completion's");
	cr_assert_eq(r.free_after, r.free_before, "the page went back with the last reference");
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0);
	teardown_whole(sys);
}

Test(kernel_page_refs, the_last_reference_frees_the_page_on_the_simulator)
{
	shared_on(RSV_BACKEND_SIM);
}

Test(kernel_page_refs, the_last_reference_frees_the_page_on_real_threads)
{
	shared_on(RSV_BACKEND_OS);
}

Test(kernel_page_refs, free_pages_drops_one_reference_of_a_higher_order_block)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 2);
	struct page *p;
	unsigned long before;

	rsv_task_attach(sys, "t");
	rsv_drain_local_pages();
	before = rsv_system_free_pages(sys);
	p = alloc_pages(GFP_KERNEL, 2);
	get_page(p);
	get_page(p);
	cr_assert_eq(page_count(p), 3);
	__free_pages(p, 2);
	put_page(p);
	cr_assert_eq(page_count(p), 1, "one reference left: the block is still allocated");
	rsv_drain_local_pages();
	cr_assert_eq(rsv_system_free_pages(sys), before - 4);
	put_page(p); /* the whole order-2 block, as a compound page */
	rsv_drain_local_pages();
	cr_assert_eq(rsv_system_free_pages(sys), before);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(kernel_page_refs, references_on_slab_or_free_pages_are_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 512, 2);
	struct page *p;
	void *obj;

	rsv_task_attach(sys, "t");
	obj = kmalloc(64, GFP_KERNEL);
	cr_assert_eq(rsv_get_page(page_to_rsv(virt_to_page(obj))), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "only on pages from alloc_pages()"), "%s",
		  rsv_system_error(sys));
	kfree(obj);
	p = alloc_page(GFP_KERNEL);
	__free_page(p);
	cr_assert_eq(rsv_put_page(page_to_rsv(p)), -EINVAL, "no reference left to drop");
	cr_assert(strstr(rsv_system_error(sys), "the page is free"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 2);
	rsv_task_detach();
	rsv_system_destroy(sys);
}
