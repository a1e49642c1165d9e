/* allocbench: one allocator's figures for every workload, in a process of its own, so that
 * every allocator runs the same code the same way. The C heap's allocators are measured
 * through plain malloc() and free() calls, whichever library LD_PRELOAD put behind them (glibc
 * when none: bench/run.sh runs jemalloc, mimalloc and tcmalloc so, and reservoir's drop-in);
 * reservoir's own API is measured by direct calls, chosen with --api.
 *
 *   allocbench [--api malloc|kmalloc|cache|mempool|page] [--scale S] [--callgrind]
 *
 * It prints one line per workload, "NAME<TAB>NS_PER_OP<TAB>OPS", and for the Pareto workload
 * also "pareto-frag<TAB>PEAK_RSS/PEAK_LIVE". A workload an API cannot run (variable sizes for
 * a fixed-size cache) prints "-". With --callgrind (run under valgrind --tool=callgrind
 * --collect-atstart=no) each workload's instructions are collected alone and dumped under its
 * name, for bench/run.sh to divide by its operations. --scale multiplies the operations
 * (default 1; callgrind runs use a small one). ALLOCBENCH_SIM=1 puts reservoir's system on the
 * simulator, as --callgrind does, for profiling with callgrind's own options. */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <valgrind/callgrind.h>
#include <reservoir.h>
#include "bench.h"

enum api { API_MALLOC, API_KMALLOC, API_CACHE, API_MEMPOOL, API_PAGE };
static const char *const api_names[] = { "malloc", "kmalloc", "cache", "mempool", "page" };

static enum api api;
static bool callgrind;
static double scale = 1.0;

/* ---- reservoir's side: one system, a cache and a pool per size ---- */

#define NR_SIZES 5
static const size_t sizes[NR_SIZES] = { 16, 64, 256, 1024, 4096 };
static struct rsv_system *sys;
static struct rsv_kmem_cache *caches[NR_SIZES];
static struct rsv_mempool *pools[NR_SIZES];

static int size_index(size_t size)
{
	for (int i = 0; i < NR_SIZES; i++)
		if (sizes[i] == size)
			return i;
	return -1;
}

static void rsv_setup(void)
{
	/* 256 MiB: the workloads' peak live memory, with room; the same for every API. Under
	 * callgrind the simulator's: valgrind lacks membarrier(), so on real threads the per-task
	 * caches would fall back to their spinlock and the count would not be the fast path's.
	 * The attached task allocates without ever needing to sleep, as the simulator allows. */
	sys = rsv_system_create(&(struct rsv_system_config){
		.backend = callgrind || getenv("ALLOCBENCH_SIM") ? RSV_BACKEND_SIM : RSV_BACKEND_OS,
		.nr_pages = 65536 });
	if (!sys || !rsv_task_attach(sys, "bench")) {
		fprintf(stderr, "allocbench: no reservoir system: %s\n", rsv_system_create_error());
		exit(1);
	}
	for (int i = 0; i < NR_SIZES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "bench-%zu", sizes[i]);
		caches[i] = rsv_kmem_cache_create(sys, name, sizes[i], 0, 0, NULL);
		pools[i] = caches[i] ? rsv_mempool_create_slab_pool(sys, 16, caches[i]) : NULL;
		if (!pools[i])
			exit(1);
	}
}

static void thread_enter(void)
{
	if (api != API_MALLOC && !rsv_task_current())
		rsv_task_attach(sys, "bench worker");
}

static void thread_exit(void)
{
	if (api != API_MALLOC)
		rsv_task_detach();
}

/* The cache and pool of the size a fixed-size workload uses, chosen before its loop (a kernel
 * caller holds its cache pointer; looking it up per call would charge the lookup to the cache). */
static int cur = -1;

static void use_size(size_t size)
{
	cur = size_index(size);
}

/* Every API behind one pair of calls; @size is known at free, as a kernel caller knows it. */
static inline void *a_alloc(size_t size)
{
	switch (api) {
	case API_MALLOC:
		return malloc(size);
	case API_KMALLOC:
		return rsv_kmalloc(size, RSV_GFP_KERNEL);
	case API_CACHE:
		return rsv_kmem_cache_alloc(caches[cur], RSV_GFP_KERNEL);
	case API_MEMPOOL:
		return rsv_mempool_alloc(pools[cur], RSV_GFP_KERNEL);
	case API_PAGE:
		return rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	}
	return NULL;
}

static inline void a_free(void *p, size_t size)
{
	switch (api) {
	case API_MALLOC:
		free(p);
		break;
	case API_KMALLOC:
		rsv_kfree(p);
		break;
	case API_CACHE:
		rsv_kmem_cache_free(caches[cur], p);
		break;
	case API_MEMPOOL:
		rsv_mempool_free(p, pools[cur]);
		break;
	case API_PAGE:
		rsv_free_pages(p, 0);
		break;
	}
}

/* Which sizes an API serves: pages only 4096; every other API every size of the list. */
static bool serves(size_t size)
{
	return api == API_PAGE ? size == 4096 : true;
}

