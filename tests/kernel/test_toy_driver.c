/* A toy RAM block driver written as a 6.x driver is, with kernel names only between the
 * markers: a request cache and mempool, a worker kthread fed through a list and a wait queue,
 * requests completed through completions, ERR_PTR returns, krealloc'd statistics. It builds
 * with -Wall -Wextra -Werror and must move data correctly on both backends. */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(toy_driver, .timeout = 60);

/* ---- kernel-style code ---- */

#define TOY_SECTORS 16

struct toy_req {
	struct list_head node;
	struct page *page;
	unsigned long sector;
	bool write;
	int error;
	struct completion done;
};

struct toy_dev {
	char *name;
	spinlock_t lock;
	struct list_head queue;
	wait_queue_head_t wait;
	struct task_struct *worker;
	struct kmem_cache *req_cache;
	mempool_t *req_pool;
	unsigned char *store;
	atomic_t served;
	unsigned long *per_sector;
	unsigned int nr_stats;
};

static bool toy_has_work(struct toy_dev *dev)
{
	bool any;

	spin_lock_irq(&dev->lock);
	any = !list_empty(&dev->queue);
	spin_unlock_irq(&dev->lock);
	return any;
}

static struct toy_req *toy_next(struct toy_dev *dev)
{
	struct toy_req *rq;

	spin_lock_irq(&dev->lock);
	rq = list_first_entry_or_null(&dev->queue, struct toy_req, node);
	if (rq)
		list_del_init(&rq->node);
	spin_unlock_irq(&dev->lock);
	return rq;
}

static int toy_worker(void *data)
{
	struct toy_dev *dev = data;

	while (!kthread_should_stop()) {
		struct toy_req *rq;

		wait_event(dev->wait, toy_has_work(dev) || kthread_should_stop());
		while ((rq = toy_next(dev))) {
			unsigned char *mem = dev->store + rq->sector * PAGE_SIZE;

			if (rq->sector >= TOY_SECTORS)
				rq->error = -EIO;
			else if (rq->write)
				memcpy(mem, page_address(rq->page), PAGE_SIZE);
			else
				memcpy(page_address(rq->page), mem, PAGE_SIZE);
			atomic_inc(&dev->served);
			complete(&rq->done);
		}
	}
	return 0;
}

static struct toy_dev *toy_create(const char *name)
{
	struct toy_dev *dev = kzalloc(sizeof(*dev), GFP_KERNEL);

	if (!dev)
		return ERR_PTR(-ENOMEM);
	dev->name = kstrdup(name, GFP_KERNEL);
	spin_lock_init(&dev->lock);
	INIT_LIST_HEAD(&dev->queue);
	init_waitqueue_head(&dev->wait);
	atomic_set(&dev->served, 0);
	dev->req_cache = KMEM_CACHE(toy_req, SLAB_HWCACHE_ALIGN);
	dev->req_pool = dev->req_cache ? mempool_create_slab_pool(4, dev->req_cache) : NULL;
	dev->store = kvcalloc(TOY_SECTORS, PAGE_SIZE, GFP_KERNEL);
	if (!dev->name || !dev->req_pool || !dev->store)
		goto fail;
	dev->worker = kthread_run(toy_worker, dev, "%s-worker", name);
	if (IS_ERR(dev->worker))
		goto fail;
	return dev;
fail:
	mempool_destroy(dev->req_pool);
	if (dev->req_cache)
		kmem_cache_destroy(dev->req_cache);
	kvfree(dev->store);
	kfree(dev->name);
	kfree(dev);
	return ERR_PTR(-ENOMEM);
}

static void toy_count(struct toy_dev *dev, unsigned long sector)
{
	if (sector >= dev->nr_stats) {
		unsigned long *s = krealloc(dev->per_sector, (sector + 1) * sizeof(*s),
					    GFP_KERNEL | __GFP_ZERO);

		if (!s)
			return;
		dev->per_sector = s;
		dev->nr_stats = sector + 1;
	}
	dev->per_sector[sector]++;
}

/* Submits one page and waits for it, as a synchronous bio would. */
static int toy_rw(struct toy_dev *dev, struct page *page, unsigned long sector, bool write)
{
	struct toy_req *rq = mempool_alloc(dev->req_pool, GFP_NOIO);
	int err;

	rq->page = page;
	rq->sector = sector;
	rq->write = write;
	rq->error = 0;
	init_completion(&rq->done);
	spin_lock_irq(&dev->lock);
	list_add_tail(&rq->node, &dev->queue);
	spin_unlock_irq(&dev->lock);
	wake_up(&dev->wait);
	wait_for_completion_io(&rq->done);
	err = rq->error;
	mempool_free(rq, dev->req_pool);
	if (!err)
		toy_count(dev, sector);
	return err;
}

static int toy_destroy(struct toy_dev *dev)
{
	int ret = kthread_stop(dev->worker);

	mempool_destroy(dev->req_pool);
	kmem_cache_destroy(dev->req_cache);
	kvfree(dev->store);
	kfree(dev->per_sector);
	kfree(dev->name);
	kfree(dev);
	return ret;
}

/* ---- end of kernel-style code ---- */

struct toy_test {
	int errors, mismatches, bad_sector, stop_ret;
	int served;
	unsigned long counted;
};

static int toy_user(void *arg)
{
	struct toy_test *t = arg;
	struct toy_dev *dev = toy_create("toy0");
	struct page *page;
	unsigned char *buf;

	if (IS_ERR(dev)) {
		t->errors = 1000;
		return 1;
	}
	page = alloc_page(GFP_KERNEL);
	buf = page_address(page);
	for (unsigned long s = 0; s < TOY_SECTORS; s++) {
		memset(buf, (int)(s * 7 + 1), PAGE_SIZE);
		t->errors += toy_rw(dev, page, s, true) != 0;
	}
	for (unsigned long s = TOY_SECTORS; s-- > 0;) {
		memset(buf, 0, PAGE_SIZE);
		t->errors += toy_rw(dev, page, s, false) != 0;
		t->mismatches += buf[0] != (unsigned char)(s * 7 + 1) ||
				 buf[PAGE_SIZE - 1] != (unsigned char)(s * 7 + 1);
	}
	t->bad_sector = toy_rw(dev, page, TOY_SECTORS, true);
	t->served = atomic_read(&dev->served);
	for (unsigned int i = 0; i < dev->nr_stats; i++)
		t->counted += dev->per_sector[i];
	__free_page(page);
	t->stop_ret = toy_destroy(dev);
	return 0;
}

static void toy_driver_moves_data(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 6);
	struct toy_test t = { 0 };

	rsv_task_create(sys, "user", toy_user, &t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(t.errors, 0);
	cr_assert_eq(t.mismatches, 0, "every sector reads back what was written");
	cr_assert_eq(t.bad_sector, -EIO);
	cr_assert_eq(t.served, 2 * TOY_SECTORS + 1);
	cr_assert_eq(t.counted, 2 * TOY_SECTORS, "the krealloc'd statistics kept every count");
	cr_assert_eq(t.stop_ret, 0, "kthread_stop() returned the worker's value");
	teardown_whole(sys);
}

Test(toy_driver, moves_data_on_the_simulator)
{
	toy_driver_moves_data(RSV_BACKEND_SIM);
}
Test(toy_driver, moves_data_on_real_threads)
{
	toy_driver_moves_data(RSV_BACKEND_OS);
}
