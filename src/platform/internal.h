/* Private to the library: the thread record and the backend interface behind platform.h.
 * Other layers may include this for rsv__thread_self() and the wait annotations. */
#ifndef RSV_PLATFORM_INTERNAL_H
#define RSV_PLATFORM_INTERNAL_H

#include <stdatomic.h>
#include <reservoir/platform.h>
#include "common/list.h"

/* What a blocked thread waits on, for deadlock and hung-task reports. */
enum rsv_wait_kind {
	RSV_WAIT_NONE = 0,
	RSV_WAIT_MUTEX,
	RSV_WAIT_SEMAPHORE,
	RSV_WAIT_QUEUE,
	RSV_WAIT_SLEEP,
	RSV_WAIT_RETRY,    /* a retry loop's timed wait on a queue for what others must do */
	RSV_WAIT_THROTTLE, /* a pacing sleep on a queue: the task goes on when it ends */
};

struct rsv_thread_ops {
	/* Blocks the calling thread until rsv__unpark() or @deadline (absolute ns; 0 = none).
	 * May return early; callers re-check their condition. */
	void (*park)(struct rsv_thread *self, uint64_t deadline);
	void (*unpark)(struct rsv_thread *t);
	uint64_t (*now)(struct rsv_thread *self);
	void (*sched_point)(struct rsv_thread *self);
};

struct rsv_thread {
	const struct rsv_thread_ops *ops;
	struct rsv_platform *plat; /* NULL for a foreign OS thread adopted by a lock */
	void *ctx;                 /* the upper layer's per-thread object (struct rsv_task) */
	unsigned id;
	char name[32];
	_Atomic int state;         /* enum rsv_sleep_state */
	_Atomic uint32_t park_token;
	_Atomic bool exited;
	bool daemon; /* a service thread: does not keep a run going (see rsv_platform_run) */
	bool sim;    /* a simulator thread: it and every thread touching its system's objects
		      * run on one OS thread, one at a time (spinlocks need no atomics) */
	int exit_code;
	int (*fn)(void *);
	void *arg;
	struct rsv_list node; /* in the platform's thread list */

	/* What it waits on, set before sleeping and cleared after (reports only). */
	_Atomic int wait_kind;
	const void *_Atomic wait_obj;
	_Atomic uint64_t wait_since;
	unsigned spin_depth; /* spinlocks held: no scheduling point allowed */
};

/* ---- what the layers above plug into a platform (not exported) ---- */

/* Calls @fn every @period_ns of the platform's time: on the simulator from the scheduler when
 * virtual time crosses a period (it is not a thread, so it never keeps a deadlocked run
 * alive), on real threads from a monitor thread. @fn must not block; it may stop the run.
 * One monitor per platform; period 0 removes it. */
int rsv__platform_set_monitor(struct rsv_platform *p, uint64_t period_ns,
			      void (*fn)(void *arg, uint64_t now), void *arg);
/* Appends to the report rsv_platform_report() returns. */
void rsv__platform_report_append(struct rsv_platform *p, const char *text);
/* Mutex events for a dependency checker (rsv_lockdep_enable): called by the locking thread
 * before it may block (ACQUIRE), after a successful trylock (TRYLOCKED), and on RELEASE.
 * NULL removes the hook. Set it before the threads run. */
enum rsv_lock_event { RSV_LOCK_ACQUIRE, RSV_LOCK_TRYLOCKED, RSV_LOCK_RELEASE };
typedef void (*rsv_lock_hook_t)(void *arg, enum rsv_lock_event ev, const char *name,
				const void *lock);
void rsv__platform_set_lock_hook(struct rsv_platform *p, rsv_lock_hook_t fn, void *arg);
/* Mutexes and semaphores tell the hook; a semaphore's up() may come from another task than
 * its down(), which the hook must allow for. */
