/* Threads and platforms: creation, the current-thread pointer, sleeping and waking by state,
 * and the backend-independent half of every platform call. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform/internal.h"

_Thread_local struct rsv_thread *rsv__self __attribute__((tls_model("initial-exec")));

struct rsv_platform *rsv_platform_create(const struct rsv_platform_config *cfg)
{
	struct rsv_platform_config c = cfg ? *cfg : (struct rsv_platform_config){ 0 };
	static const struct rsv_platform_backend *const backends[] = {
		[RSV_BACKEND_OS] = &rsv__os_backend,
		[RSV_BACKEND_SIM] = &rsv__sim_backend,
	};
	const struct rsv_platform_backend *be;
	struct rsv_platform *p;

	if ((unsigned)c.backend >= sizeof(backends) / sizeof(backends[0]) || !backends[c.backend]) {
		errno = EINVAL;
		return NULL;
	}
	/* A strategy is the simulator's; real threads are scheduled by the host. */
	if ((unsigned)c.sched.strategy >= RSV_NR_SCHED_STRATEGIES ||
	    c.sched.pct_depth > RSV_PCT_MAX_DEPTH || (c.sched.nr_replay && !c.sched.replay) ||
	    (c.backend != RSV_BACKEND_SIM &&
	     (c.sched.strategy != RSV_SCHED_RANDOM || c.sched.nr_replay || c.sched.record))) {
		errno = EINVAL;
		return NULL;
	}
	be = backends[c.backend];
	if (!c.tick_ns)
		c.tick_ns = 1000;
	if (!c.stack_size)
		c.stack_size = RSV_DEFAULT_SIM_STACK;
	p = be->create(&c);
	if (!p)
		return NULL;
	p->backend = be;
	p->cfg = c;
	rsv_spin_init(&p->threads_lock);
	rsv_list_init(&p->threads);
	p->trace_hash = 0xcbf29ce484222325ULL;
	rsv__trace_mix(p, c.seed);
	return p;
}

void rsv_platform_destroy(struct rsv_platform *p)
{
	if (!p)
		return;
	free(p->report);
	p->backend->destroy(p);
}

enum rsv_backend rsv_platform_backend(const struct rsv_platform *p) { return p->cfg.backend; }
enum rsv_run_result rsv_platform_run(struct rsv_platform *p) { return p->backend->run(p); }
void rsv_platform_stop(struct rsv_platform *p)
{
	atomic_store(&p->stop_requested, true);
	if (p->backend->stop)
		p->backend->stop(p);
}

int rsv__platform_set_monitor(struct rsv_platform *p, uint64_t period_ns,
			     void (*fn)(void *arg, uint64_t now), void *arg)
{
	if (period_ns && !fn)
		return -EINVAL;
	if (p->backend->monitor_stop)
		p->backend->monitor_stop(p);
	p->monitor_period = period_ns;
	p->monitor_next = 0; /* the first scheduling decision calls it once */
	p->monitor_arg = arg;
	p->monitor_fn = period_ns ? fn : NULL;
	if (period_ns && p->backend->monitor_start)
		return p->backend->monitor_start(p);
	return 0;
}
uint64_t rsv_platform_trace_hash(const struct rsv_platform *p) { return p->trace_hash; }
uint64_t rsv_platform_decisions(const struct rsv_platform *p) { return p->decisions; }
uint64_t rsv_platform_preemptions(const struct rsv_platform *p)
{
	return p->preemptions;
}
unsigned rsv_platform_threads(const struct rsv_platform *p)
{
	return p->nr_threads;
}
size_t rsv_platform_schedule(const struct rsv_platform *p, const uint32_t **ids)
{
	*ids = NULL;
	return p->cfg.backend == RSV_BACKEND_SIM ? rsv__sim_schedule(p, ids, NULL) : 0;
}
size_t rsv_platform_schedule_hashes(const struct rsv_platform *p, const uint64_t **hashes)
{
	*hashes = NULL;
	return p->cfg.backend == RSV_BACKEND_SIM ? rsv__sim_schedule(p, NULL, hashes) : 0;
}
size_t rsv_platform_lanes(const struct rsv_platform *p, const struct rsv_lane_event **events)
{
	*events = NULL;
	return p->cfg.backend == RSV_BACKEND_SIM ? rsv__sim_lanes(p, events, NULL) : 0;
}
size_t rsv_platform_decision_times(const struct rsv_platform *p, const uint64_t **times)
{
	*times = NULL;
	return p->cfg.backend == RSV_BACKEND_SIM ? rsv__sim_lanes(p, NULL, times) : 0;
}
size_t rsv_platform_replayed(const struct rsv_platform *p)
{
	return p->cfg.backend == RSV_BACKEND_SIM ? rsv__sim_replayed(p) : 0;
}
const char *rsv_platform_report(const struct rsv_platform *p) { return p->report ? p->report : ""; }

