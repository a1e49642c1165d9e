/* The scenario runner: the registry, parameters, one run from system creation to verdict.
 *
 * Every run is judged the same way first: the scheduler finding no runnable task, or the
 * progress watchdog seeing every task parked, is a deadlock; the watchdog seeing no progress
 * while tasks ran is a livelock (30 virtual seconds; 40 with the kernel's periodic
 * writeback, which may defer a write by 35, see progress_timeout()). A run that ends without
 * either goes to the scenario's own judge, which reads its counters. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "scenario/internal.h"

#define OBSERVE_NS RSV_NSEC_PER_MSEC

static const struct rsv_scenario *const registry[] = {
	&rsv__s1_crypt_swap,        &rsv__s2_writeout_throttle,      &rsv__s3_oom_mutex,
	&rsv__s4_reservations,      &rsv__s5_nofs_bufio_loop,        &rsv__s6_daemon_parked_io,
	&rsv__s7_daemon_io_flusher, &rsv__s8_daemon_pool_starvation,
};

#define NR_SCENARIOS (sizeof(registry) / sizeof(registry[0]))

static const char *const verdict_names[RSV_NR_VERDICTS] = {
	[RSV_VERDICT_PROGRESS] = "progress",
	[RSV_VERDICT_STALL] = "stall",
	[RSV_VERDICT_RESERVE_DEPLETED] = "reserve-depleted",
	[RSV_VERDICT_NEEDLESS_OOM] = "needless-oom",
	[RSV_VERDICT_LIVELOCK] = "livelock",
	[RSV_VERDICT_DEADLOCK] = "deadlock",
	[RSV_VERDICT_PANIC] = "panic",
	[RSV_VERDICT_INVALID_SETUP] = "invalid-setup",
};

const char *rsv_verdict_name(enum rsv_verdict v)
{
	return (unsigned)v < RSV_NR_VERDICTS ? verdict_names[v] : "?";
}

unsigned rsv_scenario_count(void)
{
	return NR_SCENARIOS;
}

const struct rsv_scenario *rsv_scenario_at(unsigned i)
{
	return i < NR_SCENARIOS ? registry[i] : NULL;
}

const struct rsv_scenario *rsv_scenario_find(const char *name)
{
	for (unsigned i = 0; name && i < NR_SCENARIOS; i++)
		if (!strcmp(registry[i]->name, name))
			return registry[i];
	return NULL;
}

const char *rsv_scenario_name(const struct rsv_scenario *s)
{
	return s->name;
}

const char *rsv_scenario_summary(const struct rsv_scenario *s)
{
	return s->summary;
}

unsigned rsv_scenario_nr_params(const struct rsv_scenario *s)
{
	return s->nr_params;
}

const struct rsv_scenario_param *rsv_scenario_param(const struct rsv_scenario *s, unsigned i)
{
	return i < s->nr_params ? &s->params[i] : NULL;
}

static const enum rsv_stat_item coverage_items[] = {
	RSV_STAT_BELOW_MIN_PF_MEMALLOC,
	RSV_STAT_BELOW_MIN_GFP_MEMALLOC,
	RSV_STAT_BELOW_MIN_OOM_VICTIM,
	RSV_STAT_BELOW_MIN_ATOMIC,
	RSV_STAT_BELOW_MIN_NONBLOCK,
	RSV_STAT_BELOW_MIN_NOFAIL,
	RSV_STAT_WMARK_FAIL_MIN,
	RSV_STAT_WMARK_FAIL_LOW,
	RSV_STAT_WMARK_FAIL_HIGH,
	RSV_STAT_OOM_KILL,
	RSV_STAT_OOM_REAPED,
	RSV_STAT_MEMPOOL_WAIT_WOKEN,
	RSV_STAT_MEMPOOL_WAIT_TIMEOUT,
	RSV_STAT_THROTTLE_DIRECT,
	RSV_STAT_THROTTLE_VM_WRITEOUT,
	RSV_STAT_THROTTLE_WRITEBACK,
	RSV_STAT_THROTTLE_NOPROGRESS,
	RSV_STAT_THROTTLE_ISOLATED,
	RSV_STAT_THROTTLE_CONGESTED,
	RSV_STAT_DIRTY_THROTTLE,
};
_Static_assert(sizeof(coverage_items) / sizeof(coverage_items[0]) <= RSV_SCENARIO_MAX_COVERAGE,
	       "rsv_scenario_result.coverage is too small");

unsigned rsv_scenario_coverage_items(const enum rsv_stat_item **items)
{
	*items = coverage_items;
	return sizeof(coverage_items) / sizeof(coverage_items[0]);
}

unsigned rsv_scenario_nr_sometimes(const struct rsv_scenario *s)
{
	return s->nr_sometimes;
}

const struct rsv_scenario_property *rsv_scenario_sometimes(const struct rsv_scenario *s, unsigned i)
{
	return i < s->nr_sometimes ? &s->sometimes[i] : NULL;
}

bool rsv_scenario_reached(const struct rsv_scenario_result *r,
			  const struct rsv_scenario_property *p)
{
	for (unsigned i = 0; i < sizeof(coverage_items) / sizeof(coverage_items[0]); i++)
		if (!strcmp(rsv_stat_name(coverage_items[i]), p->counter))
			return r->coverage[i] > 0;
	return rsv_scenario_counter(r, p->counter) > 0;
}

unsigned rsv_scenario_nr_keys(const struct rsv_scenario *s)
{
	return s->nr_keys;
}

enum rsv_policy_key rsv_scenario_key(const struct rsv_scenario *s, unsigned i)
{
	return i < s->nr_keys ? s->keys[i] : RSV_NR_POLICY_KEYS;
}

void rsv_scenario_opts_init(const struct rsv_scenario *s, struct rsv_scenario_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->policy = RSV_POLICY_DEFAULT;
	o->seed = 1;
	o->backend = RSV_BACKEND_SIM;
	for (unsigned i = 0; i < s->nr_params; i++)
		o->params[i] = s->params[i].def;
}

static void param_names(const struct rsv_scenario *s, char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < s->nr_params && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "", s->params[i].name);
}

int rsv_scenario_check(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
		       char *err, size_t errlen)
{
	char buf[256];

	if (!err || !errlen)
		err = buf, errlen = sizeof(buf);
	for (unsigned i = 0; i < s->nr_params; i++) {
		const struct rsv_scenario_param *p = &s->params[i];

		if (o->params[i] < p->min || o->params[i] > p->max) {
			snprintf(err, errlen, "parameter %s: %ld is not in %ld..%ld", p->name,
				 o->params[i], p->min, p->max);
			return -EINVAL;
		}
	}
	for (unsigned k = 0; k < RSV_NR_POLICY_KEYS; k++)
		if (o->policy.value[k] >= rsv_policy_nr_values(k)) {
			snprintf(err, errlen, "policy %s: value %u out of range",
				 rsv_policy_key_name(k), o->policy.value[k]);
			return -EINVAL;
		}
	if (o->backend != RSV_BACKEND_SIM && o->backend != RSV_BACKEND_OS) {
		snprintf(err, errlen, "backend: %d is neither sim nor os", (int)o->backend);
		return -EINVAL;
	}
	return s->validate ? s->validate(o->params, err, errlen) : 0;
}

int rsv_scenario_set_param(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
			   const char *text, char *err, size_t errlen)
{
	const char *eq = strchr(text, '=');
	char names[512], *end;
	long v;

	for (unsigned i = 0; eq && i < s->nr_params; i++) {
		const struct rsv_scenario_param *p = &s->params[i];

		if (strlen(p->name) != (size_t)(eq - text) || strncmp(p->name, text, eq - text))
			continue;
		errno = 0;
		v = strtol(eq + 1, &end, 0);
		if (errno || !eq[1] || *end || v < p->min || v > p->max) {
			snprintf(err, errlen, "parameter %s: '%s' is not an integer in %ld..%ld",
				 p->name, eq + 1, p->min, p->max);
			return -EINVAL;
		}
		o->params[i] = v;
		o->params_given |= 1u << i;
		return 0;
	}
	param_names(s, names, sizeof(names));
	snprintf(err, errlen, "%s: '%.*s' is not a parameter of %s (valid: %s)",
		 eq ? "unknown parameter" : "want name=value", eq ? (int)(eq - text) : 64, text,
		 s->name, names);
	return -EINVAL;
}

/* ---- for the scenario files ---- */

