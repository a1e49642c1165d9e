/* reservoir/kernel/blk.h: the kernel's bios over reservoir's block devices (linux/bio.h,
 * linux/blk_types.h, linux/blkdev.h), with the kernel's units and ownership. Part of
 * reservoir/kernel.h: include that.
 *
 * A struct bio here is the kernel's as far as drivers touch it (bi_iter.bi_sector in 512-byte
 * sectors, bi_end_io, bi_private, bi_status, bi_io_vec), with reservoir's bio behind it. Its
 * pages go to the device as one request each, all at once; the bio completes, once, when the
 * last of them has. Biosets are mempools, so bio_alloc_bioset() never fails for a caller that
 * may sleep, and vectors beyond the inline ones come from the set's own vector mempool
 * (BIOSET_NEED_BVECS) after one attempt that does not reclaim, as in block/bio.c's
 * bvec_alloc(). Devices here move whole pages: a bio whose sector or vectors are not
 * page-aligned, or which runs past the device's end, completes with BLK_STS_IOERR, as the
 * kernel ends one that fails its checks in submit_bio_noacct(). */
#ifndef RESERVOIR_KERNEL_BLK_H
#define RESERVOIR_KERNEL_BLK_H

#ifndef RESERVOIR_KERNEL_H
#error "include <reservoir/kernel.h>, which includes this"
#endif

#include "../bio.h"

typedef uint64_t sector_t;
#define SECTOR_SHIFT 9
#define SECTOR_SIZE (1 << SECTOR_SHIFT)
#define PAGE_SECTORS_SHIFT (PAGE_SHIFT - SECTOR_SHIFT)
#define PAGE_SECTORS (1 << PAGE_SECTORS_SHIFT)

/* ---- devices ---- */

struct block_device; /* the kernel's name for a struct rsv_bdev */

static inline struct rsv_bdev *bdev_to_rsv(struct block_device *b)
{
	return (struct rsv_bdev *)(void *)b;
}
static inline struct block_device *rsv_to_bdev(struct rsv_bdev *b)
{
	return (struct block_device *)(void *)b;
}
/* In 512-byte sectors, as the kernel's; a device here counts pages. */
static inline sector_t bdev_nr_sectors(struct block_device *bdev)
{
	return bdev_to_rsv(bdev)->nr_sectors << PAGE_SECTORS_SHIFT;
}
/* Whole pages: the smallest unit a device here can read or write. */
static inline unsigned int bdev_logical_block_size(struct block_device *bdev)
{
	(void)bdev;
	return PAGE_SIZE;
}

/* ---- status ---- */

typedef uint8_t blk_status_t;
#define BLK_STS_OK 0
#define BLK_STS_NOTSUPP ((blk_status_t)1)
#define BLK_STS_TIMEOUT ((blk_status_t)2)
#define BLK_STS_NOSPC ((blk_status_t)3)
#define BLK_STS_RESOURCE ((blk_status_t)9)
#define BLK_STS_IOERR ((blk_status_t)10)
#define BLK_STS_AGAIN ((blk_status_t)12)

/* block/blk-core.c's table, for the statuses defined above; any other errno is an I/O
 * error, as there. */
static inline blk_status_t errno_to_blk_status(int errno_val)
{
	switch (errno_val) {
	case 0:
		return BLK_STS_OK;
	case -EOPNOTSUPP:
		return BLK_STS_NOTSUPP;
	case -ETIMEDOUT:
		return BLK_STS_TIMEOUT;
	case -ENOSPC:
		return BLK_STS_NOSPC;
	case -ENOMEM:
		return BLK_STS_RESOURCE;
	case -EAGAIN:
		return BLK_STS_AGAIN;
	default:
		return BLK_STS_IOERR;
	}
}
static inline int blk_status_to_errno(blk_status_t status)
{
	switch (status) {
	case BLK_STS_OK:
		return 0;
	case BLK_STS_NOTSUPP:
		return -EOPNOTSUPP;
	case BLK_STS_TIMEOUT:
		return -ETIMEDOUT;
	case BLK_STS_NOSPC:
		return -ENOSPC;
	case BLK_STS_RESOURCE:
		return -ENOMEM;
	case BLK_STS_AGAIN:
		return -EAGAIN;
	default:
		return -EIO;
	}
}

