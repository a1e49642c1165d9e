/* Block devices: latency in virtual time, data that survives a round trip, and a device
 * that completes a request twice. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(bdev, .timeout = 60);

struct io {
	struct rsv_bdev *dev;
	struct rsv_request wr, rd;
	struct rsv_page *src, *dst;
	uint64_t submitted_at, completed_at;
	_Atomic int completions; /* the device's task completes, the submitter polls */
	int reads_ok;
	bool reads_zero;
};

static void wr_done(struct rsv_request *req)
{
	struct io *io = req->private;

	io->completed_at = rsv_now();
	io->completions++;
}

static void rd_done(struct rsv_request *req)
{
	struct io *io = req->private;
	const unsigned char *a = rsv_page_address(io->src), *b = rsv_page_address(io->dst);

	io->reads_ok = !memcmp(a, b, RSV_PAGE_SIZE);
	io->reads_zero = true;
	for (size_t i = 0; i < RSV_PAGE_SIZE; i++)
		io->reads_zero &= !b[i];
	io->completions++;
}

static int io_task(void *arg)
{
	struct io *io = arg;

	io->src = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	io->dst = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	for (size_t i = 0; i < RSV_PAGE_SIZE; i++)
		((unsigned char *)rsv_page_address(io->src))[i] = (unsigned char)(i * 7 + 3);
	io->wr = (struct rsv_request){ .bdev = io->dev, .op = RSV_REQ_WRITE, .sector = 5,
				       .page = io->src, .end_io = wr_done, .private = io };
	io->submitted_at = rsv_now();
	rsv_submit_request(&io->wr);
	while (io->completions < 1)
		rsv_msleep(1);
	io->rd = (struct rsv_request){ .bdev = io->dev, .op = RSV_REQ_READ, .sector = 5,
				       .page = io->dst, .end_io = rd_done, .private = io };
	rsv_submit_request(&io->rd);
	while (io->completions < 2)
		rsv_msleep(1);
	rsv_free_pages(io->src, 0);
	rsv_free_pages(io->dst, 0);
	return 0;
}

Test(bdev, latency_and_round_trip, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 3);
	struct io io = { .dev = rsv_ramdev_create(sys, "ram0", 64, 5 * RSV_NSEC_PER_MSEC, 0) };

	cr_assert_not_null(io.dev);
	rsv_task_create(sys, "io", io_task, &io);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(io.completions, 2);
	cr_assert_geq(io.completed_at - io.submitted_at, 5 * RSV_NSEC_PER_MSEC);
	cr_assert_lt(io.completed_at - io.submitted_at, 6 * RSV_NSEC_PER_MSEC);
	cr_assert(io.reads_ok, "data read back differs from data written");
	cr_assert_eq(atomic_load(&io.dev->completed), 2);
	teardown_whole(sys);
}

Test(bdev, os_backend_round_trip, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_OS, 1024, 3);
	struct io io = { .dev = rsv_ramdev_create(sys, "ram0", 64, RSV_NSEC_PER_MSEC, 0) };

	rsv_task_create(sys, "io", io_task, &io);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert(io.reads_ok);
	cr_assert_geq(io.completed_at - io.submitted_at, RSV_NSEC_PER_MSEC);
	teardown_whole(sys);
}

/* null_blk without memory_backed: the same latency, nothing kept. */
Test(bdev, null_device_keeps_no_data, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 3);
	struct io io = { .dev = rsv_ramdev_create(sys, "null0", 64, 5 * RSV_NSEC_PER_MSEC,
						  RSV_RAMDEV_NULL) };

	cr_assert_not_null(io.dev);
	cr_assert_eq(io.dev->flags, 0, "the null flag is the RAM device's, not a device flag");
	rsv_task_create(sys, "io", io_task, &io);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(io.completions, 2);
	cr_assert_geq(io.completed_at - io.submitted_at, 5 * RSV_NSEC_PER_MSEC);
	cr_assert(io.reads_zero, "a null device reads zeros");
	cr_assert_eq(atomic_load(&io.dev->completed), 2);
	cr_assert_null(rsv_ramdev_create(sys, "bad", 8, 0, 0x200u), "unknown flags are refused");
	teardown_whole(sys);
}