void rsv__scenario_counter(struct rsv_scenario_run *r, const char *name, int64_t value)
{
	struct rsv_scenario_result *res = r->res;

	if (res->nr_counters < RSV_SCENARIO_MAX_COUNTERS)
		res->counters[res->nr_counters++] = (struct rsv_scenario_counter){ name, value };
}

unsigned rsv__scenario_exhaust(struct rsv_system *sys, unsigned long target,
			       struct rsv_page **pages, unsigned max, bool quiet)
{
	rsv_gfp_t gfp = (quiet ? RSV___GFP_NOWARN : RSV_GFP_NOWAIT) | RSV___GFP_MEMALLOC;
	unsigned n = 0;

	while (rsv_system_free_pages(sys) > target && n < max) {
		struct rsv_page *p = rsv_alloc_pages(gfp, 0);

		if (!p)
			break;
		pages[n++] = p;
		rsv_drain_local_pages();
	}
	return n;
}

void rsv__scenario_progress_to(struct rsv_scenario_run *r, uint64_t *seen, uint64_t count)
{
	for (; *seen < count; (*seen)++)
		rsv_progress_inc(&r->progress);
}

int rsv__scenario_setup_error(struct rsv_scenario_run *r, int err, const char *fmt, ...)
{
	va_list ap;
	size_t n;

	va_start(ap, fmt);
	vsnprintf(r->res->why, sizeof(r->res->why), fmt, ap);
	va_end(ap);
	n = strlen(r->res->why);
	snprintf(r->res->why + n, sizeof(r->res->why) - n, ": %s", strerror(-err));
	return err;
}

