/* reservoir/defs.h: compiler helpers and export macros shared by every public header. */
#ifndef RESERVOIR_DEFS_H
#define RESERVOIR_DEFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define RSV_API __attribute__((visibility("default")))
#define rsv_likely(x) __builtin_expect(!!(x), 1)
#define rsv_unlikely(x) __builtin_expect(!!(x), 0)
#define RSV_NOINLINE __attribute__((noinline))
#define RSV_NORETURN __attribute__((noreturn))
#define RSV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#define RSV_API
#define rsv_likely(x) (x)
#define rsv_unlikely(x) (x)
#define RSV_NOINLINE
#define RSV_NORETURN
#define RSV_PRINTF(f, a)
#endif

#define RSV_PAGE_SHIFT 12
#define RSV_PAGE_SIZE (1UL << RSV_PAGE_SHIFT)
#define RSV_MAX_ORDER 10 /* the kernel's MAX_PAGE_ORDER: blocks of 1..1024 pages */
#define RSV_NR_ORDERS (RSV_MAX_ORDER + 1)
#define RSV_COSTLY_ORDER 3 /* PAGE_ALLOC_COSTLY_ORDER */

#define RSV_NSEC_PER_MSEC 1000000ULL
#define RSV_NSEC_PER_SEC 1000000000ULL
#define RSV_HZ 1000 /* one virtual jiffy is 1 ms */
#define RSV_JIFFY_NS (RSV_NSEC_PER_SEC / RSV_HZ)

#endif