static int count_end_io;

static void counting_end_io(struct rsv_request *req)
{
	count_end_io++;
}

Test(bdev, double_completion_and_bad_requests)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 3);
	struct rsv_bdev *dev = rsv_ramdev_create(sys, "ram0", 8, 0, 0);
	struct rsv_request req;
	struct rsv_page *p;

	rsv_task_attach(sys, "driver");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	req = (struct rsv_request){ .bdev = dev, .op = RSV_REQ_WRITE, .sector = 9, .page = p,
				    .end_io = counting_end_io };
	cr_assert_eq(rsv_submit_request(&req), -EINVAL, "sector out of range");
	req.sector = 1;
	cr_assert_eq(rsv_submit_request(&req), 0);
	cr_assert_eq(rsv_submit_request(&req), -EINVAL, "resubmitted while in flight");
	/* The device's task has not run: complete it by hand, then once too often. */
	cr_assert_eq(rsv_request_complete(&req, 0), 0);
	cr_assert_eq(rsv_request_complete(&req, 0), -EALREADY);
	cr_assert_eq(count_end_io, 1, "end_io ran twice");
	cr_assert_eq(atomic_load(&dev->bad_completions), 1);
	cr_assert(strstr(rsv_system_error(sys), "not in flight"), "%s", rsv_system_error(sys));
	cr_assert_null(rsv_ramdev_create(sys, "bad", 0, 0, 0));
	rsv_free_pages(p, 0);
	rsv_task_detach();
	teardown_whole(sys);
}

/* ---- a device implemented outside the library ---- */

struct echo_dev {
	struct rsv_bdev bdev;
	int submitted, destroyed;
};

static int echo_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	((struct echo_dev *)bdev)->submitted++;
	rsv_request_complete(req, req->op == RSV_REQ_READ ? -EIO : 0);
	return 0;
}

static void echo_destroy(struct rsv_bdev *bdev)
{
	((struct echo_dev *)bdev)->destroyed++;
}

static const struct rsv_bdev_ops echo_ops = { .submit = echo_submit, .destroy = echo_destroy };

static int echo_user(void *arg)
{
	struct echo_dev *d = arg;
	struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	struct rsv_request wr = { .bdev = &d->bdev, .op = RSV_REQ_WRITE, .sector = 1, .page = p };
	struct rsv_request rd = { .bdev = &d->bdev, .op = RSV_REQ_READ, .sector = 1, .page = p };

	d->submitted = rsv_submit_request(&wr) || rsv_request_wait(&wr) ? -100 : d->submitted;
	if (rsv_submit_request(&rd) || rsv_request_wait(&rd) != -EIO)
		d->submitted = -200;
	rsv_free_pages(p, 0);
	return 0;
}

Test(bdev, a_registered_device_serves_requests_and_goes_with_the_system)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	static struct echo_dev d; /* its destroy runs inside rsv_system_destroy() */

	memset(&d, 0, sizeof(d));
	cr_assert_eq(rsv_bdev_register(&d.bdev, sys, "echo", NULL, 8, 0), -EINVAL, "no ops");
	cr_assert_eq(rsv_bdev_register(&d.bdev, NULL, "echo", &echo_ops, 8, 0), -EINVAL);
	cr_assert_eq(rsv_bdev_register(&d.bdev, sys, "echo", &echo_ops, 0, 0), -EINVAL,
		     "no sectors");
	cr_assert_eq(rsv_bdev_register(&d.bdev, sys, "echo", &echo_ops, 8, 0), 0);
	cr_assert_str_eq(d.bdev.name, "echo");
	rsv_task_create(sys, "user", echo_user, &d);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(d.submitted, 2, "the write and the read, each completed (the read with EIO)");
	cr_assert_eq(atomic_load(&d.bdev.completed), 2);
	teardown_whole(sys);
	cr_assert_eq(d.destroyed, 1);
}