int rsv__scenario_task(struct rsv_scenario_run *r, const char *name, int (*fn)(void *arg),
		       void *arg)
{
	if (rsv_task_create(r->sys, name, fn, arg))
		return 0;
	return rsv__scenario_setup_error(r, errno ? -errno : -ENOMEM, "setup: task \"%s\"",
					 name);
}

struct rsv__scenario_paths {
	_Atomic unsigned turn; /* the path whose turn it is */
	unsigned n;
	void *arg;
	struct path_task {
		struct rsv__scenario_paths *all;
		const struct rsv_scenario_path *path;
		unsigned index;
	} task[];
};

static int path_task(void *arg)
{
	struct path_task *t = arg;
	struct rsv__scenario_paths *all = t->all;

	while (atomic_load(&all->turn) != t->index)
		rsv_msleep(1);
	t->path->fn(all->arg);
	if (t->path->reclaim)
		rsv_try_to_free_pages(t->path->reclaim, 0);
	atomic_store(&all->turn, t->index + 1);
	return 0;
}

/* Predict's fixed interleaving: a task per path, each starting when the one before has
 * returned. 0, or -errno as rsv__scenario_task(). */
static int start_paths(struct rsv_scenario_run *r, const struct rsv_scenario_path *paths,
		       unsigned n, void *arg)
{
	struct rsv__scenario_paths *all = calloc(1, sizeof(*all) + n * sizeof(all->task[0]));
	int err = 0;

	if (!all)
		return -ENOMEM;
	r->paths = all;
	all->n = n;
	all->arg = arg;
	for (unsigned i = 0; i < n && !err; i++) {
		all->task[i] = (struct path_task){ .all = all, .path = &paths[i], .index = i };
		err = rsv__scenario_task(r, paths[i].name, path_task, &all->task[i]);
	}
	return err;
}

void rsv__scenario_stat(struct rsv_scenario_run *r, enum rsv_stat_item item)
{
	rsv__scenario_counter(r, rsv_stat_name(item), (int64_t)rsv_stats_get(r->sys, item));
}

void rsv__scenario_verdict(struct rsv_scenario_run *r, enum rsv_verdict v, const char *fmt, ...)
{
	va_list ap;

	r->res->verdict = v;
	va_start(ap, fmt);
	vsnprintf(r->res->why, sizeof(r->res->why), fmt, ap);
	va_end(ap);
}

void rsv__scenario_invalid(struct rsv_scenario_run *r, const char *fmt, ...)
{
	char what[200];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(what, sizeof(what), fmt, ap);
	va_end(ap);
	if (r->res->verdict == RSV_VERDICT_PROGRESS)
		rsv__scenario_verdict(r, RSV_VERDICT_INVALID_SETUP, "%s", what);
	else /* what the run did is kept, but it says nothing about the seed's question */
		rsv__scenario_verdict(r, RSV_VERDICT_INVALID_SETUP, "%s (the run itself: %s)", what,
				      rsv_verdict_name(r->res->verdict));
}

