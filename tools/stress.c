/* reservoir stress: real threads against every allocator at once, for a number of seconds.
 *
 * Tasks allocate and free pages (orders 0..3), kmalloc objects (8 B..8 KiB), objects of a
 * shared cache and elements of a shared mempool, with 1 % of allocations failed by fault
 * injection, holding between 90 and 110 % of the arena (so the allocator fails and reclaims
 * for real), and hand a quarter of their blocks to other tasks to free. Every block is filled
 * with a pattern derived from its address, size and the run's seed, and checked when freed.
 * Twice a second a checker stops the world (the tasks wait between operations) and proves
 * every page is accounted for. At the end everything is freed and the arena must be whole. */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "reservoir/harness.h"
#include "tool.h"

enum kind { K_PAGES, K_KMALLOC, K_CACHE, K_POOL, NR_KINDS };

struct block {
	enum kind kind;
	unsigned order; /* pages */
	size_t size;    /* bytes filled */
	void *addr;
	struct rsv_page *page;
};

#define SHARED_SLOTS 256
#define MAX_HELD 4096

struct stress {
	struct rsv_system *sys;
	struct rsv_kmem_cache *cache;
	struct rsv_mempool *pool;
	uint64_t seed, deadline_ns;
	enum kind only; /* NR_KINDS: every kind */
	long target_bytes;                 /* what the tasks together aim to hold: the arena */
	/* Stopping the world: the checker asks, tasks park between operations. A task waiting in
	 * the allocator (for a pool element others hold, say) cannot park: the checker then
	 * gives up that look rather than wait for it. */
	pthread_mutex_t world_lock;
	pthread_cond_t world_cond;
	bool stop_asked;
	unsigned parked;
	pthread_mutex_t shared_lock;
	struct block shared[SHARED_SLOTS]; /* handed over, for another task to free */
	unsigned nr_shared;
	_Atomic long held_bytes;
	_Atomic uint64_t ops, allocs, failures, cross_frees, checks, skipped_checks;
	_Atomic uint64_t corrupt, check_failures;
	_Atomic unsigned running;
	unsigned tasks;
	char first_error[256];
};

static uint64_t pattern_word(uint64_t seed, const void *addr, size_t size, size_t i)
{
	uint64_t x = seed ^ (uint64_t)(uintptr_t)addr ^ ((uint64_t)size << 32) ^
		     (i * 0x9e3779b97f4a7c15ull);

	x ^= x >> 31;
	x *= 0xbf58476d1ce4e5b9ull;
	return x ^ (x >> 29);
}

static void fill(const struct stress *st, const struct block *b)
{
	uint64_t *w = b->addr;

	for (size_t i = 0; i < b->size / 8; i++)
		w[i] = pattern_word(st->seed, b->addr, b->size, i);
}

static void report_error(struct stress *st, const char *fmt, const void *addr, size_t size)
{
	pthread_mutex_lock(&st->shared_lock);
	if (!st->first_error[0])
		snprintf(st->first_error, sizeof(st->first_error), fmt, addr, size);
	pthread_mutex_unlock(&st->shared_lock);
}

static void verify(struct stress *st, const struct block *b)
{
	const uint64_t *w = b->addr;

	for (size_t i = 0; i < b->size / 8; i++) {
		if (w[i] != pattern_word(st->seed, b->addr, b->size, i)) {
			atomic_fetch_add(&st->corrupt, 1);
			report_error(st, "block %p (%zu bytes) corrupted while held", b->addr,
				     b->size);
			return;
		}
	}
}


/* @pool_held: elements of the pool the task holds. It may wait for one only when it holds
 * none (bio_alloc_bioset's rule: holding one while waiting for another can deadlock). */
