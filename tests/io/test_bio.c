/* Bios and biosets: the user's state in front of each bio, every blocking allocation served,
 * completions on the device's task, and bad sets refused before anything is allocated. */
#include "helpers.h"

TestSuite(bio, .timeout = 60);

#define NR_WRITES 48
#define FRONT_MAGIC 0xb105b105b105b105ull

struct bio_test {
	struct rsv_bioset bs;
	struct rsv_bdev *dev;
	_Atomic int done, front_ok, null_bios;
};

struct front {
	uint64_t magic;
	struct bio_test *t;
};

static void write_done(struct rsv_bio *bio)
{
	struct front *f = rsv_bio_front(bio);
	struct bio_test *t = f->t;

	if (f->magic == FRONT_MAGIC && bio->req.error == 0)
		atomic_fetch_add(&t->front_ok, 1);
	rsv_free_pages(bio->req.page, 0);
	rsv_bio_put(bio);
	atomic_fetch_add(&t->done, 1);
}

static int writer(void *arg)
{
	struct bio_test *t = arg;

	for (int i = 0; i < NR_WRITES; i++) {
		struct rsv_bio *bio = rsv_bio_alloc(&t->bs, RSV_GFP_NOIO);
		struct rsv_page *page = rsv_alloc_pages(RSV_GFP_NOIO, 0);
		struct front *f;

		if (!bio || !page) {
			atomic_fetch_add(&t->null_bios, 1);
			if (page)
				rsv_free_pages(page, 0);
			rsv_bio_put(bio);
			continue;
		}
		f = rsv_bio_front(bio);
		*f = (struct front){ .magic = FRONT_MAGIC, .t = t };
		bio->end_io = write_done;
		rsv_submit_bio(bio, t->dev, RSV_REQ_WRITE, (uint64_t)i % 64, page);
	}
	while (atomic_load(&t->done) + atomic_load(&t->null_bios) < NR_WRITES)
		rsv_msleep(1);
	return 0;
}

static void writes_complete_with_their_front_state(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 4);
	struct bio_test t = { 0 };
	struct rsv_mempool_stats st;

	rsv_task_attach(sys, "setup");
	t.dev = rsv_ramdev_create(sys, "ram0", 64, RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	cr_assert_not_null(t.dev);
	cr_assert_eq(rsv_bioset_init(&t.bs, sys, "bios", 4, sizeof(struct front)), 0);
	rsv_task_detach();
	rsv_task_create(sys, "writer", writer, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.null_bios, 0, "a blocking bio allocation never fails");
	cr_assert_eq(t.done, NR_WRITES);
	cr_assert_eq(t.front_ok, NR_WRITES, "the front padding kept the writer's state");
	cr_assert_eq(atomic_load(&t.dev->completed), NR_WRITES);
	rsv_mempool_stats(t.bs.pool, &st);
	cr_assert_eq(st.from_backing + st.from_pool, NR_WRITES);
	rsv_task_attach(sys, "teardown");
	cr_assert_eq(rsv_mempool_curr_nr(t.bs.pool), 4, "every bio came back to its pool");
	rsv_bioset_exit(&t.bs);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(bio, writes_complete_with_their_front_state_on_the_simulator)
{
	writes_complete_with_their_front_state(RSV_BACKEND_SIM);
}

Test(bio, writes_complete_with_their_front_state_on_real_threads)
{
	writes_complete_with_their_front_state(RSV_BACKEND_OS);
}

Test(bio, bad_biosets_are_refused)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_bioset bs;

	cr_assert_eq(rsv_bioset_init(&bs, sys, "bios", 4, 0), -EPERM, "not a task");
	rsv_task_attach(sys, "setup");
	cr_assert_eq(rsv_bioset_init(&bs, sys, "bios", 0, 0), -EINVAL, "an empty pool");
	cr_assert_eq(rsv_bioset_init(&bs, sys, "bios", 4, 3), -EINVAL, "misaligned front");
	cr_assert_eq(rsv_bioset_init(&bs, sys, "bios", 4, 8192), -EINVAL, "front too large");
	cr_assert_null(bs.pool, "a refused set holds nothing");
	rsv_bioset_exit(&bs); /* a refused set may be exited */
	rsv_task_detach();
	teardown_whole(sys);
}