void rsv__scenario_note(struct rsv_scenario_run *r, const char *text)
{
	size_t n = strlen(r->res->report);

	snprintf(r->res->report + n, sizeof(r->res->report) - n, "%s%s\n",
		 n && r->res->report[n - 1] != '\n' ? "\n" : "", text);
}

static bool counted(const struct rsv_scenario_result *res, const char *name)
{
	for (unsigned i = 0; i < res->nr_counters; i++)
		if (!strcmp(res->counters[i].name, name))
			return true;
	return false;
}

static void lockdep_quiet(void *arg, const char *report)
{
	(void)arg;
	(void)report; /* the run's judge reads it with rsv_lockdep_report() */
}

int rsv__scenario_lockdep(struct rsv_scenario_run *r)
{
	int err = rsv_lockdep_enable(r->sys);

	/* A scenario that reads the checker for its notes runs without it in a build that has
	 * none; a run that asked for it (--lockdep, --predict) cannot. */
	if (err == -EOPNOTSUPP && !r->opts->lockdep && !r->opts->predict)
		return 0;
	if (err == -EOPNOTSUPP)
		return rsv__scenario_setup_error(r, err,
						 "the lock-dependency checker is compiled "
						 "out of this build (RSV_LOCKDEP=OFF)");
	if (err && err != -EBUSY)
		return err;
	rsv_lockdep_set_report_hook(r->sys, lockdep_quiet, NULL);
	return 0;
}

int64_t rsv_scenario_counter(const struct rsv_scenario_result *r, const char *name)
{
	for (unsigned i = 0; i < r->nr_counters; i++)
		if (!strcmp(r->counters[i].name, name))
			return r->counters[i].value;
	return -1;
}

/* ---- one run ---- */

static void timeline_sample(struct rsv_scenario_run *r, uint64_t now)
{
	struct rsv_watermarks wm;
	struct rsv_scenario_sample s = { .time_ns = now };

	rsv_system_watermarks(r->sys, &wm);
	s.free = (long)rsv_system_free_pages(r->sys);
	s.min = (long)wm.min;
	s.low = (long)wm.low;
	s.high = (long)wm.high;
	if (r->s->pools && r->data)
		r->s->pools(r, &s.pool_fill, &s.pool_size);
	s.blocked = rsv_system_nr_blocked(r->sys);
	s.dirty = rsv_vm_counter(r->sys, RSV_NR_DIRTY);
	s.writeback = rsv_vm_counter(r->sys, RSV_NR_WRITEBACK);
	s.oom_kills = (long)rsv_stats_get(r->sys, RSV_STAT_OOM_KILL);
	s.progress = (long)atomic_load_explicit(&r->progress.count, memory_order_relaxed);
	r->opts->sample(r->opts->sample_arg, &s);
}

/* The watchdog's sampler, outside any task: the scenario's observer every millisecond and the
 * timeline's sample every sample_ns, each on its own schedule. */
static void monitor(void *arg, uint64_t now)
{
	struct rsv_scenario_run *r = arg;

	if (r->s->observe && now >= r->next_observe) {
		r->next_observe = now + OBSERVE_NS;
		r->s->observe(r, now);
	}
	if (r->opts->sample && r->opts->sample_ns && now >= r->next_sample) {
		r->next_sample = now + r->opts->sample_ns;
		timeline_sample(r, now);
	}
}

static uint64_t monitor_period(const struct rsv_scenario *s, const struct rsv_scenario_opts *o)
{
	uint64_t period = s->observe ? OBSERVE_NS : 0;

	if (o->sample && o->sample_ns && (!period || o->sample_ns < period))
		period = o->sample_ns;
	return period;
}

/* The window: the caller's, or the default stretched over the longest deferral of the
 * system, so that a run waiting for periodic writeback is never called stuck. */
