/* The simulator's strategies: PCT finds bugs of small depth at the rate its bound promises,
 * where the random walk almost never does; a recorded schedule replays to the same trace,
 * continues past its end, and gives way where it no longer fits; bad settings are refused. */
#include "helpers.h"

TestSuite(sched, .timeout = 60);

#define STEPS 40

/* Two threads. The writer runs STEPS steps, setting x at the first and y at the last; the
 * reader looks once. Bug 1 (depth 1): the reader looks only after the writer has finished.
 * Bug 2 (depth 2): the reader sees x set but not y, so the writer was preempted in between
 * and the reader ran then. */
struct race {
	int x, y;
	int seen_x, seen_y;
	bool looked;
};

static int writer(void *arg)
{
	struct race *r = arg;

	r->x = 1;
	for (int i = 0; i < STEPS; i++)
		rsv_sched_point();
	r->y = 1;
	return 0;
}

static int reader(void *arg)
{
	struct race *r = arg;

	rsv_sched_point();
	r->seen_x = r->x;
	r->seen_y = r->y;
	r->looked = true;
	return 0;
}

struct outcome {
	bool bug1, bug2;
	uint64_t hash, decisions;
};

static struct outcome run_race(uint64_t seed, const struct rsv_sched_config *sc, uint32_t **log,
			       size_t *nr_log)
{
	struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_SIM, .seed = seed, .sched = *sc });
	struct race r = { 0 };
	struct outcome o;

	cr_assert_not_null(p);
	rsv_thread_create(p, "writer", writer, &r);
	rsv_thread_create(p, "reader", reader, &r);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	cr_assert(r.looked);
	o = (struct outcome){ .bug1 = r.seen_y,
			      .bug2 = r.seen_x && !r.seen_y,
			      .hash = rsv_platform_trace_hash(p),
			      .decisions = rsv_platform_decisions(p) };
	if (log) {
		const uint32_t *ids;

		*nr_log = rsv_platform_schedule(p, &ids);
		*log = malloc(*nr_log * sizeof(**log));
		memcpy(*log, ids, *nr_log * sizeof(**log));
	}
	rsv_platform_destroy(p);
	return o;
}

static unsigned count_bugs(const struct rsv_sched_config *sc, unsigned runs, bool depth2)
{
	unsigned found = 0;

	for (uint64_t seed = 0; seed < runs; seed++) {
		struct outcome o = run_race(seed, sc, NULL, NULL);

		found += depth2 ? o.bug2 : o.bug1;
	}
	return found;
}

Test(sched, pct_finds_a_depth_one_bug_as_often_as_its_bound_and_random_does_not)
{
	struct rsv_sched_config pct = { .strategy = RSV_SCHED_PCT, .pct_depth = 1 };
	struct rsv_sched_config rnd = { .strategy = RSV_SCHED_RANDOM };
	unsigned by_pct = count_bugs(&pct, 1000, false), by_random = count_bugs(&rnd, 1000, false);

	/* n = 2 threads: the bound is 1/2; the random walk needs the writer chosen ~40 times
	 * running, 2^-40. */
	cr_assert_geq(by_pct, 400, "PCT d=1 found the bug in %u of 1000 runs", by_pct);
	cr_assert_eq(by_random, 0, "random found it in %u of 1000 runs", by_random);
}

/* Swarm's biases make some runs starve the reader for the whole of the writer's steps. */
Test(sched, swarm_biases_reach_what_the_even_walk_does_not)
{
	struct rsv_sched_config swarm = { .strategy = RSV_SCHED_SWARM };
	unsigned found = count_bugs(&swarm, 1000, false);

	cr_assert_geq(found, 50, "swarm found the depth-1 bug in %u of 1000 runs", found);
	for (uint64_t seed = 0; seed < 20; seed++)
		cr_assert_eq(run_race(seed, &swarm, NULL, NULL).hash,
			     run_race(seed, &swarm, NULL, NULL).hash);
}

Test(sched, pct_finds_a_depth_two_bug_above_its_bound)
{
	/* k close to the run's length: the bound is 1/(n k) = 1/(2 * 48). */
	struct rsv_sched_config pct = { .strategy = RSV_SCHED_PCT,
					.pct_depth = 2,
					.pct_steps = 48 };
	struct rsv_sched_config pct1 = { .strategy = RSV_SCHED_PCT, .pct_depth = 1 };
	unsigned found = count_bugs(&pct, 2000, true);

	cr_assert_geq(found, 2000 / 96, "PCT d=2: %u of 2000 runs, bound 1/96", found);
	cr_assert_eq(count_bugs(&pct1, 2000, true), 0, "with no change point it cannot happen");
}

