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
