/* dm-crypt: data written through it reads back the same, is not what the device below holds,
 * and the pools' elements all come back once the I/O is done. On both backends. */
#include "helpers.h"

TestSuite(crypt, .timeout = 60);

#define SECTORS 8

struct crypt_test {
	struct rsv_bdev *lower, *crypt;
	int same, differs_below, errors;
};

static void fill(struct rsv_page *p, unsigned seed)
{
	unsigned char *b = rsv_page_address(p);

	for (size_t i = 0; i < RSV_PAGE_SIZE; i++)
		b[i] = (unsigned char)(i * 31 + seed);
}

static int io(struct rsv_bdev *dev, enum rsv_req_op op, uint64_t sector, struct rsv_page *p)
{
	struct rsv_request req = { .bdev = dev, .op = op, .sector = sector, .page = p };
	int err = rsv_submit_request(&req);

	return err ? err : rsv_request_wait(&req);
}

static int user(void *arg)
{
	struct crypt_test *t = arg;
	struct rsv_page *src = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	struct rsv_page *dst = rsv_alloc_pages(RSV_GFP_KERNEL, 0);

	for (unsigned s = 0; s < SECTORS; s++) {
		fill(src, s);
		t->errors += io(t->crypt, RSV_REQ_WRITE, s, src) != 0;
	}
	for (unsigned s = 0; s < SECTORS; s++) {
		fill(src, s);
		t->errors += io(t->crypt, RSV_REQ_READ, s, dst) != 0;
		t->same += !memcmp(rsv_page_address(src), rsv_page_address(dst), RSV_PAGE_SIZE);
		t->errors += io(t->lower, RSV_REQ_READ, s, dst) != 0;
		t->differs_below += !!memcmp(rsv_page_address(src), rsv_page_address(dst),
					     RSV_PAGE_SIZE);
	}
	rsv_free_pages(src, 0);
	rsv_free_pages(dst, 0);
	return 0;
}

static void round_trip(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 5);
	struct crypt_test t = { 0 };
	struct rsv_crypt_stats st;

	rsv_task_attach(sys, "setup");
	t.lower = rsv_ramdev_create(sys, "ram0", SECTORS, RSV_NSEC_PER_MSEC, 0);
	t.crypt = rsv_crypt_create(sys, "crypt0", t.lower,
				   &(struct rsv_crypt_config){ .io_pool = 2, .page_pool = 3 });
	cr_assert_not_null(t.crypt);
	cr_assert_eq(t.crypt->nr_sectors, SECTORS, "as large as the device below");
	rsv_task_detach();
	rsv_task_create(sys, "user", user, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.errors, 0);
	cr_assert_eq(t.same, SECTORS, "what was written through crypt reads back");
	cr_assert_eq(t.differs_below, SECTORS, "the device below holds the ciphertext");
	rsv_crypt_stats(t.crypt, &st);
	cr_assert_eq(st.ios, 2 * SECTORS);
	cr_assert_eq(st.pool_size, 5);
	cr_assert_eq(st.pool_fill, st.pool_size, "every io and bounce page came back");
	cr_assert_eq(st.page_pool_size, 3);
	teardown_holding(sys, (unsigned long)st.pool_size); /* its pools' elements */
}

Test(crypt, data_round_trips_through_the_worker_on_the_simulator) { round_trip(RSV_BACKEND_SIM); }
Test(crypt, data_round_trips_through_the_worker_on_real_threads) { round_trip(RSV_BACKEND_OS); }

Test(crypt, bad_devices_are_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1), *other;
	struct rsv_bdev *foreign = foreign_ramdev(&other), *ram;

	rsv_task_attach(sys, "setup");
	ram = rsv_ramdev_create(sys, "ram0", 8, 0, 0);
	errno = 0;
	cr_assert_null(rsv_crypt_create(sys, "crypt0", NULL, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_crypt_create(sys, "crypt0", foreign, NULL), "another system's device");
	cr_assert_null(rsv_crypt_create(sys, "crypt0", ram,
					&(struct rsv_crypt_config){ .io_pool = -1 }));
	rsv_task_detach();
	teardown_whole(sys);
	teardown_whole(other);
}
