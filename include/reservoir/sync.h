/* reservoir/sync.h: the locks, wait queues and clock that everything in reservoir
 * synchronises through, never pthreads, clocks or rand() directly, so that the same code runs
 * on real threads (RSV_BACKEND_OS) and on the deterministic simulator (RSV_BACKEND_SIM). On
 * the simulator every lock, unlock, wait, wake, sleep and rsv_sched_point() is a scheduling
 * point, and time is virtual. These are core: a daemon using the allocator uses them too.
 * Creating and running platforms and threads directly is the harness's (reservoir/platform.h).
 *
 * The structures below are public so that they can be embedded; their fields are not API.
 *
 * Context: spinlocks never sleep and may not be held across anything that does (on the
 * simulator a scheduling point reached under one aborts with that message); mutexes,
 * semaphores, waits and sleeps may sleep. Any thread of the platform may use them. */
#ifndef RESERVOIR_SYNC_H
#define RESERVOIR_SYNC_H

#include "defs.h"

enum rsv_backend {
	RSV_BACKEND_OS = 0, /* pthreads, futexes, CLOCK_MONOTONIC */
	RSV_BACKEND_SIM,    /* coroutines on a seeded scheduler, virtual clock */
};

/* What rsv_platform_run() ended with. */
enum rsv_run_result {
	RSV_RUN_DONE = 0,       /* every thread returned */
	RSV_RUN_DEADLOCK,       /* sim: nobody can run and no timer is pending */
	RSV_RUN_TIME_LIMIT,     /* sim: virtual time passed time_limit_ns */
	RSV_RUN_STOPPED,        /* rsv_platform_stop() was called (os: tasks were left running) */
};

/* "done", "deadlock", "stopped", ...: the name of @r, for reports. */
RSV_API const char *rsv_run_result_name(enum rsv_run_result r);

/* Mappings a caller lends to the systems it creates one after another on one thread (a
 * matrix worker): arenas, page maps and simulator stacks stay mapped from one to the next.
 * One system at a time; destroy it after the last. */
struct rsv_workspace;
/* A workspace: the arena and page-descriptor mappings lent from one system to the next made
 * with it (cfg.workspace), so that many short runs on one thread do not map and unmap them
 * each time. NULL on ENOMEM. Destroy it after the last system made with it is gone. */
RSV_API struct rsv_workspace *rsv_workspace_create(void);
RSV_API void rsv_workspace_destroy(struct rsv_workspace *w);

struct rsv_platform;
struct rsv_thread;

/* Intrusive doubly linked list node, used inside the embeddable structures below. */
/* sim: how the scheduler picks who runs next at each decision. */
enum rsv_sched_strategy {
	RSV_SCHED_RANDOM, /* uniformly among the runnable threads, from the seed */
	/* Probabilistic concurrency testing (Burckhardt, Kothari, Musuvathi, Nagarakatte, ASPLOS
	 * 2010): each thread gets a distinct random priority at its start, d-1 change points are
	 * drawn over the first k decisions, and the runnable thread of highest priority runs; at
	 * the i-th change point the running thread drops to priority i, below every thread's
	 * start. A bug of depth d is then found with probability at least 1/(n k^(d-1)) per run,
	 * for n threads. One deviation: a thread chosen RSV_PCT_SPIN_LIMIT times in a row while
	 * others could run (a spin that never sleeps) drops below all, or it would starve them. */
	RSV_SCHED_PCT,
	/* Swarm testing's scheduling half (Groce, Zhang, Eide, Chen, Regehr, ISSTA 2012): each
	 * run draws its own biases, a weight of 1, 8 or 64 for every thread as it starts, and
	 * the random walk picks among the runnable threads in proportion to them, so that each
	 * run favours and starves a different subset. */
	RSV_SCHED_SWARM,
	RSV_NR_SCHED_STRATEGIES
};
#define RSV_PCT_MAX_DEPTH 16
#define RSV_PCT_SPIN_LIMIT 10000

struct rsv_sched_config {
	enum rsv_sched_strategy strategy;
	unsigned pct_depth; /* PCT's d, 1..RSV_PCT_MAX_DEPTH (0 = 1) */
	uint64_t pct_steps; /* PCT's k: change points fall in decisions 1..k (0 = 10,000) */
	/* A schedule to follow first: the thread id chosen at each decision of an earlier run
	 * (rsv_platform_schedule()). Past its end the strategy above goes on; a recorded thread
	 * that cannot run at its decision ends the replay there (rsv_platform_replayed()). */
	const uint32_t *replay;
	size_t nr_replay;
	/* A recorded thread that cannot run is passed over, and the schedule goes on with the
	 * next one it names, instead of ending: for shrinking, which drops decisions. */
	bool replay_skip;
	/* Past the schedule's end, the thread that ran last runs on while it can, and the
	 * runnable thread of lowest id when it cannot: no preemption, instead of the strategy
	 * (for shrinking: a prefix then decides the run alone). */
	bool replay_sticky;
	bool record; /* keep every decision, for rsv_platform_schedule() */
	/* With record: what each thread did between decisions, for rsv_platform_lanes(). */
	bool record_lanes;
};

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

