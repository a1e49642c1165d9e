/* reservoir/bio.h: I/O descriptors from a bioset mempool, the building block of the I/O
 * stacks of the seed threads (reservoir/crypt.h, swap.h, fs.h, loop.h, bufio.h).
 *
 * A bio is one page of I/O to one device. It comes from its bioset's mempool, so a writer
 * that may block always gets one, and goes back there when its completion has run. */
#ifndef RESERVOIR_BIO_H
#define RESERVOIR_BIO_H

#include "bdev.h"
#include "gfp.h"

struct rsv_mempool;
struct rsv_kmem_cache;
struct rsv_bio;

typedef void (*rsv_bio_end_io_t)(struct rsv_bio *bio);

struct rsv_bio {
	struct rsv_request req; /* what the device sees */
	struct rsv_bioset *bs;
	rsv_bio_end_io_t end_io; /* runs in the completing device's task; then put the bio */
	void *private;
	size_t front_pad;        /* bytes before the bio a user asked for (bioset_init's) */
};

struct rsv_bioset {
	struct rsv_kmem_cache *cache;
	struct rsv_mempool *pool;
	size_t front_pad;
};

/* A set of bios with @front_pad bytes of the user's state in front of each (the kernel's
 * container_of idiom), @pool_size of them preallocated. 0, -EINVAL, -EPERM, -ENOMEM. */
RSV_API int rsv_bioset_init(struct rsv_bioset *bs, struct rsv_system *sys, const char *name,
			    int pool_size, size_t front_pad);
RSV_API void rsv_bioset_exit(struct rsv_bioset *bs);
/* mempool_alloc(): never NULL for a caller that may block. */
RSV_API struct rsv_bio *rsv_bio_alloc(struct rsv_bioset *bs, rsv_gfp_t gfp);
RSV_API void rsv_bio_put(struct rsv_bio *bio);
/* The user's state in front of @bio. */
static inline void *rsv_bio_front(struct rsv_bio *bio)
{
	return (char *)bio - bio->front_pad;
}
/* Writes or reads @page at @sector of @dev; @bio->end_io runs on completion. */
RSV_API int rsv_submit_bio(struct rsv_bio *bio, struct rsv_bdev *dev, enum rsv_req_op op,
			   uint64_t sector, struct rsv_page *page);

#endif
