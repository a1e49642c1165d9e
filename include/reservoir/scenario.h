/* reservoir/scenario.h: the seed threads' scenarios, runnable by name.
 *
 * A scenario builds a system (tasks, locks, pools, devices) from named integer parameters,
 * runs it under a policy and a seed on either backend, and judges the run from its counters,
 * never from wall time. On the simulator the same (scenario, policy, parameters, seed) gives
 * the same run, bit for bit: the trace hash says so. */
#ifndef RESERVOIR_SCENARIO_H
#define RESERVOIR_SCENARIO_H

#include "defs.h"
#include "platform.h"
#include "policy.h"
#include "stats.h"

/* Verdicts, from best to worst (a matrix cell shows the worst seen). */
enum rsv_verdict {
	RSV_VERDICT_PROGRESS,         /* the work finished */
	RSV_VERDICT_STALL,            /* it progressed, below the scenario's rate floor */
	RSV_VERDICT_RESERVE_DEPLETED, /* free pages driven to zero by callers reserves were not for
				       */
	RSV_VERDICT_NEEDLESS_OOM,     /* a kill the policy should have avoided */
	RSV_VERDICT_LIVELOCK,         /* tasks ran, the progress counter stalled for 30 virtual s */
	RSV_VERDICT_DEADLOCK,         /* no task could make progress again */
	RSV_VERDICT_PANIC,            /* out of memory with nothing to kill: the kernel panics */
	/* No verdict on the policy: the seed thread's situation did not arise with these
	 * parameters (what the run did instead, and the parameters that decided it, are in the
	 * result's why). A matrix cell with any such run shows it. */
	RSV_VERDICT_INVALID_SETUP,
	RSV_NR_VERDICTS
};

struct rsv_scenario;

struct rsv_scenario_param {
	const char *name;
	long def, min, max;
	const char *doc;
	bool axis; /* a variant of the scenario: the matrix runs every value in min..max */
	/* An optional behaviour (swarm testing's feature): under RSV_SCHED_SWARM a run has it
	 * at def or at swarm_alt, half each, unless the user gave it (rsv_scenario_swarm()). */
	bool swarm;
	long swarm_alt;
};

#define RSV_SCENARIO_MAX_PARAMS 16
#define RSV_SCENARIO_MAX_COUNTERS 24
#define RSV_SCENARIO_MAX_COVERAGE 24

/* One point of a run's timeline. */
struct rsv_scenario_sample {
	uint64_t time_ns;               /* virtual on the simulator */
	long free, min, low, high;      /* pages */
	long pool_fill, pool_size;      /* the scenario's mempools: elements in, of */
	long blocked;                   /* rsv_system_nr_blocked() */
	long dirty, writeback;          /* pages */
	long oom_kills;                 /* so far */
	long progress;                  /* the work's counter */
};

struct rsv_scenario_opts {
	struct rsv_policy policy;
	uint64_t seed;
	enum rsv_backend backend;
	long params[RSV_SCENARIO_MAX_PARAMS]; /* by index; rsv_scenario_opts_init sets defaults */
	uint32_t params_given; /* bit i: params[i] came from rsv_scenario_set_param() */
	/* A timeline: @sample is called every sample_ns (0 = off) from the watchdog's monitor,
	 * never as a task, so a sampled run is the same run, trace hash and all. */
	uint64_t sample_ns;
	void (*sample)(void *arg, const struct rsv_scenario_sample *s);
	void *sample_arg;
	struct rsv_workspace *workspace; /* for many runs on one thread (may be NULL) */
	/* The progress watchdog's window: no progress for this long is a livelock (a deadlock if
	 * every task waited throughout). 0: RSV_SCENARIO_PROGRESS_TIMEOUT_NS, or longer when the
	 * system may defer work longer (periodic writeback writes a page dirtied just after a
	 * round dirty_expire + dirty_writeback later: the window is that plus one more round).
	 * Virtual time on the simulator, real time on the os backend, where a stuck run ends
	 * this long after its last progress with its verdict and report (its tasks frozen and
	 * abandoned). */
	uint64_t progress_timeout_ns;
	/* The lockdep checker on for the run (reservoir/lockdep.h): the counter "lockdep_cycles"
	 * and, if any, the first cycle in the report. It forces every allocation through the
	 * checkers' hooks, so a checked run is not the unchecked run's trace. */
	bool lockdep;
	/* Instead of the scenario, its paths apart: the same objects under the same policy and
	 * parameters, each of the seed's paths run to its end before the next starts, each
	 * followed by a reclaim pass in its own allocation context, with the checker on. This
	 * fixed interleaving cannot deadlock, so the counter "lockdep_cycles" says whether the
	 * checker predicts the scenario's failure from runs that do not fail (and the report
	 * has the cycle). The verdict is progress when the paths finished. */
	bool predict;
	/* sim: how the scheduler chooses (reservoir/sync.h); all zero: the seeded random walk.
	 * With sched.record, @schedule hears the run's decisions before the system goes: the
	 * thread chosen at each, and the trace hash just after it. */
	struct rsv_sched_config sched;
	void (*schedule)(void *arg, const uint32_t *ids, const uint64_t *hashes, size_t n);
	void *schedule_arg;
	/* With sched.record and sched.record_lanes, @lanes hears what each thread did
	 * (rsv_platform_lanes()), the thread chosen at each decision and its virtual time. */
	void (*lanes)(void *arg, const struct rsv_lane_event *events, size_t n, const uint32_t *ids,
		      const uint64_t *times, size_t decisions);
	void *lanes_arg;
};