/* ---- reporting ---- */

static void report(const char *name, double ns, long ops)
{
	printf("%s\t%.3f\t%ld\n", name, ns, ops);
	fflush(stdout);
}

static void skip(const char *name)
{
	printf("%s\t-\t0\n", name);
}

static long ops_of(long n)
{
	long v = (long)((double)n * scale);

	return v < 1 ? 1 : v;
}

/* Runs @fn(@arg) as workload @name: timed, or alone under callgrind. */
static void measure(const char *name, double (*fn)(void *arg, long n), void *arg, long n)
{
	double ns;

	if (callgrind) {
		CALLGRIND_ZERO_STATS;
		CALLGRIND_TOGGLE_COLLECT;
	}
	ns = fn(arg, n);
	if (callgrind) {
		CALLGRIND_TOGGLE_COLLECT;
		CALLGRIND_DUMP_STATS_AT(name);
	}
	report(name, ns, n);
}

/* ---- workloads ---- */

static double w_pair(void *arg, long n)
{
	size_t size = *(size_t *)arg;
	uint64_t t0;

	use_size(size);
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		void *p = a_alloc(size);

		escape(p);
		a_free(p, size);
	}
	return (double)(now_ns() - t0) / (double)n;
}

#define BATCH 256

struct batch {
	size_t size;
	bool lifo;
};

/* BATCH allocations, then BATCH frees, in order (FIFO) or in reverse (LIFO): ns per pair. */
static double w_batch(void *arg, long n)
{
	struct batch *b = arg;
	void *p[BATCH];
	long rounds = n / BATCH;
	uint64_t t0;

	use_size(b->size);
	t0 = now_ns();

	for (long r = 0; r < rounds; r++) {
		for (int i = 0; i < BATCH; i++)
			escape(p[i] = a_alloc(b->size));
		if (b->lifo)
			for (int i = BATCH - 1; i >= 0; i--)
				a_free(p[i], b->size);
		else
			for (int i = 0; i < BATCH; i++)
				a_free(p[i], b->size);
	}
	return (double)(now_ns() - t0) / (double)(rounds * BATCH);
}

/* Random sizes from a Pareto distribution (x_m 16 bytes, alpha 1.2, capped at 8 KiB: many
 * small objects, a heavy tail), 4096 live slots replaced at random; the bytes are touched, as a
 * program would. Also the fragmentation: peak resident memory over peak live bytes. */
#define SLOTS 4096
static double frag;

static long rss_bytes(void)
{
	long pages = 0, resident = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &resident) != 2)
			resident = 0;
		fclose(f);
	}
	return resident * sysconf(_SC_PAGESIZE);
}

static double w_pareto(void *arg, long n)
{
	static void *slot[SLOTS];
	static size_t slot_size[SLOTS];
	uint64_t x = 0x9e3779b97f4a7c15ULL, t0;
	long live = 0, peak_live = 0, peak_rss = 0, base = rss_bytes();
	double ns;

	(void)arg;
	memset(slot, 0, sizeof(slot));
	t0 = now_ns();
	for (long i = 0; i < n; i++) {
		unsigned k;
		double u;
		size_t size;

		x ^= x << 13, x ^= x >> 7, x ^= x << 17; /* xorshift: the same sizes every run */
		k = (unsigned)(x % SLOTS);
		u = (double)((x >> 11) & ((1ULL << 52) - 1)) / (double)(1ULL << 52);
		size = (size_t)(16.0 / pow(1.0 - u, 1.0 / 1.2));
		if (size > 8192)
			size = 8192;
		if (slot[k]) {
			a_free(slot[k], slot_size[k]);
			live -= (long)slot_size[k];
		}
		slot[k] = a_alloc(size);
		slot_size[k] = size;
		memset(slot[k], (int)i, size < 64 ? size : 64);
		live += (long)size;
		if (live > peak_live)
			peak_live = live;
		if ((i & 4095) == 0 && rss_bytes() - base > peak_rss)
			peak_rss = rss_bytes() - base;
	}
	ns = (double)(now_ns() - t0) / (double)n;
	if (rss_bytes() - base > peak_rss)
		peak_rss = rss_bytes() - base;
	for (unsigned k = 0; k < SLOTS; k++)
		if (slot[k])
			a_free(slot[k], slot_size[k]);
	frag = peak_live ? (double)peak_rss / (double)peak_live : 0;
	return ns;
}

/* The I/O completion pattern: one thread allocates 64-byte objects and hands them over a ring
 * to another that frees them. */
#define RING 256

struct handoff {
	long n;
	_Atomic unsigned long head, tail;
	void *ring[RING];
};

static void *consume(void *arg)
{
	struct handoff *h = arg;

	thread_enter();
	for (long i = 0; i < h->n; i++) {
		unsigned long tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
		void *p;

		while (atomic_load_explicit(&h->head, memory_order_acquire) == tail)
			__builtin_ia32_pause();
		p = h->ring[tail % RING];
		atomic_store_explicit(&h->tail, tail + 1, memory_order_release);
		a_free(p, 64);
	}
	thread_exit();
	return NULL;
}