/* ---- operations ---- */

typedef uint32_t blk_opf_t;
#define REQ_OP_READ ((blk_opf_t)0)
#define REQ_OP_WRITE ((blk_opf_t)1)
#define REQ_OP_BITS 8
#define REQ_OP_MASK ((blk_opf_t)((1u << REQ_OP_BITS) - 1))
/* Hints that change nothing for a RAM device with no cache: accepted, as the kernel accepts
 * them for a device that ignores them. */
#define REQ_SYNC ((blk_opf_t)(1u << 11))
#define REQ_META ((blk_opf_t)(1u << 12))
#define REQ_PRIO ((blk_opf_t)(1u << 13))
#define REQ_IDLE ((blk_opf_t)(1u << 16))
#define REQ_FUA ((blk_opf_t)(1u << 17))
#define REQ_PREFLUSH ((blk_opf_t)(1u << 18))

static inline bool op_is_write(blk_opf_t op)
{
	return op & 1;
}

/* ---- bios ---- */

struct bio;
typedef void(bio_end_io_t)(struct bio *bio);

struct bio_vec {
	struct page *bv_page;
	unsigned int bv_len;
	unsigned int bv_offset;
};

struct bvec_iter {
	sector_t bi_sector;   /* 512-byte sectors */
	unsigned int bi_size; /* bytes */
	unsigned int bi_idx;
	unsigned int bi_bvec_done;
};

#define BIO_INLINE_VECS 4
#define BIO_MAX_VECS 256U

struct bio_set;

struct bio {
	struct block_device *bi_bdev;
	blk_opf_t bi_opf;
	blk_status_t bi_status;
	struct bvec_iter bi_iter;
	bio_end_io_t *bi_end_io;
	void *bi_private;
	unsigned short bi_vcnt;
	unsigned short bi_max_vecs;
	struct bio_vec *bi_io_vec;
	struct bio_set *bi_pool;
	/* reservoir's: one device request per vector, what is left in flight, whether the
	 * vectors came from the set's vector pool (else kmalloc), and the inline ones. */
	struct rsv_request *__reqs;
	atomic_t __remaining;
	atomic_t __error; /* the first request's error */
	bool __vecs_from_pool;
	struct bio_vec __inline_vecs[BIO_INLINE_VECS];
	struct rsv_request __inline_reqs[BIO_INLINE_VECS];
	struct rsv_bio rsv; /* last: what the bioset's mempool hands out ends here */
};

struct bio_set {
	struct rsv_bioset rsv;
	mempool_t *bvec_pool; /* BIOSET_NEED_BVECS: vectors past the inline ones */
	unsigned int front_pad;
};

#define BIOSET_NEED_BVECS 1
/* The rescuer punts bios queued on current->bio_list by a stacked driver's submit_bio();
 * submission here goes straight to the device and queues nothing, so the deadlock it
 * prevents cannot form: accepted, and nothing more is needed. */
#define BIOSET_NEED_RESCUER 2

/* One element of a set's vector pool: BIO_MAX_VECS vectors and their requests. */
#define __BVEC_POOL_SIZE (BIO_MAX_VECS * (sizeof(struct bio_vec) + sizeof(struct rsv_request)))

/* @front_pad bytes of the caller's state before every bio (the container_of idiom), at
 * least @pool_size bios (and vector sets, with BIOSET_NEED_BVECS) kept in reserve. 0 or a
 * negative errno; the set is unusable (and bioset_exit() harmless) after an error. */
static inline int bioset_init(struct bio_set *bs, unsigned int pool_size, unsigned int front_pad,
			      int flags)
{
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	int err;

	memset(bs, 0, sizeof(*bs));
	if (flags & ~(BIOSET_NEED_BVECS | BIOSET_NEED_RESCUER))
		return -EINVAL;
	err = rsv_bioset_init(&bs->rsv, sys, "bioset", (int)pool_size,
			      front_pad + offsetof(struct bio, rsv));
	if (err)
		return err;
	bs->front_pad = front_pad;
	if (flags & BIOSET_NEED_BVECS) {
		bs->bvec_pool = rsv_mempool_create_kmalloc_pool(sys, (int)pool_size,
								__BVEC_POOL_SIZE);
		if (!bs->bvec_pool) {
			rsv_bioset_exit(&bs->rsv);
			return -ENOMEM;
		}
		rsv_mempool_set_name(bs->bvec_pool, "bioset-bvecs");
	}
	return 0;
}
static inline void bioset_exit(struct bio_set *bs)
{
	if (bs->bvec_pool)
		rsv_mempool_destroy(bs->bvec_pool);
	if (bs->rsv.pool)
		rsv_bioset_exit(&bs->rsv);
	memset(bs, 0, sizeof(*bs));
}
static inline bool bioset_initialized(struct bio_set *bs)
{
	return bs->rsv.pool != NULL;
}

