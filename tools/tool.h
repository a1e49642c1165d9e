/* Shared by the reservoir command's source files. */
#ifndef RSV_TOOL_H
#define RSV_TOOL_H

#include <stdint.h>

int rsv_tool_demo(uint64_t seed);

#endif
