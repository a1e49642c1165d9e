/* s5-nofs-bufio-loop (9d28eb12447e, d0a255e795ab, and Patocka's
 * "[PATCH 0/6] Overhaul memalloc_no*" on dm-devel, June 2020, with Chinner's replies).
 *
 * A dm-bufio client sits on a loop device whose backing file lives on a small filesystem on a
 * disk. The buffer cache holds clean and dirty buffers; everything else in memory is taken by
 * a filler that stands for the rest of the machine and gives its memory back after hold_ms,
 * or at once if the OOM killer takes it. A policy that only makes tasks wait for memory
 * passes (the memory comes back); one that lets reclaim wait for itself deadlocks, and the
 * filler's memory comes back to nobody; one whose reclaim gets nothing from the cache until
 * a worker runs (bufio=workqueue) may kill the filler while the cache is still full, which is
 * a needless kill. A run in which no scan had to reach a dirty buffer while memory was short
 * is not the seed's situation (invalid-setup).
 *   case A (Patocka): F holds the filesystem lock and allocates GFP_NOFS. Reclaim calls the
 *     bufio shrinker with __GFP_IO set, which under bufio=gfp-io takes the client mutex and
 *     writes dirty buffers to the loop device, whose worker needs the lock F holds.
 *   case B (Junxiao Bi): P1 (or kswapd) reclaims with GFP_KERNEL, holds the client mutex and
 *     waits for a dirty buffer's write on loop; the loop worker's GFP_KERNEL allocation
 *     reclaims and calls the same shrinker, which wants the mutex.
 *   case 2: case A racing kswapd. Memory starts 6 pages above min instead of at `free`, so F's
 *     transaction must reclaim under the fs lock only on the schedules where it runs before
 *     kswapd has reclaimed enough: the random walk finds the deadlock on a few seeds in a
 *     hundred, PCT on about half; the fixes on none (reservoir explore).
 * The lockdep-style checker sees case B through fs_reclaim and case A through io_reclaim, the
 * pseudo-lock the kernel's lockdep lacks. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scenario/internal.h"

enum { P_CASE, P_BUFFERS, P_DIRTY, P_FREE, P_NEED, P_HOLD_MS, P_IO_MS, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_CASE] = { "case", 0, 0, 2,
		     "0: A, NOFS allocation under the fs lock; "
		     "1: B, reclaim holding the bufio mutex waits on loop; "
		     "2: A racing kswapd, memory 6 pages above min instead of "
		     "`free`, so that only some schedules need reclaim under the lock",
		     .axis = true },
	[P_BUFFERS] = { "buffers", 64, 1, 1024, "buffers in the bufio client" },
	[P_DIRTY] = { "dirty", 32, 0, 1024, "of which dirty", .swarm = true, .swarm_alt = 0 },
	[P_FREE] = { "free", 80, 0, 1000, "free pages when F or P1 starts (min is 128)" },
	[P_NEED] = { "need", 8, 1, 512, "pages F's transaction (A) or P1 (B) allocates" },
	[P_HOLD_MS] = { "hold_ms", 200, 1, 20000, "virtual ms until the filler frees memory" },
	[P_IO_MS] = { "io_ms", 1, 0, 1000, "disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 0 },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_BUFIO, RSV_POLICY_LOOP };

#define FILL_MAX 4096

struct s5 {
	struct rsv_scenario_run *run;
	struct rsv_bdev *disk, *loop;
	struct rsv_fs *fs;
	struct rsv_bufio_client *bufio;
	_Atomic bool exhausted, released;
	struct rsv_waitqueue hold; /* the filler's: only a kill wakes it early */
	_Atomic unsigned failures;
	int sync_err;
	uint64_t dirty_reached_short; /* bufio's dirty_reached when the filler let go */
	long buffers_at_kill;         /* the cache's buffers when the filler was killed; or -1 */
	char lockdep[1024];
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
	struct rsv_page *held[512]; /* P1's pages (need is at most 512) */
};

static void wait_for(_Atomic bool *flag)
{
	while (!atomic_load(flag))
		rsv_msleep(1);
}

/* Sleeps until @ns have passed or a fatal signal came. */
static void hold_killable(struct s5 *s, uint64_t ns)
{
	uint64_t end = rsv_now() + ns;
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(&s->hold, &we, RSV_TASK_KILLABLE);
		if (rsv_fatal_signal_pending() || rsv_now() >= end)
			break;
		rsv_schedule_timeout(end - rsv_now());
	}
	rsv_finish_wait(&s->hold, &we);
}

/* The racy case A: F's transaction of `need` pages (8 by default) starts this far above min,
 * so it dips below min, and must reclaim holding the fs lock, only on the schedules where it
 * runs before kswapd (woken below the low mark) has reclaimed enough: the deadlock needs that
 * interleaving. */
#define RACE_MARGIN 6

