/* bench_slab: object allocation beside the C heap allocators, in one run.
 *
 * Single task: ns per alloc/free pair of kmalloc(64), kmalloc(256), a 64-byte slab cache and
 * a mempool over it, beside malloc/free of the same sizes from glibc, jemalloc, mimalloc and
 * tcmalloc, each loaded with dlopen() from its Debian package (absent ones are skipped).
 * Two tasks: one allocates 64-byte objects and hands them over a ring to another that frees
 * them, the I/O completion pattern. Each figure is the best of ROUNDS rounds taken in turn, so
 * that noise on this shared machine hits every allocator alike; ratios are against mimalloc.
 *
 *   bench_slab [pairs-per-round]
 */
#include <dlfcn.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <reservoir.h>
#include <reservoir/lockdep.h>
#include "bench.h"

#define ROUNDS 7
#define RING 256
#define MAX_ENTRIES 32

/* ---- the allocators ---- */

struct heap {
	const char *name;
	void *(*alloc)(size_t);
	void (*free)(void *);
};

static struct heap heaps[4];
static unsigned nr_heaps;

static void load_heap(const char *name, const char *lib, const char *alloc, const char *free_fn)
{
	struct heap *hp = &heaps[nr_heaps];
	void *h = lib ? dlopen(lib, RTLD_NOW | RTLD_LOCAL) : NULL;

	if (lib && !h) {
		printf("  (%s not measured: %s)\n", name, dlerror());
		return;
	}
	hp->name = name;
	if (!lib) {
		hp->alloc = malloc;
		hp->free = free;
	} else {
		*(void **)&hp->alloc = dlsym(h, alloc);
		*(void **)&hp->free = dlsym(h, free_fn);
	}
	if (hp->alloc && hp->free)
		nr_heaps++;
}

/* jemalloc's TLS is initial-exec: dlopen() needs room in the static TLS block, which glibc
 * grants only at start-up. Ask for it once by re-running with the tunable set. */
static void make_room_for_jemalloc(char **argv)
{
	if (getenv("GLIBC_TUNABLES"))
		return;
	setenv("GLIBC_TUNABLES", "glibc.rtld.optional_static_tls=65536", 1);
	execv("/proc/self/exe", argv);
}

static struct rsv_system *sys;
static struct rsv_kmem_cache *cache64;
static struct rsv_mempool *pool64;

enum kind { K_KMALLOC, K_CACHE, K_MEMPOOL, K_HEAP };

struct entry {
	char label[48];
	enum kind kind;
	size_t size;
	const struct heap *heap;
	double best;
};

static struct entry entries[MAX_ENTRIES];
static unsigned nr_entries;

static void add(enum kind k, size_t size, const struct heap *h, const char *label)
{
	struct entry *e = &entries[nr_entries++];

	if (nr_entries > MAX_ENTRIES)
		abort();

	*e = (struct entry){ .kind = k, .size = size, .heap = h, .best = 1e30 };
	snprintf(e->label, sizeof(e->label), "%s", label);
}

/* ---- one task: alloc/free pairs ---- */

static double pairs(const struct entry *e, long n)
{
	uint64_t t0 = now_ns();

	switch (e->kind) {
	case K_KMALLOC:
		for (long i = 0; i < n; i++) {
			void *p = rsv_kmalloc(e->size, RSV_GFP_KERNEL);

			escape(p);
			rsv_kfree(p);
		}
		break;
	case K_CACHE:
		for (long i = 0; i < n; i++) {
			void *p = rsv_kmem_cache_alloc(cache64, RSV_GFP_KERNEL);

			escape(p);
			rsv_kmem_cache_free(cache64, p);
		}
		break;
	case K_MEMPOOL:
		for (long i = 0; i < n; i++) {
			void *p = rsv_mempool_alloc(pool64, RSV_GFP_KERNEL);

			escape(p);
			rsv_mempool_free(p, pool64);
		}
		break;
	case K_HEAP:
		for (long i = 0; i < n; i++) {
			void *p = e->heap->alloc(e->size);

			escape(p);
			e->heap->free(p);
		}
		break;
	}
	return (double)(now_ns() - t0) / (double)n;
}

/* ---- two tasks: one allocates, the other frees ---- */

struct handoff {
	const struct entry *e;
	long n;
	_Atomic unsigned long head, tail; /* head: written by the producer */
	void *ring[RING];
};

static void *produce(struct handoff *h)
{
	const struct entry *e = h->e;

	for (long i = 0; i < h->n; i++) {
		unsigned long head = atomic_load_explicit(&h->head, memory_order_relaxed);
		void *p;

		while (head - atomic_load_explicit(&h->tail, memory_order_acquire) == RING)
			__builtin_ia32_pause();
		p = e->kind == K_HEAP ? e->heap->alloc(e->size)
				      : rsv_kmem_cache_alloc(cache64, RSV_GFP_KERNEL);
		h->ring[head % RING] = p;
		atomic_store_explicit(&h->head, head + 1, memory_order_release);
	}
	return NULL;
}

