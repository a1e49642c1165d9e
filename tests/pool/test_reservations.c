/* Reservations: Arcangeli's global pool and reiser4's per-thread pages doing the same work
 * (scenario s4), the section rules (nesting, refill, who may use the pool), and misuse. */
#include <stdlib.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(reservations, .timeout = 120);

#define WRITERS 8
#define RESERVATION 8
#define IO_LATENCY (10 * RSV_NSEC_PER_MSEC)
#define HOG_MAX 4096

/* A task's pages held back from everyone, to leave exactly the free pages a test wants. */
struct hog {
	struct rsv_page *pages[HOG_MAX];
	unsigned nr;
};

/* Allocates until the buddy holds exactly @target free pages. Draining after each page keeps
 * the task's cache from hiding pages, so each round moves the count by one. */
static void exhaust(struct rsv_system *sys, struct hog *h, unsigned long target)
{
	struct rsv_watermarks saved;

	rsv_system_watermarks(sys, &saved);
	rsv_system_set_watermarks(sys, 1, 2, 3);
	while (rsv_system_free_pages(sys) > target) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY, 0);

		cr_assert_not_null(p);
		cr_assert_lt(h->nr, HOG_MAX);
		h->pages[h->nr++] = p;
		rsv_drain_local_pages();
	}
	rsv_system_set_watermarks(sys, saved.min, saved.low, saved.high);
	cr_assert_eq(rsv_system_free_pages(sys), target);
}

static void release(struct hog *h)
{
	while (h->nr)
		rsv_free_pages(h->pages[--h->nr], 0);
}

/* ---- S4: writers whose sections need at most RESERVATION pages ---- */

struct s4 {
	struct rsv_reservation *r;
	struct rsv_bdev *dev;
	unsigned sections, pages;   /* per writer, per section */
	bool hold_until_end;        /* submit the section's pages only when it ends */
	_Atomic unsigned entered, written, failed, done;
	_Atomic unsigned in_section, max_in_section;
	struct rsv_progress progress;
	enum rsv_watchdog_event watchdog;
};

struct write {
	struct rsv_request req;
	struct s4 *s;
};

/* Completion frees the written page: the I/O that gives memory back. */
static void write_done(struct rsv_request *req)
{
	struct write *w = req->private;

	rsv_free_pages(req->page, 0);
	atomic_fetch_add(&w->s->written, 1);
	rsv_progress_inc(&w->s->progress);
	free(w);
}

static void submit(struct s4 *s, struct rsv_page *p, unsigned n)
{
	struct write *w = malloc(sizeof(*w));

	*w = (struct write){ .s = s };
	w->req = (struct rsv_request){ .bdev = s->dev, .op = RSV_REQ_WRITE, .sector = n % 64,
				       .page = p, .end_io = write_done, .private = w };
	rsv_submit_request(&w->req);
}

static void section(struct s4 *s, bool first)
{
	struct rsv_page *held[RESERVATION * 2];

	if (rsv_reservation_enable(s->r)) {
		atomic_fetch_add(&s->failed, 1);
		return;
	}
	/* Everyone is inside before anyone allocates: the worst case for what is pinned. */
	if (first && atomic_fetch_add(&s->entered, 1) + 1 < WRITERS)
		while (atomic_load(&s->entered) < WRITERS)
			rsv_yield();
	for (unsigned i = 0; i < s->pages; i++) {
		struct rsv_page *p = rsv_alloc_pages(RSV_GFP_NOFS, 0);

		if (!p) {
			atomic_fetch_add(&s->failed, 1);
			continue;
		}
		if (s->hold_until_end)
			held[i] = p;
		else
			submit(s, p, i);
	}
	for (unsigned i = 0; s->hold_until_end && i < s->pages; i++)
		submit(s, held[i], i);
	rsv_reservation_disable(s->r);
}

static int writer(void *arg)
{
	struct s4 *s = arg;

	for (unsigned k = 0; k < s->sections; k++)
		section(s, k == 0);
	/* fsync: the run ends with no I/O in flight. */
	while (atomic_load(&s->written) + atomic_load(&s->failed) <
	       WRITERS * s->sections * s->pages)
		rsv_msleep(1);
	atomic_fetch_add(&s->done, 1);
	return 0;
}

static struct rsv_system *reservation_system(enum rsv_reservation_policy policy, uint64_t seed,
					 enum rsv_backend backend)
{
	struct rsv_system_config cfg = { .nr_pages = 1024, .backend = backend, .seed = seed,
					 .misuse = RSV_MISUSE_RETURN };
	struct rsv_system *sys;

	cfg.policy.value[RSV_POLICY_RESERVATION] = (unsigned char)policy;
	sys = rsv_system_create(&cfg);
	cr_assert_not_null(sys);
	return sys;
}