static unsigned long start_free(struct s5 *s)
{
	struct rsv_watermarks wm;

	if (s->run->p[P_CASE] != 2)
		return (unsigned long)s->run->p[P_FREE];
	rsv_system_watermarks(s->run->sys, &wm);
	return wm.min + RACE_MARGIN;
}

/* The rest of the machine: takes memory down to the scenario's level without waking kswapd,
 * holds it for hold_ms and gives it back. It is a process the OOM killer may choose, as the
 * rest of a machine is (a GFP_KERNEL allocation with nothing to kill would panic): killed,
 * it gives its memory back at once, as an exiting process does. */
static int filler(void *arg)
{
	struct s5 *s = arg;
	struct rsv_system *sys = s->run->sys;
	struct rsv_bufio_stats bs;

	s->nr_fill = rsv__scenario_exhaust(sys, start_free(s), s->fill, FILL_MAX, true);
	atomic_store(&s->exhausted, true);
	hold_killable(s, (uint64_t)s->run->p[P_HOLD_MS] * RSV_NSEC_PER_MSEC);
	/* Whether reclaim had reached a dirty buffer while memory was still short, and, if
	 * this was a kill, what the cache still held that reclaim could have had. */
	rsv_bufio_stats(s->bufio, &bs);
	s->dirty_reached_short = bs.dirty_reached;
	if (rsv_fatal_signal_pending())
		s->buffers_at_kill = (long)bs.buffers;
	while (s->nr_fill)
		rsv_free_pages(s->fill[--s->nr_fill], 0);
	atomic_store(&s->released, true);
	return 0;
}

/* Case A's F: a filesystem transaction, GFP_NOFS under the fs lock. */
static void case_a(struct s5 *s)
{
	while (rsv_fs_transaction(s->fs, (unsigned)s->run->p[P_NEED], 0))
		atomic_fetch_add(&s->failures, 1);
}

/* Case B's P1: plain GFP_KERNEL allocations, reclaiming through the bufio shrinker. */
static void case_b(struct s5 *s)
{
	long need = s->run->p[P_NEED];
	struct rsv_page **held = s->held; /* not the C heap: P1 may never return */

	for (long i = 0; i < need; i++) {
		while (!(held[i] = rsv_alloc_pages(RSV_GFP_KERNEL, 0))) {
			atomic_fetch_add(&s->failures, 1); /* OOM found nothing it may kill */
			rsv_msleep(1);
		}
	}
	for (long i = 0; i < need; i++)
		rsv_free_pages(held[i], 0);
}

/* F or P1, then a sync of what is still dirty: the stack works end to end. */
static int worker(void *arg)
{
	struct s5 *s = arg;

	rsv_task_set_oom_score_adj(rsv_task_current(), -1000);
	wait_for(&s->exhausted);
	if (s->run->p[P_CASE] == 1)
		case_b(s);
	else
		case_a(s);
	rsv_progress_inc(&s->run->progress);
	wait_for(&s->released);
	s->sync_err = rsv_bufio_write_dirty(s->bufio);
	rsv_progress_inc(&s->run->progress);
	return 0;
}

static int fill_cache(struct s5 *s)
{
	const long *p = s->run->p;

	for (long i = 0; i < p[P_BUFFERS]; i++) {
		struct rsv_buffer *b = rsv_bufio_new(s->bufio, (uint64_t)i, RSV_GFP_NOIO);

		if (!b)
			return -ENOMEM;
		memset(rsv_buffer_data(b), (int)i, RSV_PAGE_SIZE);
		/* The dirty ones are the oldest: written first, never read since. */
		if (i < p[P_DIRTY])
			rsv_bufio_mark_dirty(b);
		rsv_bufio_release(b);
	}
	return 0;
}

static int validate(const long *p, char *err, size_t errlen)
{
	if (p[P_DIRTY] <= p[P_BUFFERS])
		return 0;
	snprintf(err, errlen, "parameters dirty=%ld and buffers=%ld: the dirty buffers are some "
		 "of the buffers, so dirty may not exceed buffers", p[P_DIRTY], p[P_BUFFERS]);
	return -EINVAL;
}

