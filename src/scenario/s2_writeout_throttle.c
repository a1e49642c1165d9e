/* s2-writeout-throttle (throttle_vm_writeout() and PF_LESS_THROTTLE in Hocko's "mempool vs.
 * page allocator interaction" series; NeilBrown's mempool without direct reclaim in "Re: [RFC
 * PATCH 2/2] mm, mempool: do not throttle PF_LESS_THROTTLE tasks", July 2016; bf48438354a7).
 *
 * A file's dirty pages are written back through dm-crypt to a disk, with memory exhausted and
 * the dirty limit such that pages under writeback exceed it by more than 10%. Only kcryptd
 * and the disk can bring writeback down. Once kcryptd's bounce-page pool is empty its mempool
 * allocation reclaims, and under throttle=throttle-vm-writeout every reclaimer then sleeps in
 * congestion_wait while writeback is high: a GFP_NOIO kcryptd once per allocation (variant 0:
 * a stall), a GFP_KERNEL one until writeback drops, which only it could make happen (variant
 * 1: a livelock).
 *
 * The verdict comes from what the throttle did to kcryptd, the one task the writeback waits
 * for: a stall when it spent at least half of the time the writeback took asleep in reclaim
 * throttles (the throttle at least doubled the writeback). The situation is the seed's only
 * when writeback did exceed the limit plus 10% while free memory was below min and kcryptd's
 * bounce-page pool ran dry (its allocations had to reclaim); otherwise the run is an invalid
 * set-up, whatever it did.
 *
 * race=1: the shortage is a passing one. A process exits as the first writes complete and
 * gives the memory back; kcryptd, woken by the same completions, is throttled only where its
 * next allocation reclaims before that process has freed enough (a window of RACE_STEPS
 * steps), and then sleeps 100 ms of a writeback that would take 5. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "scenario/internal.h"

enum { P_VARIANT, P_PAGES, P_THRESH, P_FREE, P_POOL, P_IO_MS, P_RACE, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_VARIANT] = { "gfp_kernel", 0, 0, 1, "0: kcryptd allocates GFP_NOIO; 1: GFP_KERNEL",
			.axis = true },
	[P_PAGES] = { "pages", 400, 1, 2000,
		      "file pages dirtied (the flusher writes all but the "
		      "background limit's worth)" },
	[P_THRESH] = { "thresh", 200, 2, 2000,
		       "the hard dirty limit in pages (the throttle "
		       "starts 10% above it)" },
	[P_FREE] = { "free", 100, 0, 1000, "free pages once the file is dirty (min is 128)" },
	[P_POOL] = { "pool", 16, 1, 1024, "bounce pages in kcryptd's page pool" },
	[P_IO_MS] = { "io_ms", 5, 1, 1000, "disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 1 },
	[P_RACE] = { "race", 0, 0, 1,
		     "1: memory comes back as the first writes complete (a process exiting "
		     "then), so that kcryptd is throttled only where it reclaims first",
		     .axis = true },
};

/* The racy variant's window: the exiting process's work between its wakeup, at the instant
 * the first writes complete, and its first page freed. kcryptd, woken by the same
 * completions, must take its next bounce page and find memory short within it. */
#define RACE_STEPS 8

static const enum rsv_policy_key keys[] = { RSV_POLICY_THROTTLE, RSV_POLICY_MEMPOOL };

#define FILL_MAX 4096

struct s2 {
	struct rsv_scenario_run *run;
	struct rsv_bdev *disk, *crypt;
	struct rsv_mapping *file;
	_Atomic bool dirty;
	uint64_t seen, start_ns, end_ns;
	long writeback_peak;
	long limit;            /* throttle_vm_writeout's: the hard dirty limit plus 10% */
	long min_free_over;    /* the least free memory seen while writeback was over it */
	long min_wmark;
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
	struct rsv_page **pages; /* the file's, clean until the writer dirties them */
	struct rsv_semaphore go; /* race=1: up when the writer starts writeback */
};

static void configure(struct rsv_system_config *cfg, const long *p)
{
	cfg->dirty_thresh_pages = (unsigned long)p[P_THRESH];
}

/* Every millisecond: completed writes are the work's progress; and whether the seed's
 * situation holds (writeback over the limit while memory is below min). */
static void observe(struct rsv_scenario_run *run, uint64_t now)
{
	struct s2 *s = run->data;
	long wb = rsv_vm_counter(run->sys, RSV_NR_WRITEBACK);
	long free_now = (long)rsv_system_free_pages(run->sys);

	if (wb > s->writeback_peak)
		s->writeback_peak = wb;
	if (wb > s->limit && (s->min_free_over < 0 || free_now < s->min_free_over))
		s->min_free_over = free_now;
	rsv__scenario_progress_to(run, &s->seen, atomic_load(&s->disk->completed));
}

