/* dm-crypt: a stacked device whose writes are encrypted into bounce pages by a worker task.
 *
 * The submitter (for swap, a reclaimer under PF_MEMALLOC) allocates the crypt io, with its
 * bio for the device below, from the device's bioset with GFP_NOIO: the allocation the seed
 * threads argue about, since under mempool=2016 such a caller takes it from the reserves once
 * the pool is empty. The worker, kcryptd, a plain task, takes a bounce page from the page
 * pool with GFP_NOIO, encrypts into it and submits. The completion below frees the bounce
 * page and the io back to their pools and completes the request above. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "reservoir/harness.h"

struct crypt_io {
	struct crypt_dev *cd;
	struct rsv_request *upper;
	struct rsv_page *bounce;
	struct crypt_io *next; /* kcryptd's queue */
	/* The rest of the element: the bvec array and per-io state of a real dm-crypt io. */
};

struct crypt_dev {
	struct rsv_bdev bdev;
	struct rsv_bdev *lower;
	struct rsv_bioset bs;
	struct rsv_mempool *page_pool;
	rsv_gfp_t worker_gfp;
	struct rsv_task *worker;
	unsigned char key;
	struct rsv_spinlock lock;
	struct crypt_io *head, **tail;
	struct rsv_waitqueue wait;
	uint64_t inflight, inflight_max, ios;
};

static void transform(struct rsv_page *dst, struct rsv_page *src, unsigned char key)
{
	uint64_t *d = rsv_page_address(dst);
	const uint64_t *s = rsv_page_address(src);
	uint64_t k = 0x0101010101010101ull * key;

	for (size_t i = 0; i < RSV_PAGE_SIZE / sizeof(*d); i++)
		d[i] = s[i] ^ k;
}

static void lower_done(struct rsv_bio *bio)
{
	struct crypt_io *io = rsv_bio_front(bio);
	struct crypt_dev *cd = io->cd;
	struct rsv_request *upper = io->upper;
	int err = bio->req.error;

	if (upper->op == RSV_REQ_READ && !err)
		transform(upper->page, io->bounce, cd->key);
	rsv_mempool_free(io->bounce, cd->page_pool);
	rsv_spin_lock(&cd->lock);
	cd->inflight--;
	rsv_spin_unlock(&cd->lock);
	rsv_bio_put(bio);
	rsv_request_complete(upper, err);
}

static struct crypt_io *dequeue(struct crypt_dev *cd)
{
	struct crypt_io *io;

	rsv_spin_lock(&cd->lock);
	if ((io = cd->head) && !(cd->head = io->next))
		cd->tail = &cd->head;
	rsv_spin_unlock(&cd->lock);
	return io;
}

static bool queued(struct crypt_dev *cd)
{
	bool any;

	rsv_spin_lock(&cd->lock);
	any = cd->head != NULL;
	rsv_spin_unlock(&cd->lock);
	return any;
}

static int kcryptd(void *arg)
{
	struct crypt_dev *cd = arg;

	for (;;) {
		struct crypt_io *io;

		rsv_wait_event(&cd->wait, queued(cd) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		while ((io = dequeue(cd))) {
			struct rsv_bio *bio = (struct rsv_bio *)((char *)io + cd->bs.front_pad);

			io->bounce = rsv_mempool_alloc(cd->page_pool, cd->worker_gfp);
			if (io->upper->op == RSV_REQ_WRITE)
				transform(io->bounce, io->upper->page, cd->key);
			bio->end_io = lower_done;
			if (rsv_submit_bio(bio, cd->lower, io->upper->op, io->upper->sector,
					   io->bounce))
				lower_done(bio);
		}
	}
}

static int crypt_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct crypt_dev *cd = (struct crypt_dev *)bdev;
	struct rsv_bio *bio = rsv_bio_alloc(&cd->bs, RSV_GFP_NOIO);
	struct crypt_io *io;

	if (!bio)
		return -ENOMEM;
	io = rsv_bio_front(bio);
	*io = (struct crypt_io){ .cd = cd, .upper = req };
	rsv_spin_lock(&cd->lock);
	*cd->tail = io;
	cd->tail = &io->next;
	cd->ios++;
	if (++cd->inflight > cd->inflight_max)
		cd->inflight_max = cd->inflight;
	rsv_spin_unlock(&cd->lock);
	rsv_wake_up(&cd->wait);
	return 0;
}

/* At system teardown, with every task stopped: the pools' elements go with the arena. */
static void crypt_destroy(struct rsv_bdev *bdev)
{
	struct crypt_dev *cd = (struct crypt_dev *)bdev;
	struct rsv_mempool *pools[] = { cd->page_pool, cd->bs.pool };

	for (unsigned i = 0; i < 2; i++) {
		if (pools[i]) {
			free(pools[i]->elements);
			free(pools[i]);
		}
	}
	free(cd);
}