static uint64_t progress_timeout(const struct rsv_scenario_opts *o,
				 const struct rsv_system_config *cfg)
{
	uint64_t expire = cfg->dirty_expire_centisecs ? cfg->dirty_expire_centisecs
						      : RSV_DIRTY_EXPIRE_CENTISECS;
	uint64_t round = cfg->dirty_writeback_centisecs ? cfg->dirty_writeback_centisecs
						       : RSV_DIRTY_WRITEBACK_CENTISECS;
	uint64_t deferral = (expire + 2 * round) * 10 * RSV_NSEC_PER_MSEC;

	if (o->progress_timeout_ns)
		return o->progress_timeout_ns;
	return deferral > RSV_SCENARIO_PROGRESS_TIMEOUT_NS ? deferral
							   : RSV_SCENARIO_PROGRESS_TIMEOUT_NS;
}

static void count_coverage(struct rsv_scenario_run *r)
{
	for (unsigned i = 0; i < sizeof(coverage_items) / sizeof(coverage_items[0]); i++)
		r->res->coverage[i] = rsv_stats_get(r->sys, coverage_items[i]);
}

static void judge_run(struct rsv_scenario_run *r, enum rsv_run_result run)
{
	count_coverage(r);
	enum rsv_watchdog_event wd = rsv_watchdog_fired(r->sys);
	const char *report = rsv_platform_report(rsv_system_platform(r->sys));
	bool sim = r->opts->backend == RSV_BACKEND_SIM;

	if (rsv_system_panicked(r->sys))
		rsv__scenario_verdict(r, RSV_VERDICT_PANIC, "%s", rsv_system_panicked(r->sys));
	else if (run == RSV_RUN_DEADLOCK || wd == RSV_WATCHDOG_DEADLOCK)
		rsv__scenario_verdict(r, RSV_VERDICT_DEADLOCK, "%s%s",
				      run == RSV_RUN_DEADLOCK
					      ? "no task can run"
					      : "every task parked in lock or queue waits",
				      rsv_system_abandoned(r->sys) ? "; its tasks were abandoned"
								   : "");
	else if (wd == RSV_WATCHDOG_LIVELOCK || run == RSV_RUN_TIME_LIMIT)
		rsv__scenario_verdict(r, RSV_VERDICT_LIVELOCK,
				      "no progress for %.3g %ss while tasks "
				      "ran%s",
				      (double)r->window_ns / 1e9, sim ? "virtual " : "",
				      rsv_system_abandoned(r->sys) ? "; they were abandoned" : "");
	else
		rsv__scenario_verdict(r, RSV_VERDICT_PROGRESS, "the work finished");
	if (r->res->verdict != RSV_VERDICT_PROGRESS && report)
		snprintf(r->res->report, sizeof(r->res->report), "%s", report);
	if (!r->opts->predict) { /* the scenario's judge reads its own run, not the paths */
		r->s->judge(r);
	} else { /* what the paths' reclaim passes reached, to show they ran */
		rsv__scenario_stat(r, RSV_STAT_PGSCAN);
		rsv__scenario_stat(r, RSV_STAT_PSWPOUT);
		rsv__scenario_stat(r, RSV_STAT_PGWRITEBACK);
		rsv__scenario_stat(r, RSV_STAT_SLABS_SCANNED);
	}
	if ((r->opts->lockdep || r->opts->predict) && !counted(r->res, "lockdep_cycles")) {
		char cycle[2048];

		rsv__scenario_counter(r, "lockdep_cycles",
				      rsv_lockdep_report(r->sys, cycle, sizeof(cycle)));
		if (*cycle)
			rsv__scenario_note(r, cycle);
	}
}

/* A panic is an outcome the judge reads from the system: nothing to do when it happens. */
static void panicked(void *arg, const char *msg)
{
	(void)arg, (void)msg;
}

/* The scenario's objects, then its paths apart (rsv_scenario.paths). */
static int predict(struct rsv_scenario_run *r)
{
	const struct rsv_scenario_path *paths;
	unsigned n;
	int err;

	r->paths_apart = true;
	if ((err = r->s->setup(r)))
		return err;
	paths = r->s->paths(r->p, &n);
	return start_paths(r, paths, n, r->data);
}

int rsv_scenario_run(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
		     struct rsv_scenario_result *res)
{
	struct rsv_system_config cfg = { .nr_pages = s->nr_pages,
					 .backend = o->backend,
					 .seed = o->seed,
					 .time_limit_ns = s->time_limit_ns,
					 .misuse = RSV_MISUSE_RETURN,
					 .policy = o->policy,
					 .panic = panicked,
					 .workspace = o->workspace,
					 .sched = o->sched };
	struct rsv_scenario_run r = { .s = s, .p = o->params, .res = res, .opts = o };
	enum rsv_run_result run;
	uint64_t start;
	bool abandoned;
	int err;