const char *rsv_run_result_name(enum rsv_run_result r)
{
	static const char *const names[] = {
		[RSV_RUN_DONE] = "done",
		[RSV_RUN_DEADLOCK] = "deadlock",
		[RSV_RUN_TIME_LIMIT] = "time-limit",
		[RSV_RUN_STOPPED] = "stopped",
	};
	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "?";
}

void rsv__thread_init(struct rsv_thread *t, struct rsv_platform *p,
		      const struct rsv_thread_ops *ops, const char *name)
{
	t->ops = ops;
	t->plat = p;
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "thread");
	atomic_init(&t->state, RSV_TASK_RUNNING);
	atomic_init(&t->park_token, 0);
	atomic_init(&t->exited, false);
	atomic_init(&t->wait_kind, RSV_WAIT_NONE);
	atomic_init(&t->wait_obj, NULL);
	rsv_list_init(&t->node);
}

void rsv__thread_reuse(struct rsv_thread *t, const char *name)
{
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "thread");
	atomic_store(&t->state, RSV_TASK_RUNNING);
	atomic_store(&t->park_token, 0);
	atomic_store(&t->wait_kind, RSV_WAIT_NONE);
	atomic_store(&t->wait_obj, NULL);
	atomic_store(&t->wait_since, 0);
	t->exit_code = 0;
	t->spin_depth = 0;
	/* Last: a walker that sees it running sees the rest reset (release). */
	atomic_store_explicit(&t->exited, false, memory_order_release);
}

void rsv__platform_add_thread(struct rsv_platform *p, struct rsv_thread *t)
{
	rsv_spin_lock(&p->threads_lock);
	t->id = ++p->nr_threads;
	rsv_list_add_tail(&t->node, &p->threads);
	rsv_spin_unlock(&p->threads_lock);
}

struct rsv_thread *rsv__thread_create_ctx(struct rsv_platform *p, const char *name,
					  int (*fn)(void *), void *arg, void *ctx, unsigned flags,
					  struct rsv_thread **out)
{
	struct rsv_thread *t;

	if (!p || !fn) {
		errno = EINVAL;
		return NULL;
	}
	t = p->backend->thread_create(p, name);
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	t->ctx = ctx;
	t->daemon = flags & RSV_THREAD_DAEMON;
	if (out)
		*out = t; /* before the start, which orders it before anything the thread does */
	rsv__platform_add_thread(p, t);
	if (p->backend->thread_start(p, t)) {
		/* The record stays on the list, marked exited, so ids stay dense. */
		if (out)
			*out = NULL;
		atomic_store(&t->exited, true);
		t->exit_code = -EAGAIN;
		errno = EAGAIN;
		return NULL;
	}
	return t;
}

struct rsv_thread *rsv_thread_create(struct rsv_platform *p, const char *name,
				     int (*fn)(void *arg), void *arg)
{
	return rsv__thread_create_ctx(p, name, fn, arg, NULL, 0, NULL);
}

void rsv__thread_run_body(struct rsv_thread *t)
{
	t->exit_code = t->fn(t->arg);
	atomic_store_explicit(&t->exited, true, memory_order_release);
}

struct rsv_thread *rsv_thread_self(void) { return rsv__self; }
const char *rsv_thread_name(const struct rsv_thread *t) { return t ? t->name : "(none)"; }
unsigned rsv_thread_id(const struct rsv_thread *t) { return t ? t->id : 0; }
bool rsv_thread_exited(const struct rsv_thread *t) { return atomic_load(&t->exited); }
int rsv_thread_exit_code(const struct rsv_thread *t) { return t->exit_code; }

/* A thread that no platform created (a daemon's own thread taking a reservoir lock) gets an
 * OS-backend record on first need, freed when the thread exits. */
static pthread_key_t foreign_key;
static pthread_once_t foreign_once = PTHREAD_ONCE_INIT;

static void foreign_release(void *t)
{
	free(t);
}

