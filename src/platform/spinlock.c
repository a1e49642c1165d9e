/* Spinlocks: short critical sections that never contain a scheduling point.
 *
 * Unlock is a plain release store, so an uncontended lock/unlock pair costs one atomic
 * exchange. Contention spins with a pause, then yields the CPU: in userspace the holder can be
 * preempted, which the kernel's spinlocks never have to consider. On the simulator only one
 * thread runs and no scheduling point may happen under a spinlock, so contention there is a
 * bug and aborts. */
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/assert.h"
#include "platform/internal.h"

void rsv__cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ __volatile__("yield");
#endif
}

void rsv__cpu_yield(void)
{
	sched_yield();
}

void rsv_spin_init(struct rsv_spinlock *l) { atomic_init(&l->v, 0); }

/* What a held lock's word says: 1 in release builds; in debug builds a token of the OS thread
 * that took it (never 0 or 1), so that rsv_assert_held() can tell whose it is. Simulator
 * threads share their OS thread, and never hold a spinlock across a switch, so the token of
 * the one running is theirs. */
#if defined(RSV_DEBUG) || defined(RSV_DEBUG_FULL)
static uint32_t holder_token(void)
{
	static _Atomic uint32_t next = 2;
	static _Thread_local uint32_t mine;

	if (rsv_unlikely(!mine))
		mine = atomic_fetch_add_explicit(&next, 1, memory_order_relaxed);
	return mine;
}
#else
static inline uint32_t holder_token(void)
{
	return 1;
}
#endif

bool rsv__spin_held(const struct rsv_spinlock *l)
{
	uint32_t v = atomic_load_explicit(&l->v, memory_order_relaxed);

	return holder_token() == 1 ? v != 0 : v == holder_token();
}

/* On the simulator every thread that can reach a system's locks runs on one OS thread, one at
 * a time, and switches only at scheduling points, which a spinlock holder never reaches: a
 * plain test and store is the whole lock, and saves a locked instruction (tens of cycles, more
 * on a virtual machine) on every one of the scheduler's many lock operations. */
bool rsv_spin_trylock(struct rsv_spinlock *l)
{
	const struct rsv_thread *self = rsv__self;

	if (rsv_likely(self && self->sim)) {
		if (atomic_load_explicit(&l->v, memory_order_relaxed))
			return false;
		atomic_store_explicit(&l->v, holder_token(), memory_order_relaxed);
		return true;
	}
#if defined(RSV_DEBUG) || defined(RSV_DEBUG_FULL)
	/* A failed exchange would overwrite the holder's token with the loser's. */
	uint32_t unlocked = 0;

	return atomic_compare_exchange_strong_explicit(&l->v, &unlocked, holder_token(),
						       memory_order_acquire, memory_order_relaxed);
#else
	return atomic_exchange_explicit(&l->v, 1, memory_order_acquire) == 0;
#endif
}

static RSV_NOINLINE void spin_lock_slow(struct rsv_spinlock *l)
{
	struct rsv_thread *self = rsv__self;
	unsigned spins = 0;

	if (self && self->plat && self->plat->backend->serial) {
		fprintf(stderr, "reservoir: spinlock %p contended on the simulator: "
				"a scheduling point was reached while it was held\n", (void *)l);
		abort();
	}
	do {
		while (atomic_load_explicit(&l->v, memory_order_relaxed)) {
			if (++spins < 128)
				rsv__cpu_relax();
			else
				sched_yield();
		}
	} while (!rsv_spin_trylock(l));
}

void rsv_spin_lock(struct rsv_spinlock *l)
{
	if (rsv_unlikely(!rsv_spin_trylock(l)))
		spin_lock_slow(l);
}

void rsv_spin_unlock(struct rsv_spinlock *l)
{
	atomic_store_explicit(&l->v, 0, memory_order_release);
}
