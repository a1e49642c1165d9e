/* Bios through reservoir/kernel.h, as a 6.x driver uses them: a bioset with the driver's
 * per-I/O state in its front padding, bio_alloc_bioset() with GFP_NOIO, bio_add_page(),
 * submit_bio() with an end_io that completes a completion, submit_bio_wait(), bio_put(); in
 * 512-byte sectors. The code between the markers uses kernel names only and builds with
 * -Wall -Wextra -Werror; the data must come back on both backends, and what a device here
 * cannot do (a sector not on a page, a partial page, past the end) ends the bio with an error
 * before any request goes out. */
#include "helpers.h"
#include <reservoir/kernel.h>

TestSuite(kernel_bio, .timeout = 60);

/* ---- kernel-style code ---- */

struct kio {
	struct completion done;
	unsigned int nr_pages;
	struct bio bio; /* last: the bioset's front padding is everything before it */
};

static struct bio_set kio_set;
static DEFINE_MUTEX(kio_lock);

static void kio_endio(struct bio *bio)
{
	struct kio *io = container_of(bio, struct kio, bio);

	complete(&io->done);
}

/* Writes @nr pages at @sector, asynchronously, and waits for the end_io. */
static int kio_write(struct block_device *bdev, struct page **pages, unsigned int nr,
		     sector_t sector, unsigned int len)
{
	struct bio *bio;
	struct kio *io;
	blk_status_t status;
	unsigned int i;

	bio = bio_alloc_bioset(bdev, nr, REQ_OP_WRITE | REQ_SYNC, GFP_NOIO, &kio_set);
	io = container_of(bio, struct kio, bio);
	init_completion(&io->done);
	io->nr_pages = nr;
	bio->bi_iter.bi_sector = sector;
	bio->bi_end_io = kio_endio;
	for (i = 0; i < nr; i++)
		if (bio_add_page(bio, pages[i], len, 0) != (int)len)
			break;
	if (i < nr) {
		bio_put(bio);
		return -E2BIG;
	}
	submit_bio(bio);
	wait_for_completion_io(&io->done);
	status = bio->bi_status;
	bio_put(bio);
	return blk_status_to_errno(status);
}

/* Reads one page at @sector and waits, holding the driver's lock as a careless driver would. */
static int kio_read(struct block_device *bdev, struct page *page, sector_t sector)
{
	struct bio *bio = bio_alloc_bioset(bdev, 1, REQ_OP_READ, GFP_NOIO, &kio_set);
	int ret;

	bio->bi_iter.bi_sector = sector;
	bio_add_page(bio, page, PAGE_SIZE, 0);
	mutex_lock(&kio_lock);
	ret = submit_bio_wait(bio);
	mutex_unlock(&kio_lock);
	bio_put(bio);
	return ret;
}

/* ---- end of kernel-style code ---- */

#define NR_PAGES 8

struct bio_run {
	struct block_device *bdev;
	int wrote_many, wrote_two, read_errors, mismatches;
	int unaligned, partial, past_end;
	bool no_bvecs_null;
	int bio_add_full;
};

static void fill(struct page *page, unsigned int seed)
{
	unsigned char *p = page_address(page);

	for (unsigned int i = 0; i < PAGE_SIZE; i++)
		p[i] = (unsigned char)(seed * 31 + i);
}

