/* s4-global-reserve-pool (Arcangeli, "Remove OOM killer from
 * try_to_free_pages / all_unreclaimable braindamage", LKML, November 2004): filesystem writers
 * whose writeout needs at most R pages each, against exhausted memory, under policy `reservation`.
 *
 * Each writer opens a section on the filesystem's reservation (made at mount), and, once
 * every writer is inside, a hog takes every free page above min. Then each section allocates
 * its pages with GFP_NOFS and writes them to a disk whose completions free them. With
 * reservation=global-pool the first failure takes the pool's semaphore; with per-thread the
 * pages were put aside when the section opened; with watermarks nothing was. */
#include <errno.h>
#include <stdlib.h>
#include "scenario/internal.h"

enum { P_WRITERS, P_RESERVATION, P_NEED, P_SECTIONS, P_IO_MS, P_HOLD, P_RACE, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_WRITERS] = { "writers", 8, 1, 64, "writer tasks" },
	[P_RESERVATION] = { "reservation", 8, 1, 256, "pages reserved for one section (R)" },
	[P_NEED] = { "need", 8, 1, 512, "pages one section allocates" },
	[P_SECTIONS] = { "sections", 4, 1, 1000, "sections per writer" },
	[P_IO_MS] = { "io_ms", 10, 0, 10000, "disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 0 },
	[P_HOLD] = { "hold", 0, 0, 1, "1: a section submits its pages only at its end",
		     .swarm = true, .swarm_alt = 1 },
	[P_RACE] = { "race", 0, 0, 1,
		     "1: the hog does not wait for the writers to be inside "
		     "their sections, nor they for it",
		     .axis = true },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_RESERVATION };

#define HOG_MAX 8192

struct s4 {
	struct rsv_scenario_run *run;
	struct rsv_reservation *r;
	struct rsv_bdev *disk;
	_Atomic unsigned entering, inside, written, failed, done, started;
	_Atomic unsigned enabling; /* writers in rsv_reservation_enable() now */
	struct rsv_page **held; /* writers x need: pages a section holds until its end */
	_Atomic bool exhausted;
	struct rsv_page *hog[HOG_MAX];
	unsigned nr_hog;
};

struct write {
	struct rsv_request req;
	struct s4 *s;
};

/* Counting the write is the last touch of the scenario: the writers may finish on it. */
static void write_done(struct rsv_request *req)
{
	struct write *w = req->private;
	struct s4 *s = w->s;

	rsv_free_pages(req->page, 0);
	rsv_progress_inc(&s->run->progress);
	free(w);
	atomic_fetch_add(&s->written, 1);
}

static void submit(struct s4 *s, struct rsv_page *p, unsigned n)
{
	struct write *w = malloc(sizeof(*w));

	if (!w) {
		rsv_free_pages(p, 0);
		atomic_fetch_add(&s->failed, 1);
		return;
	}
	*w = (struct write){ .s = s };
	w->req = (struct rsv_request){ .bdev = s->disk, .op = RSV_REQ_WRITE,
				       .sector = n % s->disk->nr_sectors, .page = p,
				       .end_io = write_done, .private = w };
	if (rsv_submit_request(&w->req)) {
		rsv_free_pages(p, 0);
		free(w);
		atomic_fetch_add(&s->failed, 1);
	}
}

static void section(struct s4 *s, struct rsv_page **held, bool first)
{
	const long *p = s->run->p;

	if (first)
		atomic_fetch_add(&s->entering, 1);
	atomic_fetch_add(&s->enabling, 1);
	if (rsv_reservation_enable(s->r)) {
		atomic_fetch_sub(&s->enabling, 1);
		atomic_fetch_add(&s->failed, 1);
		return;
	}
	atomic_fetch_sub(&s->enabling, 1);
	if (first) {
		atomic_fetch_add(&s->inside, 1);
		while (!p[P_RACE] && !atomic_load(&s->exhausted))
			rsv_msleep(1);
	}
	for (long i = 0; i < p[P_NEED]; i++) {
		struct rsv_page *pg = rsv_alloc_pages(RSV_GFP_NOFS, 0);

		if (!pg)
			atomic_fetch_add(&s->failed, 1);
		else if (p[P_HOLD])
			held[i] = pg;
		else
			submit(s, pg, (unsigned)i);
	}
	for (long i = 0; p[P_HOLD] && i < p[P_NEED]; i++)
		if (held[i])
			submit(s, held[i], (unsigned)i);
	rsv_reservation_disable(s->r);
}

static int writer(void *arg)
{
	struct s4 *s = arg;
	const long *p = s->run->p;
	unsigned total = (unsigned)(p[P_WRITERS] * p[P_SECTIONS] * p[P_NEED]);
	struct rsv_page **held = s->held + (size_t)atomic_fetch_add(&s->started, 1) * p[P_NEED];

	for (long k = 0; k < p[P_SECTIONS]; k++)
		section(s, held, k == 0);
	while (atomic_load(&s->written) + atomic_load(&s->failed) < total) /* fsync */
		rsv_msleep(1);
	atomic_fetch_add(&s->done, 1);
	return 0;
}

/* Once every writer is inside its first section, or has asked to enter it and the others
 * are inside: every free page above min. Per-thread reservations for more writers than
 * memory holds make the late ones wait in rsv_reservation_enable() for the early ones' pages,
 * which come back only once those sections have run, so the hog may not wait for them. */