/* A bio for @nr_vecs pages to @bdev, from @bs: never NULL when @gfp_mask may sleep. As in the
 * kernel, a set without BIOSET_NEED_BVECS gives only bios without vectors, and more than
 * BIO_MAX_VECS is a misuse: both warn and return NULL. */
static inline struct bio *bio_alloc_bioset(struct block_device *bdev, unsigned short nr_vecs,
					   blk_opf_t opf, gfp_t gfp_mask, struct bio_set *bs)
{
	struct rsv_bio *rb;
	struct bio *bio;

	if (WARN_ON_ONCE(!bs->bvec_pool && nr_vecs > 0) || WARN_ON_ONCE(nr_vecs > BIO_MAX_VECS))
		return NULL;
	rb = rsv_bio_alloc(&bs->rsv, gfp_mask);
	if (!rb)
		return NULL;
	bio = container_of(rb, struct bio, rsv);
	memset(bio, 0, offsetof(struct bio, rsv));
	bio->bi_bdev = bdev;
	bio->bi_opf = opf;
	bio->bi_pool = bs;
	if (nr_vecs <= BIO_INLINE_VECS) {
		bio->bi_io_vec = bio->__inline_vecs;
		bio->__reqs = bio->__inline_reqs;
		bio->bi_max_vecs = nr_vecs;
		return bio;
	}
	/* bvec_alloc(): a fitting block if one comes without reclaim, else the pool's. */
	bio->bi_io_vec = kmalloc(nr_vecs * (sizeof(struct bio_vec) + sizeof(struct rsv_request)),
				 (gfp_mask & ~(__GFP_DIRECT_RECLAIM | __GFP_IO)) |
					 __GFP_NOMEMALLOC | __GFP_NORETRY | __GFP_NOWARN);
	bio->bi_max_vecs = nr_vecs;
	if (!bio->bi_io_vec) {
		bio->bi_io_vec = mempool_alloc(bs->bvec_pool, gfp_mask);
		bio->bi_max_vecs = BIO_MAX_VECS;
		bio->__vecs_from_pool = true;
	}
	if (!bio->bi_io_vec) {
		rsv_bio_put(&bio->rsv);
		return NULL;
	}
	bio->__reqs = (struct rsv_request *)(void *)(bio->bi_io_vec + bio->bi_max_vecs);
	return bio;
}

/* Gives the bio back to its set (a bio here has one reference: bio_get() is not provided). */
static inline void bio_put(struct bio *bio)
{
	if (bio->bi_io_vec != bio->__inline_vecs) {
		if (bio->__vecs_from_pool)
			mempool_free(bio->bi_io_vec, bio->bi_pool->bvec_pool);
		else
			kfree(bio->bi_io_vec);
	}
	rsv_bio_put(&bio->rsv);
}

/* Adds @len bytes of @page at @offset; returns @len, or 0 when the bio has no room left (the
 * caller submits it and starts another), as the kernel's. */
static inline int bio_add_page(struct bio *bio, struct page *page, unsigned int len,
			       unsigned int offset)
{
	if (bio->bi_vcnt >= bio->bi_max_vecs || len == 0)
		return 0;
	bio->bi_io_vec[bio->bi_vcnt++] =
		(struct bio_vec){ .bv_page = page, .bv_len = len, .bv_offset = offset };
	bio->bi_iter.bi_size += len;
	return (int)len;
}

static inline blk_opf_t bio_op(const struct bio *bio)
{
	return bio->bi_opf & REQ_OP_MASK;
}

/* Runs the bio's completion: a driver ends a bio it was given, a stacked one its original. */
static inline void bio_endio(struct bio *bio)
{
	if (bio->bi_end_io)
		bio->bi_end_io(bio);
}
static inline void bio_io_error(struct bio *bio)
{
	bio->bi_status = BLK_STS_IOERR;
	bio_endio(bio);
}