/* Runs WRITERS writers against memory exhausted down to @headroom pages above min. */
static void run_writers(struct rsv_system *sys, struct s4 *s, long headroom,
			enum rsv_run_result expect, struct rsv_reservation_stats *st)
{
	struct rsv_watermarks wm;
	struct hog *h = calloc(1, sizeof(*h));
	unsigned writers = s->hold_until_end ? 1 : WRITERS;

	s->dev = rsv_ramdev_create(sys, "disk", 64, IO_LATENCY, 0);
	rsv_task_attach(sys, "mount");
	s->r = rsv_reservation_create(sys, RESERVATION);
	cr_assert_not_null(s->r, "%s", strerror(errno));
	rsv_system_watermarks(sys, &wm);
	exhaust(sys, h, (unsigned long)((long)wm.min + headroom));
	rsv_task_detach();
	rsv_progress_register(sys, &s->progress, "pages written");
	rsv_watchdog_start(sys, &(struct rsv_watchdog_config){
		.progress_timeout_ns = 30 * RSV_NSEC_PER_SEC, .stop_run = true });
	if (s->hold_until_end)
		atomic_store(&s->entered, WRITERS - 1);
	for (unsigned i = 0; i < writers; i++)
		rsv_task_create(sys, "writer", writer, s);
	cr_assert_eq(rsv_system_run(sys), expect, "%s",
		     rsv_platform_report(rsv_system_platform(sys)));
	rsv_reservation_stats(sys, st);
	s->watchdog = rsv_watchdog_fired(sys);
	if (expect != RSV_RUN_DONE) {
		free(h);
		rsv_system_destroy(sys);
		return;
	}
	rsv_task_attach(sys, "umount");
	release(h);
	cr_assert_eq(rsv_reservation_destroy(s->r), 0);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	free(h);
	teardown_whole(sys);
}

Test(reservations, global_pool_eight_writers_finish_with_eight_pages_one_user_at_a_time)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct rsv_system *sys = reservation_system(RSV_RESERVATION_GLOBAL_POOL, seed,
							RSV_BACKEND_SIM);
		struct s4 s = { .sections = 4, .pages = RESERVATION };
		struct rsv_reservation_stats st;

		run_writers(sys, &s, 0, RSV_RUN_DONE, &st);
		cr_assert_eq(s.done, WRITERS, "seed %lu", (unsigned long)seed);
		cr_assert_eq(s.failed, 0, "seed %lu", (unsigned long)seed);
		cr_assert_eq(s.written, WRITERS * 4 * RESERVATION);
		cr_assert_eq(st.sections, WRITERS * 4);
		cr_assert_eq(st.pool_target, RESERVATION);
		cr_assert_eq(st.pinned_peak, RESERVATION, "held back: the pool alone");
		cr_assert_eq(st.users_peak, 1, "at most one task uses the pool at a time");
		cr_assert_gt(st.pool_allocs, 0, "memory was exhausted: the pool served");
		cr_assert_leq(st.pool_used_peak, RESERVATION);
		cr_assert_eq(st.refill_pages, st.pool_allocs, "every page lent was put back");
		cr_assert_eq(st.thread_reserved, 0);
		if (seed == 1)
			cr_log_info("global pool: %lu sections, %lu pool pages lent, %lu semaphore "
				    "waits, pinned peak %lu", (unsigned long)st.sections,
				    (unsigned long)st.pool_allocs, (unsigned long)st.sem_waits,
				    st.pinned_peak);
	}
}

Test(reservations, per_thread_pages_pin_a_reservation_per_writer_for_the_same_work)
{
	for (uint64_t seed = 1; seed <= 20; seed++) {
		struct rsv_system *sys = reservation_system(RSV_RESERVATION_PER_THREAD, seed,
							RSV_BACKEND_SIM);
		struct s4 s = { .sections = 4, .pages = RESERVATION };
		struct rsv_reservation_stats st;

		/* Every writer must reserve before memory runs out: headroom for all of them. */
		run_writers(sys, &s, WRITERS * RESERVATION, RSV_RUN_DONE, &st);
		cr_assert_eq(s.done, WRITERS, "seed %lu", (unsigned long)seed);
		cr_assert_eq(s.failed, 0);
		cr_assert_eq(s.written, WRITERS * 4 * RESERVATION);
		cr_assert_eq(st.pinned_peak, WRITERS * RESERVATION, "seed %lu: peak %lu",
			     (unsigned long)seed, st.pinned_peak);
		cr_assert_eq(st.thread_allocs, WRITERS * 4 * RESERVATION,
			     "sections allocate from their own pages first");
		cr_assert_eq(st.pool_target, 0);
		cr_assert_eq(st.sem_acquires, 0);
		cr_assert_eq(st.pinned, 0, "everything went back");
	}
}

