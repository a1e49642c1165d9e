/* Writeback outside reclaim: the flusher above the background limit, balance_dirty_pages()
 * pauses above the freerun ceiling, the hard limit, PF_LOCAL_THROTTLE and killable pauses.
 * Every system here has a hard limit of 200 pages: background 100, freerun ceiling 150. */
#include <inttypes.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(writeback, .timeout = 60);

#define THRESH 200
#define BACKGROUND 100
#define FREERUN 150
#define RATELIMIT 32

struct writer {
	struct rsv_mapping *m;
	int pages, written;
	unsigned flags;
	uint64_t start_delay_ns;
	long max_dirty; /* dirty + writeback, seen after each page */
	uint64_t pauses, pause_ns, elapsed;
	bool killed;
	struct rsv_task *task;
};

static int writer_main(void *arg)
{
	struct writer *w = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());
	uint64_t start;

	rsv_task_set_flags(w->flags, 0);
	rsv_sleep_ns(w->start_delay_ns);
	start = rsv_now();
	for (; w->written < w->pages && !rsv_fatal_signal_pending(); w->written++) {
		struct rsv_page *p = rsv_mapping_add_page(w->m, RSV_GFP_KERNEL,
							  (uint64_t)w->written);
		long dirty;

		if (!p || rsv_page_mark_dirty(p))
			break;
		rsv_balance_dirty_pages_ratelimited(w->m);
		dirty = rsv_vm_counter(sys, RSV_NR_DIRTY) + rsv_vm_counter(sys, RSV_NR_WRITEBACK);
		if (dirty > w->max_dirty)
			w->max_dirty = dirty;
	}
	w->elapsed = rsv_now() - start;
	w->killed = rsv_fatal_signal_pending();
	w->pauses = rsv_task_stat(rsv_task_current(), RSV_STAT_DIRTY_THROTTLE);
	w->pause_ns = rsv_task_stat(rsv_task_current(), RSV_STAT_DIRTY_THROTTLE_NS);
	return 0;
}

static struct rsv_system *limited_system(enum rsv_backend be)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = be, .seed = 11, .dirty_thresh_pages = THRESH,
		.misuse = RSV_MISUSE_RETURN });
	unsigned long bg, thresh;

	cr_assert_not_null(sys);
	rsv_dirty_limits(sys, &bg, &thresh);
	cr_assert_eq(thresh, THRESH);
	cr_assert_eq(bg, BACKGROUND);
	return sys;
}

static struct rsv_mapping *file_on(struct rsv_system *sys, const char *name,
				   uint64_t latency_ns)
{
	struct rsv_bdev *dev =
		latency_ns ? rsv_ramdev_create(sys, name, 4096, latency_ns, 0) : NULL;
	struct rsv_mapping *m;

	rsv_task_attach(sys, "setup");
	m = rsv_mapping_create(sys, RSV_MAPPING_FILE, name, dev, 0);
	rsv_task_detach();
	cr_assert_not_null(m);
	return m;
}

struct maps {
	struct rsv_mapping **m;
	int n, err;
};

static int destroy_maps(void *arg)
{
	struct maps *maps = arg;

	for (int i = 0; i < maps->n; i++)
		maps->err |= rsv_mapping_destroy(maps->m[i]);
	return 0;
}

/* The mappings go in a task of their own, which may wait for writeback still in flight;
 * then the arena must be whole. */
static void teardown(struct rsv_system *sys, struct rsv_mapping **m, int n)
{
	struct maps maps = { m, n, 0 };

	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	cr_assert_not_null(rsv_task_create(sys, "teardown", destroy_maps, &maps));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(maps.err, 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_FILE), 0);
	teardown_whole(sys);
}

static void start(struct rsv_system *sys, const char *name, struct writer *w)
{
	w->task = rsv_task_create(sys, name, writer_main, w);
	cr_assert_not_null(w->task);
}

Test(writeback, the_flusher_cleans_down_to_the_background_limit_without_pausing_writers)
{
	struct rsv_system *sys = limited_system(RSV_BACKEND_SIM);
	struct writer w = { .m = file_on(sys, "disk", RSV_NSEC_PER_MSEC), .pages = FREERUN - 10 };

	start(sys, "writer", &w);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(w.written, w.pages);
	cr_assert_eq(w.pauses, 0, "below the freerun ceiling nobody pauses");
	cr_assert_geq(rsv_stats_get(sys, RSV_STAT_FLUSHER_WAKEUP), 1);
	cr_assert_geq(rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), w.pages - BACKGROUND);
	cr_assert_leq(rsv_vm_counter(sys, RSV_NR_DIRTY), BACKGROUND);
	teardown(sys, &w.m, 1);
}

