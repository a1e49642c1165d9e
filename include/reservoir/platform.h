/* reservoir/platform.h: threads, locks, wait queues, clock and PRNG, on two backends.
 *
 * Everything above the platform layer synchronises through these, never through pthreads,
 * clocks or rand() directly, so the same code runs on real threads (RSV_BACKEND_OS) and on the
 * deterministic simulator (RSV_BACKEND_SIM). On the simulator only one thread runs at a time;
 * every lock, unlock, wait, wake, sleep and rsv_sched_point() is a scheduling point where a PRNG
 * seeded by the platform's seed picks who runs next, and time is virtual. A run is a pure
 * function of its seed. When no thread can run and no timer is pending the run stops with a
 * deadlock report naming every blocked thread, what it waits on and who holds that.
 *
 * The structures below are public so that they can be embedded; their fields are not API.
 */
#ifndef RESERVOIR_PLATFORM_H
#define RESERVOIR_PLATFORM_H

#include <stdio.h>
#include "defs.h"

enum rsv_backend {
	RSV_BACKEND_OS = 0, /* pthreads, futexes, CLOCK_MONOTONIC */
	RSV_BACKEND_SIM,    /* coroutines on a seeded scheduler, virtual clock */
};

/* Mappings a caller lends to the systems it creates one after another on one thread (a
 * matrix worker): arenas, page maps and simulator stacks stay mapped from one to the next.
 * One system at a time; destroy it after the last. */
struct rsv_workspace;
RSV_API struct rsv_workspace *rsv_workspace_create(void);
RSV_API void rsv_workspace_destroy(struct rsv_workspace *w);

struct rsv_platform_config {
	enum rsv_backend backend;
	uint64_t seed;          /* scheduler and thread PRNG seed */
	uint64_t time_limit_ns; /* sim: stop the run when virtual time passes this; 0 = none */
	uint64_t tick_ns;       /* sim: virtual time one scheduling decision costs; 0 = 1 us */
	size_t stack_size;      /* sim: coroutine stack; 0 = default */
	struct rsv_workspace *workspace; /* sim: stacks come from it and go back to it */
};

/* What rsv_platform_run() ended with. */
enum rsv_run_result {
	RSV_RUN_DONE = 0,       /* every thread returned */
	RSV_RUN_DEADLOCK,       /* sim: nobody can run and no timer is pending */
	RSV_RUN_TIME_LIMIT,     /* sim: virtual time passed time_limit_ns */
	RSV_RUN_STOPPED,        /* rsv_platform_stop() was called (os: tasks were left running) */
};

struct rsv_platform;
struct rsv_thread;

/* Intrusive doubly linked list node, used inside the embeddable structures below. */
struct rsv_list {
	struct rsv_list *next, *prev;
};

/* A short lock for data that is never held across a scheduling point (the zone lock). */
struct rsv_spinlock {
	_Atomic uint32_t v;
};

/* A sleeping lock with owner tracking (the kernel's struct mutex). */
struct rsv_mutex {
	_Atomic uintptr_t owner; /* struct rsv_thread *, low bit: waiters queued */
	struct rsv_spinlock wait_lock;
	struct rsv_list waiters;
	const char *name;
};

/* A counting semaphore (the kernel's struct semaphore). */
struct rsv_semaphore {
	struct rsv_spinlock lock;
	long count;
	struct rsv_list waiters;
	struct rsv_thread *last_holder; /* for reports: the last thread that took it */
	const char *name;
};

/* A wait queue with prepare_to_wait / finish_wait / wake_up semantics. */
struct rsv_waitqueue {
	struct rsv_spinlock lock;
	struct rsv_list head;
	_Atomic uint32_t nr_waiters;
	const char *name;
};

struct rsv_wait_entry {
	struct rsv_list node;
	struct rsv_thread *thread;
	unsigned flags; /* RSV_WQ_EXCLUSIVE */
	bool queued;
};

#define RSV_WQ_EXCLUSIVE 0x1u