Test(reservations, a_section_needing_more_than_the_reservation_deadlocks)
{
	struct rsv_system *sys = reservation_system(RSV_RESERVATION_GLOBAL_POOL, 1,
						    RSV_BACKEND_SIM);
	struct s4 s = { .sections = 1, .pages = RESERVATION + 1, .hold_until_end = true };
	struct rsv_reservation_stats st;

	run_writers(sys, &s, 0, RSV_RUN_STOPPED, &st);
	cr_assert_eq(st.pool_allocs, RESERVATION);
	cr_assert_eq(s.watchdog, RSV_WATCHDOG_DEADLOCK, "the holder waits for memory for good");
	cr_assert_gt(st.pool_empty, 0);
	cr_assert_eq(s.written, 0);
}

Test(reservations, global_pool_on_real_threads)
{
	struct rsv_system *sys = reservation_system(RSV_RESERVATION_GLOBAL_POOL, 1, RSV_BACKEND_OS);
	struct s4 s = { .sections = 2, .pages = RESERVATION };
	struct rsv_reservation_stats st;

	run_writers(sys, &s, 0, RSV_RUN_DONE, &st);
	cr_assert_eq(s.done, WRITERS);
	cr_assert_eq(s.failed, 0);
	cr_assert_eq(st.users_peak, 1);
	cr_assert_eq(st.pinned_peak, RESERVATION);
}

/* ---- the section rules, on one attached task ---- */

static struct rsv_system *attached(enum rsv_reservation_policy policy)
{
	struct rsv_system *sys = reservation_system(policy, 1, RSV_BACKEND_SIM);

	rsv_task_attach(sys, "fs");
	return sys;
}

static void finish(struct rsv_system *sys)
{
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	teardown_whole(sys);
}

Test(reservations, only_a_section_and_only_after_a_failure_uses_the_pool)
{
	struct rsv_system *sys = attached(RSV_RESERVATION_GLOBAL_POOL);
	struct rsv_reservation *r = rsv_reservation_create(sys, 4);
	struct hog *h = calloc(1, sizeof(*h));
	struct rsv_watermarks wm;
	struct rsv_reservation_stats st;
	struct rsv_page *p;

	cr_assert_not_null(r);
	/* Memory to spare: a section allocates as usual. */
	cr_assert_eq(rsv_reservation_enable(r), 0);
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_NOFS, 0));
	rsv_free_pages(p, 0);
	rsv_reservation_disable(r);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_allocs, 0);
	cr_assert_eq(st.sem_acquires, 0, "no failure, no semaphore");

	rsv_system_watermarks(sys, &wm);
	exhaust(sys, h, wm.min);
	/* Outside a section a failing allocation fails. */
	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOFS | RSV___GFP_NORETRY, 0));
	/* Inside, it falls back to the pool; a non-blocking one may not queue for it. */
	cr_assert_eq(rsv_reservation_enable(r), 0);
	cr_assert_null(rsv_alloc_pages(RSV_GFP_NOWAIT, 0));
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_NOFS | RSV___GFP_NORETRY, 0));
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_allocs, 1);
	cr_assert_eq(st.pool_pages, 3);
	cr_assert_eq(st.users, 1);
	/* The holder may now take from it without blocking too. */
	cr_assert_not_null(h->pages[h->nr++] = rsv_alloc_pages(RSV_GFP_NOWAIT, 0));
	rsv_free_pages(p, 0); /* the "I/O" completes: the refill has pages to find */
	rsv_free_pages(h->pages[--h->nr], 0);
	rsv_reservation_disable(r);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_pages, 4, "refilled on the way out");
	cr_assert_eq(st.refill_pages, 2);
	cr_assert_eq(st.pool_allocs, 2, "the refill did not take from the pool");
	cr_assert_eq(st.users, 0);
	release(h);
	free(h);
	cr_assert_eq(rsv_reservation_destroy(r), 0);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_pages, 0);
	cr_assert_eq(st.pinned, 0);
	finish(sys);
}

