/* Shared by the reservoir command's source files. */
#ifndef RSV_TOOL_H
#define RSV_TOOL_H

#include <stdbool.h>
#include <stdint.h>
#include "reservoir/harness.h"

int rsv_tool_demo(uint64_t seed);
int rsv_tool_parse_seed(const char *s, uint64_t *seed);
int rsv_tool_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
			uint64_t *out);
int rsv_tool_list(int argc, char **argv);
int rsv_tool_run(int argc, char **argv, bool replay);
int rsv_tool_matrix(int argc, char **argv);
/* explore.c: reservoir explore SCENARIO ... --strategy S --runs N */
int rsv_tool_explore(int argc, char **argv);
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
int rsv_tool_check_writable(const char *opt, const char *path);
/* stress.c: reservoir stress [--seconds N] [--tasks N] [--seed N] */
int rsv_tool_stress(int argc, char **argv);

#endif
