/* The swap area: slots taken per write, refusal when full, and reclaim leaving anonymous
 * pages alone once there is no room. */
#include "helpers.h"

TestSuite(swap, .timeout = 60);

struct swap_test {
	struct rsv_bdev *disk, *swap;
	struct rsv_mapping *anon;
	unsigned long reclaimed_first, reclaimed_full;
};

static int reclaimer(void *arg)
{
	struct swap_test *t = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	for (int i = 0; i < 400 && rsv_vm_counter(sys, RSV_NR_SWAPPED) < 4; i++) {
		t->reclaimed_first += rsv_try_to_free_pages(RSV_GFP_KERNEL, 0);
		rsv_msleep(5);
	}
	t->reclaimed_full = rsv_try_to_free_pages(RSV_GFP_KERNEL, 0);
	rsv_mapping_destroy(t->anon);
	return 0;
}

static void a_full_area_stops_anonymous_reclaim(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 2);
	struct swap_test t = { 0 };
	struct rsv_swap_stats st;

	rsv_task_attach(sys, "setup");
	t.disk = rsv_ramdev_create(sys, "disk", 64, RSV_NSEC_PER_MSEC, 0);
	cr_assert_null(rsv_swap_create(sys, "swap", t.disk, 65), "more slots than the disk");
	t.swap = rsv_swap_create(sys, "swap", t.disk, 4);
	cr_assert_not_null(t.swap);
	t.anon = rsv_mapping_create(sys, RSV_MAPPING_ANON, "anon", t.swap, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_not_null(rsv_mapping_add_page(t.anon, RSV_GFP_KERNEL, (uint64_t)i));
	rsv_task_detach();
	rsv_task_create(sys, "reclaimer", reclaimer, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	rsv_swap_stats(t.swap, &st);
	cr_assert_eq(st.slots, 4);
	cr_assert_eq(st.used, 4, "every slot written once");
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_SWAPPED), 4);
	cr_assert_eq(t.reclaimed_full, 0, "a full area: nothing left to reclaim");
	teardown_whole(sys);
}

Test(swap, a_full_area_stops_anonymous_reclaim_on_the_simulator)
{
	a_full_area_stops_anonymous_reclaim(RSV_BACKEND_SIM);
}

Test(swap, a_full_area_stops_anonymous_reclaim_on_real_threads)
{
	a_full_area_stops_anonymous_reclaim(RSV_BACKEND_OS);
}