Test(reservations, nested_sections_take_the_semaphore_once)
{
	struct rsv_system *sys = attached(RSV_RESERVATION_GLOBAL_POOL);
	struct rsv_reservation *outer = rsv_reservation_create(sys, 2);
	struct rsv_reservation *inner = rsv_reservation_create(sys, 6);
	struct hog *h = calloc(1, sizeof(*h));
	struct rsv_page *p[3];
	struct rsv_watermarks wm;
	struct rsv_reservation_stats st;

	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_target, 6, "the pool is as large as the largest reservation");
	cr_assert_eq(st.reservations, 2);
	rsv_system_watermarks(sys, &wm);
	exhaust(sys, h, wm.min);
	cr_assert_eq(rsv_reservation_enable(outer), 0);
	cr_assert_not_null(p[0] = rsv_alloc_pages(RSV_GFP_NOFS, 0));
	cr_assert_eq(rsv_reservation_enable(inner), 0);
	cr_assert_eq(rsv_reservation_depth(), 2);
	cr_assert_not_null(p[1] = rsv_alloc_pages(RSV_GFP_NOFS, 0));
	rsv_reservation_disable(inner);
	cr_assert_not_null(p[2] = rsv_alloc_pages(RSV_GFP_NOFS, 0), "still in the outer section");
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.sem_acquires, 1);
	cr_assert_eq(st.pool_allocs, 3);
	cr_assert_eq(st.sections, 1, "one outermost section");
	cr_assert_eq(rsv_reservation_destroy(outer), -EBUSY, "a section is open on it");
	for (int i = 0; i < 3; i++)
		rsv_free_pages(p[i], 0);
	rsv_reservation_disable(outer);
	cr_assert_eq(rsv_reservation_depth(), 0);
	cr_assert_eq(rsv_reservation_destroy(inner), 0);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pool_target, 2);
	cr_assert_eq(st.pool_pages, 2, "shrunk to the largest reservation left");
	cr_assert_eq(rsv_reservation_destroy(outer), 0);
	release(h);
	free(h);
	finish(sys);
}

Test(reservations, per_thread_sections_draw_from_their_own_pages_first_and_return_the_rest)
{
	struct rsv_system *sys = attached(RSV_RESERVATION_PER_THREAD);
	struct rsv_reservation *r = rsv_reservation_create(sys, 5);
	struct rsv_reservation *big = rsv_reservation_create(sys, 7);
	struct rsv_reservation_stats st;
	struct rsv_page *p, *q;

	cr_assert_eq(rsv_reservation_enable(r), 0);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pinned, 5);
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_NOFS, 0));
	cr_assert_not_null(q = rsv_alloc_pages(RSV_GFP_KERNEL, 1), "higher orders bypass it");
	cr_assert_eq(rsv_reservation_enable(big), 0, "nested: topped up to the larger one");
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pinned, 7);
	cr_assert_eq(st.thread_allocs, 1);
	rsv_reservation_disable(big);
	rsv_reservation_disable(r);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pinned, 0);
	cr_assert_eq(st.thread_returned, 7);
	cr_assert_eq(st.thread_reserved, 8);
	rsv_free_pages(p, 0);
	rsv_free_pages(q, 1);
	cr_assert_eq(rsv_reservation_destroy(r), 0);
	cr_assert_eq(rsv_reservation_destroy(big), 0);
	finish(sys);
}

Test(reservations, watermarks_policy_holds_nothing_back)
{
	struct rsv_system *sys = attached(RSV_RESERVATION_WATERMARKS);
	struct rsv_reservation *r = rsv_reservation_create(sys, 8);
	struct rsv_reservation_stats st;
	struct rsv_page *p;

	cr_assert_eq(rsv_reservation_enable(r), 0);
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_NOFS, 0));
	rsv_reservation_disable(r);
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.policy, RSV_RESERVATION_WATERMARKS);
	cr_assert_eq(st.pinned_peak, 0);
	cr_assert_eq(st.sections, 1);
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_reservation_destroy(r), 0);
	finish(sys);
}

/* ---- misuse ---- */

static int exits_inside(void *arg)
{
	return rsv_reservation_enable(arg) ? 1 : 0; /* and never disables */
}

Test(reservations, bad_input_is_refused_and_named)
{
	struct rsv_system *sys = attached(RSV_RESERVATION_PER_THREAD);
	struct rsv_reservation *r;
	struct rsv_reservation_stats st;

	errno = 0;
	cr_assert_null(rsv_reservation_create(sys, 0));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_reservation_create(sys, RSV_RESERVATION_MAX_PAGES + 1));
	cr_assert_null(rsv_reservation_create(sys, 1024), "a quarter of the arena at most");
	cr_assert_eq(rsv_reservation_destroy(NULL), 0);
	cr_assert_not_null(r = rsv_reservation_create(sys, 3));
	rsv_reservation_disable(r);
	cr_assert(strstr(rsv_system_error(sys), "without a matching enable"), "%s",
		  rsv_system_error(sys));
	rsv_task_detach();

	rsv_task_create(sys, "leaky", exits_inside, r);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert(strstr(rsv_system_error(sys), "\"leaky\" exited inside 1 reservation section"),
		  "%s", rsv_system_error(sys));
	rsv_reservation_stats(sys, &st);
	cr_assert_eq(st.pinned, 0, "its pages went back");

	rsv_task_attach(sys, "fs");
	cr_assert_eq(rsv_reservation_destroy(r), -EBUSY, "the broken section stays counted");
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 2);
	rsv_task_detach();
	teardown_whole(sys);
}
