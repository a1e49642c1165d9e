/* The two ways the library adds to a statistic, named for who may write it.
 *
 * rsv__owner_add(): a counter only its owner (one task) ever writes. A relaxed load and a
 * relaxed store, no read-modify-write: the kernel's this_cpu_add() on a per-CPU counter. Other
 * tasks may read it at any time and see a value that was true a moment ago.
 *
 * rsv__shared_add(): a counter any task may write. An atomic read-modify-write, relaxed: a
 * statistic orders nothing. */
#ifndef RSV_COMMON_COUNTER_H
#define RSV_COMMON_COUNTER_H

#include <stdatomic.h>
#include <stdint.h>

static inline void rsv__owner_add_u64(_Atomic uint64_t *v, uint64_t n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void rsv__owner_add_long(_Atomic long *v, long n)
{
	atomic_store_explicit(v, atomic_load_explicit(v, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline void rsv__shared_add_u64(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static inline void rsv__shared_add_long(_Atomic long *v, long n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

#define rsv__owner_add(v, n)                                                                  \
	_Generic((v), _Atomic uint64_t *: rsv__owner_add_u64,                                     \
		 _Atomic long *: rsv__owner_add_long)((v), (n))
#define rsv__shared_add(v, n)                                                                 \
	_Generic((v), _Atomic uint64_t *: rsv__shared_add_u64,                                    \
		 _Atomic long *: rsv__shared_add_long)((v), (n))

#endif
