/* Shared by the reservoir command's source files. */
#ifndef RSV_TOOL_H
#define RSV_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include "reservoir/harness.h"

int rsv_tool_demo(uint64_t seed);
/* One line: "reservoir: " @fmt with @word, then the valid choices if any; returns 2. */
int rsv_tool_bad(const char *fmt, const char *word, const char *valid);
int rsv_tool_parse_seed(const char *s, uint64_t *seed);
int rsv_tool_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
			uint64_t *out);
int rsv_tool_list(int argc, char **argv);
int rsv_tool_run(int argc, char **argv, bool replay);
int rsv_tool_matrix(int argc, char **argv);
/* matrix.c: reservoir merge SHARD-FILES... [--format text|md|json|csv] */
int rsv_tool_merge(int argc, char **argv);
/* "I/N" with 1 <= I <= N <= 1000: 0, or 2 with the reason said. */
int rsv_tool_parse_shard(const char *v, unsigned *shard, unsigned *shards);
/* explore.c: the parts of a sharded exploration, merged (the files among @argv, --format
 * given apart); as rsv_tool_merge(). */
#define RSV_TOOL_EXPLORE_SHARD "reservoir-explore-shard"
int rsv_tool_explore_merge(int argc, char **argv, const char *format);
/* explore.c: reservoir explore SCENARIO ... --strategy S --runs N */
int rsv_tool_explore(int argc, char **argv);
/* "random", "pct", "pct:d=D[,k=K]" into @sc: 0, or 2 with the reason in @err. */
int rsv_tool_parse_strategy(const char *v, struct rsv_sched_config *sc, char *err, size_t len);
void rsv_tool_strategy_format(const struct rsv_sched_config *sc, char *buf, size_t len);

/* schedule.c: a recorded run, as a file. */
struct rsv_tool_schedule {
	char build[64], verdict[32];
	const struct rsv_scenario *s;
	struct rsv_scenario_opts o; /* policy, every parameter, seed, strategy */
	uint64_t trace_hash;
	uint32_t *ids; /* the thread chosen at each decision (free() it) */
	size_t n, expected;
};
/* 0, or 1 with the reason said. */
int rsv_tool_schedule_write(const char *path, const struct rsv_scenario *s,
			    const struct rsv_scenario_opts *o, const struct rsv_scenario_result *r,
			    const uint32_t *ids, size_t n);
/* 0, or 2 with one line naming the file, the line and what is wrong; a schedule of another
 * build is refused unless @force. */
int rsv_tool_schedule_read(const char *path, struct rsv_tool_schedule *sch, bool force);
/* A schedule's decisions kept by a run with sched.record (rsv_scenario_opts.schedule). */
struct rsv_tool_recording {
	uint32_t *ids;
	uint64_t *hashes;
	size_t n;
};
void rsv_tool_record(void *arg, const uint32_t *ids, const uint64_t *hashes, size_t n);
/* --check-determinism: @s run twice with @o, compared decision by decision. 0: the same;
 * 1: they differ first at d->decision (from 1), where the first chose thread d->thread[0]
 * and the second d->thread[1] (0: it had ended); -errno: a run could not be set up (@r's
 * why says why). @r holds the second run. */
struct rsv_tool_divergence {
	long decision;
	uint32_t thread[2];
	size_t n[2];
};
int rsv_tool_determinism(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			 struct rsv_scenario_result *r, struct rsv_tool_divergence *d);
/* What tells failures apart (explore, shrink): the verdict, then the blocked chain with its
 * numbers folded, reduced to the wait-for cycle and its threads when there is one. */
void rsv_tool_signature(const struct rsv_scenario_result *r, char *out, size_t len);
/* shrink.c: reservoir shrink FILE [--out FILE] [--budget SECONDS] [--format text|json] */
int rsv_tool_shrink(int argc, char **argv);
/* The scenario named @name, or NULL with the valid names said. */
const struct rsv_scenario *rsv_tool_find_scenario(const char *name);
/* --policy and --param for @s: 0 (taken), 2 (bad, said), or -1 (not one of them). */
int rsv_tool_scenario_option(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
			     const char *opt, const char *val);
/* The policy keys @s reads and its variant parameters, as "key=value,...". */
void rsv_tool_scenario_policy(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			      char *buf, size_t len);
/* timeline.c: a run sampled to @trace (a table; NULL: PLOT.tsv) and drawn to @plot (.svg or
 * .png; may be NULL). 0, or 1 with the reason on stderr. */
int rsv_tool_timeline_run(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
			  struct rsv_scenario_result *r, const char *trace, const char *plot);
int rsv_tool_check_plot_path(const char *path);
/* lanes.c: a simulated run's lanes, one per thread (rsv_scenario_opts.lanes). */
struct rsv_tool_lanes {
	struct rsv_lane_event *ev;
	size_t n;
	uint32_t *ids;
	uint64_t *times;
	size_t decisions;
};
void rsv_tool_lanes_record(void *arg, const struct rsv_lane_event *ev, size_t n,
			   const uint32_t *ids, const uint64_t *times, size_t decisions);
void rsv_tool_lanes_free(struct rsv_tool_lanes *l);
/* The first decision at or after virtual time @t. */
size_t rsv_tool_lanes_at(const struct rsv_tool_lanes *l, uint64_t t);
/* Writes the lanes' segments to @out and the names of the long waits as gnuplot labels to
 * @labels; @ytics gets gnuplot's list of lane names. The number of lanes, or -ENOMEM. */
int rsv_tool_lanes_write(const struct rsv_tool_lanes *l, FILE *out, FILE *labels, char *ytics,
			 size_t ytics_len);
/* The colours' key, as gnuplot plot elements. */
void rsv_tool_lanes_legend(FILE *g);
int rsv_tool_check_writable(const char *opt, const char *path);
/* stress.c: reservoir stress [--seconds N] [--tasks N] [--seed N] */
int rsv_tool_stress(int argc, char **argv);

#endif