static bool writers_in(struct s4 *s)
{
	unsigned writers = (unsigned)s->run->p[P_WRITERS];

	return atomic_load(&s->inside) == writers ||
	       (atomic_load(&s->entering) == writers && atomic_load(&s->inside) > 0 &&
		rsv_system_nr_blocked(s->run->sys) + atomic_load(&s->inside) >= writers);
}

static int hog(void *arg)
{
	struct s4 *s = arg;
	struct rsv_system *sys = s->run->sys;
	struct rsv_watermarks wm;

	while (!s->run->p[P_RACE] && !writers_in(s))
		rsv_msleep(1);
	rsv_system_watermarks(sys, &wm);
	s->nr_hog = rsv__scenario_exhaust(sys, wm.min, s->hog, HOG_MAX, false);
	atomic_store(&s->exhausted, true);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s4 *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	/* Written pages are never read back: the disk keeps no data (null_blk). */
	s->disk = rsv_ramdev_create(run->sys, "disk", 256,
				    (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC, RSV_RAMDEV_NULL);
	s->r = rsv_reservation_create(run->sys, (unsigned long)p[P_RESERVATION]);
	s->held = calloc((size_t)(p[P_WRITERS] * p[P_NEED]), sizeof(*s->held));
	if (!s->disk || !s->r || !s->held)
		return -ENOMEM;
	if (run->paths_apart)
		return 0;
	for (long i = 0; i < p[P_WRITERS]; i++)
		if ((err = rsv__scenario_task(run, "fs_writer", writer, s)))
			return err;
	return rsv__scenario_task(run, "hog", hog, s);
}

/* A writer's path apart, memory to spare: one section that allocates with GFP_NOFS and
 * writes its pages, waited for; then reclaim in GFP_NOFS context. */
static void writer_path(void *arg)
{
	struct s4 *s = arg;
	unsigned total = (unsigned)s->run->p[P_NEED];

	section(s, s->held, false);
	while (atomic_load(&s->written) + atomic_load(&s->failed) < total)
		rsv_msleep(1);
}

static const struct rsv_scenario_path *paths(const long *p, unsigned *n)
{
	static const struct rsv_scenario_path w = { "fs_writer", writer_path, RSV_GFP_NOFS };

	(void)p;
	*n = 1;
	return &w;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s4 *s = run->data;
	struct rsv_reservation_stats st;

	rsv_reservation_stats(run->sys, &st);
	rsv__scenario_counter(run, "pages_written", atomic_load(&s->written));
	rsv__scenario_counter(run, "sections", (int64_t)st.sections);
	rsv__scenario_counter(run, "pinned_peak", (int64_t)st.pinned_peak);
	rsv__scenario_counter(run, "pool_target", (int64_t)st.pool_target);
	rsv__scenario_counter(run, "pool_pages_lent", (int64_t)st.pool_allocs);
	rsv__scenario_counter(run, "pool_used_peak", (int64_t)st.pool_used_peak);
	rsv__scenario_counter(run, "pool_users_peak", st.users_peak);
	rsv__scenario_counter(run, "semaphore_waits", (int64_t)st.sem_waits);
	rsv__scenario_counter(run, "thread_reserved", (int64_t)st.thread_reserved);
	rsv__scenario_counter(run, "failed_allocations", atomic_load(&s->failed));
	rsv__scenario_stat(run, RSV_STAT_DIRECT_RECLAIM);
	rsv__scenario_stat(run, RSV_STAT_THROTTLE_NOPROGRESS);
	rsv__scenario_stat(run, RSV_STAT_ALLOC_SLOW);
	/* race=1: a writer still opening a section when the hog took the memory waits for a
	 * reservation nothing can fill. The seed's situation is memory exhausted under
	 * writers already inside their sections, holding what they reserved. */
	if (run->p[P_RACE] && run->res->verdict != RSV_VERDICT_PROGRESS &&
	    atomic_load(&s->enabling)) {
		rsv__scenario_invalid(run,
				      "the hog took the memory while %u writers were still "
				      "reserving theirs (race=1): no reservation can be made from "
				      "memory that is gone",
				      atomic_load(&s->enabling));
		return;
	}
	if (run->res->verdict == RSV_VERDICT_PROGRESS && atomic_load(&s->failed))
		rsv__scenario_verdict(run, RSV_VERDICT_STALL, "%u allocations failed",
				      atomic_load(&s->failed));
}

static void pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct rsv_reservation_stats st;

	rsv_reservation_stats(run->sys, &st);
	*fill = (long)st.pool_pages;
	*size = (long)st.pool_target;
}

static void teardown(struct rsv_scenario_run *run)
{
	struct s4 *s = run->data;

	if (!s)
		return;
	if (run->res->verdict == RSV_VERDICT_PROGRESS) {
		while (s->nr_hog)
			rsv_free_pages(s->hog[--s->nr_hog], 0);
		rsv_reservation_destroy(s->r);
	}
	free(s->held);
	free(s);
}

/* What an exploration should see happen in some run, whatever the policy. */
static const struct rsv_scenario_property sometimes[] = {
	{ "writers allocate below the low watermark", "wmark_fail_low" },
	{ "a section opens", "sections" },
};

const struct rsv_scenario rsv__s4_reservations = {
	.name = "s4-global-reserve-pool",
	RSV__SCENARIO_TABLES,
	.summary = "writers needing R pages each against exhausted memory: Arcangeli's global "
		   "pool vs per-thread reservations vs zone reserves alone",
	.nr_pages = 4096,
	.setup = setup,
	.paths = paths,
	.judge = judge,
	.pools = pools,
	.teardown = teardown,
};