#define RSV_SCENARIO_PROGRESS_TIMEOUT_NS (30 * RSV_NSEC_PER_SEC)

struct rsv_scenario_counter {
	const char *name;
	int64_t value;
};

struct rsv_scenario_result {
	enum rsv_verdict verdict;
	enum rsv_run_result run;
	uint64_t trace_hash, decisions, virtual_ns;
	unsigned threads; /* threads the run started, tasks and services: PCT's n */
	size_t replayed;  /* decisions that followed opts.sched.replay */
	uint64_t preemptions; /* sim: switches away from a task that could have run on */
	unsigned nr_counters;
	struct rsv_scenario_counter counters[RSV_SCENARIO_MAX_COUNTERS];
	/* The run's coverage: how often each of rsv_scenario_coverage_items() happened. */
	uint64_t coverage[RSV_SCENARIO_MAX_COVERAGE];
	char why[256];     /* one line: what decided the verdict */
	char report[4096]; /* on a deadlock or livelock, who waits on what, held by whom; and
			    * what the scenario's checkers found */
};

/* The built-in scenarios: how many, the @i-th (NULL past the end), one by name (NULL if
 * none), and each one's name, one-line summary, parameters and sometimes properties. Any
 * thread; the tables are constant. */
RSV_API unsigned rsv_scenario_count(void);
RSV_API const struct rsv_scenario *rsv_scenario_at(unsigned i);
RSV_API const struct rsv_scenario *rsv_scenario_find(const char *name);
RSV_API const char *rsv_scenario_name(const struct rsv_scenario *s);
RSV_API const char *rsv_scenario_summary(const struct rsv_scenario *s);
RSV_API unsigned rsv_scenario_nr_params(const struct rsv_scenario *s);
RSV_API const struct rsv_scenario_param *rsv_scenario_param(const struct rsv_scenario *s,
							     unsigned i);
/* The policy keys the scenario reads (the axes of its matrix). */
RSV_API unsigned rsv_scenario_nr_keys(const struct rsv_scenario *s);
RSV_API enum rsv_policy_key rsv_scenario_key(const struct rsv_scenario *s, unsigned i);

/* Defaults: upstream's policy, seed 1, the simulator, every parameter at its default. */
RSV_API void rsv_scenario_opts_init(const struct rsv_scenario *s, struct rsv_scenario_opts *o);
/* "name=value": 0, or -EINVAL with a message naming the bad word and the valid choices. */
RSV_API int rsv_scenario_set_param(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
				   const char *text, char *err, size_t errlen);
/* Every parameter in its range, and none contradicting another (s5: dirty <= buffers): 0, or
 * -EINVAL with a message naming the parameters. rsv_scenario_run() checks the same first. */
/* Swarm testing's other half (Groce, Zhang, Eide, Chen, Regehr, ISSTA 2012): under
 * o->sched.strategy RSV_SCHED_SWARM, sets each parameter declared swarm and not given to its
 * default or its swarm_alt by a coin of o->seed (rsv_swarm_coin()), so that each run leaves
 * out a random subset of the optional behaviours; under any other strategy it changes nothing.
 * Call it after setting the seed and before the run; what it set is in o->params, so a schedule
 * written from @o replays without drawing again. Returns the mask of parameters at swarm_alt. */
RSV_API uint32_t rsv_scenario_swarm(const struct rsv_scenario *s, struct rsv_scenario_opts *o);
RSV_API int rsv_scenario_check(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			       char *err, size_t errlen);
/* One run. 0, or -errno when the run could not be set up: bad options (-EINVAL), or the
 * system, a task or an object failed to be made; the result's why says which. A run that
 * could not be set up has no verdict. */
RSV_API int rsv_scenario_run(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			     struct rsv_scenario_result *r);
RSV_API int64_t rsv_scenario_counter(const struct rsv_scenario_result *r, const char *name);

/* Coverage: the mm events a reviewer asks about, counted in every run from the allocator's
 * statistics: the reserve tiers dipped into (below min for PF_MEMALLOC, __GFP_MEMALLOC, an
 * OOM victim, __GFP_HIGH, a non-blocking caller, __GFP_NOFAIL), watermarks failed, OOM kills
 * and pages reaped, mempool waits ended by a free or by the 5 s timeout, and throttle sleeps
 * by reason. The items, in the order of rsv_scenario_result.coverage; how many. */
RSV_API unsigned rsv_scenario_coverage_items(const enum rsv_stat_item **items);

/* A scenario's "sometimes" properties: things an exploration of it should see happen in at
 * least one run (a pool waiter woken by a free, say), each a counter of the run (the
 * scenario's own or a coverage item's name) that the run must raise above 0. An exploration
 * that never reaches one says so (reservoir explore exits 1). */
struct rsv_scenario_property {
	const char *what;
	const char *counter;
};
/* The scenario's sometimes properties: events an exploration should see in some run (NULL
 * past the end). */
RSV_API unsigned rsv_scenario_nr_sometimes(const struct rsv_scenario *s);
RSV_API const struct rsv_scenario_property *rsv_scenario_sometimes(const struct rsv_scenario *s,
								   unsigned i);
/* Whether run @r reached @p. */
RSV_API bool rsv_scenario_reached(const struct rsv_scenario_result *r,
				  const struct rsv_scenario_property *p);
RSV_API const char *rsv_verdict_name(enum rsv_verdict v);

#endif
