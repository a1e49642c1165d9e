/* The loop device: each write becomes a write into its filesystem's file, made by its worker
 * under PF_MEMALLOC_NOIO when policy loop=noio says so, and the worker's flags are its own
 * again between batches. On both backends. */
#include "helpers.h"

TestSuite(loop, .timeout = 60);

#define WRITES 12

struct loop_test {
	struct rsv_fs *fs;
	struct rsv_bdev *loop;
	int errors, refused;
};

static int user(void *arg)
{
	struct loop_test *t = arg;
	struct rsv_page *page = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	struct rsv_request bad = { .bdev = t->loop, .op = RSV_REQ_WRITE, .sector = 64,
				   .page = page };

	memset(rsv_page_address(page), 0x11, RSV_PAGE_SIZE);
	for (uint64_t s = 0; s < WRITES; s++) {
		struct rsv_request req = { .bdev = t->loop, .op = RSV_REQ_WRITE,
					   .sector = s, .page = page };

		t->errors += rsv_submit_request(&req) || rsv_request_wait(&req);
	}
	t->refused = rsv_submit_request(&bad); /* beyond the device */
	rsv_free_pages(page, 0);
	return 0;
}

static void writes_reach_the_file(enum rsv_backend backend, const char *policy)
{
	struct rsv_system_config cfg = { .nr_pages = 1024, .backend = backend, .seed = 7,
					 .misuse = RSV_MISUSE_RETURN };
	struct loop_test t = { 0 };
	struct rsv_fs_stats st;
	struct rsv_system *sys;
	struct rsv_bdev *disk;

	cr_assert_eq(rsv_policy_parse(&cfg.policy, policy, NULL, 0), 0);
	sys = rsv_system_create(&cfg);
	cr_assert_not_null(sys);
	cr_assert_eq(rsv_policy_get(rsv_system_policy(sys), RSV_POLICY_LOOP),
		     rsv_policy_get(&cfg.policy, RSV_POLICY_LOOP), "the system runs its policy");
	rsv_task_attach(sys, "setup");
	disk = rsv_ramdev_create(sys, "disk", 256, RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	t.fs = rsv_fs_create(sys, "backing", disk);
	t.loop = rsv_loop_create(sys, "loop0", t.fs, 64);
	cr_assert_not_null(t.loop);
	cr_assert(t.loop->flags & RSV_BDEV_NEEDS_FS, "its writes enter a filesystem");
	cr_assert_not_null(t.loop->worker, "reports follow its worker");
	rsv_task_detach();
	rsv_task_create(sys, "user", user, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.errors, 0);
	cr_assert_eq(t.refused, -EINVAL);
	rsv_fs_stats(t.fs, &st);
	cr_assert_eq(st.writes, WRITES, "one file write per loop write");
	cr_assert_eq(rsv_task_flags(t.loop->worker) &
			     (RSV_PF_MEMALLOC_NOIO | RSV_PF_LOCAL_THROTTLE), 0,
		     "the worker's scope ended with its batch");
	teardown_holding(sys, st.writes); /* the backing file's pages */
}

Test(loop, writes_reach_the_file_under_noio_on_the_simulator)
{
	writes_reach_the_file(RSV_BACKEND_SIM, "loop=noio");
}

Test(loop, writes_reach_the_file_plain_on_the_simulator)
{
	writes_reach_the_file(RSV_BACKEND_SIM, "loop=plain");
}

Test(loop, writes_reach_the_file_under_noio_on_real_threads)
{
	writes_reach_the_file(RSV_BACKEND_OS, "loop=noio");
}

Test(loop, bad_loop_devices_are_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_fs *fs;

	rsv_task_attach(sys, "setup");
	fs = rsv_fs_create(sys, "backing", rsv_ramdev_create(sys, "disk", 8, 0, 0));
	errno = 0;
	cr_assert_null(rsv_loop_create(sys, "loop0", NULL, 8));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_loop_create(sys, "loop0", fs, 0), "no sectors");
	rsv_task_detach();
	teardown_whole(sys);
}
