/* Sleeping mutexes with owner tracking.
 *
 * The owner word holds the owning thread, with bit 0 set while waiters are queued (the
 * kernel's MUTEX_FLAG_WAITERS), so an uncontended lock and unlock are one compare-and-swap
 * each. A contended unlock hands the mutex to the first waiter in FIFO order: no barging, so
 * no starvation, and on the simulator the handoff order is part of the deterministic trace. */
#include <stdio.h>
#include <stdlib.h>
#include "common/assert.h"
#include "platform/internal.h"

#define MUTEX_WAITERS ((uintptr_t)1)

struct mutex_waiter {
	struct rsv_list node;
	struct rsv_thread *thread;
};

void rsv_mutex_init(struct rsv_mutex *m, const char *name)
{
	atomic_init(&m->owner, 0);
	rsv_spin_init(&m->wait_lock);
	rsv_list_init(&m->waiters);
	m->name = name ? name : "mutex";
}

struct rsv_thread *rsv_mutex_owner(const struct rsv_mutex *m)
{
	return (struct rsv_thread *)(atomic_load_explicit(&m->owner, memory_order_relaxed) &
				     ~MUTEX_WAITERS);
}

bool rsv__mutex_held(const struct rsv_mutex *m)
{
	const struct rsv_thread *owner = rsv_mutex_owner(m);

	return owner && owner == rsv_thread_self();
}

static inline void lock_event(struct rsv_thread *self, enum rsv_lock_event ev,
			      const struct rsv_mutex *m)
{
	rsv__lock_event(self, ev, m->name, m);
}

void rsv__platform_set_lock_hook(struct rsv_platform *p, rsv_lock_hook_t fn, void *arg)
{
	p->lock_hook_arg = arg;
	p->lock_hook = fn;
}

bool rsv_mutex_trylock(struct rsv_mutex *m)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	uintptr_t unowned = 0;

	self->ops->sched_point(self);
	if (!atomic_compare_exchange_strong_explicit(&m->owner, &unowned, (uintptr_t)self,
						     memory_order_acquire, memory_order_relaxed))
		return false;
	lock_event(self, RSV_LOCK_TRYLOCKED, m);
	return true;
}

/* Under wait_lock: takes the mutex if it is free, otherwise makes sure the owner's unlock
 * will see the waiters bit. Returns true if taken. */
static bool take_or_flag(struct rsv_mutex *m, struct rsv_thread *self)
{
	uintptr_t cur = atomic_load_explicit(&m->owner, memory_order_relaxed);

	rsv_assert_held(&m->wait_lock);
	rsv_assert((cur & ~(uintptr_t)MUTEX_WAITERS) != (uintptr_t)self); /* not recursive */
	for (;;) {
		uintptr_t want;

		if (!cur)
			want = (uintptr_t)self | (rsv_list_empty(&m->waiters) ? 0 : MUTEX_WAITERS);
		else if (cur & MUTEX_WAITERS)
			return false;
		else
			want = cur | MUTEX_WAITERS;
		if (atomic_compare_exchange_weak_explicit(&m->owner, &cur, want,
							  memory_order_acquire,
							  memory_order_relaxed))
			return !cur;
	}
}

static RSV_NOINLINE void mutex_lock_slow(struct rsv_mutex *m, struct rsv_thread *self)
{
	struct mutex_waiter w = { .thread = self };

	rsv_spin_lock(&m->wait_lock);
	if (take_or_flag(m, self)) {
		rsv_spin_unlock(&m->wait_lock);
		return;
	}
	rsv_list_add_tail(&w.node, &m->waiters);
	rsv__set_waiting(self, RSV_WAIT_MUTEX, m);
	rsv_spin_unlock(&m->wait_lock);

	/* The unlocker stores us as owner before waking us: state first, then check. The load
	 * acquires: it pairs with the unlocker's store, which releases its critical section. */
	for (;;) {
		atomic_store(&self->state, RSV_TASK_UNINTERRUPTIBLE);
		if ((atomic_load_explicit(&m->owner, memory_order_acquire) & ~MUTEX_WAITERS) ==
		    (uintptr_t)self)
			break;
		rsv__sleep_until(self, 0);
	}
	atomic_store_explicit(&self->state, RSV_TASK_RUNNING, memory_order_relaxed);
	rsv__clear_waiting(self);
}

void rsv_mutex_lock(struct rsv_mutex *m)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	uintptr_t unowned = 0;

	self->ops->sched_point(self);
	lock_event(self, RSV_LOCK_ACQUIRE, m);
	if (rsv_likely(atomic_compare_exchange_strong_explicit(
		    &m->owner, &unowned, (uintptr_t)self, memory_order_acquire,
		    memory_order_relaxed)))
		return;
	mutex_lock_slow(m, self);
}

static RSV_NOINLINE void mutex_unlock_slow(struct rsv_mutex *m)
{
	struct mutex_waiter *w;
	struct rsv_thread *heir;

	rsv_spin_lock(&m->wait_lock);
	w = rsv_container_of(m->waiters.next, struct mutex_waiter, node);
	rsv_list_del(&w->node);
	/* Once the owner word names it, the waiter may return and its entry is gone. */
	heir = w->thread;
	atomic_store(&m->owner,
		     (uintptr_t)heir | (rsv_list_empty(&m->waiters) ? 0 : MUTEX_WAITERS));
	rsv_spin_unlock(&m->wait_lock);
	rsv__try_wake(heir, RSV_TASK_UNINTERRUPTIBLE | RSV_TASK_KILLABLE);
}

void rsv_mutex_unlock(struct rsv_mutex *m)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	uintptr_t mine = (uintptr_t)self;

	if (rsv_unlikely(rsv_mutex_owner(m) != self)) {
		struct rsv_thread *o = rsv_mutex_owner(m);

		fprintf(stderr, "reservoir: mutex \"%s\" unlocked by thread \"%s\", which does not "
				"hold it (owner: %s)\n",
			m->name, self->name, o ? o->name : "none");
		abort();
	}
	lock_event(self, RSV_LOCK_RELEASE, m);
	if (!atomic_compare_exchange_strong_explicit(&m->owner, &mine, 0, memory_order_release,
						     memory_order_relaxed))
		mutex_unlock_slow(m);
	self->ops->sched_point(self);
}
