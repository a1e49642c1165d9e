/* reservoir: the command-line front end.
 *
 *   reservoir demo [--seed N]   the page allocator under a small pressure workload, on the
 *                               simulator and on real threads, with its counters
 *   reservoir version
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir.h>

#define DEMO_TASKS 4
#define DEMO_ROUNDS 2000

struct demo_task {
	unsigned long allocated, failed, atomic_failed;
};

/* Each task keeps a working set of up to 256 blocks of order 0..3 and churns it; together
 * the four push the 4096-page arena under its low watermark. Half the tasks allocate with
 * GFP_KERNEL, half with GFP_NOWAIT, so the atomic reserve rules show in the counters. */
static int demo_worker(void *arg)
{
	struct demo_task *d = arg;
	struct rsv_page *held[256] = { 0 };
	unsigned order[256] = { 0 };
	bool atomic = rsv_task_id(rsv_task_current()) % 2;

	for (int i = 0; i < DEMO_ROUNDS; i++) {
		unsigned slot = (unsigned)(rsv_task_random() % 256);

		if (held[slot]) {
			rsv_free_pages(held[slot], order[slot]);
			held[slot] = NULL;
			continue;
		}
		order[slot] = (unsigned)(rsv_task_random() % 4);
		held[slot] = rsv_alloc_pages(atomic ? RSV_GFP_NOWAIT : RSV_GFP_KERNEL, order[slot]);
		if (held[slot])
			d->allocated++;
		else if (atomic)
			d->atomic_failed++;
		else
			d->failed++;
		if (i % 16 == 0)
			rsv_sched_point();
	}
	for (int s = 0; s < 256; s++)
		if (held[s])
			rsv_free_pages(held[s], order[s]);
	return 0;
}

static int run_demo(enum rsv_backend backend, uint64_t seed)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = backend, .seed = seed });
	struct demo_task d[DEMO_TASKS] = { { 0 } };
	struct rsv_watermarks w;
	enum rsv_run_result r;
	unsigned long allocated = 0, failed = 0, atomic_failed = 0;
	int err;

	if (!sys) {
		fprintf(stderr, "reservoir: cannot create a system: %s\n", strerror(errno));
		return 1;
	}
	rsv_system_watermarks(sys, &w);
	for (int i = 0; i < DEMO_TASKS; i++) {
		char name[16];

		snprintf(name, sizeof(name), "worker%d", i);
		rsv_task_create(sys, name, demo_worker, &d[i]);
	}
	r = rsv_system_run(sys);
	for (int i = 0; i < DEMO_TASKS; i++) {
		allocated += d[i].allocated;
		failed += d[i].failed;
		atomic_failed += d[i].atomic_failed;
	}
	printf("\n== %s backend, seed %" PRIu64 ": %s ==\n",
	       backend == RSV_BACKEND_SIM ? "sim" : "os", seed, rsv_run_result_name(r));
	printf("arena %lu pages, watermarks min/low/high = %lu/%lu/%lu\n",
	       rsv_system_nr_pages(sys), w.min, w.low, w.high);
	printf("blocks allocated %lu, GFP_KERNEL failures %lu, GFP_NOWAIT failures %lu\n",
	       allocated, failed, atomic_failed);
	if (backend == RSV_BACKEND_SIM)
		printf("scheduling decisions %" PRIu64 ", trace hash %016" PRIx64 "\n",
		       rsv_platform_decisions(rsv_system_platform(sys)),
		       rsv_platform_trace_hash(rsv_system_platform(sys)));
	rsv_stats_print(sys, stdout, false);
	err = rsv_system_check(sys, RSV_CHECK_WHOLE);
	printf("conservation check: %s%s\n", err ? "FAILED: " : "ok, arena whole",
	       err ? rsv_system_error(sys) : "");
	rsv_system_destroy(sys);
	return err || r != RSV_RUN_DONE;
}

static int usage(FILE *out)
{
	fprintf(out, "usage: reservoir demo [--seed N]\n"
		     "       reservoir version\n");
	return out == stderr ? 2 : 0;
}

static int parse_seed(const char *s, uint64_t *seed)
{
	char *end;

	errno = 0;
	*seed = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-') {
		fprintf(stderr, "reservoir: malformed seed '%s' (want a non-negative integer)\n", s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "version")) {
		printf("reservoir %s\n", rsv_version());
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (strcmp(argv[1], "demo")) {
		fprintf(stderr, "reservoir: unknown command '%s' (valid: demo, version, help)\n",
			argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_seed(argv[++i], &seed))
				return 2;
		} else {
			fprintf(stderr, "reservoir: unknown option '%s' (valid: --seed N)\n", argv[i]);
			return 2;
		}
	}
	printf("reservoir %s: the page allocator under pressure, same workload on both "
	       "backends\n", rsv_version());
	return run_demo(RSV_BACKEND_SIM, seed) | run_demo(RSV_BACKEND_OS, seed);
}