/* The stack and a full cache, for setup and predict. */
static int build(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s5 *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	s->buffers_at_kill = -1;
	rsv_waitqueue_init(&s->hold, "filler hold");
	if ((err = rsv__scenario_lockdep(run)))
		return err;
	s->disk = rsv_ramdev_create(run->sys, "disk", 4096,
				    (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC, 0);
	if (!s->disk || !(s->fs = rsv_fs_create(run->sys, "loop.img", s->disk)) ||
	    !(s->loop = rsv_loop_create(run->sys, "loop0", s->fs, 4096)) ||
	    !(s->bufio = rsv_bufio_create(run->sys, "bufio", s->loop)))
		return -ENOMEM;
	return fill_cache(s);
}

static int setup(struct rsv_scenario_run *run)
{
	int err = build(run);
	struct s5 *s = run->data;

	if (err || run->paths_apart)
		return err;
	return rsv__scenario_task(run, "filler", filler, s)
		       ?: rsv__scenario_task(run, run->p[P_CASE] == 1 ? "P1" : "F", worker, s);
}

/* The paths apart: F's transaction (or P1's allocations) with memory to spare, then reclaim
 * in the same context meets the dirty buffers, which the shrinker writes to loop or leaves,
 * as the policy says; loop's worker serves the writes through the filesystem. */
static void path_f(void *arg)
{
	case_a(arg);
}

static void path_p1(void *arg)
{
	case_b(arg);
}

static const struct rsv_scenario_path *paths(const long *p, unsigned *n)
{
	static const struct rsv_scenario_path f = { "F", path_f, RSV_GFP_NOFS },
					      p1 = { "P1", path_p1, RSV_GFP_KERNEL };

	*n = 1;
	return p[P_CASE] == 1 ? &p1 : &f;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s5 *s = run->data;
	struct rsv_bufio_stats bs;
	struct rsv_fs_stats fs;

	rsv_bufio_stats(s->bufio, &bs);
	rsv_fs_stats(s->fs, &fs);
	rsv__scenario_counter(run, "bufio_scans", (int64_t)bs.scans);
	rsv__scenario_counter(run, "bufio_stops", (int64_t)bs.stops);
	rsv__scenario_counter(run, "bufio_evicted", (int64_t)bs.evicted);
	rsv__scenario_counter(run, "bufio_written", (int64_t)bs.written);
	rsv__scenario_counter(run, "bufio_worker_runs", (int64_t)bs.worker_runs);
	rsv__scenario_counter(run, "bufio_dirty_reached", (int64_t)bs.dirty_reached);
	rsv__scenario_counter(run, "loop_writes", (int64_t)fs.writes);
	rsv__scenario_counter(run, "fs_transactions", (int64_t)fs.transactions);
	rsv__scenario_counter(run, "alloc_failures", atomic_load(&s->failures));
	rsv__scenario_stat(run, RSV_STAT_OOM_KILL);
	rsv__scenario_counter(run, "lockdep_cycles",
			      rsv_lockdep_report(run->sys, s->lockdep, sizeof(s->lockdep)));
	if (*s->lockdep)
		rsv__scenario_note(run, s->lockdep);
	/* An allocation killed the rest of the machine while the cache held buffers reclaim
	 * could have had (v5.9's shrinker hands them to its worker and frees nothing itself,
	 * so direct reclaim sees no progress): whatever else happened, that kill was needless. */
	if (run->res->verdict == RSV_VERDICT_PROGRESS && s->buffers_at_kill > 0) {
		rsv__scenario_verdict(
			run, RSV_VERDICT_NEEDLESS_OOM,
			"the OOM killer took the filler "
			"(the rest of the machine) while the bufio cache still held %ld "
			"buffers that reclaim could have freed",
			s->buffers_at_kill);
		return;
	}
	/* The seed's situation: while memory was short, reclaim (or the worker it hands the
	 * shrinking to) got past the clean buffers to a dirty one, which had to be written to
	 * loop or left. A stuck run's filler holds on: whatever was reached counts. */
	if (!(atomic_load(&s->released) ? s->dirty_reached_short : bs.dirty_reached)) {
		rsv__scenario_invalid(
			run,
			"no scan got past the clean buffers to a dirty one while "
			"memory was short (buffers=%ld, dirty=%ld, "
			"free=%ld, hold_ms=%ld, need=%ld): nothing had to be written to "
			"loop under pressure",
			run->p[P_BUFFERS], run->p[P_DIRTY], run->p[P_FREE], run->p[P_HOLD_MS],
			run->p[P_NEED]);
		return;
	}
	if (run->res->verdict == RSV_VERDICT_PROGRESS && s->sync_err)
		rsv__scenario_verdict(run, RSV_VERDICT_STALL, "sync failed: error %d",
				      s->sync_err);
}

static void teardown(struct rsv_scenario_run *run)
{
	free(run->data);
}

/* What an exploration should see happen in some run, whatever the policy. */
static const struct rsv_scenario_property sometimes[] = {
	{ "memory falls below min", "wmark_fail_min" },
	{ "reclaim reaches a dirty buffer", "bufio_dirty_reached" },
};

const struct rsv_scenario rsv__s5_nofs_bufio_loop = {
	.name = "s5-nofs-bufio-loop",
	RSV__SCENARIO_TABLES,
	.summary = "dm-bufio on loop on a filesystem: may a NOFS allocation (case A) or the loop "
		   "worker's own allocation (case B) wait in the bufio shrinker for loop I/O?",
	.nr_pages = 4096,
	.validate = validate,
	.setup = setup,
	.paths = paths,
	.judge = judge,
	.teardown = teardown,
};
