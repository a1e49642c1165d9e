/* bench_pressure: how long mempool_alloc() takes under memory pressure, policy by policy, on
 * real threads: the seed threads' argument in numbers.
 *
 * Swap over an encrypting device, as in Mikulas Patocka's reports (2016): two tasks touch
 * anonymous memory as fast as they may, so that free memory sits at the min watermark and
 * reclaim (kswapd and the tasks' own) swaps pages out. The swap area is on "xcrypt", the I/O
 * path under test, as a storage daemon would write it: its worker, a service task, takes a
 * bounce page for each write from a page mempool with GFP_NOIO, copies the page into it
 * encrypted and submits it to a 1 ms disk, whose completion gives the page back to the pool
 * and ends the swap-out. Pages under writeback can only come down through that worker, and
 * the swap-out writeback is not held to the dirty limit, so it exceeds the limit whenever the
 * worker is slow. The worker times every allocation; under each mempool policy and each
 * throttle policy the table gives the percentiles (p50, p99, p99.9, max) and how the
 * allocations were served. NeilBrown's point in "Re: [RFC PATCH 2/2] mm, mempool: do not
 * throttle PF_LESS_THROTTLE tasks" (July 2016) was that a pool's user must not sleep in
 * reclaim throttling: under throttle-vm-writeout, once the pool runs dry the worker's
 * allocation reclaims and sleeps HZ/10 in throttle_vm_writeout() while writeback is high,
 * and writeback is high because the worker sleeps.
 *
 *   bench_pressure [allocations per policy pair, default 2000]
 * Each pair runs until that many allocations or CAP_S seconds, whichever comes first; the
 * table says how many it timed. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir.h>
#include <reservoir/harness.h>

#define MAX_SAMPLES 100000
#define CAP_S 4               /* seconds per policy pair at most */
#define DISK_NS (1000 * 1000) /* the disk's write latency */
#define SWAP_SLOTS (1u << 18) /* never full in CAP_S */
#define POOL_PAGES 16         /* dm-crypt's default page pool */

/* One write in flight through xcrypt: the swap-out's request and the disk's. */
struct xio {
	struct xio *next;
	struct rsv_request *upper, lower;
	struct rsv_page *bounce;
};

struct run {
	/* xcrypt: a device whose writes go through its worker's bounce pages. */
	struct rsv_bdev xdev;
	struct rsv_bdev *disk;
	struct rsv_mempool *pool;
	struct rsv_spinlock lock;
	struct xio *queue, **tail;
	struct rsv_waitqueue work;
	/* The workload. */
	struct rsv_mapping *anon;
	long n;
	_Atomic long timed; /* lat[0..timed) written: the worker stores, then counts */
	uint64_t *lat;
	_Atomic bool stop;
	_Atomic uint64_t next_index;
};

static struct run *run_of(struct rsv_bdev *bdev)
{
	return (struct run *)((char *)bdev - offsetof(struct run, xdev));
}

/* Never sleeps: queues the write for the worker. */
static int xdev_submit(struct rsv_bdev *bdev, struct rsv_request *req)
{
	struct run *r = run_of(bdev);
	struct xio *io = calloc(1, sizeof(*io)); /* the bench's heap, not the arena */

	if (!io)
		return -ENOMEM;
	io->upper = req;
	rsv_spin_lock(&r->lock);
	*r->tail = io;
	r->tail = &io->next;
	rsv_spin_unlock(&r->lock);
	rsv_wake_up(&r->work);
	return 0;
}

static void xdev_destroy(struct rsv_bdev *bdev)
{
	(void)bdev; /* every xio went with its completion */
}

static const struct rsv_bdev_ops xdev_ops = { .submit = xdev_submit, .destroy = xdev_destroy };

static struct xio *next_write(struct run *r)
{
	struct xio *io;

	rsv_spin_lock(&r->lock);
	if ((io = r->queue) && !(r->queue = io->next))
		r->tail = &r->queue;
	rsv_spin_unlock(&r->lock);
	return io;
}

static bool any_write(struct run *r)
{
	bool any;

	rsv_spin_lock(&r->lock);
	any = r->queue != NULL;
	rsv_spin_unlock(&r->lock);
	return any;
}