Test(sched, the_same_seed_and_strategy_give_the_same_run)
{
	struct rsv_sched_config pct = { .strategy = RSV_SCHED_PCT, .pct_depth = 3 };

	for (uint64_t seed = 0; seed < 20; seed++) {
		struct outcome a = run_race(seed, &pct, NULL, NULL),
			       b = run_race(seed, &pct, NULL, NULL);

		cr_assert_eq(a.hash, b.hash);
		cr_assert_eq(a.decisions, b.decisions);
	}
}

Test(sched, a_recorded_schedule_replays_to_the_same_trace)
{
	struct rsv_sched_config rec = { .strategy = RSV_SCHED_PCT, .pct_depth = 2, .record = true };
	uint32_t *log;
	size_t n;
	struct outcome first = run_race(11, &rec, &log, &n);
	/* Replayed under the random strategy: only the schedule decides. */
	struct rsv_sched_config rep = { .replay = log, .nr_replay = n };
	struct rsv_platform *p;
	struct outcome again;

	cr_assert_eq(n, first.decisions);
	again = run_race(11, &rep, NULL, NULL);
	cr_assert_eq(again.hash, first.hash);
	cr_assert_eq(again.bug1, first.bug1);
	cr_assert_eq(again.bug2, first.bug2);

	/* Half of it: followed that far, then the seed's random walk to the end. */
	p = rsv_platform_create(
		&(struct rsv_platform_config){ .backend = RSV_BACKEND_SIM,
					       .seed = 11,
					       .sched = { .replay = log, .nr_replay = n / 2 } });
	{
		struct race r = { 0 };

		rsv_thread_create(p, "writer", writer, &r);
		rsv_thread_create(p, "reader", reader, &r);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		cr_assert_eq(rsv_platform_replayed(p), n / 2);
		cr_assert(r.looked);
	}
	rsv_platform_destroy(p);

	/* Cut short under its own strategy and seed, it goes on exactly as the run it came from. */
	{
		struct rsv_sched_config cut = rec;
		struct outcome o;

		cut.record = false;
		cut.replay = log;
		cut.nr_replay = n / 3;
		o = run_race(11, &cut, NULL, NULL);
		cr_assert_eq(o.hash, first.hash, "a prefix and the seed give the whole run");
	}

	/* A thread that is not there: the replay ends at once and the run goes on. */
	log[0] = 999;
	p = rsv_platform_create(
		&(struct rsv_platform_config){ .backend = RSV_BACKEND_SIM,
					       .seed = 11,
					       .sched = { .replay = log, .nr_replay = n } });
	{
		struct race r = { 0 };

		rsv_thread_create(p, "writer", writer, &r);
		rsv_thread_create(p, "reader", reader, &r);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		cr_assert_eq(rsv_platform_replayed(p), 0);
	}
	rsv_platform_destroy(p);
	free(log);
}

static int spinner(void *arg)
{
	_Atomic bool *go = arg;

	while (!atomic_load(go))
		rsv_sched_point(); /* spins without sleeping */
	return 0;
}

static int releaser(void *arg)
{
	atomic_store((_Atomic bool *)arg, true);
	return 0;
}

/* PCT's deviation: a spinner of top priority would starve the thread it waits for. */
Test(sched, pct_demotes_a_spinner_so_the_run_ends)
{
	for (uint64_t seed = 0; seed < 20; seed++) {
		struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
			.backend = RSV_BACKEND_SIM,
			.seed = seed,
			.sched = { .strategy = RSV_SCHED_PCT, .pct_depth = 1 } });
		_Atomic bool go = false;

		rsv_thread_create(p, "spinner", spinner, &go);
		rsv_thread_create(p, "releaser", releaser, &go);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		cr_assert_leq(rsv_platform_decisions(p), RSV_PCT_SPIN_LIMIT + 10);
		rsv_platform_destroy(p);
	}
}

