/* A swap area: anonymous pages written out to slots of a device below (a disk, or dm-crypt for
 * swap over dm-crypt).
 *
 * Reclaim hands the area an anonymous page; the area gives it a free slot (get_swap_page) and
 * writes it there, in the submitter's context, as swap_writepage() does, so that the layers
 * below allocate as the reclaimer. A full area refuses the write (-ENOSPC): the page stays, as
 * an anonymous page stays in memory when no swap slot is left. Pages are never read back in
 * the model, so a slot stays used once written, until the area is destroyed. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "reservoir/harness.h"
#include "common/list.h"

struct swap_io {
	struct rsv_request lower;
	struct rsv_request *upper;
	struct swap_area *sa;
	uint64_t slot;
	struct rsv_list node; /* in the area's inflight list */
};

struct swap_area {
	struct rsv_bdev bdev;
	struct rsv_bdev *lower;
	struct rsv_spinlock lock;
	uint64_t *bitmap;  /* a bit per slot, set while used */
	uint64_t next;     /* where the slot search starts (the kernel's cluster hint) */
	_Atomic uint64_t used; /* written under the lock, read without it by swap_full() */
	uint64_t full_refusals;
	/* Writes below not yet completed, under the lock: a run may end with some still in a
	 * device's queue, and the area frees them when it goes. */
	struct rsv_list inflight;
};

static bool take_slot(struct swap_area *sa, uint64_t *slot)
{
	uint64_t n = sa->bdev.nr_sectors;

	rsv_spin_lock(&sa->lock);
	for (uint64_t k = 0; k < n; k++) {
		uint64_t s = (sa->next + k) % n;

		if (sa->bitmap[s / 64] & (1ull << (s % 64)))
			continue;
		sa->bitmap[s / 64] |= 1ull << (s % 64);
		atomic_store_explicit(&sa->used, sa->used + 1, memory_order_relaxed);
		sa->next = s + 1;
		rsv_spin_unlock(&sa->lock);
		*slot = s;
		return true;
	}
	sa->full_refusals++;
	rsv_spin_unlock(&sa->lock);
	return false;
}

static void put_slot(struct swap_area *sa, uint64_t s)
{
	rsv_spin_lock(&sa->lock);
	sa->bitmap[s / 64] &= ~(1ull << (s % 64));
	atomic_store_explicit(&sa->used, sa->used - 1, memory_order_relaxed);
	rsv_spin_unlock(&sa->lock);
}

static void lower_done(struct rsv_request *req)
{
	struct swap_io *io = req->private;
	struct rsv_request *upper = io->upper;
	int err = req->error;

	rsv_spin_lock(&io->sa->lock);
	rsv_list_del(&io->node);
	rsv_spin_unlock(&io->sa->lock);
	if (err)
		put_slot(io->sa, io->slot); /* nothing was stored there */
	free(io);
	rsv_request_complete(upper, err);
}

static int swap_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct swap_area *sa = (struct swap_area *)bdev;
	struct swap_io *io;
	uint64_t slot;
	int err;

	if (req->op != RSV_REQ_WRITE)
		return -EOPNOTSUPP;
	if (!take_slot(sa, &slot))
		return -ENOSPC;
	if (!(io = malloc(sizeof(*io)))) {
		put_slot(sa, slot);
		return -ENOMEM;
	}
	*io = (struct swap_io){ .upper = req, .sa = sa, .slot = slot };
	io->lower = (struct rsv_request){ .bdev = sa->lower, .op = RSV_REQ_WRITE,
					  .sector = slot, .page = req->page,
					  .end_io = lower_done, .private = io };
	rsv_spin_lock(&sa->lock);
	rsv_list_add_tail(&io->node, &sa->inflight);
	rsv_spin_unlock(&sa->lock);
	if ((err = rsv_submit_request(&io->lower))) {
		rsv_spin_lock(&sa->lock);
		rsv_list_del(&io->node);
		rsv_spin_unlock(&sa->lock);
		put_slot(sa, slot);
		free(io);
	}
	return err;
}

static void swap_destroy(struct rsv_bdev *bdev)
{
	struct swap_area *sa = (struct swap_area *)bdev;

	while (!rsv_list_empty(&sa->inflight)) {
		struct swap_io *io = rsv_container_of(sa->inflight.next, struct swap_io, node);

		rsv_list_del(&io->node);
		free(io);
	}
	free(sa->bitmap);
	free(sa);
}

/* A racy read: reclaim only decides whether to look at anonymous pages. */
static bool swap_full(struct rsv_bdev *bdev)
{
	struct swap_area *sa = (struct swap_area *)bdev;

	return atomic_load_explicit(&sa->used, memory_order_relaxed) >= bdev->nr_sectors;
}

static const struct rsv_bdev_ops swap_ops = {
	.submit = swap_submit,
	.destroy = swap_destroy,
	.full = swap_full,
};

struct rsv_bdev *rsv_swap_create(struct rsv_system *sys, const char *name,
				 struct rsv_bdev *lower, uint64_t nr_slots)
{
	struct swap_area *sa;

	if (!sys || !lower || lower->sys != sys || !nr_slots || nr_slots > lower->nr_sectors)
		return errno = EINVAL, NULL;
	if (!(sa = calloc(1, sizeof(*sa))) ||
	    !(sa->bitmap = calloc((size_t)(nr_slots + 63) / 64, sizeof(uint64_t)))) {
		free(sa);
		return errno = ENOMEM, NULL;
	}
	sa->lower = lower;
	rsv_spin_init(&sa->lock);
	rsv_list_init(&sa->inflight);
	rsv_bdev_register(&sa->bdev, sys, name, &swap_ops, nr_slots, lower->flags);
	sa->bdev.worker = lower->worker; /* its I/O is served below */
	return &sa->bdev;
}

void rsv_swap_stats(struct rsv_bdev *bdev, struct rsv_swap_stats *out)
{
	struct swap_area *sa = (struct swap_area *)bdev;

	rsv_spin_lock(&sa->lock);
	*out = (struct rsv_swap_stats){ .slots = bdev->nr_sectors, .used = sa->used,
					.full_refusals = sa->full_refusals };
	rsv_spin_unlock(&sa->lock);
}
