/* `reservoir demo`: what the foundation can show before the seed scenarios exist.
 *
 * 1. The page allocator under pressure, the same workload on the simulator and on real
 *    threads: who failed, who dipped into the zones' reserves, and the conservation check.
 * 2. The simulator finding an ABBA deadlock among seeds, explaining it, and replaying it
 *    bit for bit from its seed. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <reservoir/harness.h>
#include "tool.h"

#define SLOTS 512
#define ROUNDS 20000

enum worker_kind { KERNEL, ATOMIC, NOWAIT, RECLAIMER, NR_KINDS };

static const char *const kind_name[NR_KINDS] = {
	[KERNEL] = "GFP_KERNEL", [ATOMIC] = "GFP_ATOMIC", [NOWAIT] = "GFP_NOWAIT",
	[RECLAIMER] = "PF_MEMALLOC",
};

struct worker {
	enum worker_kind kind;
	unsigned long allocated, failed;
};

static rsv_gfp_t gfp_of(enum worker_kind k)
{
	return k == ATOMIC ? RSV_GFP_ATOMIC : k == NOWAIT ? RSV_GFP_NOWAIT : RSV_GFP_KERNEL;
}

/* Each worker churns a working set of up to SLOTS blocks of order 0..3; four of them ask for
 * more than the 4096-page arena holds, so the watermarks decide who gets what. */
static int worker_main(void *arg)
{
	struct worker *w = arg;
	struct rsv_page *held[SLOTS] = { 0 };
	unsigned order[SLOTS] = { 0 };
	unsigned memalloc = w->kind == RECLAIMER ? rsv_memalloc_noreclaim_save() : 0;

	for (int i = 0; i < ROUNDS; i++) {
		unsigned s = (unsigned)(rsv_task_random() % SLOTS);

		if (held[s]) {
			rsv_free_pages(held[s], order[s]);
			held[s] = NULL;
		} else {
			order[s] = (unsigned)(rsv_task_random() % 4);
			held[s] = rsv_alloc_pages(gfp_of(w->kind), order[s]);
			if (held[s])
				w->allocated++;
			else
				w->failed++;
		}
		if (i % 8 == 0)
			rsv_sched_point();
	}
	for (int s = 0; s < SLOTS; s++)
		if (held[s])
			rsv_free_pages(held[s], order[s]);
	rsv_memalloc_noreclaim_restore(memalloc);
	return 0;
}

static void print_counter(struct rsv_system *sys, enum rsv_stat_item item)
{
	printf("  %-24s %8" PRIu64 "  %s\n", rsv_stat_name(item), rsv_stats_get(sys, item),
	       rsv_stat_doc(item));
}

static int pressure(enum rsv_backend backend, uint64_t seed)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = backend, .seed = seed });
	struct worker w[NR_KINDS];
	struct rsv_watermarks wm;
	enum rsv_run_result r;
	int err;

	if (!sys)
		return 1;
	rsv_system_watermarks(sys, &wm);
	for (int k = 0; k < NR_KINDS; k++) {
		w[k] = (struct worker){ .kind = (enum worker_kind)k };
		rsv_task_create(sys, kind_name[k], worker_main, &w[k]);
	}
	r = rsv_system_run(sys);
	printf("\n%s backend (seed %" PRIu64 "): %s. Arena 4096 pages, min/low/high %lu/%lu/%lu.\n",
	       backend == RSV_BACKEND_SIM ? "sim" : "os", seed, rsv_run_result_name(r), wm.min,
	       wm.low, wm.high);
	for (int k = 0; k < NR_KINDS; k++)
		printf("  %-12s allocated %6lu  failed %6lu\n", kind_name[k], w[k].allocated,
		       w[k].failed);
	for (enum rsv_stat_item i = RSV_STAT_ALLOC_SLOW; i <= RSV_STAT_BELOW_MIN_NOFAIL; i++)
		if (rsv_stats_get(sys, i))
			print_counter(sys, i);
	if (backend == RSV_BACKEND_SIM)
		printf("  %" PRIu64 " scheduling decisions, trace hash %016" PRIx64 "\n",
		       rsv_platform_decisions(rsv_system_platform(sys)),
		       rsv_platform_trace_hash(rsv_system_platform(sys)));
	err = rsv_system_check(sys, RSV_CHECK_WHOLE);
	printf("  every page accounted for, arena whole again: %s%s\n", err ? "NO: " : "yes",
	       err ? rsv_system_error(sys) : "");
	rsv_system_destroy(sys);
	return err || r != RSV_RUN_DONE;
}

/* ---- reclaim: four tasks living off a page cache ---- */

#define CACHE_PAGES 3000
#define CACHE_WORKERS 4
#define CACHE_ROUNDS 20
#define CACHE_HOLD 300

/* Each round allocates CACHE_HOLD pages with GFP_KERNEL, touches the cache, then frees. */
static int cache_worker(void *arg)
{
	unsigned long *failed = arg;
	struct rsv_page *held[CACHE_HOLD];

	for (int r = 0; r < CACHE_ROUNDS; r++) {
		for (int i = 0; i < CACHE_HOLD; i++)
			if (!(held[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0)))
				(*failed)++;
		rsv_msleep(1);
		for (int i = 0; i < CACHE_HOLD; i++)
			if (held[i])
				rsv_free_pages(held[i], 0);
	}
	return 0;
}

