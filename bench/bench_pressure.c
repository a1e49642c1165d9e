/* bench_pressure: how long mempool_alloc() takes under memory pressure, policy by policy, on
 * real threads: the seed threads' argument in numbers.
 *
 * Two writers dirty page cache on a 5 ms disk as fast as they may, with a hog holding half the
 * arena, so that free memory sits at the min watermark, kswapd and direct reclaim are busy and
 * writeback is over the dirty limit. An I/O-path task meanwhile takes an element of a page
 * pool with GFP_NOIO, holds it 100 us, as a request does, and gives it back, timing each
 * allocation. policy under every throttle policy it prints the latency
 * percentiles (p50, p99, p99.9, max) and how the allocations were served. NeilBrown's point in
 * "Re: [RFC PATCH 2/2] mm, mempool: do not throttle PF_LESS_THROTTLE tasks" (July 2016) was
 * that a pool's user must never sleep in reclaim throttling while the pool has elements.
 *
 *   bench_pressure [allocations per policy pair, default 2000] */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir.h>
#include <reservoir/harness.h>

#define MAX_SAMPLES 100000
#define MAX_HOG 4096

#define WINDOW 64           /* requests in flight: more than the pool's 16, as a busy kcryptd has */
#define IO_NS (1000 * 1000) /* each request's I/O, after which its completion frees it */

struct run {
	struct rsv_mapping *file;
	struct rsv_mempool *pool;
	long n;
	uint64_t *lat;
	_Atomic bool stop;
	_Atomic long dirtied;
	/* Requests in flight: the I/O path submits, the completer frees after IO_NS. */
	struct rsv_page *ring[WINDOW];
	uint64_t due[WINDOW];
	_Atomic long head, tail;
	struct rsv_waitqueue room, work;
};

static int writer(void *arg)
{
	struct run *r = arg;
	static _Atomic uint64_t next_index;

	while (!atomic_load(&r->stop)) {
		struct rsv_page *p = rsv_mapping_add_page(r->file, RSV_GFP_KERNEL,
							  atomic_fetch_add(&next_index, 1));

		if (p) {
			rsv_page_mark_dirty(p);
			atomic_fetch_add(&r->dirtied, 1);
		}
		rsv_balance_dirty_pages_ratelimited(r->file);
	}
	return 0;
}

/* Submits requests, each with a pool element, keeping up to WINDOW in flight. */
static int io_path(void *arg)
{
	struct run *r = arg;

	/* Memory short first: wait for the writers to have dirtied a good part of it. */
	while (atomic_load(&r->dirtied) < 600)
		rsv_msleep(1);
	for (long i = 0; i < r->n; i++) {
		uint64_t t0;
		struct rsv_page *e;
		long head = atomic_load(&r->head);

		rsv_wait_event(&r->room, head - atomic_load(&r->tail) < WINDOW);
		t0 = rsv_now();
		e = rsv_mempool_alloc(r->pool, RSV_GFP_NOIO);
		r->lat[i] = rsv_now() - t0;
		r->ring[head % WINDOW] = e;
		r->due[head % WINDOW] = rsv_now() + IO_NS;
		atomic_store(&r->head, head + 1);
		rsv_wake_up(&r->work);
	}
	atomic_store(&r->stop, true);
	rsv_wake_up(&r->work);
	return 0;
}

/* The device's completions: each request's element back to the pool once its I/O is done. */
static int completer(void *arg)
{
	struct run *r = arg;

	for (;;) {
		long tail = atomic_load(&r->tail);
		uint64_t now;

		rsv_wait_event(&r->work, atomic_load(&r->head) > tail || atomic_load(&r->stop));
		if (atomic_load(&r->head) == tail)
			break; /* stopped, nothing in flight */
		now = rsv_now();
		if (r->due[tail % WINDOW] > now)
			rsv_sleep_ns(r->due[tail % WINDOW] - now);
		rsv_mempool_free(r->ring[tail % WINDOW], r->pool);
		atomic_store(&r->tail, tail + 1);
		rsv_wake_up(&r->room);
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
	struct rsv_bdev *disk;
	struct rsv_mempool_stats st;
	struct rsv_page *hog[MAX_HOG];
	struct rsv_watermarks wm;
	struct run r = { .n = n };
	unsigned nr_hog = 0;
	char name[96];

	pol.value[RSV_POLICY_MEMPOOL] = (unsigned char)mempool;
	pol.value[RSV_POLICY_THROTTLE] = (unsigned char)throttle;
	sys = rsv_system_create(&(struct rsv_system_config){ .backend = RSV_BACKEND_OS,
							     .nr_pages = 4096,
							     .dirty_thresh_pages = 200,
							     .policy = pol });
	if (!sys || !(r.lat = calloc((size_t)n, sizeof(*r.lat)))) {
		fprintf(stderr, "bench_pressure: %s\n", rsv_system_create_error());
		return -1;
	}
	rsv_task_attach(sys, "setup");
	/* A 5 ms disk, as scenario s2's: writeback stays over the dirty limit for a while. */
	disk = rsv_ramdev_create(sys, "disk", 1u << 20, 5 * RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	r.file = disk ? rsv_mapping_create(sys, RSV_MAPPING_FILE, "file", disk, 0) : NULL;
	r.pool = rsv_mempool_create_page_pool(sys, 16, 0);
	rsv_waitqueue_init(&r.room, "room in flight");
	rsv_waitqueue_init(&r.work, "completions");
	/* Memory held down to a little above min: what the writers dirty comes out of that. */
	rsv_system_watermarks(sys, &wm);
	while (nr_hog < MAX_HOG && rsv_system_free_pages(sys) > wm.min + 256 &&
	       (hog[nr_hog] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
		nr_hog++;
	rsv_task_detach();
	if (!r.file || !r.pool)
		return -1;
	if (!rsv_task_create(sys, "writer", writer, &r) ||
	    !rsv_task_create(sys, "writer", writer, &r) ||
	    !rsv_task_create(sys, "io path", io_path, &r) ||
	    !rsv_task_create(sys, "completions", completer, &r))
		return -1;
	atomic_store(&r.stop, false);
	rsv_system_run(sys);
	rsv_mempool_stats(r.pool, &st);
	qsort(r.lat, (size_t)n, sizeof(*r.lat), by_value);
	snprintf(name, sizeof(name), "%s, %s", rsv_policy_value_name(RSV_POLICY_MEMPOOL, mempool),
		 rsv_policy_value_name(RSV_POLICY_THROTTLE, throttle));
	*p999 = pct(r.lat, n, 0.999);
	printf("| %-44s | %9.1f | %9.1f | %9.1f | %9.1f | %6llu | %6llu | %5llu |\n", name,
	       pct(r.lat, n, 0.5), pct(r.lat, n, 0.99), *p999, (double)r.lat[n - 1] / 1000.0,
	       (unsigned long long)st.from_backing, (unsigned long long)st.from_pool,
	       (unsigned long long)st.waits);
	fflush(stdout);
	rsv_task_attach(sys, "teardown");
	while (nr_hog)
		rsv_free_pages(hog[--nr_hog], 0);
	rsv_mempool_destroy(r.pool);
	rsv_mapping_destroy(r.file);
	rsv_task_detach();
	rsv_system_destroy(sys);
	free(r.lat);
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
	printf("| mempool, throttle | p50 | p99 | p99.9 | max | backing | pool | waits |\n");
	printf("|---|---|---|---|---|---|---|---|\n");
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