static bool alloc_block(struct stress *st, uint64_t r, struct block *b, unsigned pool_held)
{
	rsv_gfp_t gfp = (r & 1) ? RSV_GFP_NOWAIT : RSV_GFP_KERNEL | RSV___GFP_NORETRY;

	*b = (struct block){ .kind = st->only < NR_KINDS ? st->only
							 : (enum kind)((r >> 1) % NR_KINDS) };
	switch (b->kind) {
	case K_PAGES:
		b->order = (unsigned)((r >> 8) % 4);
		b->page = rsv_alloc_pages(gfp, b->order);
		b->addr = b->page ? rsv_page_address(b->page) : NULL;
		b->size = RSV_PAGE_SIZE << b->order;
		break;
	case K_KMALLOC:
		b->size = 8 + (size_t)((r >> 8) % 8184) / 8 * 8;
		b->addr = rsv_kmalloc(b->size, gfp);
		break;
	case K_CACHE:
		b->size = rsv_kmem_cache_size(st->cache);
		b->addr = rsv_kmem_cache_alloc(st->cache, gfp);
		break;
	default:
		b->size = 512;
		b->addr = rsv_mempool_alloc(st->pool, pool_held ? RSV_GFP_NOWAIT : RSV_GFP_NOIO);
		break;
	}
	return b->addr != NULL;
}

static void free_block(struct stress *st, struct block *b)
{
	verify(st, b);
	switch (b->kind) {
	case K_PAGES:
		rsv_free_pages(b->page, b->order);
		break;
	case K_KMALLOC:
		rsv_kfree(b->addr);
		break;
	case K_CACHE:
		rsv_kmem_cache_free(st->cache, b->addr);
		break;
	default:
		rsv_mempool_free(b->addr, st->pool);
		break;
	}
	atomic_fetch_sub(&st->held_bytes, (long)b->size);
}

/* A quarter of frees go to another task: put it in the shared slots, or free one from there. */
static void free_or_hand_over(struct stress *st, struct block *b, uint64_t r)
{
	struct block other;
	bool swapped = false;

	if ((r & 3) == 0) {
		pthread_mutex_lock(&st->shared_lock);
		if (st->nr_shared < SHARED_SLOTS) {
			st->shared[st->nr_shared++] = *b;
			pthread_mutex_unlock(&st->shared_lock);
			return;
		}
		other = st->shared[--st->nr_shared];
		swapped = true;
		pthread_mutex_unlock(&st->shared_lock);
	}
	if (swapped) {
		free_block(st, &other);
		atomic_fetch_add(&st->cross_frees, 1);
	}
	free_block(st, b);
}

static void park_if_asked(struct stress *st)
{
	pthread_mutex_lock(&st->world_lock);
	if (st->stop_asked) {
		st->parked++;
		pthread_cond_broadcast(&st->world_cond);
		while (st->stop_asked)
			pthread_cond_wait(&st->world_cond, &st->world_lock);
		st->parked--;
	}
	pthread_mutex_unlock(&st->world_lock);
}

static int worker(void *arg)
{
	struct stress *st = arg;
	struct block *held = calloc(MAX_HELD, sizeof(*held));
	unsigned nr = 0, pool_held = 0;
	bool refused = false; /* the last allocation failed: the arena is full, free first */

	while (held && rsv_now() < st->deadline_ns) {
		uint64_t r = rsv_task_random();
		long in_use = atomic_load(&st->held_bytes);
		bool grow = nr < MAX_HELD && !(refused && (r & 0x200)) &&
			    (in_use < st->target_bytes * 9 / 10 ||
			     (in_use < st->target_bytes * 11 / 10 && (r & 0x100)));

		park_if_asked(st);
		if (grow || !nr) {
			struct block b;

			atomic_fetch_add(&st->allocs, 1);
			if (nr < MAX_HELD && alloc_block(st, r >> 12, &b, pool_held)) {
				fill(st, &b);
				atomic_fetch_add(&st->held_bytes, (long)b.size);
				pool_held += b.kind == K_POOL;
				held[nr++] = b;
				refused = false;
			} else {
				atomic_fetch_add(&st->failures, 1);
				refused = true;
			}
		} else {
			unsigned i = (unsigned)((r >> 16) % nr);
			struct block b = held[i];

			held[i] = held[--nr];
			pool_held -= b.kind == K_POOL;
			free_or_hand_over(st, &b, r >> 40);
		}
		atomic_fetch_add(&st->ops, 1);
	}
	while (nr)
		free_block(st, &held[--nr]);
	free(held);
	pthread_mutex_lock(&st->world_lock);
	atomic_fetch_sub(&st->running, 1);
	pthread_cond_broadcast(&st->world_cond);
	pthread_mutex_unlock(&st->world_lock);
	return 0;
}