static const struct rsv_bdev_ops crypt_ops = {
	.submit = crypt_submit,
	.destroy = crypt_destroy,
};

/* Each io element stands for a dm-crypt io with its bio and bvec array: a quarter page. */
#define CRYPT_IO_BYTES 1024

struct rsv_bdev *rsv_crypt_create(struct rsv_system *sys, const char *name,
				  struct rsv_bdev *lower, const struct rsv_crypt_config *cfg)
{
	struct rsv_crypt_config c = cfg ? *cfg : (struct rsv_crypt_config){ 0 };
	struct crypt_dev *cd;
	char task[32];

	c.io_pool = c.io_pool ? c.io_pool : 16;
	c.page_pool = c.page_pool ? c.page_pool : 16;
	c.worker_gfp = c.worker_gfp ? c.worker_gfp : RSV_GFP_NOIO;
	if (!sys || !lower || lower->sys != sys || c.io_pool < 1 || c.page_pool < 1 ||
	    !rsv_task_current() ||
	    !(c.worker_gfp & RSV___GFP_DIRECT_RECLAIM) || (c.worker_gfp & ~RSV_GFP_VALID_MASK))
		return errno = EINVAL, NULL;
	if (!(cd = calloc(1, sizeof(*cd))))
		return errno = ENOMEM, NULL;
	cd->lower = lower;
	cd->key = 0x5a;
	cd->worker_gfp = c.worker_gfp;
	cd->tail = &cd->head;
	rsv_spin_init(&cd->lock);
	rsv_waitqueue_init(&cd->wait, "kcryptd queue");
	if (rsv_bioset_init(&cd->bs, sys, "crypt_io", c.io_pool,
			    CRYPT_IO_BYTES - sizeof(struct rsv_bio)) ||
	    !(cd->page_pool = rsv_mempool_create_page_pool(sys, c.page_pool, 0))) {
		rsv_bioset_exit(&cd->bs);
		free(cd);
		return errno = ENOMEM, NULL;
	}
	rsv_mempool_set_name(cd->page_pool, "crypt_page_pool");
	rsv_bdev_register(&cd->bdev, sys, name, &crypt_ops, lower->nr_sectors, lower->flags);
	snprintf(task, sizeof(task), "kcryptd/%.16s", cd->bdev.name);
	if (!(cd->worker = cd->bdev.worker = rsv_kthread_create(sys, task, kcryptd, cd)))
		return NULL; /* registered: freed with the system */
	return &cd->bdev;
}

void rsv_crypt_stats(struct rsv_bdev *bdev, struct rsv_crypt_stats *out)
{
	struct crypt_dev *cd = (struct crypt_dev *)bdev;
	static const enum rsv_stat_item throttles[] = {
		RSV_STAT_THROTTLE_VM_WRITEOUT, RSV_STAT_THROTTLE_WRITEBACK,
		RSV_STAT_THROTTLE_NOPROGRESS,  RSV_STAT_THROTTLE_ISOLATED,
		RSV_STAT_THROTTLE_CONGESTED,   RSV_STAT_THROTTLE_DIRECT,
	};
	struct rsv_mempool_stats io, page;
	uint64_t throttled = 0;

	rsv_mempool_stats(cd->bs.pool, &io);
	rsv_mempool_stats(cd->page_pool, &page);
	for (unsigned i = 0; i < sizeof(throttles) / sizeof(throttles[0]); i++)
		throttled += rsv_task_stat(cd->worker, throttles[i]);
	rsv_spin_lock(&cd->lock);
	*out = (struct rsv_crypt_stats){
		.ios = cd->ios,
		.inflight_max = cd->inflight_max,
		.io_pool_waits = io.waits,
		.page_pool_waits = page.waits,
		.io_pool_grants = io.reserves_granted,
		.page_pool_grants = page.reserves_granted,
		.page_pool_reclaims = page.direct_reclaims,
		.worker_throttles = throttled,
		.worker_throttled_ns = rsv_task_stat(cd->worker, RSV_STAT_THROTTLE_NS),
		.pool_fill = rsv_mempool_curr_nr(cd->bs.pool) + rsv_mempool_curr_nr(cd->page_pool),
		.pool_size = rsv_mempool_min_nr(cd->bs.pool) + rsv_mempool_min_nr(cd->page_pool),
		.page_pool_fill = rsv_mempool_curr_nr(cd->page_pool),
		.page_pool_size = rsv_mempool_min_nr(cd->page_pool),
		.page_pool_low_water = page.low_water,
		.free_after_grant = page.free_after_grant < 0 ||
						    (io.free_after_grant >= 0 &&
						     io.free_after_grant < page.free_after_grant)
					    ? io.free_after_grant
					    : page.free_after_grant
	};
	rsv_spin_unlock(&cd->lock);
}
