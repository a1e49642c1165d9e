/* The small filesystem: writes append page-cache pages under its one lock, transactions take
 * their journal pages inside it, and a transaction that cannot have its pages gives them all
 * back. On both backends. */
#include "helpers.h"

TestSuite(fs, .timeout = 60);

#define HOLD_NS (10 * RSV_NSEC_PER_MSEC)

struct fs_test {
	struct rsv_fs *fs;
	_Atomic bool held;
	uint64_t released_at, written_at;
	int write_err, txn_err, big_err, bad_err;
};

static int holder(void *arg)
{
	struct fs_test *t = arg;

	rsv_mutex_lock(rsv_fs_lock(t->fs));
	atomic_store(&t->held, true);
	rsv_sleep_ns(HOLD_NS);
	t->released_at = rsv_now();
	rsv_mutex_unlock(rsv_fs_lock(t->fs));
	return 0;
}

static int writer(void *arg)
{
	struct fs_test *t = arg;
	char data[RSV_PAGE_SIZE];

	while (!atomic_load(&t->held))
		rsv_msleep(1);
	memset(data, 0x5a, sizeof(data));
	t->write_err = rsv_fs_write(t->fs, data, RSV_GFP_KERNEL); /* waits for the holder */
	t->written_at = rsv_now();
	for (int i = 0; i < 4; i++)
		t->write_err |= rsv_fs_write(t->fs, data, RSV_GFP_KERNEL);
	t->txn_err = rsv_fs_transaction(t->fs, 4, 0) | rsv_fs_transaction(t->fs, 4, 0);
	/* More than the whole arena, with leave to fail: refused, nothing kept. */
	t->big_err = rsv_fs_transaction(t->fs, RSV_FS_MAX_TRANSACTION, RSV___GFP_NORETRY);
	t->bad_err = rsv_fs_transaction(t->fs, RSV_FS_MAX_TRANSACTION + 1, 0);
	return 0;
}

static void writes_and_transactions(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 384, 6);
	struct fs_test t = { 0 };
	struct rsv_fs_stats st;
	struct rsv_bdev *dev;

	rsv_task_attach(sys, "setup");
	dev = rsv_ramdev_create(sys, "ram0", 256, RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	t.fs = rsv_fs_create(sys, "file", dev);
	cr_assert_not_null(t.fs);
	rsv_task_detach();
	rsv_task_create(sys, "holder", holder, &t);
	rsv_task_create(sys, "writer", writer, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.write_err, 0);
	cr_assert_geq(t.written_at, t.released_at, "the write waited for the lock's holder");
	cr_assert_eq(t.txn_err, 0);
	cr_assert_eq(t.big_err, -ENOMEM);
	cr_assert_eq(t.bad_err, -EINVAL);
	rsv_fs_stats(t.fs, &st);
	cr_assert_eq(st.writes, 5);
	cr_assert_eq(st.transactions, 2);
	cr_assert_eq(st.failed_allocations, 1, "the refused transaction, and only it");
	teardown_holding(sys, st.writes); /* the file's pages; no journal page kept */
}

Test(fs, writes_wait_for_the_lock_and_transactions_keep_nothing_on_the_simulator)
{
	writes_and_transactions(RSV_BACKEND_SIM);
}

Test(fs, writes_wait_for_the_lock_and_transactions_keep_nothing_on_real_threads)
{
	writes_and_transactions(RSV_BACKEND_OS);
}

Test(fs, bad_filesystems_are_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1), *other;
	struct rsv_bdev *foreign = foreign_ramdev(&other), *ram;

	errno = 0;
	cr_assert_null(rsv_fs_create(sys, "file", foreign), "not a task");
	rsv_task_attach(sys, "setup");
	ram = rsv_ramdev_create(sys, "ram0", 8, 0, 0);
	cr_assert_null(rsv_fs_create(sys, "file", foreign), "another system's device");
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_fs_create(sys, "file", NULL));
	cr_assert_not_null(rsv_fs_create(sys, "file", ram));
	rsv_task_detach();
	teardown_whole(sys);
	teardown_whole(other);
}