	memset(res, 0, sizeof(*res));
	if ((err = rsv_scenario_check(s, o, res->why, sizeof(res->why))))
		return err;
	if (o->predict && !s->paths) {
		snprintf(res->why, sizeof(res->why), "%s: no run of its paths apart", s->name);
		return -EOPNOTSUPP;
	}
	if (s->configure)
		s->configure(&cfg, o->params);
	r.window_ns = progress_timeout(o, &cfg);
	if (o->backend != RSV_BACKEND_SIM && (o->sched.strategy || o->sched.nr_replay)) {
		snprintf(res->why, sizeof(res->why),
			 "a scheduling strategy or a schedule is the "
			 "simulator's: real threads are the host's to schedule");
		return -EINVAL;
	}
	if (!(r.sys = rsv_system_create(&cfg))) {
		snprintf(res->why, sizeof(res->why), "system: %s", strerror(errno));
		return -errno;
	}
	rsv_progress_register(r.sys, &r.progress, "work");
	rsv_task_attach(r.sys, "setup");
	err = o->lockdep || o->predict ? rsv__scenario_lockdep(&r) : 0;
	if (!err)
		err = o->predict ? predict(&r) : s->setup(&r);
	rsv_task_detach();
	if (err) {
		if (!res->why[0])
			snprintf(res->why, sizeof(res->why), "setup: %s", strerror(-err));
		if (s->teardown)
			s->teardown(&r);
		rsv_system_destroy(r.sys);
		free(r.paths);
		return err;
	}
	rsv_watchdog_start(r.sys, &(struct rsv_watchdog_config){
		.progress_timeout_ns = r.window_ns, .stop_run = true,
		.sample_period_ns = monitor_period(s, o),
		.sample = monitor_period(s, o) ? monitor : NULL, .sample_arg = &r });
	start = o->backend == RSV_BACKEND_SIM ? 0 : rsv_now();
	run = rsv_system_run(r.sys);
	rsv_watchdog_stop(r.sys); /* on real threads, its sampler reads what teardown frees */
	res->run = run;
	res->trace_hash = rsv_platform_trace_hash(rsv_system_platform(r.sys));
	res->decisions = rsv_platform_decisions(rsv_system_platform(r.sys));
	res->threads = rsv_platform_threads(rsv_system_platform(r.sys));
	res->replayed = rsv_platform_replayed(rsv_system_platform(r.sys));
	res->preemptions = rsv_platform_preemptions(rsv_system_platform(r.sys));
	if (o->sched.record && o->schedule) {
		const uint32_t *ids;
		const uint64_t *hashes;
		size_t n = rsv_platform_schedule(rsv_system_platform(r.sys), &ids);

		rsv_platform_schedule_hashes(rsv_system_platform(r.sys), &hashes);
		o->schedule(o->schedule_arg, ids, hashes, n);
	}
	if (o->sched.record && o->sched.record_lanes && o->lanes) {
		const struct rsv_lane_event *ev;
		const uint32_t *ids;
		const uint64_t *times;
		size_t nev = rsv_platform_lanes(rsv_system_platform(r.sys), &ev);
		size_t n = rsv_platform_schedule(rsv_system_platform(r.sys), &ids);

		rsv_platform_decision_times(rsv_system_platform(r.sys), &times);
		o->lanes(o->lanes_arg, ev, nev, ids, times, n);
	}
	rsv_task_attach(r.sys, "judge"); /* the judge reads the clock and may free as a task */
	res->virtual_ns = rsv_now() - start;
	judge_run(&r, run);
	/* On real threads a stuck run leaves its tasks frozen inside the scenario's state and
	 * the system: both are abandoned with them (rsv_system_run()). */
	abandoned = rsv_system_abandoned(r.sys);
	if (s->teardown && !abandoned)
		s->teardown(&r);
	rsv_task_detach();
	rsv_system_destroy(r.sys);
	if (!abandoned) /* else its frozen tasks still read it */
		free(r.paths);
	return 0;
}
