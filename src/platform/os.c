/* The os backend: one pthread per thread, futex parking, CLOCK_MONOTONIC.
 * This is what a real daemon links; interleavings are the machine's, not a seed's. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include "platform/internal.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

struct os_thread {
	struct rsv_thread base;
	pthread_t pthread;
	bool started; /* under the platform's threads_lock */
	bool joined;
};

uint64_t rsv__os_clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RSV_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

int rsv__platform_io_flusher(struct rsv_platform *p, bool on)
{
#ifdef __linux__
	if (p->cfg.backend == RSV_BACKEND_OS)
		return prctl(PR_SET_IO_FLUSHER, on ? 1 : 0, 0, 0, 0) ? -errno : 0;
#endif
	return -ENOSYS;
}

void rsv__os_sleep_ns(uint64_t ns)
{
	struct timespec ts = { .tv_sec = (time_t)(ns / RSV_NSEC_PER_SEC),
			       .tv_nsec = (long)(ns % RSV_NSEC_PER_SEC) };

	nanosleep(&ts, NULL);
}

static void futex_wait_until(_Atomic uint32_t *addr, uint32_t val, uint64_t deadline)
{
	struct timespec ts, *tsp = NULL;

	if (deadline) {
		ts.tv_sec = (time_t)(deadline / RSV_NSEC_PER_SEC);
		ts.tv_nsec = (long)(deadline % RSV_NSEC_PER_SEC);
		tsp = &ts;
	}
	/* WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline. */
	syscall(SYS_futex, addr, FUTEX_WAIT_BITSET | FUTEX_PRIVATE_FLAG, val, tsp, NULL,
		FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(_Atomic uint32_t *addr, int n)
{
	syscall(SYS_futex, addr, FUTEX_WAKE | FUTEX_PRIVATE_FLAG, n, NULL, NULL, 0);
}

/* A run stopped by a watchdog with tasks still in it: as panic() stops the other CPUs, each
 * of the platform's threads stops for good the next time it parks (or wakes from a park), so
 * that what the run left is read in peace. It never holds a spinlock there. */
static bool halted(const struct rsv_thread *self)
{
	return self->fn && self->plat && atomic_load_explicit(&self->plat->halted,
							      memory_order_acquire);
}

static RSV_NORETURN void freeze(struct rsv_thread *self)
{
	static _Atomic uint32_t never;

	atomic_store(&self->wait_kind, RSV_WAIT_NONE);
	for (;;)
		futex_wait_until(&never, 0, 0);
}

static void os_park(struct rsv_thread *self, uint64_t deadline)
{
	if (rsv_unlikely(halted(self)))
		freeze(self);
	if (atomic_exchange_explicit(&self->park_token, 0, memory_order_acquire))
		return;
	futex_wait_until(&self->park_token, 0, deadline);
	if (rsv_unlikely(halted(self)))
		freeze(self);
	atomic_exchange_explicit(&self->park_token, 0, memory_order_acquire);
}

static void os_unpark(struct rsv_thread *t)
{
	if (atomic_exchange_explicit(&t->park_token, 1, memory_order_release) == 0)
		futex_wake(&t->park_token, 1);
}

static uint64_t os_now(struct rsv_thread *self)
{
	return rsv__os_clock_ns();
}

static void os_sched_point(struct rsv_thread *self)
{
}

const struct rsv_thread_ops rsv__os_thread_ops = {
	.park = os_park,
	.unpark = os_unpark,
	.now = os_now,
	.sched_point = os_sched_point,
};

static struct rsv_platform *os_create(const struct rsv_platform_config *cfg)
{
	return calloc(1, sizeof(struct rsv_platform));
}

static struct rsv_thread *os_thread_create(struct rsv_platform *p, const char *name)
{
	struct os_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	rsv__thread_init(&t->base, p, &rsv__os_thread_ops, name);
	return &t->base;
}

/* Something a waiting os_run() must look at: a thread returned, or a stop came. */
static void run_event(struct rsv_platform *p)
{
	atomic_fetch_add_explicit(&p->run_events, 1, memory_order_release);
	futex_wake(&p->run_events, INT_MAX);
}

static void *os_thread_main(void *arg)
{
	struct rsv_thread *t = arg;

	rsv__self = t;
	rsv__thread_run_body(t);
	run_event(t->plat);
	return NULL;
}

static int os_thread_start(struct rsv_platform *p, struct rsv_thread *t)
{
	struct os_thread *ot = rsv_container_of(t, struct os_thread, base);
	char comm[16];

	pthread_t pt;

	if (pthread_create(&pt, NULL, os_thread_main, t))
		return -EAGAIN;
	snprintf(comm, sizeof(comm), "%.15s", t->name);
	pthread_setname_np(pt, comm);
	rsv_spin_lock(&p->threads_lock);
	ot->pthread = pt;
	ot->started = true;
	rsv_spin_unlock(&p->threads_lock);
	return 0;
}

/* Joins one thread not yet joined; false when none is left. Threads may create threads
 * while we join, so the list is rescanned each time. */
static bool join_one(struct rsv_platform *p, bool all)
{
	struct os_thread *victim = NULL;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		struct os_thread *ot = rsv_container_of(pos, struct os_thread, base.node);

		if (ot->started && !ot->joined && (!ot->base.daemon || all)) {
			victim = ot;
			break;
		}
	}
	rsv_spin_unlock(&p->threads_lock);
	if (!victim)
		return false;
	pthread_join(victim->pthread, NULL);
	victim->joined = true;
	return true;
}

/* Joins the threads that have returned; true while one that is no daemon is still running. */
static bool join_exited(struct rsv_platform *p)
{
	bool running = false;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		struct os_thread *ot = rsv_container_of(pos, struct os_thread, base.node);

		if (!ot->started || ot->joined || ot->base.daemon)
			continue;
		if (!atomic_load_explicit(&ot->base.exited, memory_order_acquire)) {
			running = true;
			continue;
		}
		/* It has returned from its body: the join is short, but not under the lock. */
		ot->joined = true;
		rsv_spin_unlock(&p->threads_lock);
		pthread_join(ot->pthread, NULL);
		rsv_spin_lock(&p->threads_lock);
		pos = &p->threads; /* the list may have grown: look again from the start */
		running = false;
	}
	rsv_spin_unlock(&p->threads_lock);
	return running;
}