static void *consume(void *arg)
{
	struct handoff *h = arg;
	const struct entry *e = h->e;

	if (e->kind != K_HEAP)
		rsv_task_attach(sys, "completion");
	for (long i = 0; i < h->n; i++) {
		unsigned long tail = atomic_load_explicit(&h->tail, memory_order_relaxed);
		void *p;

		while (atomic_load_explicit(&h->head, memory_order_acquire) == tail)
			__builtin_ia32_pause();
		p = h->ring[tail % RING];
		atomic_store_explicit(&h->tail, tail + 1, memory_order_release);
		if (e->kind == K_HEAP)
			e->heap->free(p);
		else
			rsv_kmem_cache_free(cache64, p);
	}
	if (e->kind != K_HEAP)
		rsv_task_detach();
	return NULL;
}

static double handoff(const struct entry *e, long n)
{
	static struct handoff h;
	pthread_t consumer;
	uint64_t t0;

	memset(&h, 0, sizeof(h));
	h.e = e;
	h.n = n;
	t0 = now_ns();
	pthread_create(&consumer, NULL, consume, &h);
	produce(&h);
	pthread_join(consumer, NULL);
	return (double)(now_ns() - t0) / (double)n;
}

/* ---- report ---- */

static const struct entry *find(const char *label)
{
	for (unsigned i = 0; i < nr_entries; i++)
		if (!strcmp(entries[i].label, label))
			return &entries[i];
	return NULL;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	unsigned singles, i;

	make_room_for_jemalloc(argv);
	printf("bench_slab: %ld pairs per round, best of %d rounds\n", n, ROUNDS);
	load_heap("glibc", NULL, "malloc", "free");
	load_heap("jemalloc", "libjemalloc.so.2", "malloc", "free");
	load_heap("mimalloc", "libmimalloc.so.2", "mi_malloc", "mi_free");
	load_heap("tcmalloc", "libtcmalloc_minimal.so.4", "tc_malloc", "tc_free");

	sys = rsv_system_create(&(struct rsv_system_config){ .nr_pages = 16384,
							     .backend = RSV_BACKEND_OS });
	/* RSV_BENCH_LOCKDEP=1: the dependency checker on, to price it (docs/design.md). */
	if (sys && getenv("RSV_BENCH_LOCKDEP") && rsv_lockdep_enable(sys))
		return 1;
	if (!sys || !rsv_task_attach(sys, "bench"))
		return 1;
	cache64 = rsv_kmem_cache_create(sys, "bench-64", 64, 0, 0, NULL);
	pool64 = rsv_mempool_create_slab_pool(sys, 16, cache64);
	if (!cache64 || !pool64)
		return 1;
	add(K_KMALLOC, 64, NULL, "rsv_kmalloc 64");
	add(K_CACHE, 64, NULL, "rsv_kmem_cache 64");
	add(K_MEMPOOL, 64, NULL, "rsv_mempool 64");
	for (i = 0; i < nr_heaps; i++) {
		char label[48];

		snprintf(label, sizeof(label), "%s 64", heaps[i].name);
		add(K_HEAP, 64, &heaps[i], label);
	}
	add(K_KMALLOC, 256, NULL, "rsv_kmalloc 256");
	for (i = 0; i < nr_heaps; i++) {
		char label[48];

		snprintf(label, sizeof(label), "%s 256", heaps[i].name);
		add(K_HEAP, 256, &heaps[i], label);
	}
	singles = nr_entries;
	add(K_CACHE, 64, NULL, "rsv_kmem_cache handoff");
	for (i = 0; i < nr_heaps; i++) {
		char label[48];

		snprintf(label, sizeof(label), "%s handoff", heaps[i].name);
		add(K_HEAP, 64, &heaps[i], label);
	}

	for (int r = 0; r < ROUNDS; r++) {
		for (i = 0; i < nr_entries; i++) {
			double ns = i < singles ? pairs(&entries[i], n)
						: handoff(&entries[i], n / 4);

			if (ns < entries[i].best)
				entries[i].best = ns;
		}
	}
	printf("\none task, alloc/free pairs (ns per pair)\n");
	for (i = 0; i < singles; i++) {
		const struct entry *m = find(entries[i].size == 256 ? "mimalloc 256"
								    : "mimalloc 64");

		printf("  %-26s %7.2f ns", entries[i].label, entries[i].best);
		if (m)
			printf("   x%.2f vs mimalloc", entries[i].best / m->best);
		printf("\n");
	}
	printf("\ntwo tasks, one allocates 64 bytes, the other frees (ns per object)\n");
	for (; i < nr_entries; i++) {
		const struct entry *m = find("mimalloc handoff");

		printf("  %-26s %7.2f ns", entries[i].label, entries[i].best);
		if (m)
			printf("   x%.2f vs mimalloc", entries[i].best / m->best);
		printf("\n");
	}
	rsv_mempool_destroy(pool64);
	rsv_kmem_cache_destroy(cache64);
	rsv_task_detach();
	rsv_system_destroy(sys);
	return 0;
}
