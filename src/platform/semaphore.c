/* Counting semaphores. up() hands the count straight to the first waiter, FIFO, so a
 * waiter can never be overtaken by a later down(). */
#include "platform/internal.h"

struct sema_waiter {
	struct rsv_list node;
	struct rsv_thread *thread;
	_Atomic bool granted;
};

void rsv_sema_init(struct rsv_semaphore *s, const char *name, long count)
{
	rsv_spin_init(&s->lock);
	s->count = count;
	rsv_list_init(&s->waiters);
	s->last_holder = NULL;
	s->name = name ? name : "semaphore";
}

bool rsv_down_trylock(struct rsv_semaphore *s)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	bool taken = false;

	self->ops->sched_point(self);
	rsv_spin_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		s->last_holder = self;
		taken = true;
	}
	rsv_spin_unlock(&s->lock);
	if (taken)
		rsv__lock_event(self, RSV_LOCK_TRYLOCKED, s->name, s);
	return taken;
}

void rsv_down(struct rsv_semaphore *s)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	struct sema_waiter w = { .thread = self };

	rsv__lock_event(self, RSV_LOCK_ACQUIRE, s->name, s);
	self->ops->sched_point(self);
	rsv_spin_lock(&s->lock);
	if (s->count > 0) {
		s->count--;
		s->last_holder = self;
		rsv_spin_unlock(&s->lock);
		return;
	}
	atomic_init(&w.granted, false);
	rsv_list_add_tail(&w.node, &s->waiters);
	rsv__set_waiting(self, RSV_WAIT_SEMAPHORE, s);
	rsv_spin_unlock(&s->lock);

	for (;;) {
		atomic_store(&self->state, RSV_TASK_UNINTERRUPTIBLE);
		if (atomic_load(&w.granted))
			break;
		rsv__sleep_until(self, 0);
	}
	atomic_store_explicit(&self->state, RSV_TASK_RUNNING, memory_order_relaxed);
	rsv__clear_waiting(self);
}

void rsv_up(struct rsv_semaphore *s)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	struct rsv_thread *heir = NULL;

	rsv__lock_event(self, RSV_LOCK_RELEASE, s->name, s);
	rsv_spin_lock(&s->lock);
	if (rsv_list_empty(&s->waiters)) {
		s->count++;
	} else {
		struct sema_waiter *w = rsv_container_of(s->waiters.next, struct sema_waiter, node);

		rsv_list_del(&w->node);
		/* Once granted, the waiter may return and its entry is gone. */
		heir = w->thread;
		s->last_holder = heir;
		atomic_store(&w->granted, true);
	}
	rsv_spin_unlock(&s->lock);
	if (heir)
		rsv__try_wake(heir, RSV_TASK_UNINTERRUPTIBLE | RSV_TASK_KILLABLE);
	self->ops->sched_point(self);
}
