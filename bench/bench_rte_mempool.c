/* bench_rte_mempool: DPDK's rte_mempool get/put, with and without its per-lcore cache, beside
 * reservoir's mempool alloc/free of the same 64-byte elements, one thread, in one process
 * (DPDK on anonymous memory, without hugepages or PCI: --no-huge --no-pci). Prints the
 * lines bench/run.sh reads: "pool-pair-64<TAB>NS<TAB>OPS" for each of
 * rte_mempool_cache, rte_mempool_nocache and rsv_mempool, as their own allocators.
 *
 *   bench_rte_mempool [pairs, default 4000000] */
#include <stdio.h>
#include <stdlib.h>
#include <rte_eal.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mempool.h>
#include <reservoir.h>
#include "bench.h"

#define ELEMENTS 8191 /* 2^13 - 1, as DPDK's guide advises for a ring-backed pool */

static double rte_pairs(struct rte_mempool *mp, long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++) {
		void *obj;

		if (rte_mempool_get(mp, &obj))
			abort();
		escape(obj);
		rte_mempool_put(mp, obj);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double rsv_pairs(struct rsv_mempool *pool, long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++) {
		void *e = rsv_mempool_alloc(pool, RSV_GFP_KERNEL);

		escape(e);
		rsv_mempool_free(e, pool);
	}
	return (double)(now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	char *eal_argv[] = { "bench_rte_mempool", "--no-huge", "--no-pci", "-m", "64", "-l", "0",
			     "--log-level=1",     NULL };
	long n = argc > 1 ? atol(argv[1]) : 4000000;
	struct rte_mempool *cached, *plain;
	struct rsv_system *sys;
	struct rsv_kmem_cache *c;
	struct rsv_mempool *pool;

	if (n < 1) {
		fprintf(stderr, "bench_rte_mempool: pairs must be positive\n");
		return 2;
	}
	if (rte_eal_init(8, eal_argv) < 0) {
		fprintf(stderr, "bench_rte_mempool: rte_eal_init failed: %s\n",
			rte_strerror(rte_errno));
		return 1;
	}
	cached = rte_mempool_create("cached", ELEMENTS, 64, 256, 0, NULL, NULL, NULL, NULL,
				    SOCKET_ID_ANY, 0);
	plain = rte_mempool_create("plain", ELEMENTS, 64, 0, 0, NULL, NULL, NULL, NULL,
				   SOCKET_ID_ANY, 0);
	sys = rsv_system_create(
		&(struct rsv_system_config){ .backend = RSV_BACKEND_OS, .nr_pages = 16384 });
	if (!cached || !plain || !sys || !rsv_task_attach(sys, "bench")) {
		fprintf(stderr, "bench_rte_mempool: a pool could not be made\n");
		return 1;
	}
	c = rsv_kmem_cache_create(sys, "bench-64", 64, 0, 0, NULL);
	pool = c ? rsv_mempool_create_slab_pool(sys, 16, c) : NULL;
	if (!pool)
		return 1;
	printf("pool-pair-64-rte_mempool_cache\t%.3f\t%ld\n", rte_pairs(cached, n), n);
	printf("pool-pair-64-rte_mempool_nocache\t%.3f\t%ld\n", rte_pairs(plain, n), n);
	printf("pool-pair-64-rsv_mempool\t%.3f\t%ld\n", rsv_pairs(pool, n), n);
	rsv_mempool_destroy(pool);
	rsv_kmem_cache_destroy(c);
	rsv_task_detach();
	rsv_system_destroy(sys);
	rte_mempool_free(cached);
	rte_mempool_free(plain);
	rte_eal_cleanup();
	return 0;
}