/* Daemons run until their owner stops them, so a run waits only for the others, or for
 * rsv_platform_stop() (a watchdog that fired): then the threads still in the run are halted
 * and abandoned, and the run ends RSV_RUN_STOPPED at once. It sleeps on run_events between
 * looks: an event after the snapshot makes the futex wait return at once. */
static enum rsv_run_result os_run(struct rsv_platform *p)
{
	for (;;) {
		uint32_t seen = atomic_load_explicit(&p->run_events, memory_order_acquire);

		if (!join_exited(p))
			return RSV_RUN_DONE;
		if (atomic_load(&p->stop_requested)) {
			atomic_store_explicit(&p->halted, true, memory_order_release);
			return RSV_RUN_STOPPED;
		}
		futex_wait_until(&p->run_events, seen, 0);
	}
}

static void os_stop(struct rsv_platform *p)
{
	run_event(p);
}

/* The monitor thread of rsv__platform_set_monitor(): not a platform thread, no tasks' locks. */
static void *monitor_main(void *arg)
{
	struct rsv_platform *p = arg;

	while (!atomic_load(&p->monitor_stop)) {
		rsv__os_sleep_ns(p->monitor_period);
		if (!atomic_load(&p->monitor_stop))
			p->monitor_fn(p->monitor_arg, rsv__os_clock_ns());
	}
	return NULL;
}

static void os_monitor_stop(struct rsv_platform *p)
{
	pthread_t *t = p->monitor_thread;

	if (!t)
		return;
	atomic_store(&p->monitor_stop, true);
	pthread_join(*t, NULL);
	free(t);
	p->monitor_thread = NULL;
}

static int os_monitor_start(struct rsv_platform *p)
{
	pthread_t *t = malloc(sizeof(*t));

	if (!t)
		return -ENOMEM;
	atomic_store(&p->monitor_stop, false);
	if (pthread_create(t, NULL, monitor_main, p)) {
		free(t);
		return -EAGAIN;
	}
	p->monitor_thread = t;
	return 0;
}

static struct rsv_thread *os_thread_attach(struct rsv_platform *p, const char *name)
{
	return os_thread_create(p, name);
}

static void os_destroy(struct rsv_platform *p)
{
	struct rsv_list *pos, *tmp;

	os_monitor_stop(p);
	if (atomic_load(&p->halted))
		return; /* frozen threads use every byte of it: abandoned (see rsv_system_run) */
	while (join_one(p, true))
		;
	rsv_list_for_each_safe(pos, tmp, &p->threads)
		free(rsv_container_of(pos, struct os_thread, base.node));
	free(p);
}

const struct rsv_platform_backend rsv__os_backend = {
	.create = os_create,
	.thread_create = os_thread_create,
	.thread_start = os_thread_start,
	.thread_attach = os_thread_attach,
	.run = os_run,
	.stop = os_stop,
	.monitor_start = os_monitor_start,
	.monitor_stop = os_monitor_stop,
	.destroy = os_destroy,
};
