/* Bios and biosets: a slab cache of bios with the user's front padding, behind a mempool. */
#include <errno.h>
#include <string.h>
#include "reservoir/harness.h"

static void bio_done(struct rsv_request *req)
{
	struct rsv_bio *bio = req->private;

	bio->end_io(bio);
}

int rsv_bioset_init(struct rsv_bioset *bs, struct rsv_system *sys, const char *name,
		    int pool_size, size_t front_pad)
{
	memset(bs, 0, sizeof(*bs));
	if (!rsv_task_current())
		return -EPERM;
	if (pool_size < 1 || front_pad > 4096 || front_pad % sizeof(void *))
		return -EINVAL;
	bs->front_pad = front_pad;
	bs->cache = rsv_kmem_cache_create(sys, name, front_pad + sizeof(struct rsv_bio), 0, 0,
					  NULL);
	if (!bs->cache)
		return -ENOMEM;
	bs->pool = rsv_mempool_create_slab_pool(sys, pool_size, bs->cache);
	if (!bs->pool) {
		rsv_kmem_cache_destroy(bs->cache);
		bs->cache = NULL;
		return -ENOMEM;
	}
	rsv_mempool_set_name(bs->pool, name);
	return 0;
}

void rsv_bioset_exit(struct rsv_bioset *bs)
{
	rsv_mempool_destroy(bs->pool);
	if (bs->cache)
		rsv_kmem_cache_destroy(bs->cache);
	memset(bs, 0, sizeof(*bs));
}

struct rsv_bio *rsv_bio_alloc(struct rsv_bioset *bs, rsv_gfp_t gfp)
{
	char *mem = rsv_mempool_alloc(bs->pool, gfp);
	struct rsv_bio *bio;

	if (!mem)
		return NULL;
	bio = (struct rsv_bio *)(mem + bs->front_pad);
	memset(bio, 0, sizeof(*bio));
	bio->bs = bs;
	bio->front_pad = bs->front_pad;
	return bio;
}

void rsv_bio_put(struct rsv_bio *bio)
{
	if (bio)
		rsv_mempool_free(rsv_bio_front(bio), bio->bs->pool);
}

int rsv_submit_bio(struct rsv_bio *bio, struct rsv_bdev *dev, enum rsv_req_op op,
		   uint64_t sector, struct rsv_page *page)
{
	bio->req = (struct rsv_request){ .bdev = dev, .op = op, .sector = sector, .page = page,
					 .end_io = bio_done, .private = bio };
	return rsv_submit_request(&bio->req);
}
