/* reservoir/platform.h: the harness's view of the two backends: creating a platform,
 * starting threads on it, running it to the end and reading its report, and the seeded PRNG.
 *
 * On the simulator only one thread runs at a time; at every scheduling point (reservoir/sync.h)
 * a PRNG seeded by the platform's seed picks who runs next, and time is virtual. A run is a
 * pure function of its seed. When no thread can run and no timer is pending the run stops
 * with a deadlock report naming every blocked thread, what it waits on and who holds that.
 * A system (reservoir/system.h) creates and runs its own platform; this header is for tests
 * and tools that drive one directly.
 */
#ifndef RESERVOIR_PLATFORM_H
#define RESERVOIR_PLATFORM_H

#include <stdio.h>
#include "sync.h"

struct rsv_platform_config {
	enum rsv_backend backend;
	uint64_t seed;          /* scheduler and thread PRNG seed */
	uint64_t time_limit_ns; /* sim: stop the run when virtual time passes this; 0 = none */
	uint64_t tick_ns;       /* sim: virtual time one scheduling decision costs; 0 = 1 us */
	size_t stack_size;      /* sim: coroutine stack; 0 = default */
	struct rsv_workspace *workspace; /* sim: stacks come from it and go back to it */
	struct rsv_sched_config sched;   /* sim: the strategy; all zero: random */
};

/* splitmix64 seeding a xoshiro256** generator. */
struct rsv_rand {
	uint64_t s[4];
};

/* ---- platform ---- */
RSV_API struct rsv_platform *rsv_platform_create(const struct rsv_platform_config *cfg);
RSV_API void rsv_platform_destroy(struct rsv_platform *p);
RSV_API enum rsv_backend rsv_platform_backend(const struct rsv_platform *p);
/* Runs until every thread created on @p has returned (os), or until the sim stops. Service
 * threads (the library's kswapd, device workers) do not keep a run going. */
RSV_API enum rsv_run_result rsv_platform_run(struct rsv_platform *p);
RSV_API void rsv_platform_stop(struct rsv_platform *p);
/* sim: hash of every scheduling event so far; equal seeds give equal hashes. */
RSV_API uint64_t rsv_platform_trace_hash(const struct rsv_platform *p);
RSV_API uint64_t rsv_platform_decisions(const struct rsv_platform *p);
/* sim: decisions that switched away from a thread that could have gone on running. */
RSV_API uint64_t rsv_platform_preemptions(const struct rsv_platform *p);
/* Threads created on @p so far. */
RSV_API unsigned rsv_platform_threads(const struct rsv_platform *p);
/* sim, with sched.record: the thread id chosen at each decision so far, in @ids (valid until
 * the platform goes); how many. */
RSV_API size_t rsv_platform_schedule(const struct rsv_platform *p, const uint32_t **ids);
/* sim, with sched.record: the trace hash just after each decision. Two runs that should be
 * the same and are not first differ at the first decision whose hashes do: a thread that read
 * the wall clock or an unseeded PRNG, or any state that lives outside the run, and acted on it
 * in a way the scheduler sees (it slept, blocked, woke someone or started a thread, or chose
 * at another count of scheduling points). */
RSV_API size_t rsv_platform_schedule_hashes(const struct rsv_platform *p, const uint64_t **hashes);
/* sim, with sched.record_lanes: what each thread did, for a timeline of one lane per thread.
 * Each event falls after decision @decision (0: before the first) at virtual time @now: a
 * thread started (@what: its name), became runnable, blocked (@kind, an RSV_LANE_* wait kind,
 * and @what: the mutex, semaphore or wait queue it sleeps on), or exited. Between a thread's
 * events it runs at the decisions that chose it (rsv_platform_schedule()). */
enum rsv_lane_event_type { RSV_LANE_START, RSV_LANE_RUNNABLE, RSV_LANE_BLOCK, RSV_LANE_EXIT };
enum rsv_lane_wait {
	RSV_LANE_WAIT_OTHER,
	RSV_LANE_WAIT_MUTEX,
	RSV_LANE_WAIT_SEMAPHORE,
	RSV_LANE_WAIT_QUEUE, /* a wait queue: a pool, a device's I/O, free memory, ... */
	RSV_LANE_WAIT_SLEEP,
	RSV_LANE_WAIT_RETRY,    /* a retry loop's timed wait for what others must do */
	RSV_LANE_WAIT_THROTTLE, /* a pacing sleep */
};
struct rsv_lane_event {
	uint64_t decision, now;
	uint32_t thread;
	unsigned char type, kind; /* enum rsv_lane_event_type, enum rsv_lane_wait */
	char what[38];
};
/* sim, with sched.record_lanes: what each thread did (runs, waits with what they waited on,
 * wake-ups), in @events, for drawing one lane per thread; returns their number. */
RSV_API size_t rsv_platform_lanes(const struct rsv_platform *p,
				  const struct rsv_lane_event **events);
/* sim, with sched.record_lanes: the virtual time of each decision, in @times. */
RSV_API size_t rsv_platform_decision_times(const struct rsv_platform *p, const uint64_t **times);
/* sim: how many decisions followed sched.replay before it ended or diverged. */
RSV_API size_t rsv_platform_replayed(const struct rsv_platform *p);
/* The report of the last deadlock or time limit: every blocked thread, what it waits on,
 * who holds that, and any wait-for cycle. Empty string when there is none. */
RSV_API const char *rsv_platform_report(const struct rsv_platform *p);
RSV_API void rsv_platform_dump_threads(struct rsv_platform *p, FILE *out);
/* ---- threads ---- */
RSV_API struct rsv_thread *rsv_thread_create(struct rsv_platform *p, const char *name,
					     int (*fn)(void *arg), void *arg);
RSV_API struct rsv_thread *rsv_thread_self(void);
RSV_API const char *rsv_thread_name(const struct rsv_thread *t);
RSV_API unsigned rsv_thread_id(const struct rsv_thread *t);
RSV_API bool rsv_thread_exited(const struct rsv_thread *t);
RSV_API int rsv_thread_exit_code(const struct rsv_thread *t);
/* ---- PRNG ---- */
RSV_API void rsv_rand_seed(struct rsv_rand *r, uint64_t seed);
RSV_API uint64_t rsv_rand_next(struct rsv_rand *r);
RSV_API uint64_t rsv_rand_below(struct rsv_rand *r, uint64_t bound); /* [0, bound) */

#endif
