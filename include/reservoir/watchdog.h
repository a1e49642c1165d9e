/* reservoir/watchdog.h: the kernel's hung-task detector, and the progress watchdog it lacks.
 *
 * The hung-task check reports a task blocked uninterruptibly in one wait for longer than its
 * timeout. Like the kernel's it cannot see livelocks: a task in a mempool's 5 s timed wait,
 * or an allocator retrying, keeps waking up. The progress watchdog sees those: named counters
 * that the work increments must advance within a timeout while tasks still run. When they
 * stall while every task sits in lock or queue waits throughout, it calls it a deadlock. On the
 * simulator both run from the scheduler on virtual time, on real threads from a monitor
 * thread; with stop_run either ends the run (RSV_RUN_STOPPED; on real threads the stuck tasks
 * are frozen and the system abandoned, see rsv_system_run()), and the fired callback hears of
 * each event as it happens. */
#ifndef RESERVOIR_WATCHDOG_H
#define RESERVOIR_WATCHDOG_H

#include <stdatomic.h>
#include "defs.h"

struct rsv_system;

struct rsv_progress {
	const char *name;
	_Atomic uint64_t count;
	/* Owned by the watchdog. */
	uint64_t seen, changed_at;
	bool reported;
	struct rsv_progress *next;
};

static inline void rsv_progress_inc(struct rsv_progress *p)
{
	atomic_fetch_add_explicit(&p->count, 1, memory_order_relaxed);
}

/* LIVELOCK: no progress while tasks ran. DEADLOCK: no progress while every task waited on a
 * lock or a queue (at three looks in four or more): only timeouts woke anyone (a mempool's
 * 5 s re-poll, say), and nothing a task does can end it. */
enum rsv_watchdog_event {
	RSV_WATCHDOG_NONE,
	RSV_WATCHDOG_LIVELOCK,
	RSV_WATCHDOG_HUNG_TASK,
	RSV_WATCHDOG_DEADLOCK,
	RSV_NR_WATCHDOG_EVENTS
};

struct rsv_watchdog_config {
	uint64_t period_ns; /* how often to look; 0 = a hundredth of the smallest timeout */
	uint64_t progress_timeout_ns; /* registered counters must advance within this; 0 = off */
	uint64_t hung_timeout_ns;     /* blocked uninterruptibly this long is hung; 0 = off */
	bool stop_run;                /* on the simulator, end the run when it fires */
	/* A sampler called every sample_period_ns as well (timelines): on the simulator it sees
	 * virtual time pass without being a task, so it changes nothing in the run. */
	uint64_t sample_period_ns;
	void (*sample)(void *arg, uint64_t now);
	void *sample_arg;
	/* Called once per event as it fires, from the monitor (the scheduler on the simulator,
	 * the monitor thread on real threads; no task of the system, holding none of its
	 * locks), with the report so far: the event's line and, on real threads, every blocked
	 * task with what it waits on and who holds it. A daemon on real threads learns here that
	 * its I/O path is stuck, while its threads still are (may be NULL). */
	void (*fired)(void *arg, enum rsv_watchdog_event e, const char *report);
	void *fired_arg;
};


/* 0, -EINVAL for no timeout at all, -EBUSY if already running. */
RSV_API int rsv_watchdog_start(struct rsv_system *sys, const struct rsv_watchdog_config *cfg);
/* Stops looking and sampling; on real threads, returns once the monitor thread has stopped,
 * so that what the sampler reads may be freed. What fired stays readable; it may start
 * again. */
RSV_API void rsv_watchdog_stop(struct rsv_system *sys);
/* Counters may be registered before or after the start; they stay until the system goes. */
RSV_API int rsv_progress_register(struct rsv_system *sys, struct rsv_progress *p,
				  const char *name);
/* The first event seen (RSV_WATCHDOG_NONE if none), and how many of each. Details are in
 * rsv_platform_report(). */
RSV_API enum rsv_watchdog_event rsv_watchdog_fired(struct rsv_system *sys);
RSV_API unsigned long rsv_watchdog_events(struct rsv_system *sys, enum rsv_watchdog_event e);

/* Threads blocked now: waiting on a mutex or semaphore, or, for the system's own tasks (not
 * its idle service threads), on a wait queue. */
RSV_API unsigned rsv_system_nr_blocked(struct rsv_system *sys);

#endif