static void foreign_key_init(void)
{
	pthread_key_create(&foreign_key, foreign_release);
}

struct rsv_thread *rsv__thread_self_or_adopt(void)
{
	struct rsv_thread *t = rsv__self;

	if (rsv_likely(t))
		return t;
	pthread_once(&foreign_once, foreign_key_init);
	/* Adopted before, then attached and detached since: the record is still ours. */
	if ((t = pthread_getspecific(foreign_key))) {
		rsv__self = t;
		return t;
	}
	t = calloc(1, sizeof(*t));
	if (!t) {
		fprintf(stderr,
			"reservoir: cannot allocate a thread record for a foreign thread\n");
		abort();
	}
	rsv__thread_init(t, NULL, &rsv__os_thread_ops, "foreign");
	pthread_setspecific(foreign_key, t);
	rsv__self = t;
	return t;
}

void rsv__unpark(struct rsv_thread *t)
{
	t->ops->unpark(t);
}

bool rsv__try_wake(struct rsv_thread *t, unsigned state_mask)
{
	int cur = atomic_load_explicit(&t->state, memory_order_relaxed);

	do {
		if (cur == RSV_TASK_RUNNING || !((unsigned)cur & state_mask))
			return false;
	} while (!atomic_compare_exchange_weak_explicit(&t->state, &cur, RSV_TASK_RUNNING,
							memory_order_release,
							memory_order_relaxed));
	rsv__unpark(t);
	return true;
}

void rsv_set_current_state(enum rsv_sleep_state state)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();

	if (state == RSV_TASK_RUNNING) {
		atomic_store_explicit(&self->state, RSV_TASK_RUNNING, memory_order_relaxed);
		rsv__clear_waiting(self);
		return;
	}
	rsv__set_waiting(self, RSV_WAIT_SLEEP, NULL);
	/* As prepare_to_wait(): a waker that reads the state after this sees it. */
	atomic_store_explicit(&self->state, state,
			      self->sim ? memory_order_relaxed : memory_order_seq_cst);
}

bool rsv_wake_thread(struct rsv_thread *t, unsigned state_mask)
{
	return rsv__try_wake(t, state_mask);
}

bool rsv__sleep_until(struct rsv_thread *self, uint64_t deadline)
{
	for (;;) {
		int cur = atomic_load_explicit(&self->state, memory_order_acquire);

		if (cur == RSV_TASK_RUNNING)
			return true;
		if (deadline && self->ops->now(self) >= deadline) {
			/* A waker racing with the timeout wins: its CAS leaves us RUNNING. */
			return !atomic_compare_exchange_strong_explicit(
				&self->state, &cur, RSV_TASK_RUNNING, memory_order_acquire,
				memory_order_acquire);
		}
		self->ops->park(self, deadline);
	}
}

void rsv__set_waiting(struct rsv_thread *self, enum rsv_wait_kind kind, const void *obj)
{
	atomic_store_explicit(&self->wait_since, self->ops->now(self), memory_order_relaxed);
	atomic_store_explicit(&self->wait_obj, obj, memory_order_relaxed);
	atomic_store_explicit(&self->wait_kind, kind, memory_order_release);
}

void rsv__clear_waiting(struct rsv_thread *self)
{
	atomic_store_explicit(&self->wait_kind, RSV_WAIT_NONE, memory_order_relaxed);
	atomic_store_explicit(&self->wait_obj, NULL, memory_order_relaxed);
}

void rsv_sched_point(void)
{
	struct rsv_thread *self = rsv__self;

	if (self)
		self->ops->sched_point(self);
}

void rsv_yield(void)
{
	rsv_sched_point();
}

uint64_t rsv_now(void)
{
	struct rsv_thread *self = rsv__self;

	return self ? self->ops->now(self) : rsv__os_clock_ns();
}

void rsv_sleep_ns(uint64_t ns)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	uint64_t deadline = self->ops->now(self) + ns;

	rsv__set_waiting(self, RSV_WAIT_SLEEP, NULL);
	while (self->ops->now(self) < deadline) {
		atomic_store_explicit(&self->state, RSV_TASK_UNINTERRUPTIBLE, memory_order_relaxed);
		rsv__sleep_until(self, deadline);
	}
	atomic_store_explicit(&self->state, RSV_TASK_RUNNING, memory_order_relaxed);
	rsv__clear_waiting(self);
}

void *rsv__thread_context(const struct rsv_thread *t)
{
	return t ? t->ctx : NULL;
}