#define rsv__lock_event(self, ev, name, lock)                                                      \
	do {                                                                                       \
		struct rsv_platform *__p = (self)->plat;                                           \
		if (rsv_unlikely(__p && __p->lock_hook))                                           \
			__p->lock_hook(__p->lock_hook_arg, (ev), (name), (lock));                  \
	} while (0)
/* What an upper layer knows of a blocked thread, for reports: words to add to its line ("in
 * the page allocator (GFP_KERNEL, order 0)") and the thread it waits for when that is not a
 * mutex owner (the task serving its I/O, the OOM victim it waits on), which blocked chains
 * and wait-for cycles then follow. */
struct rsv_thread_note {
	char text[224];
	struct rsv_thread *waits_for;
};
typedef void (*rsv_describe_hook_t)(void *arg, struct rsv_thread *t, uint64_t now,
				    struct rsv_thread_note *note);
void rsv__platform_set_describe_hook(struct rsv_platform *p, rsv_describe_hook_t fn, void *arg);
/* The upper layer's object for @t (what rsv_thread_create() was given as context). */
void *rsv__thread_context(const struct rsv_thread *t);


struct rsv_platform_backend {
	/* One thread runs at a time and switches only at scheduling points: a spinlock found
	 * held means a scheduling point was reached under it. */
	bool serial;
	struct rsv_platform *(*create)(const struct rsv_platform_config *cfg);
	struct rsv_thread *(*thread_create)(struct rsv_platform *p, const char *name);
	int (*thread_start)(struct rsv_platform *p, struct rsv_thread *t);
	/* A record for the calling OS thread, which the platform does not schedule. */
	struct rsv_thread *(*thread_attach)(struct rsv_platform *p, const char *name);
	enum rsv_run_result (*run)(struct rsv_platform *p);
	/* After stop_requested is set, so that a run waiting for its threads hears it (may be
	 * NULL: the simulator reads the flag at every decision). */
	void (*stop)(struct rsv_platform *p);
	/* Start and stop calling p->monitor_fn every p->monitor_period of the backend's time
	 * (may be NULL: the simulator calls it from its scheduling decisions). */
	int (*monitor_start)(struct rsv_platform *p);
	void (*monitor_stop)(struct rsv_platform *p);
	void (*destroy)(struct rsv_platform *p);
};

struct rsv_platform {
	const struct rsv_platform_backend *backend;
	struct rsv_platform_config cfg;
	struct rsv_spinlock threads_lock;
	struct rsv_list threads;
	unsigned nr_threads;
	uint64_t trace_hash;
	uint64_t decisions;
	uint64_t preemptions; /* sim: decisions that switched away from a thread that could run */
	_Atomic bool stop_requested;
	/* os: the run was stopped with tasks still in it, which freeze at their next park
	 * (platform threads only; attached ones such as a judge go on). */
	_Atomic bool halted;
	_Atomic uint32_t run_events; /* os: a thread returned or a stop came (a futex word) */
	char *report;
	size_t report_len;
	rsv_lock_hook_t lock_hook; /* rsv__platform_set_lock_hook */
	void *lock_hook_arg;
	rsv_describe_hook_t describe_hook; /* rsv__platform_set_describe_hook */
	void *describe_hook_arg;
	/* The monitor (rsv__platform_set_monitor). */
	uint64_t monitor_period, monitor_next;
	void (*monitor_fn)(void *, uint64_t now);
	void *monitor_arg;
	void *monitor_thread; /* os: the pthread calling it */
	_Atomic bool monitor_stop;
};

/* initial-exec: one %fs-relative load even inside libreservoir.so, where the default model
 * would call __tls_get_addr on every allocation. */
#include "platform/workspace.h"

extern _Thread_local struct rsv_thread *rsv__self __attribute__((tls_model("initial-exec")));

/* sim.c: rsv_platform_schedule() and rsv_platform_replayed() on the simulator. */
size_t rsv__sim_schedule(const struct rsv_platform *p, const uint32_t **ids,
			 const uint64_t **hashes);
