/* bench_page: the page allocator's per-task cache hit beside glibc, and the simulator's
 * scheduling rate, measured side by side in one run (this machine is shared and noisy, so
 * only ratios from the same run mean much).
 *
 *   bench_page [iterations]
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <reservoir/harness.h>
#include "bench.h"

#define ROUNDS 7

static double rsv_pair(long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);

		escape(p);
		rsv_free_pages(p, 0);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static double malloc_pair(long n)
{
	uint64_t t0 = now_ns();

	for (long i = 0; i < n; i++) {
		void *p = malloc(4096);

		escape(p);
		free(p);
	}
	return (double)(now_ns() - t0) / (double)n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *v, int n)
{
	qsort(v, (size_t)n, sizeof(*v), cmp_double);
	return v[n / 2];
}

static int spinner(void *arg)
{
	long n = *(long *)arg;

	for (long i = 0; i < n; i++)
		rsv_sched_point();
	return 0;
}

static double sim_decisions_per_sec(long per_thread, int threads)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_SIM, .seed = 1 });
	uint64_t t0, t1;
	double rate;

	for (int i = 0; i < threads; i++)
		rsv_thread_create(p, "spinner", spinner, &per_thread);
	t0 = now_ns();
	rsv_platform_run(p);
	t1 = now_ns();
	rate = (double)rsv_platform_decisions(p) / ((double)(t1 - t0) / 1e9);
	rsv_platform_destroy(p);
	return rate;
}

/* One system per cache protocol; the calling thread is attached to each in turn. */
static struct rsv_system *bench_system(bool locked)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_OS, .pcp_locked = locked });

	if (!sys || !rsv_task_attach(sys, "bench")) {
		fprintf(stderr, "bench_page: cannot set up a system\n");
		exit(1);
	}
	rsv_task_detach();
	return sys;
}

static double rsv_pair_on(struct rsv_system *sys, long n)
{
	double ns;

	rsv_task_attach(sys, "bench");
	ns = rsv_pair(n);
	rsv_task_detach();
	return ns;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 5000000;
	struct rsv_system *asym = bench_system(false), *locked = bench_system(true);
	double r[ROUNDS], l[ROUNDS], m[ROUNDS], s[ROUNDS], rm, lm, mm;

	rsv_pair_on(asym, n / 10); /* warm the caches and the arenas' page tables */
	rsv_pair_on(locked, n / 10);
	malloc_pair(n / 10);
	for (int i = 0; i < ROUNDS; i++) { /* interleaved, so drift hits all alike */
		r[i] = rsv_pair_on(asym, n);
		l[i] = rsv_pair_on(locked, n);
		m[i] = malloc_pair(n);
	}
	rm = median(r, ROUNDS);
	lm = median(l, ROUNDS);
	mm = median(m, ROUNDS);
	printf("order-0 page alloc/free pair, per-task cache hit: %6.2f ns  (median of %d x %ld)\n",
	       rm, ROUNDS, n);
	printf("  the same with spinlocked caches (pcp_locked):   %6.2f ns\n", lm);
	printf("glibc malloc(4096)/free pair:                     %6.2f ns\n", mm);
	printf("ratio reservoir / glibc:                          %6.2f\n", rm / mm);
	rsv_system_destroy(asym);
	rsv_system_destroy(locked);

	for (int i = 0; i < ROUNDS; i++)
		s[i] = sim_decisions_per_sec(n / 4, 4);
	printf("sim scheduling decisions per second (4 tasks):    %6.1f M/s\n",
	       median(s, ROUNDS) / 1e6);
	return 0;
}
