/* Watchdogs: hung tasks and stalled progress, checked by the platform's monitor (from the
 * scheduler on virtual time on the simulator, from a monitor thread on real threads). */
#include <stdio.h>
#include <stdlib.h>
#include "mm/internal.h"

struct rsv_watchdog {
	struct rsv_system *sys;
	struct rsv_watchdog_config cfg;
	struct rsv_spinlock lock; /* the counter list */
	struct rsv_progress *counters;
	enum rsv_watchdog_event first;
	unsigned long events[RSV_NR_WATCHDOG_EVENTS];
	/* Looks since the last progress, and how many found every task parked. */
	unsigned looks, parked_looks;
	/* Waits already reported as hung, so that each is reported once. */
	struct {
		const struct rsv_thread *thread;
		uint64_t since;
	} reported[64];
	unsigned nr_reported;
	uint64_t check_period, next_check, next_sample;
};

static struct rsv_watchdog *wd_of(struct rsv_system *sys)
{
	return sys->watchdog_data;
}

static struct rsv_watchdog *wd_get(struct rsv_system *sys)
{
	struct rsv_watchdog *wd = wd_of(sys);

	if (!wd && (wd = calloc(1, sizeof(*wd)))) {
		wd->sys = sys;
		rsv_spin_init(&wd->lock);
		sys->watchdog_data = wd;
	}
	return wd;
}

static void fire(struct rsv_watchdog *wd, enum rsv_watchdog_event e, const char *why)
{
	struct rsv_platform *p = wd->sys->plat;

	if (!wd->first)
		wd->first = e;
	wd->events[e]++;
	rsv__platform_report_append(p, why);
	if (rsv_platform_backend(p) == RSV_BACKEND_OS)
		rsv__report_blocked(p); /* the simulator dumps the threads when the run stops */
	if (wd->cfg.fired)
		wd->cfg.fired(wd->cfg.fired_arg, e, rsv_platform_report(p));
	if (wd->cfg.stop_run)
		rsv_platform_stop(p);
}

/* The tasks the watchdogs look at: the system's own, alive, not its service threads. */
static bool watched(const struct rsv_thread *t)
{
	return t->fn && !t->daemon && !atomic_load(&t->exited);
}

/* Counts a look at which every task (service threads aside) waits on a lock or a queue (a
 * retry loop's timed wait for what others must do included). A sleep (msleep) or a throttle
 * (congestion_wait, a dirty-throttling pause) is not parked: its task goes on when it ends,
 * and a loop of them is a task that runs. Which queue does not matter, and a look that
 * lands just as a timed wait expires may see its task running, so a stall counts as parked
 * when at least three looks in four found it so. */
static void update_parked(struct rsv_watchdog *wd)
{
	struct rsv_platform *p = wd->sys->plat;
	bool all = true;
	unsigned n = 0;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		const struct rsv_thread *t = rsv_container_of(pos, struct rsv_thread, node);
		int kind;

		if (!watched(t))
			continue;
		kind = atomic_load(&t->wait_kind);
		if (kind != RSV_WAIT_MUTEX && kind != RSV_WAIT_SEMAPHORE &&
		    kind != RSV_WAIT_QUEUE && kind != RSV_WAIT_RETRY)
			all = false;
		n++;
	}
	rsv_spin_unlock(&p->threads_lock);
	wd->looks++;
	wd->parked_looks += all && n;
}

static void check_progress(struct rsv_watchdog *wd, uint64_t now)
{
	char why[256];
	bool deadlock;

	rsv_spin_lock(&wd->lock);
	for (struct rsv_progress *c = wd->counters; c; c = c->next) {
		uint64_t v = atomic_load_explicit(&c->count, memory_order_relaxed);

		if (v != c->seen || !c->changed_at) {
			c->seen = v;
			c->changed_at = now;
			c->reported = false;
			wd->looks = wd->parked_looks = 0;
			continue;
		}
		if (c->reported || now - c->changed_at <= wd->cfg.progress_timeout_ns)
			continue;
		c->reported = true;
		/* Parked all along: only timeouts woke anyone, and they went back to waiting.
		 * Nothing a task does can end it: a deadlock the timed waits disguise. */
		deadlock = wd->looks && 4 * wd->parked_looks >= 3 * wd->looks;
		snprintf(why, sizeof(why),
			 "watchdog: progress counter \"%s\" stuck at %llu for %.3f s while %s\n",
			 c->name, (unsigned long long)v, (double)(now - c->changed_at) / 1e9,
			 deadlock ? "every task waited on a lock or a queue (deadlock: its waits "
				    "time out and begin again)"
				  : "tasks ran (livelock)");
		rsv_spin_unlock(&wd->lock);
		fire(wd, deadlock ? RSV_WATCHDOG_DEADLOCK : RSV_WATCHDOG_LIVELOCK, why);
		rsv_spin_lock(&wd->lock);
	}
	rsv_spin_unlock(&wd->lock);
}

static bool already_reported(struct rsv_watchdog *wd, const struct rsv_thread *t,
			     uint64_t since)
{
	for (unsigned i = 0; i < wd->nr_reported; i++)
		if (wd->reported[i].thread == t && wd->reported[i].since == since)
			return true;
	return false;
}

/* Threads waiting uninterruptibly in one wait for longer than the timeout, each reported
 * once. Timed waits that wake and wait again start a new wait, so, as in the kernel, they are
 * never hung. Service threads waiting for work are idle (TASK_IDLE), not hung. */
