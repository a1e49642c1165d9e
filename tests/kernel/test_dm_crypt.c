/* Kernel-style code compiles unchanged against reservoir/kernel.h and runs: a dm-crypt-like
 * write path (a slab pool for its per-bio state, a page pool for bounce pages), a swap-out
 * under PF_MEMALLOC, and NOFS scopes. The functions between the markers are written as they
 * would be in drivers/md, with nothing but kernel names. */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(kernel_style, .timeout = 60);

/* ---- kernel-style code ---- */

struct dm_crypt_io {
	struct page *bounce;
	unsigned long sector;
	int error;
};

struct crypt_config {
	struct kmem_cache *io_cache;
	mempool_t *io_pool;
	mempool_t *page_pool;
	struct mutex lock;
	unsigned char key;
	unsigned long writes;
};

static int crypt_ctr(struct crypt_config *cc, unsigned char key)
{
	cc->io_cache = kmem_cache_create("dm_crypt_io", sizeof(struct dm_crypt_io), 0,
					 SLAB_HWCACHE_ALIGN, NULL);
	if (!cc->io_cache)
		return -ENOMEM;
	cc->io_pool = mempool_create_slab_pool(16, cc->io_cache);
	cc->page_pool = mempool_create_page_pool(16, 0);
	if (!cc->io_pool || !cc->page_pool)
		return -ENOMEM;
	mutex_init(&cc->lock);
	cc->key = key;
	return 0;
}

static void crypt_dtr(struct crypt_config *cc)
{
	mempool_destroy(cc->page_pool);
	mempool_destroy(cc->io_pool);
	kmem_cache_destroy(cc->io_cache);
}

/* kcryptd: encrypt @src into a bounce page from the pool; the caller may be deep in reclaim,
 * so no allocation here may recurse into I/O. */
static struct dm_crypt_io *crypt_convert(struct crypt_config *cc, struct page *src,
					 unsigned long sector)
{
	struct dm_crypt_io *io = mempool_alloc(cc->io_pool, GFP_NOIO);
	const unsigned char *in = page_address(src);
	unsigned char *out;

	io->bounce = mempool_alloc(cc->page_pool, GFP_NOIO);
	io->sector = sector;
	io->error = 0;
	out = page_address(io->bounce);
	for (unsigned long i = 0; i < PAGE_SIZE; i++)
		out[i] = in[i] ^ cc->key;
	mutex_lock(&cc->lock);
	cc->writes++;
	mutex_unlock(&cc->lock);
	return io;
}

static void crypt_endio(struct crypt_config *cc, struct dm_crypt_io *io)
{
	mempool_free(io->bounce, cc->page_pool);
	mempool_free(io, cc->io_pool);
}

/* The swap-out path: reclaim writes a page out, so it runs as a reclaimer. */
static int swap_writepage(struct crypt_config *cc, struct page *page, unsigned long sector)
{
	unsigned int noreclaim = memalloc_noreclaim_save();
	struct dm_crypt_io *io;
	int err;

	if (!(current->flags & PF_MEMALLOC) || tsk_is_oom_victim(current) ||
	    fatal_signal_pending(current)) {
		memalloc_noreclaim_restore(noreclaim);
		return -EINTR;
	}
	io = crypt_convert(cc, page, sector);
	err = io->error;
	crypt_endio(cc, io);
	memalloc_noreclaim_restore(noreclaim);
	return err;
}

/* A filesystem's transaction: nothing allocated under it may recurse into the fs. */
static void *fs_start_transaction(size_t size)
{
	unsigned int nofs = memalloc_nofs_save();
	void *handle = kzalloc(size, GFP_KERNEL);

	memalloc_nofs_restore(nofs);
	return handle;
}

/* ---- end of kernel-style code ---- */

Test(kernel_style, a_dm_crypt_write_path_compiles_unchanged_and_runs)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct crypt_config cc = { 0 };
	struct rsv_mempool_stats st;
	struct page *page;
	unsigned char *data;
	void *handle;
	unsigned long start = jiffies;

	rsv_task_attach(sys, "kcryptd");
	cr_assert_eq(crypt_ctr(&cc, 0x5a), 0);
	page = alloc_page(GFP_KERNEL);
	cr_assert_not_null(page);
	data = page_address(page);
	memset(data, 0x11, PAGE_SIZE);
	for (unsigned long s = 0; s < 100; s++)
		cr_assert_eq(swap_writepage(&cc, page, s), 0);
	cr_assert_eq(cc.writes, 100);
	cr_assert_eq(current->flags & PF_MEMALLOC, 0, "the scope ended");
	rsv_mempool_stats(cc.page_pool, &st);
	cr_assert_eq(st.from_backing + st.from_pool, 100);
	cr_assert_eq(rsv_mempool_curr_nr(cc.page_pool), 16, "the pool is whole again");

	handle = fs_start_transaction(200);
	cr_assert_not_null(handle);
	cr_assert_geq(ksize(handle), 200);
	cr_assert_eq(((unsigned char *)handle)[199], 0);
	kfree(handle);

	schedule_timeout(HZ / 10);
	cr_assert_geq(jiffies - start, HZ / 10, "virtual time moved by the jiffies slept");
	__free_page(page);
	crypt_dtr(&cc);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(kernel_style, page_helpers_round_trip)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	unsigned long addr;
	struct page *p;

	rsv_task_attach(sys, "t");
	addr = get_zeroed_page(GFP_KERNEL);
	cr_assert_neq(addr, 0);
	cr_assert_eq(((unsigned char *)addr)[PAGE_SIZE - 1], 0);
	free_page(addr);
	p = alloc_pages(GFP_NOIO, 2);
	cr_assert_not_null(p);
	cr_assert_eq(rsv_to_page(page_to_rsv(p)), p);
	__free_pages(p, 2);
	free_pages(0, 0); /* as the kernel: freeing address 0 is a no-op */
	rsv_task_detach();
	teardown_whole(sys);
}
