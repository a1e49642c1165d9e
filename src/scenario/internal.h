/* Private to the scenarios: what each scenario file provides, and what the runner gives it. */
#ifndef RSV_SCENARIO_INTERNAL_H
#define RSV_SCENARIO_INTERNAL_H

#include "reservoir/harness.h"

struct rsv_scenario_run {
	struct rsv_system *sys;
	const struct rsv_scenario *s;
	const long *p;                  /* parameters, by the scenario's own index */
	struct rsv_scenario_result *res;
	struct rsv_progress progress;   /* the work's counter: the watchdog watches it */
	const struct rsv_scenario_opts *opts;
	void *data;                     /* the scenario's state, on the C heap */
	struct rsv__scenario_paths *paths; /* predict's, freed by the runner */
	bool paths_apart; /* predict: setup builds the objects and creates no task */
	uint64_t next_observe, next_sample; /* the monitor's schedule (runner.c) */
	uint64_t window_ns;             /* the progress watchdog's (runner.c) */
};

struct rsv_scenario_path;

struct rsv_scenario {
	const char *name;
	const char *summary;
	const struct rsv_scenario_param *params;
	unsigned nr_params;
	const enum rsv_policy_key *keys;
	unsigned nr_keys;
	unsigned long nr_pages;
	uint64_t time_limit_ns;  /* virtual; 0 = until every task has returned */
	/* Before anything is built: parameters that are each in range but contradict each
	 * other. 0, or -EINVAL with a message naming them (may be NULL). */
	int (*validate)(const long *p, char *err, size_t errlen);
	/* Before the system is created: settings the parameters decide (may be NULL). */
	void (*configure)(struct rsv_system_config *cfg, const long *p);
	/* In an attached setup task: build the system's objects, create the tasks. */
	int (*setup)(struct rsv_scenario_run *r);
	/* rsv_scenario_opts.predict: the scenario's paths under parameters @p, @n of them
	 * (NULL: it has no such run). The runner calls setup with paths_apart set, so that it
	 * builds the objects and creates no task, then starts one task per path, each when the one
	 * before has returned and each followed by a reclaim pass in its allocation context: every
	 * dependency the paths have is recorded while nothing waits for anything that cannot
	 * come. */
	const struct rsv_scenario_path *(*paths)(const long *p, unsigned *n);
	/* After the run: add counters, and judge a run that neither deadlocked nor stalled. */
	void (*judge)(struct rsv_scenario_run *r);
	/* Every virtual millisecond, from the watchdog's monitor, never as a task (so that
	 * watching adds no scheduling decisions): read gauges, feed the progress counter
	 * (may be NULL). */
	void (*observe)(struct rsv_scenario_run *r, uint64_t now);
	/* The fill and size of the scenario's mempools, for timelines (may be NULL). */
	void (*pools)(struct rsv_scenario_run *r, long *fill, long *size);
	/* What an exploration should see happen in some run (may be NULL). */
	const struct rsv_scenario_property *sometimes;
	unsigned nr_sometimes;
	/* Free what setup put on the C heap; the system is still there on a finished run. */
	void (*teardown)(struct rsv_scenario_run *r);
};

/* The tables every scenario file declares under these names, params[NR_P], keys[] and
 * sometimes[], with their sizes: one line of its struct rsv_scenario. */
#define RSV__SCENARIO_TABLES                                                                       \
	.params = params, .nr_params = sizeof(params) / sizeof(params[0]), .keys = keys,           \
	.nr_keys = sizeof(keys) / sizeof(keys[0]), .sometimes = sometimes,                         \
	.nr_sometimes = sizeof(sometimes) / sizeof(sometimes[0])

/* runner.c */
void rsv__scenario_counter(struct rsv_scenario_run *r, const char *name, int64_t value);
void rsv__scenario_verdict(struct rsv_scenario_run *r, enum rsv_verdict v, const char *fmt, ...)
	RSV_PRINTF(3, 4);
/* Takes free pages down to @target as the calling task, below the watermarks if need be
 * (a PF_MEMALLOC-like grab), one at a time so that no per-task cache hides any; @quiet: without
 * waking kswapd (which would reclaim what the scenario set up). Returns how many it took
 * into @pages (at most @max). */
unsigned rsv__scenario_exhaust(struct rsv_system *sys, unsigned long target,
			       struct rsv_page **pages, unsigned max, bool quiet);
/* Adds to the work's progress what @count gained since *@seen (completions, say). */
void rsv__scenario_progress_to(struct rsv_scenario_run *r, uint64_t *seen, uint64_t count);
/* The run's situation is not the seed thread's (a parameter took it elsewhere): the verdict
 * becomes RSV_VERDICT_INVALID_SETUP, with @fmt saying what happened instead and naming the
 * parameters; a failure the run had is kept in the why. Judges decide this from what the run
 * did (counters, what the observer saw), never from the parameters' values alone. */
void rsv__scenario_invalid(struct rsv_scenario_run *r, const char *fmt, ...) RSV_PRINTF(2, 3);
/* A line for the result's report, after the blocked chain if there is one (a checker's
 * finding, say). */
void rsv__scenario_note(struct rsv_scenario_run *r, const char *text);
/* The lockdep checker on for this run (once, whoever asks first: the scenario or --lockdep);
 * its cycles are read by the judge, not printed. 0 or -ENOMEM. */
int rsv__scenario_lockdep(struct rsv_scenario_run *r);
/* rsv_task_create() for a scenario's setup: 0, or -errno with the result's reason naming the
 * task, so that a run missing one of its tasks is an error rather than a verdict. */
int rsv__scenario_task(struct rsv_scenario_run *r, const char *name, int (*fn)(void *arg),
		       void *arg);
/* The reason a setup step failed, for the result (printf-style); returns @err. */
int rsv__scenario_setup_error(struct rsv_scenario_run *r, int err, const char *fmt, ...)
	RSV_PRINTF(3, 4);
/* One of a scenario's paths, for predict: a task named @name runs @fn(arg), then reclaims
 * once in context @reclaim (0: not at all). */
struct rsv_scenario_path {
	const char *name;
	void (*fn)(void *arg);
	rsv_gfp_t reclaim;
};
/* A system-wide counter from the allocator's statistics, added under its own name. */
void rsv__scenario_stat(struct rsv_scenario_run *r, enum rsv_stat_item item);

extern const struct rsv_scenario rsv__s1_crypt_swap, rsv__s3_oom_mutex, rsv__s4_reservations,
	rsv__s5_nofs_bufio_loop, rsv__s2_writeout_throttle, rsv__s6_daemon_parked_io,
	rsv__s7_daemon_io_flusher, rsv__s8_daemon_pool_starvation;

#endif