/* Sleep states, as the kernel's TASK_UNINTERRUPTIBLE and TASK_KILLABLE. */
enum rsv_sleep_state {
	RSV_TASK_RUNNING = 0,
	RSV_TASK_UNINTERRUPTIBLE = 1,
	RSV_TASK_KILLABLE = 2,
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
/* The report of the last deadlock or time limit: every blocked thread, what it waits on,
 * who holds that, and any wait-for cycle. Empty string when there is none. */
RSV_API const char *rsv_platform_report(const struct rsv_platform *p);
RSV_API void rsv_platform_dump_threads(struct rsv_platform *p, FILE *out);
RSV_API const char *rsv_run_result_name(enum rsv_run_result r);
/* ---- threads ---- */
RSV_API struct rsv_thread *rsv_thread_create(struct rsv_platform *p, const char *name,
					     int (*fn)(void *arg), void *arg);
RSV_API struct rsv_thread *rsv_thread_self(void);
RSV_API const char *rsv_thread_name(const struct rsv_thread *t);
RSV_API unsigned rsv_thread_id(const struct rsv_thread *t);
RSV_API bool rsv_thread_exited(const struct rsv_thread *t);
RSV_API int rsv_thread_exit_code(const struct rsv_thread *t);
/* A scheduling point (sim) or nothing (os). */
RSV_API void rsv_sched_point(void);
RSV_API void rsv_yield(void);

/* ---- clock ---- */
RSV_API uint64_t rsv_now(void); /* ns: virtual on sim, CLOCK_MONOTONIC on os */
RSV_API void rsv_sleep_ns(uint64_t ns);
static inline void rsv_msleep(unsigned ms) { rsv_sleep_ns((uint64_t)ms * RSV_NSEC_PER_MSEC); }

/* ---- locks ---- */
RSV_API void rsv_spin_init(struct rsv_spinlock *l);
RSV_API void rsv_spin_lock(struct rsv_spinlock *l);
RSV_API bool rsv_spin_trylock(struct rsv_spinlock *l);
RSV_API void rsv_spin_unlock(struct rsv_spinlock *l);

RSV_API void rsv_mutex_init(struct rsv_mutex *m, const char *name);
RSV_API void rsv_mutex_lock(struct rsv_mutex *m);
RSV_API bool rsv_mutex_trylock(struct rsv_mutex *m);
RSV_API void rsv_mutex_unlock(struct rsv_mutex *m);
RSV_API struct rsv_thread *rsv_mutex_owner(const struct rsv_mutex *m);

RSV_API void rsv_sema_init(struct rsv_semaphore *s, const char *name, long count);
RSV_API void rsv_down(struct rsv_semaphore *s);
RSV_API bool rsv_down_trylock(struct rsv_semaphore *s); /* true when taken */
RSV_API void rsv_up(struct rsv_semaphore *s);

/* ---- wait queues ---- */
RSV_API void rsv_waitqueue_init(struct rsv_waitqueue *wq, const char *name);
RSV_API void rsv_wait_entry_init(struct rsv_wait_entry *e);
/* Queue @e (once) and set the caller's sleep state; check the condition after this. */
RSV_API void rsv_prepare_to_wait(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
				 enum rsv_sleep_state state);
RSV_API void rsv_prepare_to_wait_exclusive(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
					   enum rsv_sleep_state state);
RSV_API void rsv_finish_wait(struct rsv_waitqueue *wq, struct rsv_wait_entry *e);
/* Sleeps until woken or @timeout_ns passes; returns the time left (0 on timeout).
 * Returns at once if a wake-up came between prepare_to_wait and this call. */
RSV_API uint64_t rsv_schedule_timeout(uint64_t timeout_ns);
RSV_API void rsv_schedule(void);
RSV_API void rsv_wake_up(struct rsv_waitqueue *wq);     /* all non-exclusive + one exclusive */
RSV_API void rsv_wake_up_all(struct rsv_waitqueue *wq);
RSV_API bool rsv_waitqueue_active(struct rsv_waitqueue *wq);
/* Wakes a thread out of any sleep (a fatal signal does this to killable sleepers). */
RSV_API bool rsv_wake_thread(struct rsv_thread *t, unsigned state_mask);

/* Sleeps on @wq until @cond is true; kernel wait_event(). */
#define rsv_wait_event(wq, cond)                                                    \
	do {                                                                        \
		struct rsv_wait_entry __we;                                         \
		rsv_wait_entry_init(&__we);                                         \
		for (;;) {                                                          \
			rsv_prepare_to_wait((wq), &__we, RSV_TASK_UNINTERRUPTIBLE); \
			if (cond)                                                   \
				break;                                              \
			rsv_schedule();                                             \
		}                                                                   \
		rsv_finish_wait((wq), &__we);                                       \
	} while (0)

/* ---- PRNG ---- */
RSV_API void rsv_rand_seed(struct rsv_rand *r, uint64_t seed);
RSV_API uint64_t rsv_rand_next(struct rsv_rand *r);
RSV_API uint64_t rsv_rand_below(struct rsv_rand *r, uint64_t bound); /* [0, bound) */

#endif