Test(sched, bad_strategies_are_refused)
{
	static const uint32_t one = 1;
	const struct rsv_sched_config bad[] = {
		{ .strategy = RSV_NR_SCHED_STRATEGIES },
		{ .strategy = RSV_SCHED_PCT, .pct_depth = RSV_PCT_MAX_DEPTH + 1 },
		{ .nr_replay = 3 }, /* no schedule */
	};

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		cr_assert_null(rsv_platform_create(&(struct rsv_platform_config){
			.backend = RSV_BACKEND_SIM, .sched = bad[i] }));
		cr_assert_eq(errno, EINVAL);
	}
	/* Real threads are the host's to schedule. */
	cr_assert_null(rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_OS, .sched = { .strategy = RSV_SCHED_PCT } }));
	cr_assert_null(rsv_platform_create(&(struct rsv_platform_config){
		.backend = RSV_BACKEND_OS, .sched = { .replay = &one, .nr_replay = 1 } }));
	errno = 0;
	cr_assert_null(rsv_system_create(&(struct rsv_system_config){
		.backend = RSV_BACKEND_SIM,
		.sched = { .strategy = RSV_SCHED_PCT, .pct_depth = 99 } }));
	cr_assert_eq(errno, EINVAL, "the system says why");
}

/* ---- the determinism self-check's raw material ---- */

#include <time.h>

static int clock_reader(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts); /* outside the run: breaks replay */
		rsv_sleep_ns(1000 + (uint64_t)ts.tv_nsec % 5000);
		/* Scheduling points as many as the clock says: each is a decision, so two runs
		 * differ unless 64 readings agree mod 7 (a sleep's length alone moved no
		 * decision on some machines: the test failed once on a loaded one). */
		for (long k = 0; k < ts.tv_nsec % 7; k++)
			rsv_sched_point();
	}
	return 0;
}

static int plain_yielder(void *arg)
{
	(void)arg;
	for (int i = 0; i < 64; i++)
		rsv_sleep_ns(2000);
	return 0;
}

/* Two runs of one seed, compared decision by decision: the index of the first difference,
 * or -1 when they are the same. */
static long first_difference(int (*fn)(void *))
{
	uint64_t *h[2];
	size_t n[2];
	long first = -1;

	for (int r = 0; r < 2; r++) {
		struct rsv_platform *p = rsv_platform_create(&(struct rsv_platform_config){
			.backend = RSV_BACKEND_SIM, .seed = 5, .sched = { .record = true } });
		const uint64_t *hashes;

		rsv_thread_create(p, "suspect", fn, NULL);
		rsv_thread_create(p, "other", plain_yielder, NULL);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		n[r] = rsv_platform_schedule_hashes(p, &hashes);
		h[r] = malloc(n[r] * sizeof(*hashes));
		memcpy(h[r], hashes, n[r] * sizeof(*hashes));
		rsv_platform_destroy(p);
	}
	for (size_t i = 0; first < 0 && i < (n[0] < n[1] ? n[0] : n[1]); i++)
		if (h[0][i] != h[1][i])
			first = (long)i;
	if (first < 0 && n[0] != n[1])
		first = (long)(n[0] < n[1] ? n[0] : n[1]);
	free(h[0]);
	free(h[1]);
	return first;
}

Test(sched, two_runs_of_a_seed_differ_only_when_a_thread_reads_the_wall_clock)
{
	cr_assert_eq(first_difference(plain_yielder), -1);
	cr_assert_geq(first_difference(clock_reader), 0, "the clock decided the schedule");
}

/* Lanes: what each thread did, for `run --plot`. */
static struct rsv_mutex lane_lock;

static int lane_holder(void *arg)
{
	(void)arg;
	rsv_mutex_lock(&lane_lock);
	rsv_sleep_ns(RSV_NSEC_PER_MSEC);
	rsv_mutex_unlock(&lane_lock);
	return 0;
}

static int lane_waiter(void *arg)
{
	(void)arg;
	rsv_sleep_ns(RSV_NSEC_PER_MSEC / 2); /* the holder has the lock by then */
	rsv_mutex_lock(&lane_lock);
	rsv_mutex_unlock(&lane_lock);
	return 0;
}