static void check_hung(struct rsv_watchdog *wd, uint64_t now)
{
	struct rsv_platform *p = wd->sys->plat;
	char why[1024];
	size_t len = 0;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		const struct rsv_thread *t = rsv_container_of(pos, struct rsv_thread, node);
		uint64_t since;

		if (!watched(t) || atomic_load(&t->wait_kind) == RSV_WAIT_NONE ||
		    atomic_load(&t->state) != RSV_TASK_UNINTERRUPTIBLE)
			continue;
		since = atomic_load(&t->wait_since);
		if (now - since <= wd->cfg.hung_timeout_ns || already_reported(wd, t, since))
			continue;
		if (wd->nr_reported < sizeof(wd->reported) / sizeof(wd->reported[0])) {
			wd->reported[wd->nr_reported].thread = t;
			wd->reported[wd->nr_reported++].since = since;
		}
		if (len < sizeof(why))
			len += (size_t)snprintf(why + len, sizeof(why) - len,
						"watchdog: task \"%s\" (#%u) blocked for more than "
						"%.3f s\n",
						t->name, t->id,
						(double)wd->cfg.hung_timeout_ns / 1e9);
	}
	rsv_spin_unlock(&p->threads_lock);
	if (len)
		fire(wd, RSV_WATCHDOG_HUNG_TASK, why);
}

unsigned rsv_system_nr_blocked(struct rsv_system *sys)
{
	struct rsv_platform *p = sys->plat;
	unsigned n = 0;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		const struct rsv_thread *t = rsv_container_of(pos, struct rsv_thread, node);
		int kind = atomic_load(&t->wait_kind);

		if (!t->fn || atomic_load(&t->exited) ||
		    atomic_load(&t->state) == RSV_TASK_RUNNING)
			continue;
		if (kind == RSV_WAIT_MUTEX || kind == RSV_WAIT_SEMAPHORE ||
		    (kind == RSV_WAIT_QUEUE && watched(t)))
			n++;
	}
	rsv_spin_unlock(&p->threads_lock);
	return n;
}

static void monitor(void *arg, uint64_t now)
{
	struct rsv_watchdog *wd = arg;

	if (wd->cfg.sample && now >= wd->next_sample) {
		wd->next_sample = now + wd->cfg.sample_period_ns;
		wd->cfg.sample(wd->cfg.sample_arg, now);
	}
	if (now < wd->next_check)
		return;
	wd->next_check = now + wd->check_period;
	if (wd->cfg.progress_timeout_ns) {
		update_parked(wd);
		check_progress(wd, now);
	}
	if (wd->cfg.hung_timeout_ns)
		check_hung(wd, now);
}

int rsv_watchdog_start(struct rsv_system *sys, const struct rsv_watchdog_config *cfg)
{
	struct rsv_watchdog *wd;
	uint64_t smallest, period;

	if (!sys || !cfg || (!cfg->progress_timeout_ns && !cfg->hung_timeout_ns) ||
	    (cfg->sample && !cfg->sample_period_ns))
		return -EINVAL;
	if (!(wd = wd_get(sys)))
		return -ENOMEM;
	if (wd->cfg.progress_timeout_ns || wd->cfg.hung_timeout_ns)
		return -EBUSY;
	wd->cfg = *cfg;
	smallest = !cfg->progress_timeout_ns ? cfg->hung_timeout_ns
		   : !cfg->hung_timeout_ns   ? cfg->progress_timeout_ns
		   : cfg->progress_timeout_ns < cfg->hung_timeout_ns ? cfg->progress_timeout_ns
								      : cfg->hung_timeout_ns;
	/* A stall is reported within 1 % of its timeout: a stuck run stops that much sooner. */
	period = cfg->period_ns ? cfg->period_ns : smallest / 100;
	wd->check_period = period ? period : 1;
	if (cfg->sample && cfg->sample_period_ns && cfg->sample_period_ns < wd->check_period)
		period = cfg->sample_period_ns;
	return rsv__platform_set_monitor(sys->plat, period ? period : 1, monitor, wd);
}

int rsv_progress_register(struct rsv_system *sys, struct rsv_progress *c, const char *name)
{
	struct rsv_watchdog *wd;

	if (!sys || !c)
		return -EINVAL;
	if (!(wd = wd_get(sys)))
		return -ENOMEM;
	c->name = name ? name : "progress";
	c->seen = atomic_load(&c->count);
	c->changed_at = 0;
	c->reported = false;
	rsv_spin_lock(&wd->lock);
	c->next = wd->counters;
	wd->counters = c;
	rsv_spin_unlock(&wd->lock);
	return 0;
}

void rsv_watchdog_stop(struct rsv_system *sys)
{
	struct rsv_watchdog *wd = wd_of(sys);

	if (!wd || (!wd->cfg.progress_timeout_ns && !wd->cfg.hung_timeout_ns))
		return;
	rsv__platform_set_monitor(sys->plat, 0, NULL, NULL); /* no look runs after this */
	wd->cfg = (struct rsv_watchdog_config){ 0 };
}

enum rsv_watchdog_event rsv_watchdog_fired(struct rsv_system *sys)
{
	return wd_of(sys) ? wd_of(sys)->first : RSV_WATCHDOG_NONE;
}

unsigned long rsv_watchdog_events(struct rsv_system *sys, enum rsv_watchdog_event e)
{
	return wd_of(sys) && (unsigned)e < RSV_NR_WATCHDOG_EVENTS ? wd_of(sys)->events[e] : 0;
}

/* At teardown, after the platform's monitor has stopped with it. */
void rsv__watchdog_exit(struct rsv_system *sys)
{
	free(sys->watchdog_data);
	sys->watchdog_data = NULL;
}