static int reclaim_workload(enum rsv_backend backend, uint64_t seed)
{
	static const enum rsv_stat_item shown[] = {
		RSV_STAT_KSWAPD_WAKEUP,
		RSV_STAT_KSWAPD_RECLAIM,
		RSV_STAT_DIRECT_RECLAIM,
		RSV_STAT_PGSCAN,
		RSV_STAT_PGSTEAL,
		RSV_STAT_THROTTLE_DIRECT,
		RSV_STAT_THROTTLE_WRITEBACK,
		RSV_STAT_THROTTLE_ISOLATED,
		RSV_STAT_THROTTLE_NOPROGRESS,
		RSV_STAT_THROTTLE_CONGESTED,
		RSV_STAT_OOM_KILL,
	};
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = backend, .seed = seed });
	unsigned long failed[CACHE_WORKERS] = { 0 }, total = 0;
	struct rsv_mapping *cache;
	enum rsv_run_result r;
	int err;

	if (!sys || !rsv_task_attach(sys, "setup"))
		return 1;
	cache = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", NULL, 0);
	for (int i = 0; i < CACHE_PAGES; i++)
		rsv_mapping_add_page(cache, RSV_GFP_KERNEL, (uint64_t)i);
	rsv_task_detach();
	for (int i = 0; i < CACHE_WORKERS; i++)
		rsv_task_create(sys, "worker", cache_worker, &failed[i]);
	r = rsv_system_run(sys);
	for (int i = 0; i < CACHE_WORKERS; i++)
		total += failed[i];
	printf("\n%s backend (seed %" PRIu64 "): %s. %d tasks x %d rounds of %d pages against a "
	       "%d-page clean cache;\n  failed allocations %lu, cache left %lu pages\n",
	       backend == RSV_BACKEND_SIM ? "sim" : "os", seed, rsv_run_result_name(r),
	       CACHE_WORKERS, CACHE_ROUNDS, CACHE_HOLD, CACHE_PAGES, total,
	       rsv_mapping_nr_pages(cache));
	for (size_t i = 0; i < sizeof(shown) / sizeof(shown[0]); i++)
		print_counter(sys, shown[i]);
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(cache);
	rsv_task_detach();
	rsv_drain_all_pages(sys);
	err = rsv_system_check(sys, RSV_CHECK_WHOLE);
	printf("  every page accounted for, arena whole again: %s%s\n", err ? "NO: " : "yes",
	       err ? rsv_system_error(sys) : "");
	rsv_system_destroy(sys);
	return err || r != RSV_RUN_DONE || total;
}

/* ---- the simulator finds, explains and replays a deadlock ---- */

struct abba {
	struct rsv_mutex fs_lock, bufio_lock;
};

static int writer(void *arg)
{
	struct abba *a = arg;

	rsv_mutex_lock(&a->fs_lock);
	rsv_sched_point();
	rsv_mutex_lock(&a->bufio_lock);
	rsv_mutex_unlock(&a->bufio_lock);
	rsv_mutex_unlock(&a->fs_lock);
	return 0;
}

static int shrinker(void *arg)
{
	struct abba *a = arg;

	rsv_mutex_lock(&a->bufio_lock);
	rsv_sched_point();
	rsv_mutex_lock(&a->fs_lock);
	rsv_mutex_unlock(&a->fs_lock);
	rsv_mutex_unlock(&a->bufio_lock);
	return 0;
}

static enum rsv_run_result run_abba(uint64_t seed, uint64_t *hash, int print)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_SIM, .seed = seed });
	struct abba a;
	enum rsv_run_result r;

	rsv_mutex_init(&a.fs_lock, "fs_lock");
	rsv_mutex_init(&a.bufio_lock, "bufio->lock");
	rsv_thread_create(p, "fs_writer", writer, &a);
	rsv_thread_create(p, "bufio_shrinker", shrinker, &a);
	r = rsv_platform_run(p);
	*hash = rsv_platform_trace_hash(p);
	if (print)
		fputs(rsv_platform_report(p), stdout);
	rsv_platform_destroy(p);
	return r;
}

static int find_deadlock(void)
{
	int deadlocks = 0, first = -1;
	uint64_t hash, replay;

	for (int seed = 0; seed < 1000; seed++)
		if (run_abba((uint64_t)seed, &hash, 0) == RSV_RUN_DEADLOCK && deadlocks++ == 0)
			first = seed;
	printf("\nABBA between a writer and a shrinker, 1000 seeds on the simulator: "
	       "%d deadlock.\n",
	       deadlocks);
	if (first < 0)
		return 1;
	printf("First deadlocking seed %d:\n", first);
	run_abba((uint64_t)first, &hash, 1);
	run_abba((uint64_t)first, &replay, 0);
	printf("Replayed seed %d: trace hash %016" PRIx64 " then %016" PRIx64 " (%s)\n", first,
	       hash, replay, hash == replay ? "identical" : "DIFFERENT");
	return hash != replay;
}

int rsv_tool_demo(uint64_t seed)
{
	int bad = 0;

	printf("reservoir %s demo: the page allocator under pressure on both backends (nothing\n"
	       "reclaimable, nothing worth killing: who gets the reserves), reclaim feeding four\n"
	       "tasks from a page cache, then the simulator finding a deadlock (make demo then\n"
	       "runs the seed scenarios under every policy: reservoir matrix).\n",
	       rsv_version());
	bad |= pressure(RSV_BACKEND_SIM, seed);
	bad |= pressure(RSV_BACKEND_OS, seed);
	bad |= reclaim_workload(RSV_BACKEND_SIM, seed);
	bad |= reclaim_workload(RSV_BACKEND_OS, seed);
	bad |= find_deadlock();
	return bad;
}