/* One vector's request completed: the first error is the bio's, the last completion ends it
 * (atomic_dec_and_test() is fully ordered: every other completion's error is seen). */
static inline void __bio_req_done(struct rsv_request *req)
{
	struct bio *bio = (struct bio *)req->private;

	if (req->error)
		atomic_cmpxchg(&bio->__error, 0, req->error);
	if (atomic_dec_and_test(&bio->__remaining)) {
		bio->bi_status = errno_to_blk_status(atomic_read(&bio->__error));
		bio_endio(bio);
	}
}

/* The device's checks before any request goes out: true if @bio may be submitted. */
static inline bool __bio_check(struct bio *bio)
{
	struct rsv_bdev *dev = bio->bi_bdev ? bdev_to_rsv(bio->bi_bdev) : NULL;
	sector_t first = bio->bi_iter.bi_sector >> PAGE_SECTORS_SHIFT;

	if (!dev || bio_op(bio) > REQ_OP_WRITE || (bio->bi_iter.bi_sector & (PAGE_SECTORS - 1)) ||
	    first + bio->bi_vcnt > dev->nr_sectors)
		return false;
	for (unsigned int i = 0; i < bio->bi_vcnt; i++)
		if (bio->bi_io_vec[i].bv_offset || bio->bi_io_vec[i].bv_len != PAGE_SIZE)
			return false;
	return true;
}

static inline void __bio_prep(struct bio *bio, void (*end_io)(struct rsv_request *))
{
	sector_t first = bio->bi_iter.bi_sector >> PAGE_SECTORS_SHIFT;

	bio->bi_status = BLK_STS_OK;
	for (unsigned int i = 0; i < bio->bi_vcnt; i++)
		bio->__reqs[i] = (struct rsv_request){
			.bdev = bdev_to_rsv(bio->bi_bdev),
			.op = bio_op(bio) == REQ_OP_WRITE ? RSV_REQ_WRITE : RSV_REQ_READ,
			.sector = first + i,
			.page = page_to_rsv(bio->bi_io_vec[i].bv_page),
			.end_io = end_io,
			.private = bio,
		};
}

/* Sends @bio to its device; bi_end_io runs once every page has been read or written, in the
 * task that completed the last, with bi_status set. A bio without pages (a flush) ends at
 * once. The caller gives up the bio until then. */
static inline void submit_bio(struct bio *bio)
{
	if (!__bio_check(bio)) {
		bio_io_error(bio);
		return;
	}
	if (!bio->bi_vcnt) {
		bio->bi_status = BLK_STS_OK;
		bio_endio(bio);
		return;
	}
	__bio_prep(bio, __bio_req_done);
	atomic_set(&bio->__error, 0);
	atomic_set(&bio->__remaining, bio->bi_vcnt);
	for (unsigned int i = 0; i < bio->bi_vcnt; i++) {
		int err = rsv_submit_request(&bio->__reqs[i]);

		if (err) { /* not sent: counts as done, with the error */
			bio->__reqs[i].error = err;
			__bio_req_done(&bio->__reqs[i]);
		}
	}
}

/* Sends @bio and waits, uninterruptibly, until all of it is done; returns its status as an
 * errno. The wait is a wait for the device's I/O: reports show it, and the checker orders the
 * caller's locks before the device. bi_end_io is not called. */
static inline int submit_bio_wait(struct bio *bio)
{
	int err = 0;

	if (!__bio_check(bio)) {
		bio->bi_status = BLK_STS_IOERR;
		return -EIO;
	}
	__bio_prep(bio, NULL);
	for (unsigned int i = 0; i < bio->bi_vcnt; i++) {
		int e = rsv_submit_request(&bio->__reqs[i]);

		if (e) { /* never in flight: the device has not seen it */
			bio->__reqs[i].page = NULL;
			err = err ? err : e;
		}
	}
	for (unsigned int i = 0; i < bio->bi_vcnt; i++) {
		int e = bio->__reqs[i].page ? rsv_request_wait(&bio->__reqs[i]) : 0;

		err = err ? err : e;
	}
	bio->bi_status = errno_to_blk_status(err);
	return blk_status_to_errno(bio->bi_status);
}

#endif