static void hard_limit_holds(enum rsv_backend be)
{
	struct rsv_system *sys = limited_system(be);
	struct writer w = { .m = file_on(sys, "disk", 20 * RSV_NSEC_PER_MSEC), .pages = 1500 };

	start(sys, "writer", &w);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(w.written, w.pages);
	cr_assert_gt(w.pauses, 0);
	cr_assert_gt(w.pause_ns, 0);
	/* It checks every RATELIMIT pages and leaves a pause only under the hard limit. */
	cr_assert_lt(w.max_dirty, THRESH + RATELIMIT, "dirty + writeback reached %ld",
		     w.max_dirty);
	cr_assert_geq(rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), w.pages - THRESH - RATELIMIT);
	teardown(sys, &w.m, 1);
}

Test(writeback, a_writer_never_gets_far_past_the_hard_limit)
{
	hard_limit_holds(RSV_BACKEND_SIM);
}

Test(writeback, os_backend_hard_limit)
{
	hard_limit_holds(RSV_BACKEND_OS);
}

/* A heavy writer fills a device that takes 10 s per write; an I/O daemon with
 * PF_LOCAL_THROTTLE then writes to its own fast device, beside an ordinary task doing the
 * same. The global dirty state stops the ordinary task, not the daemon. */
Test(writeback, a_local_throttle_daemon_is_weighed_by_its_own_device_only)
{
	struct rsv_system *sys = limited_system(RSV_BACKEND_SIM);
	struct writer heavy = { .m = file_on(sys, "slow", 10 * RSV_NSEC_PER_SEC), .pages = 400 };
	struct writer daemon = { .m = file_on(sys, "fast", RSV_NSEC_PER_MSEC), .pages = 100,
				 .flags = RSV_PF_LOCAL_THROTTLE,
				 .start_delay_ns = 100 * RSV_NSEC_PER_MSEC };
	struct writer plain = { .m = file_on(sys, "fast2", RSV_NSEC_PER_MSEC), .pages = 100,
				.start_delay_ns = 100 * RSV_NSEC_PER_MSEC };
	struct rsv_mapping *maps[] = { heavy.m, daemon.m, plain.m };

	start(sys, "heavy", &heavy);
	start(sys, "daemon", &daemon);
	start(sys, "plain", &plain);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_gt(heavy.pauses, 0);
	cr_assert_eq(daemon.pauses, 0, "the daemon paused %" PRIu64 " times", daemon.pauses);
	cr_assert_lt(daemon.elapsed, RSV_NSEC_PER_SEC);
	cr_assert_gt(plain.pauses, 0);
	cr_assert_gt(plain.elapsed, RSV_NSEC_PER_SEC, "it waited for the slow device");
	teardown(sys, maps, 3);
}

struct killer {
	struct writer *victim;
	uint64_t at_ns;
};

static int killer_main(void *arg)
{
	struct killer *k = arg;

	rsv_sleep_ns(k->at_ns);
	rsv_task_kill(k->victim->task);
	return 0;
}

Test(writeback, a_killed_writer_leaves_its_pause)
{
	struct rsv_system *sys = limited_system(RSV_BACKEND_SIM);
	struct writer w = { .m = file_on(sys, "stuck", 60 * RSV_NSEC_PER_SEC), .pages = 1000 };
	struct killer k = { .victim = &w, .at_ns = RSV_NSEC_PER_SEC };

	start(sys, "writer", &w);
	cr_assert_not_null(rsv_task_create(sys, "killer", killer_main, &k));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert(w.killed);
	cr_assert_lt(w.written, w.pages);
	cr_assert_lt(w.elapsed, RSV_NSEC_PER_SEC + RSV_NSEC_PER_SEC / 100,
		     "left %" PRIu64 " ns after the start", w.elapsed);
	teardown(sys, &w.m, 1);
}

Test(writeback, pages_without_a_device_are_never_throttled)
{
	struct rsv_system *sys = limited_system(RSV_BACKEND_SIM);
	struct writer w = { .m = file_on(sys, "nodev", 0), .pages = 3 * THRESH };

	start(sys, "writer", &w);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(w.written, w.pages);
	cr_assert_eq(w.pauses, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_FLUSHER_PAGES), 0);
	cr_assert_eq(rsv_vm_counter(sys, RSV_NR_DIRTY), w.pages);
	teardown(sys, &w.m, 1);
}
