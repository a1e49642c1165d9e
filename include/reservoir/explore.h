/* reservoir/explore.h: the simulator as a bug finder for the user's own programs: a test
 * written against reservoir run over many seeds under a scheduling strategy, its first failure
 * returned with the schedule that reproduces it, and that schedule shrunk.
 *
 * The program is a setup function that creates tasks on a fresh simulated system and a check
 * that judges the finished run; everything else (the seed of each run, the strategy, recording
 * the schedule, replaying it) is reservoir's. The built-in scenarios use the same machinery
 * through `reservoir explore` and `reservoir shrink`. */
#ifndef RESERVOIR_EXPLORE_H
#define RESERVOIR_EXPLORE_H

#include "system.h"

struct rsv_explore_config {
	/* The system each run gets: backend and seed are set per run (the simulator, seeds
	 * first_seed, first_seed+1, ...); sched's strategy fields choose the strategy. */
	struct rsv_system_config system;
	unsigned long runs;
	uint64_t first_seed;
	/* Called as an attached task of the fresh system, before it runs: creates the objects
	 * and tasks. 0, or a negative errno that stops the exploration. */
	int (*setup)(struct rsv_system *sys, void *arg);
	/* Called after the run, the system still there: whether it failed. NULL: any run that
	 * did not end with every task returned (RSV_RUN_DONE) failed. */
	bool (*failed)(struct rsv_system *sys, enum rsv_run_result run, void *arg);
	/* Called, attached, before the system goes (may be NULL): frees what setup made. */
	void (*teardown)(struct rsv_system *sys, void *arg);
	void *arg;
};

struct rsv_explore_result {
	unsigned long runs, failures;
	int64_t first_failing_seed; /* -1: none failed */
	/* The first failure: its schedule (malloc'ed; rsv_explore_result_free()), what its run
	 * did, and its report (the blocked chain, when it deadlocked or timed out). */
	uint32_t *schedule;
	size_t nr_schedule;
	uint64_t trace_hash, preemptions;
	enum rsv_run_result run;
	char report[4096];
};

/* Swarm testing's optional behaviours for a user's program: whether option @i is on in
 * this run. Always on, except under RSV_SCHED_SWARM, where it is on or off by a coin of the
 * system's seed (half each), the same in a replay of that seed. A setup function asks it to
 * decide which of its optional tasks or steps to include. */
RSV_API bool rsv_swarm_option(const struct rsv_system *sys, unsigned i);
/* The coin behind it: option @i of the run of @seed left out. A hash, not the scheduler's
 * random stream, so that asking adds no decision to the run. */
RSV_API bool rsv_swarm_coin(uint64_t seed, unsigned i);

/* Runs cfg->runs seeds; stops at the first failure. 0, or a negative errno: -EINVAL for a
 * config without setup or runs, setup's error. */
RSV_API int rsv_explore(const struct rsv_explore_config *cfg, struct rsv_explore_result *res);
/* Runs @seed once following @schedule (past its end, the strategy goes on), recording it:
 * @res as rsv_explore() leaves it for a failure (failures is 1 if it failed). 0 or -errno. */
RSV_API int rsv_explore_replay(const struct rsv_explore_config *cfg, uint64_t seed,
			       const uint32_t *schedule, size_t n, struct rsv_explore_result *res);
/* Shrinks the failure in @res (from rsv_explore() or rsv_explore_replay()) while it keeps
 * failing with the same blocked chain, for at most @budget_ms: @res then holds the smaller
 * schedule and its run. 0 or -errno. */
RSV_API int rsv_explore_shrink(const struct rsv_explore_config *cfg, struct rsv_explore_result *res,
			       uint64_t budget_ms);
RSV_API void rsv_explore_result_free(struct rsv_explore_result *res);

/* ---- the machinery, for tools that run something else than a config ---- */

/* A report's blocked chain made comparable across runs: its thread lines with numbers folded
 * to N, reduced to the wait-for cycle and its threads when there is one, sorted. */
RSV_API void rsv_report_signature(const char *report, char *out, size_t len);

/* One candidate of a shrink: run @ids leniently (sched.replay_skip, and sched.replay_sticky
 * past their end), and say whether it failed the same way; if so, hand back what the run did
 * (@out, malloc'ed, and its preemptions). It may hand back the run when it did not fail
 * alike too (the shrinker frees it, and deviates from it once at each decision). */
typedef bool (*rsv_shrink_try_t)(void *arg, const uint32_t *ids, size_t n, uint32_t **out,
				 size_t *nout, uint64_t *preemptions);
/* Shrinks *@ids (malloc'ed, of *@n decisions and @preemptions, a failing run's record):
 * first the shortest failing prefix, then one deviation from the run without preemptions
 * (another thread chosen at one decision), then fewer preemptions (at each switch the thread
 * before runs on), then fewer decisions
 * (delta debugging, Zeller and Hildebrandt, TSE 2002), then preemptions again, keeping a
 * candidate when @try says it fails alike and it is smaller (fewer preemptions, or as many
 * and fewer decisions), until @deadline_ns of CLOCK_MONOTONIC. Returns the candidates tried;
 * *@ids, *@n and *@preemptions are the smallest kept. */
RSV_API unsigned long rsv_shrink_schedule(rsv_shrink_try_t try, void *arg, uint32_t **ids,
					  size_t *n, uint64_t *preemptions, uint64_t deadline_ns);

#endif