Test(sched, lanes_record_who_started_blocked_on_what_and_exited)
{
	struct rsv_platform *p = rsv_platform_create(
		&(struct rsv_platform_config){ .backend = RSV_BACKEND_SIM,
					       .seed = 3,
					       .sched = { .record = true, .record_lanes = true } });
	const struct rsv_lane_event *ev;
	const uint64_t *times;
	const uint32_t *ids;
	struct rsv_thread *holder, *waiter;
	bool started[2] = { false }, exited[2] = { false }, on_mutex = false, slept = false;
	size_t n, nd;

	rsv_mutex_init(&lane_lock, "lane lock");
	holder = rsv_thread_create(p, "holder", lane_holder, NULL);
	waiter = rsv_thread_create(p, "waiter", lane_waiter, NULL);
	cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
	n = rsv_platform_lanes(p, &ev);
	nd = rsv_platform_schedule(p, &ids);
	cr_assert_eq(rsv_platform_decision_times(p, &times), nd);
	cr_assert_gt(n, 0);
	for (size_t i = 0; i < n; i++) {
		unsigned who = ev[i].thread == rsv_thread_id(waiter);

		cr_assert(ev[i].thread == rsv_thread_id(holder) || who);
		cr_assert_leq(ev[i].decision, nd);
		cr_assert(i == 0 || ev[i].decision >= ev[i - 1].decision, "in order");
		if (ev[i].type == RSV_LANE_START) {
			cr_assert_str_eq(ev[i].what, who ? "waiter" : "holder");
			started[who] = true;
		}
		if (ev[i].type == RSV_LANE_EXIT)
			exited[who] = true;
		if (ev[i].type == RSV_LANE_BLOCK && who && ev[i].kind == RSV_LANE_WAIT_MUTEX) {
			cr_assert_str_eq(ev[i].what, "lane lock");
			on_mutex = true;
		}
		if (ev[i].type == RSV_LANE_BLOCK && !who && ev[i].kind == RSV_LANE_WAIT_SLEEP)
			slept = true;
	}
	cr_assert(started[0] && started[1] && exited[0] && exited[1]);
	cr_assert(on_mutex, "the waiter's wait for the mutex is a lane event");
	cr_assert(slept, "the holder's sleep is one");
	for (size_t i = 1; i < nd; i++)
		cr_assert_geq(times[i], times[i - 1]);
	cr_assert_geq(times[nd - 1], RSV_NSEC_PER_MSEC);
	rsv_platform_destroy(p);
}

/* replay_sticky_follows_the_last_entry: past a schedule the last thread runs on, but the
 * schedule's own last entry is still its choice; the sticky rule took that decision too, so
 * a one-entry schedule was no schedule, and the shrinker's one-deviation candidates never
 * deviated. */
static int sticky_spinner(void *arg)
{
	(void)arg;
	for (int i = 0; i < 4; i++)
		rsv_sched_point();
	return 0;
}

Test(sched, replay_sticky_follows_the_schedules_last_entry)
{
	for (int which = 0; which < 2; which++) {
		struct rsv_platform *p;
		struct rsv_thread *t[2];
		const uint32_t *ids;
		uint32_t want;
		size_t n;

		/* First the sticky run alone: it starts the lower id and keeps it. */
		p = rsv_platform_create(&(struct rsv_platform_config){
			.backend = RSV_BACKEND_SIM,
			.seed = 9,
			.sched = { .record = true, .replay_sticky = true } });
		t[0] = rsv_thread_create(p, "a", sticky_spinner, NULL);
		t[1] = rsv_thread_create(p, "b", sticky_spinner, NULL);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		n = rsv_platform_schedule(p, &ids);
		cr_assert_gt(n, 2);
		cr_assert_eq(ids[0], rsv_thread_id(t[0]), "sticky starts the lowest id");
		cr_assert_eq(ids[1], ids[0], "and keeps it");
		rsv_platform_destroy(p);

		/* A one-entry schedule naming @which: its one decision is that thread. */
		p = rsv_platform_create(
			&(struct rsv_platform_config){ .backend = RSV_BACKEND_SIM,
						       .seed = 9,
						       .sched = { .record = true,
								  .replay_sticky = true,
								  .replay = &want,
								  .nr_replay = 1 } });
		t[0] = rsv_thread_create(p, "a", sticky_spinner, NULL);
		t[1] = rsv_thread_create(p, "b", sticky_spinner, NULL);
		want = rsv_thread_id(t[which]);
		cr_assert_eq(rsv_platform_run(p), RSV_RUN_DONE);
		n = rsv_platform_schedule(p, &ids);
		cr_assert_eq(ids[0], want, "the schedule's entry %d decided", which);
		cr_assert_eq(ids[1], want, "then it runs on");
		rsv_platform_destroy(p);
	}
}
