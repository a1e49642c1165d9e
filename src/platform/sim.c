/* The sim backend: a deterministic scheduler over coroutines and a virtual clock.
 *
 * Only one thread runs at a time, on the OS thread that called rsv_platform_run(). At every
 * scheduling point the running thread itself picks the next one with the platform's seeded
 * PRNG and switches to it directly (one context switch per decision, no system call). When
 * nobody is runnable, virtual time jumps to the earliest timer; when there is no timer either,
 * the run is deadlocked and control returns to the caller of run with a report. Each decision
 * also costs tick_ns of virtual time, so a thread that spins without sleeping still moves the
 * clock and a time limit ends a livelock.
 *
 * Who runs next is the strategy's choice (rsv_sched_config): uniformly at random, or PCT's
 * priorities; a recorded schedule can be followed first, and every choice can be recorded.
 *
 * Determinism: everything the scheduler does depends on the seed and on the order of calls
 * made by the threads, which in turn depends only on the scheduler's earlier choices. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include "platform/internal.h"
#include "platform/sim_context.h"

enum sim_state { SIM_NEW, SIM_RUNNABLE, SIM_BLOCKED, SIM_DEAD, SIM_ATTACHED };

struct sim_thread {
	struct rsv_thread base;
	struct rsv_sim_ctx ctx;
	void *map;          /* stack mapping, guard page at its low end */
	size_t map_size;
	enum sim_state sstate;
	uint64_t deadline;  /* absolute virtual ns, 0 = no timer */
	unsigned run_idx;   /* position in runnable[] while runnable */
	unsigned heap_idx;  /* position in heap[] while a timer is armed */
	int64_t prio;       /* PCT: the runnable thread of highest priority runs; swarm: weight */
	struct rsv_sim_fiber fiber;
};

struct sim_platform {
	struct rsv_platform base;
	struct rsv_rand rng;
	uint64_t now;
	struct sim_thread **runnable;
	unsigned nr_runnable, cap_runnable;
	struct sim_thread **heap; /* min-heap on (deadline, id) */
	unsigned nr_heap, cap_heap;
	unsigned nr_live; /* threads that keep the run going: all but daemons */
	bool running;
	enum rsv_run_result result;
	struct rsv_sim_ctx main_ctx;
	struct rsv_sim_fiber main_fiber;
	struct rsv_thread *main_self; /* rsv__self of the caller of run */
	/* The strategy (rsv_sched_config). */
	struct rsv_sched_config sched;
	struct rsv_rand pct_rng;            /* PCT's draws, apart from the random walk's */
	uint64_t change[RSV_PCT_MAX_DEPTH]; /* PCT's change points, ascending */
	unsigned nr_change, next_change;
	int64_t spin_low;        /* the next priority for a demoted spinner */
	struct sim_thread *last; /* chosen at the previous decision */
	uint64_t same_run;       /* ...and how many times in a row */
	size_t replayed;         /* decisions that followed sched.replay */
	bool replay_over;
	uint32_t *log;  /* sched.record: the thread chosen, each time */
	uint64_t *hlog; /* ...and the trace hash just after */
	size_t nr_log, cap_log;
	uint64_t *tlog;               /* sched.record_lanes: each decision's virtual time */
	struct rsv_lane_event *lanes; /* ...and what the threads did */
	size_t nr_lanes, cap_lanes;
};

#define NO_IDX (~0u)

static inline struct sim_platform *to_sim(struct rsv_platform *p)
{
	return rsv_container_of(p, struct sim_platform, base);
}

static inline struct sim_thread *to_st(struct rsv_thread *t)
{
	return rsv_container_of(t, struct sim_thread, base);
}

static void *grow(void *arr, unsigned *cap, size_t elem)
{
	unsigned ncap = *cap ? *cap * 2 : 16;
	void *n = realloc(arr, ncap * elem);

	if (!n) {
		fprintf(stderr, "reservoir: sim scheduler out of memory\n");
		abort();
	}
	*cap = ncap;
	return n;
}