static double w_completion(void *arg, long n)
{
	static struct handoff h;
	pthread_t consumer;
	uint64_t t0;

	(void)arg;
	use_size(64);
	memset(&h, 0, sizeof(h));
	h.n = n;
	t0 = now_ns();
	pthread_create(&consumer, NULL, consume, &h);
	for (long i = 0; i < n; i++) {
		unsigned long head = atomic_load_explicit(&h.head, memory_order_relaxed);

		while (head - atomic_load_explicit(&h.tail, memory_order_acquire) == RING)
			__builtin_ia32_pause();
		h.ring[head % RING] = a_alloc(64);
		atomic_store_explicit(&h.head, head + 1, memory_order_release);
	}
	pthread_join(consumer, NULL);
	return (double)(now_ns() - t0) / (double)n;
}

/* T threads, each its own 64-byte pairs: ns per pair per thread (flat is perfect scaling). */
struct threads {
	int nr;
	long n;
	_Atomic int ready;
	_Atomic bool go;
};

static void *pair_thread(void *arg)
{
	struct threads *t = arg;
	size_t size = 64;

	thread_enter();
	atomic_fetch_add(&t->ready, 1);
	while (!atomic_load(&t->go))
		__builtin_ia32_pause();
	w_pair(&size, t->n);
	thread_exit();
	return NULL;
}

static double w_threads(void *arg, long n)
{
	struct threads *t = arg;
	pthread_t th[64];
	uint64_t t0;

	t->n = n;
	atomic_store(&t->ready, 0);
	atomic_store(&t->go, false);
	for (int i = 0; i < t->nr; i++)
		pthread_create(&th[i], NULL, pair_thread, t);
	while (atomic_load(&t->ready) < t->nr)
		__builtin_ia32_pause();
	t0 = now_ns();
	atomic_store(&t->go, true);
	for (int i = 0; i < t->nr; i++)
		pthread_join(th[i], NULL);
	return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--api") && i + 1 < argc) {
			const char *v = argv[++i];
			unsigned k;

			for (k = 0; k < sizeof(api_names) / sizeof(api_names[0]); k++)
				if (!strcmp(v, api_names[k]))
					break;
			if (k == sizeof(api_names) / sizeof(api_names[0])) {
				fprintf(stderr,
					"allocbench: unknown api '%s' (valid: malloc, kmalloc, "
					"cache, mempool, page)\n",
					v);
				return 2;
			}
			api = (enum api)k;
		} else if (!strcmp(argv[i], "--scale") && i + 1 < argc) {
			char *end;

			errno = 0;
			scale = strtod(argv[++i], &end);
			if (errno || *end || !(scale > 0) || scale > 1000) {
				fprintf(stderr,
					"allocbench: --scale '%s' is not a number in (0, 1000]\n",
					argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--callgrind")) {
			callgrind = true;
		} else {
			fprintf(stderr,
				"usage: allocbench [--api malloc|kmalloc|cache|mempool|page] "
				"[--scale S] [--callgrind]\n");
			return 2;
		}
	}
	if (api != API_MALLOC)
		rsv_setup();

	for (int i = 0; i < NR_SIZES; i++) {
		char name[32];
		size_t size = sizes[i];

		snprintf(name, sizeof(name), "pair-%zu", size);
		if (serves(size))
			measure(name, w_pair, &size, ops_of(4000000));
		else
			skip(name);
	}
	for (int lifo = 0; lifo < 2; lifo++) {
		struct batch b = { .size = 64, .lifo = lifo };
		const char *name = lifo ? "batch-lifo-64" : "batch-fifo-64";

		if (api == API_PAGE)
			skip(name);
		else
			measure(name, w_batch, &b, ops_of(2000000));
	}
	if (api == API_MALLOC || api == API_KMALLOC) {
		measure("pareto", w_pareto, NULL, ops_of(1000000));
		printf("pareto-frag\t%.3f\t0\n", frag);
	} else {
		skip("pareto");
		skip("pareto-frag");
	}
	/* Under callgrind, threads run one at a time and the handoff's spinning would be counted
	 * as the allocator's, and a new thread does not inherit the collection state: the
	 * threaded workloads are timed only. */
	if (api == API_PAGE || callgrind)
		skip("completion-64");
	else
		measure("completion-64", w_completion, NULL, ops_of(1000000));
	{
		long cpus = sysconf(_SC_NPROCESSORS_ONLN);

		for (int t = 1; t <= cpus && t <= 64; t *= 2) {
			struct threads th = { .nr = t };
			char name[32];

			snprintf(name, sizeof(name), "threads-%d", t);
			if (api == API_PAGE || callgrind)
				skip(name);
			else
				measure(name, w_threads, &th, ops_of(2000000));
		}
	}
	if (sys) {
		for (int i = 0; i < NR_SIZES; i++) {
			rsv_mempool_destroy(pools[i]);
			rsv_kmem_cache_destroy(caches[i]);
		}
		rsv_task_detach();
		rsv_system_destroy(sys);
	}
	return 0;
}