/* Asks the tasks to park; true once every running one has, false after 200 ms. */
static bool stop_world(struct stress *st)
{
	struct timespec until;
	bool all = true;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += 200 * 1000 * 1000;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&st->world_lock);
	st->stop_asked = true;
	while (st->parked < atomic_load(&st->running) && all)
		all = !pthread_cond_timedwait(&st->world_cond, &st->world_lock, &until);
	/* A task that stopped working meanwhile is flushing its caches as it exits: no check. */
	all = st->parked >= atomic_load(&st->running) && atomic_load(&st->running) == st->tasks;
	pthread_mutex_unlock(&st->world_lock);
	return all;
}

static void restart_world(struct stress *st)
{
	pthread_mutex_lock(&st->world_lock);
	st->stop_asked = false;
	pthread_cond_broadcast(&st->world_cond);
	pthread_mutex_unlock(&st->world_lock);
}

/* Stops the world twice a second: every page must be in exactly one state. A task that has
 * finished its work still flushes its caches as it exits, outside the protocol, so the
 * checks end with the first task to finish. */
static int checker(void *arg)
{
	struct stress *st = arg;

	while (atomic_load(&st->running) == st->tasks) {
		rsv_msleep(500);
		if (!stop_world(st)) {
			atomic_fetch_add(&st->skipped_checks, 1);
		} else if (rsv_system_check(st->sys, 0)) {
			atomic_fetch_add(&st->check_failures, 1);
			report_error(st, "invariant check failed %p%zu", NULL, 0);
			fprintf(stderr, "reservoir stress: %s\n", rsv_system_error(st->sys));
		} else {
			atomic_fetch_add(&st->checks, 1);
		}
		restart_world(st);
	}
	return 0;
}

static const char *const kind_names[NR_KINDS] = { "pages", "kmalloc", "cache", "pool" };

static int parse(int argc, char **argv, unsigned *seconds, unsigned *tasks, uint64_t *seed,
		 enum kind *only)
{
	for (int i = 0; i < argc; i += 2) {
		uint64_t v;

		if (i + 1 >= argc) {
			fprintf(stderr, "reservoir: option '%s' needs a value\n", argv[i]);
			return 2;
		}
		if (!strcmp(argv[i], "--only")) {
			for (*only = 0; *only < NR_KINDS && strcmp(kind_names[*only], argv[i + 1]);)
				(*only)++;
			if (*only == NR_KINDS) {
				fprintf(stderr,
					"reservoir: stress: unknown kind '%s' (valid: pages, "
					"kmalloc, cache, pool)\n",
					argv[i + 1]);
				return 2;
			}
			continue;
		}
		if (!strcmp(argv[i], "--seconds")) {
			if (rsv_tool_parse_uint("--seconds", argv[i + 1], 1, 86400, &v))
				return 2;
			*seconds = (unsigned)v;
		} else if (!strcmp(argv[i], "--tasks")) {
			if (rsv_tool_parse_uint("--tasks", argv[i + 1], 1, 64, &v))
				return 2;
			*tasks = (unsigned)v;
		} else if (!strcmp(argv[i], "--seed")) {
			if (rsv_tool_parse_seed(argv[i + 1], seed))
				return 2;
		} else {
			fprintf(stderr,
				"reservoir: stress: unknown option '%s' (valid: --seconds "
				"1..86400, --tasks 1..64, --seed N, --only KIND)\n",
				argv[i]);
			return 2;
		}
	}
	return 0;
}

static void drain_shared(struct stress *st)
{
	while (st->nr_shared)
		free_block(st, &st->shared[--st->nr_shared]);
}