/* The disk wrote the bounce page: it goes back to the pool, and the swap-out ends. */
static void disk_done(struct rsv_request *lower)
{
	struct xio *io = lower->private;
	struct run *r = run_of(io->upper->bdev);
	int err = lower->error;

	rsv_mempool_free(io->bounce, r->pool);
	rsv_request_complete(io->upper, err);
	free(io);
}

static int worker(void *arg)
{
	struct run *r = arg;

	for (;;) {
		struct xio *io;

		rsv_wait_event(&r->work, any_write(r) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		while ((io = next_write(r))) {
			uint64_t t0 = rsv_now(), *dst;
			const uint64_t *src;

			long k = atomic_load_explicit(&r->timed, memory_order_relaxed);

			io->bounce = rsv_mempool_alloc(r->pool, RSV_GFP_NOIO);
			if (k < r->n) {
				r->lat[k] = rsv_now() - t0;
				atomic_store_explicit(&r->timed, k + 1, memory_order_release);
			} else {
				atomic_store(&r->stop, true);
			}
			dst = rsv_page_address(io->bounce);
			src = rsv_page_address(io->upper->page);
			for (size_t i = 0; i < RSV_PAGE_SIZE / sizeof(*dst); i++)
				dst[i] = src[i] ^ 0x5c5c5c5c5c5c5c5cull;
			io->lower = (struct rsv_request){ .bdev = r->disk,
							  .op = RSV_REQ_WRITE,
							  .sector = io->upper->sector,
							  .page = io->bounce,
							  .end_io = disk_done,
							  .private = io };
			if (rsv_submit_request(&io->lower)) {
				io->lower.error = -EIO;
				disk_done(&io->lower);
			}
		}
	}
}

/* Touches new anonymous pages until the worker has its samples or the time is up. */
static int toucher(void *arg)
{
	struct run *r = arg;
	uint64_t until = rsv_now() + (uint64_t)CAP_S * RSV_NSEC_PER_SEC;

	while (!atomic_load(&r->stop) && !rsv_fatal_signal_pending()) {
		struct rsv_page *p = rsv_mapping_add_page(r->anon, RSV_GFP_KERNEL,
							  atomic_fetch_add(&r->next_index, 1));

		if (p)
			memset(rsv_page_address(p), 0x2a, 64);
		if (rsv_now() > until)
			atomic_store(&r->stop, true);
	}
	return 0;
}

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static double pct(const uint64_t *sorted, long n, double p)
{
	long i = (long)(p * (double)(n - 1) + 0.5);

	return (double)sorted[i] / 1000.0;
}

/* One policy pair: 0 and the p99.9 in us in *@p999, or -1. */
static int one(unsigned mempool, unsigned throttle, long n, double *p999)
{
	struct rsv_policy pol = RSV_POLICY_DEFAULT;
	struct rsv_system *sys;
	struct rsv_bdev *swap = NULL;
	struct rsv_task *kworker = NULL;
	struct rsv_mempool_stats st;
	struct run *r = calloc(1, sizeof(*r));
	char name[96];
	long timed;

	pol.value[RSV_POLICY_MEMPOOL] = (unsigned char)mempool;
	pol.value[RSV_POLICY_THROTTLE] = (unsigned char)throttle;
	sys = rsv_system_create(&(struct rsv_system_config){ .backend = RSV_BACKEND_OS,
							     .nr_pages = 4096,
							     .dirty_thresh_pages = 200,
							     .policy = pol });
	if (!sys || !r || !(r->lat = calloc((size_t)n, sizeof(*r->lat)))) {
		fprintf(stderr, "bench_pressure: %s\n",
			sys ? "out of memory" : rsv_system_create_error());
		return -1;
	}
	r->n = n;
	r->tail = &r->queue;
	rsv_spin_init(&r->lock);
	rsv_waitqueue_init(&r->work, "xcrypt writes");
	rsv_task_attach(sys, "setup");
	r->disk = rsv_ramdev_create(sys, "disk", SWAP_SLOTS, DISK_NS, RSV_RAMDEV_NULL);
	r->pool = rsv_mempool_create_page_pool(sys, POOL_PAGES, 0);
	if (r->disk && r->pool &&
	    !rsv_bdev_register(&r->xdev, sys, "xcrypt", &xdev_ops, SWAP_SLOTS, 0) &&
	    (kworker = rsv_kthread_create(sys, "xcrypt worker", worker, r)))
		r->xdev.worker = kworker;
	swap = kworker ? rsv_swap_create(sys, "swap", &r->xdev, SWAP_SLOTS) : NULL;
	r->anon = swap ? rsv_mapping_create(sys, RSV_MAPPING_ANON, "anon", swap, 0) : NULL;
	rsv_task_detach();
	if (!r->anon || !rsv_task_create(sys, "toucher", toucher, r) ||
	    !rsv_task_create(sys, "toucher", toucher, r)) {
		fprintf(stderr, "bench_pressure: set-up failed: %s\n", rsv_system_error(sys));
		return -1;
	}
	rsv_system_run(sys);
	/* The worker goes on serving what the touchers left in flight: only what it had timed
	 * by now is read, and it never writes below that. */
	timed = atomic_load_explicit(&r->timed, memory_order_acquire);
	rsv_mempool_stats(r->pool, &st);
	snprintf(name, sizeof(name), "%s, %s", rsv_policy_value_name(RSV_POLICY_MEMPOOL, mempool),
		 rsv_policy_value_name(RSV_POLICY_THROTTLE, throttle));
	if (timed < 10) {
		printf("| %-44s | %9s | %9s | %9s | %9s | %6s | %6s | %5s | %5ld |\n", name, "-",
		       "-", "-", "-", "-", "-", "-", timed);
		*p999 = 0;
	} else {
		qsort(r->lat, (size_t)timed, sizeof(*r->lat), by_value);
		*p999 = pct(r->lat, timed, 0.999);
		printf("| %-44s | %9.1f | %9.1f | %9.1f | %9.1f | %6llu | %6llu | %5llu | %5ld |\n",
		       name, pct(r->lat, timed, 0.5), pct(r->lat, timed, 0.99), *p999,
		       (double)r->lat[timed - 1] / 1000.0, (unsigned long long)st.from_backing,
		       (unsigned long long)st.from_pool, (unsigned long long)st.waits, timed);
	}
	fflush(stdout);
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(r->anon); /* waits for the writes in flight: the worker still runs */
	rsv_kthread_stop(kworker);
	rsv_mempool_destroy(r->pool);
	rsv_task_detach();
	rsv_system_destroy(sys);
	free(r->lat);
	free(r);
	return 0;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 2000;
	double p[RSV_MEMPOOL_POOL_FIRST + 1][RSV_THROTTLE_LESS_THROTTLE_EXEMPT + 1];

	if (n < 10 || n > MAX_SAMPLES) {
		fprintf(stderr, "bench_pressure: allocations per pair must be in 10..%d\n",
			MAX_SAMPLES);
		return 2;
	}
	printf("mempool_alloc(GFP_NOIO) latency under pressure, %ld allocations per policy pair, "
	       "microseconds\n\n",
	       n);
	printf("| mempool, throttle | p50 | p99 | p99.9 | max | backing | pool | waits "
	       "| timed |\n");
	printf("|---|---|---|---|---|---|---|---|---|\n");
	for (unsigned t = 0; t <= RSV_THROTTLE_LESS_THROTTLE_EXEMPT; t++)
		for (unsigned m = 0; m <= RSV_MEMPOOL_POOL_FIRST; m++)
			if (one(m, t, n, &p[m][t]))
				return 1;
	/* 2016's kernel (f9054c70d28b's mempool, throttle_vm_writeout()) against today's. */
	printf("\np99.9: 2016's kernel (2016, throttle-vm-writeout) %.1f us, today's (upstream, "
	       "reclaim-throttle) %.1f us: %.1fx (goal: at least 100x)\n",
	       p[RSV_MEMPOOL_2016][RSV_THROTTLE_VM_WRITEOUT],
	       p[RSV_MEMPOOL_UPSTREAM][RSV_THROTTLE_RECLAIM],
	       p[RSV_MEMPOOL_2016][RSV_THROTTLE_VM_WRITEOUT] /
		       (p[RSV_MEMPOOL_UPSTREAM][RSV_THROTTLE_RECLAIM] > 0
				? p[RSV_MEMPOOL_UPSTREAM][RSV_THROTTLE_RECLAIM]
				: 1e-3));
	return 0;
}