/* ---- runnable set ---- */

static void lane_event(struct sim_platform *sp, const struct sim_thread *t,
		       enum rsv_lane_event_type type, enum rsv_lane_wait kind, const char *what)
{
	struct rsv_lane_event *ev;

	if (!sp->sched.record_lanes)
		return;
	if (sp->nr_lanes == sp->cap_lanes) {
		size_t cap = sp->cap_lanes ? 2 * sp->cap_lanes : 1024;
		struct rsv_lane_event *l = realloc(sp->lanes, cap * sizeof(*l));

		if (!l) {
			fprintf(stderr, "reservoir: sim lane record out of memory\n");
			abort();
		}
		sp->lanes = l;
		sp->cap_lanes = cap;
	}
	ev = &sp->lanes[sp->nr_lanes++];
	*ev = (struct rsv_lane_event){ .decision = sp->base.decisions,
				       .now = sp->now,
				       .thread = t->base.id,
				       .type = (unsigned char)type,
				       .kind = (unsigned char)kind };
	if (what)
		snprintf(ev->what, sizeof(ev->what), "%s", what);
}

static void runnable_add(struct sim_platform *sp, struct sim_thread *t)
{
	lane_event(sp, t, RSV_LANE_RUNNABLE, RSV_LANE_WAIT_OTHER, NULL);
	if (sp->nr_runnable == sp->cap_runnable)
		sp->runnable = grow(sp->runnable, &sp->cap_runnable, sizeof(*sp->runnable));
	t->run_idx = sp->nr_runnable;
	sp->runnable[sp->nr_runnable++] = t;
	t->sstate = SIM_RUNNABLE;
}

static void runnable_del(struct sim_platform *sp, struct sim_thread *t)
{
	struct sim_thread *last = sp->runnable[--sp->nr_runnable];

	sp->runnable[t->run_idx] = last;
	last->run_idx = t->run_idx;
	t->run_idx = NO_IDX;
}

/* ---- timer heap ---- */

static bool timer_before(const struct sim_thread *a, const struct sim_thread *b)
{
	return a->deadline < b->deadline || (a->deadline == b->deadline && a->base.id < b->base.id);
}

static void heap_set(struct sim_platform *sp, unsigned i, struct sim_thread *t)
{
	sp->heap[i] = t;
	t->heap_idx = i;
}

