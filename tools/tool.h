/* Shared by the reservoir command's source files. */
#ifndef RSV_TOOL_H
#define RSV_TOOL_H

#include <stdbool.h>
#include <stdint.h>

int rsv_tool_demo(uint64_t seed);
int rsv_tool_parse_seed(const char *s, uint64_t *seed);
int rsv_tool_list(int argc, char **argv);
int rsv_tool_run(int argc, char **argv, bool replay);
int rsv_tool_matrix(int argc, char **argv);

#endif
