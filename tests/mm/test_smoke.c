#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(smoke, .timeout = 60);

Test(smoke, alloc_free_attach)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 4096, 1);
	struct rsv_page *p;

	cr_assert_not_null(rsv_task_attach(sys, "setup"));
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	cr_assert_not_null(p);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_free_pages(p, 0), 0);
	cr_assert_eq(rsv_task_detach(), 0);
	teardown_whole(sys);
}

/* The names and snapshots a report prints. */
Test(smoke, statistics_snapshots_names_and_error_strings)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	uint64_t snap[RSV_NR_STATS];
	struct rsv_page *p;

	rsv_task_attach(sys, "t");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 2);
	rsv_free_pages(p, 2);
	rsv_task_detach();
	rsv_stats_snapshot(sys, snap);
	for (int i = 0; i < RSV_NR_STATS; i++)
		cr_assert_eq(snap[i], rsv_stats_get(sys, i), "%s", rsv_stat_name(i));
	cr_assert_gt(snap[RSV_STAT_FREE], 0);
	cr_assert_str_eq(rsv_vm_counter_name(RSV_NR_DIRTY), "nr_dirty");
	cr_assert_str_eq(rsv_vm_counter_name(RSV_NR_VM_COUNTERS), "?");
	cr_assert_str_eq(rsv_strerror(-ENOMEM), strerror(ENOMEM));
	cr_assert_str_eq(rsv_strerror(EBUSY), strerror(EBUSY));
	teardown_whole(sys);
}