int rsv_tool_stress(int argc, char **argv)
{
	unsigned seconds = 10, tasks = 4;
	enum kind only = NR_KINDS;
	uint64_t seed = 1;
	struct stress *st;
	char err[256] = "";
	int status = parse(argc, argv, &seconds, &tasks, &seed, &only);

	if (status || !(st = calloc(1, sizeof(*st))))
		return status ? status : 1;
	st->seed = seed;
	st->only = only;
	st->sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_OS, .seed = seed });
	if (!st->sys) {
		perror("reservoir: stress: cannot make the system");
		return 1;
	}
	pthread_mutex_init(&st->world_lock, NULL);
	pthread_cond_init(&st->world_cond, NULL);
	pthread_mutex_init(&st->shared_lock, NULL);
	rsv_task_attach(st->sys, "stress setup");
	st->cache = rsv_kmem_cache_create(st->sys, "stress", 200, 0, 0, NULL);
	st->pool = rsv_mempool_create_kmalloc_pool(st->sys, 16, 512);
	st->deadline_ns = rsv_now() + (uint64_t)seconds * RSV_NSEC_PER_SEC;
	rsv_task_detach();
	/* Faults only once the shared cache and pool exist: the run is about what follows. */
	if (!st->cache || !st->pool ||
	    rsv_fault_parse(st->sys, "fail_page_alloc:probability=1,times=-1,ignore_gfp_wait=0;"
			    "fail_slab:probability=1,times=-1,ignore_gfp_wait=0;"
			    "fail_mempool_alloc:probability=1,times=-1", err, sizeof(err))) {
		fprintf(stderr, "reservoir: stress: cannot set up: %s\n",
			st->cache && st->pool ? err : "no cache or pool");
		return 1;
	}
	st->target_bytes = (long)(rsv_system_nr_pages(st->sys) * RSV_PAGE_SIZE);
	st->tasks = tasks;
	atomic_store(&st->running, tasks);
	for (unsigned i = 0; i < tasks; i++)
		rsv_task_create(st->sys, "stress", worker, st);
	rsv_task_create(st->sys, "checker", checker, st);
	rsv_system_run(st->sys);
	rsv_task_attach(st->sys, "stress teardown");
	drain_shared(st);
	if (atomic_load(&st->held_bytes))
		fprintf(stderr, "reservoir stress: %ld bytes still counted as held\n",
			atomic_load(&st->held_bytes));
	rsv_mempool_destroy(st->pool);
	if (rsv_kmem_cache_destroy(st->cache))
		fprintf(stderr, "reservoir stress: the cache: %s\n", rsv_system_error(st->sys));
	rsv_slab_shrink_all(st->sys);
	rsv_task_detach();
	rsv_drain_all_pages(st->sys);
	if (rsv_system_check(st->sys, RSV_CHECK_WHOLE)) {
		report_error(st, "the arena is not whole at the end %p%zu", NULL, 0);
		fprintf(stderr, "reservoir stress: %s\n", rsv_system_error(st->sys));
		rsv_slabinfo_print(st->sys, stderr, false);
		atomic_fetch_add(&st->check_failures, 1);
	}
	printf("stress: %u s, %u tasks, seed %" PRIu64 ": %" PRIu64 " operations, %" PRIu64
	       " allocations (%" PRIu64 " failed; %" PRIu64 " injected), %" PRIu64
	       " frees by another task, %" PRIu64 " world-stopping checks (%" PRIu64
	       " skipped: a task could not park)\n",
	       seconds, tasks, seed, atomic_load(&st->ops), atomic_load(&st->allocs),
	       atomic_load(&st->failures),
	       rsv_fault_injected(st->sys, RSV_FAIL_PAGE_ALLOC) +
		       rsv_fault_injected(st->sys, RSV_FAIL_SLAB) +
		       rsv_fault_injected(st->sys, RSV_FAIL_MEMPOOL_ALLOC),
	       atomic_load(&st->cross_frees), atomic_load(&st->checks),
	       atomic_load(&st->skipped_checks));
	if (rsv_stats_get(st->sys, RSV_STAT_MISUSE)) { /* the stress misuses nothing */
		report_error(st, "the library saw misuse that was none (%p%zu)", NULL, 0);
		fprintf(stderr, "reservoir stress: %s\n", rsv_system_error(st->sys));
		atomic_fetch_add(&st->check_failures, 1);
	}
	status = atomic_load(&st->corrupt) || atomic_load(&st->check_failures);
	if (status)
		printf("stress: FAILED: %s (%" PRIu64 " corrupt blocks, %" PRIu64
		       " failed checks)\n", st->first_error, atomic_load(&st->corrupt),
		       atomic_load(&st->check_failures));
	rsv_system_destroy(st->sys);
	free(st);
	return status;
}