static void heap_up(struct sim_platform *sp, unsigned i)
{
	struct sim_thread *t = sp->heap[i];

	while (i && timer_before(t, sp->heap[(i - 1) / 2])) {
		heap_set(sp, i, sp->heap[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	heap_set(sp, i, t);
}

static void heap_down(struct sim_platform *sp, unsigned i)
{
	struct sim_thread *t = sp->heap[i];

	for (;;) {
		unsigned c = 2 * i + 1;

		if (c >= sp->nr_heap)
			break;
		if (c + 1 < sp->nr_heap && timer_before(sp->heap[c + 1], sp->heap[c]))
			c++;
		if (!timer_before(sp->heap[c], t))
			break;
		heap_set(sp, i, sp->heap[c]);
		i = c;
	}
	heap_set(sp, i, t);
}

static void timer_arm(struct sim_platform *sp, struct sim_thread *t, uint64_t deadline)
{
	if (sp->nr_heap == sp->cap_heap)
		sp->heap = grow(sp->heap, &sp->cap_heap, sizeof(*sp->heap));
	t->deadline = deadline;
	heap_set(sp, sp->nr_heap++, t);
	heap_up(sp, sp->nr_heap - 1);
}

static void timer_cancel(struct sim_platform *sp, struct sim_thread *t)
{
	unsigned i = t->heap_idx;

	if (i == NO_IDX)
		return;
	t->heap_idx = NO_IDX;
	t->deadline = 0;
	if (i == --sp->nr_heap)
		return;
	struct sim_thread *moved = sp->heap[sp->nr_heap];

	heap_set(sp, i, moved);
	heap_down(sp, i);
	heap_up(sp, moved->heap_idx);
}

static void fire_timers(struct sim_platform *sp)
{
	while (sp->nr_heap && sp->heap[0]->deadline <= sp->now) {
		struct sim_thread *t = sp->heap[0];

		timer_cancel(sp, t);
		rsv__trace_mix(&sp->base, ((uint64_t)t->base.id << 32) ^ 0x7713);
		runnable_add(sp, t);
	}
}

/* ---- scheduling ---- */

/* Moves virtual time to @deadline, stopping at every monitor period on the way, so that the
 * watchdogs see time pass as it would have. */
static void advance_to(struct sim_platform *sp, uint64_t deadline)
{
	struct rsv_platform *p = &sp->base;

	while (p->monitor_fn && p->monitor_next <= deadline && !atomic_load(&p->stop_requested)) {
		if (p->monitor_next > sp->now)
			sp->now = p->monitor_next;
		p->monitor_next = sp->now + p->monitor_period;
		p->monitor_fn(p->monitor_arg, sp->now);
	}
	if (deadline > sp->now && !atomic_load(&p->stop_requested))
		sp->now = deadline;
}

/* ---- choosing ---- */

static struct sim_thread *runnable_by_id(struct sim_platform *sp, uint32_t id)
{
	for (unsigned i = 0; i < sp->nr_runnable; i++)
		if (sp->runnable[i]->base.id == id)
			return sp->runnable[i];
	return NULL;
}

static struct sim_thread *highest_priority(struct sim_platform *sp)
{
	struct sim_thread *best = sp->runnable[0];

	for (unsigned i = 1; i < sp->nr_runnable; i++) {
		struct sim_thread *t = sp->runnable[i];

		if (t->prio > best->prio || (t->prio == best->prio && t->base.id < best->base.id))
			best = t;
	}
	return best;
}

/* PCT at decision @n (from 1), @self the thread that ran the step before it (or NULL). */
static struct sim_thread *pct_pick(struct sim_platform *sp, struct sim_thread *self, uint64_t n)
{
	struct sim_thread *next;

	while (sp->next_change < sp->nr_change && sp->change[sp->next_change] <= n) {
		if (self && sp->change[sp->next_change] == n)
			self->prio = (int64_t)sp->next_change + 1; /* below every start priority */
		sp->next_change++;
	}
	next = highest_priority(sp);
	if (next == sp->last && sp->nr_runnable > 1 && ++sp->same_run >= RSV_PCT_SPIN_LIMIT) {
		next->prio = sp->spin_low--; /* a spinner that would starve the rest */
		next = highest_priority(sp);
	}
	return next;
}

/* Swarm: the random walk weighted by each thread's bias. */
static struct sim_thread *swarm_pick(struct sim_platform *sp)
{
	uint64_t total = 0, r;

	for (unsigned i = 0; i < sp->nr_runnable; i++)
		total += (uint64_t)sp->runnable[i]->prio;
	r = rsv_rand_below(&sp->rng, total);
	for (unsigned i = 0; i < sp->nr_runnable; i++) {
		if (r < (uint64_t)sp->runnable[i]->prio)
			return sp->runnable[i];
		r -= (uint64_t)sp->runnable[i]->prio;
	}
	return sp->runnable[sp->nr_runnable - 1];
}

/* sched.replay_sticky past the schedule: the last thread while it can run, else the
 * runnable thread of lowest id. */
static struct sim_thread *sticky_pick(struct sim_platform *sp)
{
	struct sim_thread *low = sp->runnable[0];

	for (unsigned i = 0; i < sp->nr_runnable; i++) {
		if (sp->runnable[i] == sp->last)
			return sp->last;
		if (sp->runnable[i]->base.id < low->base.id)
			low = sp->runnable[i];
	}
	return low;
}

/* The strategy chooses at every decision, even while a schedule is followed, so that its state
 * (the random walk's draws, PCT's change points) stays that of the recorded run: a schedule cut
 * short then goes on exactly as the run it was cut from. */
static struct sim_thread *choose(struct sim_platform *sp, struct sim_thread *self)
{
	uint64_t n = sp->base.decisions + 1;
	struct sim_thread *next, *replayed;
	bool from_replay = false;

	if (sp->sched.strategy == RSV_SCHED_PCT)
		next = pct_pick(sp, self, n);
	else if (sp->sched.strategy == RSV_SCHED_SWARM)
		next = swarm_pick(sp);
	else
		next = sp->runnable[sp->nr_runnable == 1
					    ? 0
					    : rsv_rand_below(&sp->rng, sp->nr_runnable)];
	while (!sp->replay_over && sp->replayed < sp->sched.nr_replay) {
		if ((replayed = runnable_by_id(sp, sp->sched.replay[sp->replayed]))) {
			next = replayed;
			sp->replayed++;
			from_replay = true;
			break;
		}
		if (sp->sched.replay_skip)
			sp->replayed++; /* passed over: the next one it names */
		else
			sp->replay_over = true; /* diverged: the strategy takes over from here */
	}
	/* Past the schedule, not at its last entry: that one is still the schedule's choice. */
	if (!from_replay && sp->sched.replay_sticky &&
	    (sp->replay_over || sp->replayed >= sp->sched.nr_replay))
		next = sticky_pick(sp);
	if (next != sp->last)
		sp->same_run = 0;
	sp->last = next;
	return next;
}

/* sched.record: the thread chosen and the trace hash with this decision in it, which two runs
 * that should be the same compare decision by decision (rsv_platform_schedule_hashes()). */
static void record_decision(struct sim_platform *sp, struct sim_thread *next)
{
	if (sp->nr_log == sp->cap_log) {
		size_t cap = sp->cap_log ? 2 * sp->cap_log : 4096;
		uint32_t *log = realloc(sp->log, cap * sizeof(*log));
		uint64_t *hlog = log ? realloc(sp->hlog, cap * sizeof(*hlog)) : NULL;
		uint64_t *tlog = hlog && sp->sched.record_lanes
					 ? realloc(sp->tlog, cap * sizeof(*tlog))
					 : sp->tlog;

		if (!log || !hlog || (sp->sched.record_lanes && !tlog)) {
			fprintf(stderr, "reservoir: sim schedule record out of memory\n");
			abort();
		}
		sp->log = log;
		sp->hlog = hlog;
		sp->tlog = tlog;
		sp->cap_log = cap;
	}
	if (sp->sched.record_lanes)
		sp->tlog[sp->nr_log] = sp->now;
	sp->log[sp->nr_log] = next->base.id;
	sp->hlog[sp->nr_log++] = sp->base.trace_hash;
}

/* Picks who runs next, advancing virtual time when nobody can run. NULL ends the run, with
 * sp->result saying why. @self: the thread that ran until now, NULL at the start. */
static struct sim_thread *pick_next(struct sim_platform *sp, struct sim_thread *self)
{
	struct sim_thread *next;
	uint64_t limit = sp->base.cfg.time_limit_ns;

	fire_timers(sp);
	if (sp->base.monitor_fn && sp->now >= sp->base.monitor_next) {
		sp->base.monitor_next = sp->now + sp->base.monitor_period;
		sp->base.monitor_fn(sp->base.monitor_arg, sp->now);
	}
	if (atomic_load(&sp->base.stop_requested)) {
		sp->result = RSV_RUN_STOPPED;
		return NULL;
	}
	if (!sp->nr_runnable) {
		if (!sp->nr_live) {
			sp->result = RSV_RUN_DONE;
			return NULL;
		}
		if (!sp->nr_heap) {
			sp->result = RSV_RUN_DEADLOCK;
			return NULL;
		}
		advance_to(sp, sp->heap[0]->deadline);
		if (atomic_load(&sp->base.stop_requested)) {
			sp->result = RSV_RUN_STOPPED;
			return NULL;
		}
		fire_timers(sp);
	}
	if (limit && sp->now > limit) {
		sp->result = RSV_RUN_TIME_LIMIT;
		return NULL;
	}
	next = choose(sp, self);
	if (self && self->sstate == SIM_RUNNABLE && next != self)
		sp->base.preemptions++; /* it could have gone on */
	sp->base.decisions++;
	sp->now += sp->base.cfg.tick_ns;
	rsv__trace_mix(&sp->base, next->base.id);
	if (sp->sched.record)
		record_decision(sp, next);
	return next;
}

/* Leaves @from (NULL: the caller of run) for @to (NULL: the caller of run). */
static void switch_to(struct sim_platform *sp, struct sim_thread *from, struct sim_thread *to,
		      bool from_dies)
{
	struct rsv_sim_ctx *fc = from ? &from->ctx : &sp->main_ctx;
	struct rsv_sim_fiber *ff = from ? &from->fiber : &sp->main_fiber;

	rsv__self = to ? &to->base : sp->main_self;
	rsv__sim_fiber_leave(ff, to ? &to->fiber : &sp->main_fiber, from_dies);
	rsv__sim_ctx_switch(fc, to ? &to->ctx : &sp->main_ctx);
	rsv__sim_fiber_arrived(ff);
}

/* The running thread has changed its own state; hand the CPU to whoever is next. */
static void reschedule(struct sim_platform *sp, struct sim_thread *self, bool dies)
{
	struct sim_thread *next = pick_next(sp, self);

	if (next == self)
		return;
	switch_to(sp, self, next, dies);
}

static void sim_sched_point(struct rsv_thread *self)
{
	struct sim_thread *st = to_st(self);

	if (st->sstate != SIM_RUNNABLE)
		return; /* an attached setup context is not scheduled */
	reschedule(to_sim(self->plat), st, false);
}

static void sim_park(struct rsv_thread *self, uint64_t deadline)
{
	struct sim_platform *sp = to_sim(self->plat);
	struct sim_thread *st = to_st(self);

	if (st->sstate != SIM_RUNNABLE) {
		fprintf(stderr,
			"reservoir: thread \"%s\" would block outside the simulator's run "
			"(on the sim backend only threads started by the platform may sleep)\n",
			self->name);
		abort();
	}
	if (atomic_exchange_explicit(&self->park_token, 0, memory_order_relaxed))
		return;
	runnable_del(sp, st);
	st->sstate = SIM_BLOCKED;
	if (sp->sched.record_lanes) {
		int kind = atomic_load_explicit(&self->wait_kind, memory_order_relaxed);

		lane_event(sp, st, RSV_LANE_BLOCK, rsv__lane_wait(kind),
			   rsv__wait_obj_name(kind, atomic_load_explicit(&self->wait_obj,
									 memory_order_relaxed)));
	}
	if (deadline)
		timer_arm(sp, st, deadline);
	reschedule(sp, st, false);
	atomic_store_explicit(&self->park_token, 0, memory_order_relaxed);
}

static void sim_unpark(struct rsv_thread *t)
{
	struct sim_platform *sp = to_sim(t->plat);
	struct sim_thread *st = to_st(t);

	atomic_store_explicit(&t->park_token, 1, memory_order_relaxed);
	if (st->sstate != SIM_BLOCKED)
		return;
	timer_cancel(sp, st);
	runnable_add(sp, st);
}

static uint64_t sim_now(struct rsv_thread *self)
{
	return to_sim(self->plat)->now;
}

static const struct rsv_thread_ops sim_thread_ops = {
	.park = sim_park,
	.unpark = sim_unpark,
	.now = sim_now,
	.sched_point = sim_sched_point,
};

/* ---- thread lifecycle ---- */

static void sim_entry(void)
{
	struct sim_thread *st = to_st(rsv__self);
	struct sim_platform *sp = to_sim(st->base.plat);

	rsv__sim_fiber_arrived(&st->fiber);
	rsv__thread_run_body(&st->base);
	runnable_del(sp, st);
	lane_event(sp, st, RSV_LANE_EXIT, RSV_LANE_WAIT_OTHER, NULL);
	st->sstate = SIM_DEAD;
	if (!st->base.daemon)
		sp->nr_live--;
	rsv__trace_mix(&sp->base, ((uint64_t)st->base.id << 32) ^ 0xdead);
	reschedule(sp, st, true);
	fprintf(stderr, "reservoir: sim thread \"%s\" resumed after exit\n", st->base.name);
	abort();
}

static struct rsv_thread *sim_thread_create(struct rsv_platform *p, const char *name)
{
	struct sim_thread *t = calloc(1, sizeof(*t));
	size_t stack = rsv__sim_stack_size(p->cfg.stack_size);
	size_t guard = RSV_PAGE_SIZE;
	bool reused;

	if (!t)
		return NULL;
	t->map_size = stack + guard;
	t->map = rsv__workspace_map(p->cfg.workspace, t->map_size, RSV_WS_STACK, &reused);
	if (!t->map) {
		free(t);
		errno = ENOMEM;
		return NULL;
	}
	if (!reused)
		mprotect(t->map, guard, PROT_NONE);
	rsv__thread_init(&t->base, p, &sim_thread_ops, name);
	t->base.sim = true;
	t->sstate = SIM_NEW;
	t->run_idx = t->heap_idx = NO_IDX;
	rsv__sim_ctx_prepare(&t->ctx, (char *)t->map + guard, stack, sim_entry);
	rsv__sim_fiber_init(&t->fiber, (char *)t->map + guard, stack, name);
	return &t->base;
}

static int sim_thread_start(struct rsv_platform *p, struct rsv_thread *t)
{
	struct sim_platform *sp = to_sim(p);

	if (!t->daemon)
		sp->nr_live++;
	lane_event(sp, to_st(t), RSV_LANE_START, RSV_LANE_WAIT_OTHER, t->name);
	/* PCT: a distinct random start priority, above every change point's (1..d-1); swarm:
	 * a weight of 1, 8 or 64. */
	if (sp->sched.strategy == RSV_SCHED_SWARM)
		to_st(t)->prio = (int64_t)1 << (3 * rsv_rand_below(&sp->pct_rng, 3));
	else
		to_st(t)->prio = RSV_PCT_MAX_DEPTH + (int64_t)(rsv_rand_next(&sp->pct_rng) >> 2);
	runnable_add(sp, to_st(t));
	rsv__trace_mix(p, ((uint64_t)t->id << 32) ^ 0x57a7);
	return 0;
}

static struct rsv_thread *sim_thread_attach(struct rsv_platform *p, const char *name)
{
	struct sim_thread *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	rsv__thread_init(&t->base, p, &sim_thread_ops, name);
	t->base.sim = true;
	t->sstate = SIM_ATTACHED;
	t->run_idx = t->heap_idx = NO_IDX;
	return &t->base;
}

static enum rsv_run_result sim_run(struct rsv_platform *p)
{
	struct sim_platform *sp = to_sim(p);
	struct sim_thread *first;

	if (sp->running) {
		fprintf(stderr, "reservoir: rsv_platform_run() called from inside a sim run\n");
		abort();
	}
	sp->running = true;
	sp->main_self = rsv__self;
	rsv__sim_fiber_init_main(&sp->main_fiber);
	rsv__report_reset(p);
	first = pick_next(sp, NULL);
	if (first)
		switch_to(sp, NULL, first, false);
	rsv__self = sp->main_self;
	sp->running = false;
	if (sp->result == RSV_RUN_DEADLOCK || sp->result == RSV_RUN_TIME_LIMIT ||
	    sp->result == RSV_RUN_STOPPED) {
		rsv__report_printf(p, "%s at virtual time %.6f s (seed %llu, %llu decisions)\n",
				   sp->result == RSV_RUN_DEADLOCK   ? "deadlock: no thread can run"
				   : sp->result == RSV_RUN_STOPPED ? "run stopped"
								    : "time limit reached",
				   (double)sp->now / 1e9, (unsigned long long)p->cfg.seed,
				   (unsigned long long)p->decisions);
		rsv__report_blocked(p);
	}
	return sp->result;
}

static struct rsv_platform *sim_create(const struct rsv_platform_config *cfg)
{
	struct sim_platform *sp = calloc(1, sizeof(*sp));

	if (!sp)
		return NULL;
	rsv_rand_seed(&sp->rng, cfg->seed);
	sp->sched = cfg->sched;
	rsv_rand_seed(&sp->pct_rng, cfg->seed ^ 0x9c7d5a3b1e2f4c68ull);
	if (cfg->sched.strategy == RSV_SCHED_PCT) {
		unsigned d = cfg->sched.pct_depth ? cfg->sched.pct_depth : 1;
		uint64_t k = cfg->sched.pct_steps ? cfg->sched.pct_steps : 10000;

		/* d-1 change points, uniform over 1..k, in order (ties are one point). */
		for (unsigned i = 0; i + 1 < d; i++)
			sp->change[sp->nr_change++] = 1 + rsv_rand_below(&sp->pct_rng, k);
		for (unsigned i = 1; i < sp->nr_change; i++)
			for (unsigned j = i; j && sp->change[j - 1] > sp->change[j]; j--) {
				uint64_t x = sp->change[j];

				sp->change[j] = sp->change[j - 1];
				sp->change[j - 1] = x;
			}
	}
	return &sp->base;
}

size_t rsv__sim_schedule(const struct rsv_platform *p, const uint32_t **ids,
			 const uint64_t **hashes)
{
	const struct sim_platform *sp = rsv_container_of(p, struct sim_platform, base);

	if (ids)
		*ids = sp->log;
	if (hashes)
		*hashes = sp->hlog;
	return sp->nr_log;
}

size_t rsv__sim_lanes(const struct rsv_platform *p, const struct rsv_lane_event **events,
		      const uint64_t **times)
{
	const struct sim_platform *sp = rsv_container_of(p, struct sim_platform, base);

	if (events)
		*events = sp->lanes;
	if (times)
		*times = sp->tlog;
	return events ? sp->nr_lanes : (sp->tlog ? sp->nr_log : 0);
}

size_t rsv__sim_replayed(const struct rsv_platform *p)
{
	return rsv_container_of(p, struct sim_platform, base)->replayed;
}

static void sim_destroy(struct rsv_platform *p)
{
	struct sim_platform *sp = to_sim(p);
	struct rsv_list *pos, *tmp;

	rsv_list_for_each_safe(pos, tmp, &p->threads) {
		struct sim_thread *t = to_st(rsv_container_of(pos, struct rsv_thread, node));

		if (t->map) {
			rsv__sim_fiber_destroy(&t->fiber, (char *)t->map + RSV_PAGE_SIZE,
					       t->map_size - RSV_PAGE_SIZE);
			rsv__workspace_unmap(p->cfg.workspace, t->map, t->map_size, RSV_WS_STACK);
		}
		free(t);
	}
	free(sp->runnable);
	free(sp->heap);
	free(sp->log);
	free(sp->hlog);
	free(sp->tlog);
	free(sp->lanes);
	free(sp);
}

const struct rsv_platform_backend rsv__sim_backend = {
	.serial = true,
	.create = sim_create,
	.thread_create = sim_thread_create,
	.thread_start = sim_thread_start,
	.thread_attach = sim_thread_attach,
	.run = sim_run,
	.destroy = sim_destroy,
};