static int bio_task(void *arg)
{
	struct bio_run *r = arg;
	struct page *pages[NR_PAGES], *back = alloc_page(GFP_KERNEL);
	struct bio_set plain;
	struct bio *bio;

	for (unsigned int i = 0; i < NR_PAGES; i++) {
		pages[i] = alloc_page(GFP_KERNEL);
		fill(pages[i], i + 1);
	}
	/* Eight pages at page 4 (sector 32): more than the inline vectors. */
	r->wrote_many = kio_write(r->bdev, pages, NR_PAGES, 4 * PAGE_SECTORS, PAGE_SIZE);
	/* Two at the device's last two pages (inline vectors). */
	r->wrote_two = kio_write(r->bdev, pages, 2, bdev_nr_sectors(r->bdev) - 2 * PAGE_SECTORS,
				 PAGE_SIZE);
	for (unsigned int i = 0; i < NR_PAGES; i++) {
		if (kio_read(r->bdev, back, (4 + i) * PAGE_SECTORS))
			r->read_errors++;
		else if (memcmp(page_address(back), page_address(pages[i]), PAGE_SIZE))
			r->mismatches++;
	}
	if (kio_read(r->bdev, back, bdev_nr_sectors(r->bdev) - PAGE_SECTORS) ||
	    memcmp(page_address(back), page_address(pages[1]), PAGE_SIZE))
		r->mismatches++;

	r->unaligned = kio_write(r->bdev, pages, 1, 4 * PAGE_SECTORS + 1, PAGE_SIZE);
	r->partial = kio_write(r->bdev, pages, 1, 0, 512);
	r->past_end = kio_write(r->bdev, pages, 2, bdev_nr_sectors(r->bdev) - PAGE_SECTORS,
				PAGE_SIZE);

	/* A set without BIOSET_NEED_BVECS gives bios without pages only, as the kernel's. */
	if (bioset_init(&plain, 1, 0, 0) == 0) {
		r->no_bvecs_null = bio_alloc_bioset(r->bdev, 1, REQ_OP_READ, GFP_NOIO, &plain) ==
				   NULL;
		bio = bio_alloc_bioset(r->bdev, 0, REQ_OP_WRITE | REQ_PREFLUSH, GFP_NOIO, &plain);
		if (bio) {
			bio_put(bio);
		}
		bioset_exit(&plain);
	}
	/* A bio takes no more pages than it was allocated for. */
	bio = bio_alloc_bioset(r->bdev, 2, REQ_OP_WRITE, GFP_NOIO, &kio_set);
	r->bio_add_full = bio_add_page(bio, pages[0], PAGE_SIZE, 0) +
			  bio_add_page(bio, pages[1], PAGE_SIZE, 0) +
			  bio_add_page(bio, pages[2], PAGE_SIZE, 0);
	bio_put(bio);

	for (unsigned int i = 0; i < NR_PAGES; i++)
		__free_page(pages[i]);
	__free_page(back);
	return 0;
}

static void bios_on(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 1024, 5);
	struct bio_run r = { 0 };
	struct rsv_bdev *dev;

	rsv_task_attach(sys, "setup");
	cr_assert_eq(rsv_lockdep_enable(sys), 0);
	dev = rsv_ramdev_create(sys, "ram", 32, 50000, 0);
	cr_assert(dev);
	r.bdev = rsv_to_bdev(dev);
	cr_assert_eq(bdev_nr_sectors(r.bdev), 32 * 8, "512-byte sectors");
	cr_assert_eq(bioset_init(&kio_set, 2, offsetof(struct kio, bio), BIOSET_NEED_BVECS), 0);
	cr_assert(bioset_initialized(&kio_set));
	cr_assert_eq(bioset_init(&(struct bio_set){ 0 }, 2, 0, 0x80), -EINVAL, "unknown flags");
	rsv_task_detach();
	rsv_task_create(sys, "bio", bio_task, &r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);

	cr_assert_eq(r.wrote_many, 0);
	cr_assert_eq(r.wrote_two, 0);
	cr_assert_eq(r.read_errors, 0);
	cr_assert_eq(r.mismatches, 0, "what was written at sector 8n is page n");
	cr_assert_eq(r.unaligned, -EIO, "a sector inside a page");
	cr_assert_eq(r.partial, -EIO, "part of a page");
	cr_assert_eq(r.past_end, -EIO, "past the device's end");
	cr_assert(r.no_bvecs_null);
	cr_assert_eq(r.bio_add_full, 2 * PAGE_SIZE, "the third page did not fit");
	/* The failed bios never reached the device: 8 + 2 + 9 pages did. */
	cr_assert_eq(atomic_load(&dev->submitted), 19);
	cr_assert(rsv_lockdep_ordered(sys, "kio_lock", "io:ram"),
		  "submit_bio_wait() is a wait for the device's I/O");

	rsv_task_attach(sys, "teardown");
	bioset_exit(&kio_set);
	cr_assert(!bioset_initialized(&kio_set));
	rsv_task_detach();
	teardown_whole(sys);
}

Test(kernel_bio, moves_data_in_sectors_on_the_simulator)
{
	bios_on(RSV_BACKEND_SIM);
}

Test(kernel_bio, moves_data_in_sectors_on_real_threads)
{
	bios_on(RSV_BACKEND_OS);
}