/* Takes memory down to the scenario's level (without waking kswapd, which would drop the
 * still clean file), dirties the file, waits for writeback to drain, gives memory back. */
static int writer(void *arg)
{
	struct s2 *s = arg;
	struct rsv_system *sys = s->run->sys;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	s->nr_fill = rsv__scenario_exhaust(sys, (unsigned long)s->run->p[P_FREE], s->fill,
					   FILL_MAX, true);
	s->start_ns = rsv_now();
	atomic_store(&s->dirty, true);
	/* Nothing reclaims before this point: the file's pages are still its own. */
	for (long i = 0; i < s->run->p[P_PAGES]; i++)
		rsv_page_mark_dirty(s->pages[i]);
	if (s->run->p[P_RACE])
		rsv_up(&s->go);
	rsv_balance_dirty_pages_ratelimited(s->file); /* one wakeup: writeback all at once */
	while (rsv_vm_counter(sys, RSV_NR_WRITEBACK) > 0 ||
	       atomic_load(&s->disk->completed) == 0)
		rsv_msleep(1);
	s->end_ns = rsv_now();
	while (!s->run->p[P_RACE] && s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	return 0;
}

/* race=1: a process whose exit gives the memory back, io_ms after writeback starts (the
 * instant the first writes complete) and RACE_STEPS steps of its own work later. */
static int exiting(void *arg)
{
	struct s2 *s = arg;

	rsv_down(&s->go);
	rsv_msleep((unsigned)s->run->p[P_IO_MS]);
	for (int i = 0; i < RACE_STEPS; i++)
		rsv_sched_point();
	while (s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s2 *s = calloc(1, sizeof(*s));
	struct rsv_crypt_config cc = { .io_pool = (int)p[P_PAGES] + 16, .page_pool = (int)p[P_POOL],
				       .worker_gfp = p[P_VARIANT] ? RSV_GFP_KERNEL : RSV_GFP_NOIO };

	struct rsv_watermarks wm;
	unsigned long thresh;
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	rsv_dirty_limits(run->sys, NULL, &thresh);
	rsv_system_watermarks(run->sys, &wm);
	s->limit = (long)(thresh + thresh / 10);
	s->min_wmark = (long)wm.min;
	s->min_free_over = -1;
	/* Written pages are never read back: the disk keeps no data (null_blk). */
	s->disk = rsv_ramdev_create(run->sys, "disk", 4096,
				    (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	if (!s->disk || !(s->crypt = rsv_crypt_create(run->sys, "crypt", s->disk, &cc)))
		return -ENOMEM;
	s->file = rsv_mapping_create(run->sys, RSV_MAPPING_FILE, "data", s->crypt, 0);
	if (!s->file || !(s->pages = calloc((size_t)p[P_PAGES], sizeof(*s->pages))))
		return -ENOMEM;
	for (long i = 0; i < p[P_PAGES]; i++)
		if (!(s->pages[i] = rsv_mapping_add_page(s->file, RSV_GFP_KERNEL, (uint64_t)i)))
			return rsv__scenario_setup_error(run, -ENOMEM, "setup: file page %ld of "
							 "pages=%ld", i, p[P_PAGES]);
	if (run->paths_apart)
		return 0;
	rsv_sema_init(&s->go, "writeback started", 0);
	if (p[P_RACE] && (err = rsv__scenario_task(run, "exiting", exiting, s)))
		return err;
	return rsv__scenario_task(run, "writer", writer, s);
}

/* The writer's path apart, memory to spare: dirty the file, let writeback take it through
 * dm-crypt and wait for it to drain; then reclaim in GFP_KERNEL context. */
static void writer_path(void *arg)
{
	struct s2 *s = arg;
	struct rsv_system *sys = s->run->sys;

	for (long i = 0; i < s->run->p[P_PAGES]; i++)
		rsv_page_mark_dirty(s->pages[i]);
	rsv_balance_dirty_pages_ratelimited(s->file);
	while (rsv_vm_counter(sys, RSV_NR_WRITEBACK) > 0 || rsv_vm_counter(sys, RSV_NR_DIRTY) > 0)
		rsv_msleep(1);
}

static const struct rsv_scenario_path *paths(const long *p, unsigned *n)
{
	static const struct rsv_scenario_path w = { "writer", writer_path, RSV_GFP_KERNEL };

	(void)p;
	*n = 1;
	return &w;
}

/* The seed's situation, from what the run did: writeback over the limit while memory was
 * below min. */
static bool situation(struct rsv_scenario_run *run, const struct rsv_crypt_stats *cs)
{
	struct s2 *s = run->data;
	const long *p = run->p;

	if (s->writeback_peak <= s->limit) {
		rsv__scenario_invalid(run, "writeback peaked at %ld pages, never above the dirty "
				      "limit plus 10%% (%ld; pages=%ld, thresh=%ld): nothing for "
				      "throttle_vm_writeout to act on", s->writeback_peak, s->limit,
				      p[P_PAGES], p[P_THRESH]);
		return false;
	}
	if (s->min_free_over >= s->min_wmark) {
		rsv__scenario_invalid(
			run,
			"free memory stayed at %ld pages or more, not below min "
			"(%ld), while writeback was high (free=%ld): kcryptd never had "
			"to reclaim",
			s->min_free_over, s->min_wmark, p[P_FREE]);
		return false;
	}
	if (cs->page_pool_low_water > 0) {
		rsv__scenario_invalid(
			run,
			"kcryptd's bounce-page pool never ran dry (it kept %ld of "
			"pool=%ld for pages=%ld): its allocations never had to reclaim",
			cs->page_pool_low_water, p[P_POOL], p[P_PAGES]);
		return false;
	}
	return true;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s2 *s = run->data;
	struct rsv_crypt_stats cs;
	uint64_t written = atomic_load(&s->disk->completed);
	uint64_t took = s->end_ns > s->start_ns ? s->end_ns - s->start_ns : 0;

	rsv_crypt_stats(s->crypt, &cs);
	rsv__scenario_counter(run, "written", (int64_t)written);
	rsv__scenario_counter(run, "writeback_peak", s->writeback_peak);
	rsv__scenario_counter(run, "writeback_limit", s->limit);
	rsv__scenario_counter(run, "min_free_while_over", s->min_free_over);
	rsv__scenario_counter(run, "writeback_ms", (int64_t)(took / RSV_NSEC_PER_MSEC));
	rsv__scenario_counter(run, "kcryptd_throttles", (int64_t)cs.worker_throttles);
	rsv__scenario_counter(run, "kcryptd_throttled_ms",
			      (int64_t)(cs.worker_throttled_ns / RSV_NSEC_PER_MSEC));
	rsv__scenario_counter(run, "mempool_direct_reclaims", (int64_t)cs.page_pool_reclaims);
	rsv__scenario_counter(run, "page_pool_waits", (int64_t)cs.page_pool_waits);
	rsv__scenario_stat(run, RSV_STAT_THROTTLE_VM_WRITEOUT);
	rsv__scenario_stat(run, RSV_STAT_FLUSHER_KUPDATE);
	if (!situation(run, &cs))
		return;
	/* Asleep in throttles for at least half the writeback: without them it would have
	 * taken at most half as long. */
	if (run->res->verdict == RSV_VERDICT_PROGRESS && took &&
	    2 * cs.worker_throttled_ns >= took)
		rsv__scenario_verdict(run, RSV_VERDICT_STALL,
				      "kcryptd, which the writeback waits for, slept %.3f s of "
				      "the %.3f s it took in reclaim throttles (%lu sleeps)",
				      (double)cs.worker_throttled_ns / 1e9, (double)took / 1e9,
				      (unsigned long)cs.worker_throttles);
	else if (run->res->verdict == RSV_VERDICT_PROGRESS)
		rsv__scenario_verdict(run, RSV_VERDICT_PROGRESS, "%lu pages written in %.3f s; "
				      "kcryptd slept %.3f s of it throttled (%lu sleeps)",
				      (unsigned long)written, (double)took / 1e9,
				      (double)cs.worker_throttled_ns / 1e9,
				      (unsigned long)cs.worker_throttles);
}

static void pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct s2 *s = run->data;
	struct rsv_crypt_stats cs;

	if (!s->crypt)
		return;
	rsv_crypt_stats(s->crypt, &cs); /* the io pool covers every write: the page pool tells */
	*fill = cs.page_pool_fill;
	*size = cs.page_pool_size;
}

static void teardown(struct rsv_scenario_run *run)
{
	struct s2 *s = run->data;

	if (s)
		free(s->pages);
	free(s);
}

/* What an exploration should see happen in some run, whatever the policy. */
static const struct rsv_scenario_property sometimes[] = {
	{ "memory falls below min during writeback", "wmark_fail_min" },
	{ "writeback through dm-crypt completes pages", "written" },
};

const struct rsv_scenario rsv__s2_writeout_throttle = {
	.name = "s2-writeout-throttle",
	RSV__SCENARIO_TABLES,
	.summary = "writeback through dm-crypt under memory pressure: does reclaim throttling "
		   "(throttle_vm_writeout) stall the one task that can finish the writeback?",
	.nr_pages = 4096,
	.configure = configure,
	.setup = setup,
	.paths = paths,
	.observe = observe,
	.judge = judge,
	.pools = pools,
	.teardown = teardown,
};