size_t rsv__sim_replayed(const struct rsv_platform *p);
size_t rsv__sim_lanes(const struct rsv_platform *p, const struct rsv_lane_event **events,
		      const uint64_t **times);
/* report.c: the name of what a thread of wait @kind sleeps on (@obj), and the lane's kind. */
const char *rsv__wait_obj_name(int kind, const void *obj);
enum rsv_lane_wait rsv__lane_wait(int kind);

uint64_t rsv__os_clock_ns(void);
void rsv__os_sleep_ns(uint64_t ns); /* the calling OS thread, whatever backend it serves */
/* Asks the host kernel to treat the calling thread as an I/O flusher (PR_SET_IO_FLUSHER):
 * 0, -errno if it refused, -ENOSYS where there is no such host thread (the simulator). */
int rsv__platform_io_flusher(struct rsv_platform *p, bool on);

/* membarrier.c: a full barrier on every running thread of the process (the slow side of an
 * asymmetric fence). Check availability once first. */
bool rsv__membarrier_available(void);
void rsv__membarrier(void);
void rsv__cpu_relax(void);
void rsv__cpu_yield(void); /* give the CPU away: not a scheduling point */

struct rsv_thread *rsv__thread_self_or_adopt(void);
void rsv__unpark(struct rsv_thread *t);
/* An adopted thread's record, exited, made ready for the next thread adopted in its place: its
 * id and place on the platform's list stay, what it was doing goes. */
void rsv__thread_reuse(struct rsv_thread *t, const char *name);
void rsv__thread_init(struct rsv_thread *t, struct rsv_platform *p,
		      const struct rsv_thread_ops *ops, const char *name);
void rsv__thread_run_body(struct rsv_thread *t);
void rsv__platform_add_thread(struct rsv_platform *p, struct rsv_thread *t);
#define RSV_THREAD_DAEMON 0x1u
/* Creates and starts a thread for @fn(@arg) with the upper layer's @ctx. *@out (may be NULL)
 * gets the record before the thread can run, so that whoever finds @ctx from then on (the
 * OOM killer walking the tasks) finds its thread too; it is NULL again if the start failed. */
struct rsv_thread *rsv__thread_create_ctx(struct rsv_platform *p, const char *name,
					  int (*fn)(void *), void *arg, void *ctx, unsigned flags,
					  struct rsv_thread **out);

/* Sleeps the caller (state already set by its caller) until someone sets it RUNNING or
 * @deadline passes. Returns false on timeout. */
bool rsv__sleep_until(struct rsv_thread *self, uint64_t deadline);
bool rsv__try_wake(struct rsv_thread *t, unsigned state_mask);
void rsv__set_waiting(struct rsv_thread *self, enum rsv_wait_kind kind, const void *obj);
/* prepare_to_wait() that says what kind of wait it is, for the reports and the progress
 * watchdog: RSV_WAIT_RETRY or RSV_WAIT_THROTTLE. */
void rsv__prepare_to_wait_as(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
			     enum rsv_sleep_state state, enum rsv_wait_kind kind);
void rsv__clear_waiting(struct rsv_thread *self);

/* The report buffer: appended by the sim at a deadlock or time limit. */
void rsv__report_reset(struct rsv_platform *p);
void rsv__report_printf(struct rsv_platform *p, const char *fmt, ...) RSV_PRINTF(2, 3);
void rsv__report_blocked(struct rsv_platform *p);

static inline void rsv__trace_mix(struct rsv_platform *p, uint64_t v)
{
	/* FNV-1a over 64-bit words: cheap, order-sensitive. */
	p->trace_hash = (p->trace_hash ^ v) * 0x100000001b3ULL;
}

extern const struct rsv_platform_backend rsv__os_backend;
extern const struct rsv_platform_backend rsv__sim_backend;
extern const struct rsv_thread_ops rsv__os_thread_ops;

#define RSV_DEFAULT_SIM_STACK (128u * 1024)
#endif
