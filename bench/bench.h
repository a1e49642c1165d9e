/* Shared by the benchmark programs: a monotonic clock and a barrier against dead-code
 * elimination of an allocation whose result is unused. */
#ifndef RSV_BENCH_H
#define RSV_BENCH_H

#include <stdint.h>
#include <time.h>

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static inline void escape(void *p)
{
	__asm__ __volatile__("" : : "g"(p) : "memory");
}

#endif