/* Static initialisers, for objects defined at file scope (DEFINE_MUTEX() and friends): the
 * same state the rsv_*_init() functions give. @x is the object being defined. */
#define RSV_SPINLOCK_INIT                                                                          \
	{                                                                                          \
		0                                                                                  \
	}
#define RSV_MUTEX_INIT(x, nm)                                                                      \
	{                                                                                          \
		0, RSV_SPINLOCK_INIT, { &(x).waiters, &(x).waiters }, (nm)                         \
	}
#define RSV_SEMAPHORE_INIT(x, nm, n)                                                               \
	{                                                                                          \
		RSV_SPINLOCK_INIT, (n), { &(x).waiters, &(x).waiters }, 0, (nm)                    \
	}
#define RSV_WAITQUEUE_INIT(x, nm)                                                                  \
	{                                                                                          \
		RSV_SPINLOCK_INIT, { &(x).head, &(x).head }, 0, (nm)                               \
	}

/* Sleep states, as the kernel's TASK_UNINTERRUPTIBLE and TASK_KILLABLE. */
enum rsv_sleep_state {
	RSV_TASK_RUNNING = 0,
	RSV_TASK_UNINTERRUPTIBLE = 1,
	RSV_TASK_KILLABLE = 2,
};

/* A scheduling point (sim) or nothing (os). */
RSV_API void rsv_sched_point(void);
RSV_API void rsv_yield(void);


/* ---- clock ---- */
RSV_API uint64_t rsv_now(void); /* ns: virtual on sim, CLOCK_MONOTONIC on os */
/* Sleeps @ns (virtual on sim). May sleep: not under a spinlock. */
RSV_API void rsv_sleep_ns(uint64_t ns);
static inline void rsv_msleep(unsigned ms) { rsv_sleep_ns((uint64_t)ms * RSV_NSEC_PER_MSEC); }

/* ---- locks ---- */
RSV_API void rsv_spin_init(struct rsv_spinlock *l);
RSV_API void rsv_spin_lock(struct rsv_spinlock *l);
RSV_API bool rsv_spin_trylock(struct rsv_spinlock *l);
RSV_API void rsv_spin_unlock(struct rsv_spinlock *l);

/* Sleeping locks, with an owner, as the kernel's mutex: lock may sleep (never under a
 * spinlock), is a scheduling point on sim, and is reported with its owner when a run blocks;
 * trylock never sleeps and returns true when taken; unlocking a mutex the caller does not hold
 * is a misuse, named. @name is the lock's class for lockdep and its name in reports. */
RSV_API void rsv_mutex_init(struct rsv_mutex *m, const char *name);
RSV_API void rsv_mutex_lock(struct rsv_mutex *m);
RSV_API bool rsv_mutex_trylock(struct rsv_mutex *m);
RSV_API void rsv_mutex_unlock(struct rsv_mutex *m);
RSV_API struct rsv_thread *rsv_mutex_owner(const struct rsv_mutex *m);

/* Counting semaphores, as the kernel's: down may sleep until the count is positive; up may
 * be called by any thread, holder or not. */
RSV_API void rsv_sema_init(struct rsv_semaphore *s, const char *name, long count);
RSV_API void rsv_down(struct rsv_semaphore *s);
/* True when taken, never sleeping. */
RSV_API bool rsv_down_trylock(struct rsv_semaphore *s);
/* Raises the count and wakes a waiter; any thread, never sleeps. */
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
/* set_current_state(): the caller's sleep state for its next rsv_schedule_timeout(), which
 * then sleeps until the timeout or an rsv_wake_thread() matching @state; RUNNING undoes it.
 * The wait queues' prepare_to_wait() does this itself. */
RSV_API void rsv_set_current_state(enum rsv_sleep_state state);
RSV_API void rsv_schedule(void);
RSV_API void rsv_wake_up(struct rsv_waitqueue *wq);     /* all non-exclusive + one exclusive */
/* Wakes every waiter, exclusive or not; and whether anyone waits (a racy look, for the
 * wake-up-only-if-needed pattern, paired with the waiter's prepare_to_wait). */
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

#endif
