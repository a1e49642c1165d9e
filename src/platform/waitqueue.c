/* Wait queues with the kernel's protocol: prepare_to_wait() queues the entry and sets the
 * sleep state, the caller checks its condition, schedule() sleeps unless a wake-up already
 * set it running, finish_wait() dequeues. Because the state is set before the condition is
 * checked, a wake-up between the check and the sleep is never lost.
 *
 * Non-exclusive entries go to the head and exclusive ones to the tail, so wake_up() wakes
 * every non-exclusive waiter and then one exclusive waiter, as __wake_up_common() does. */
#include "platform/internal.h"

void rsv_waitqueue_init(struct rsv_waitqueue *wq, const char *name)
{
	rsv_spin_init(&wq->lock);
	rsv_list_init(&wq->head);
	atomic_init(&wq->nr_waiters, 0);
	wq->name = name ? name : "waitqueue";
}

void rsv_wait_entry_init(struct rsv_wait_entry *e)
{
	rsv_list_init(&e->node);
	e->thread = NULL;
	e->flags = 0;
	e->queued = false;
}

static void prepare(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
		    enum rsv_sleep_state state, unsigned flags, enum rsv_wait_kind kind)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();

	e->thread = self;
	e->flags = flags;
	rsv_spin_lock(&wq->lock);
	if (!e->queued) {
		if (flags & RSV_WQ_EXCLUSIVE)
			rsv_list_add_tail(&e->node, &wq->head);
		else
			rsv_list_add(&e->node, &wq->head);
		e->queued = true;
		atomic_fetch_add_explicit(&wq->nr_waiters, 1, memory_order_relaxed);
	}
	atomic_store_explicit(&self->state, state, self->sim ? memory_order_relaxed
							    : memory_order_seq_cst);
	rsv__set_waiting(self, kind, wq);
	rsv_spin_unlock(&wq->lock);
	/* Pairs with the fence in wake_common(): either the waker sees us queued, or we see
	 * the condition it set before waking. On the simulator waker and waiter share one OS
	 * thread, whose program order already is that. */
	if (!self->sim)
		atomic_thread_fence(memory_order_seq_cst);
}

void rsv_prepare_to_wait(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
			 enum rsv_sleep_state state)
{
	prepare(wq, e, state, 0, RSV_WAIT_QUEUE);
}

void rsv_prepare_to_wait_exclusive(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
				   enum rsv_sleep_state state)
{
	prepare(wq, e, state, RSV_WQ_EXCLUSIVE, RSV_WAIT_QUEUE);
}

void rsv__prepare_to_wait_as(struct rsv_waitqueue *wq, struct rsv_wait_entry *e,
			     enum rsv_sleep_state state, enum rsv_wait_kind kind)
{
	prepare(wq, e, state, 0, kind);
}

static void dequeue(struct rsv_waitqueue *wq, struct rsv_wait_entry *e)
{
	rsv_list_del(&e->node);
	e->queued = false;
	atomic_fetch_sub_explicit(&wq->nr_waiters, 1, memory_order_relaxed);
}

void rsv_finish_wait(struct rsv_waitqueue *wq, struct rsv_wait_entry *e)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();

	atomic_store_explicit(&self->state, RSV_TASK_RUNNING, memory_order_relaxed);
	rsv_spin_lock(&wq->lock);
	if (e->queued)
		dequeue(wq, e);
	rsv_spin_unlock(&wq->lock);
	rsv__clear_waiting(self);
}

uint64_t rsv_schedule_timeout(uint64_t timeout_ns)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	uint64_t now = self->ops->now(self);
	uint64_t deadline = timeout_ns == UINT64_MAX ? 0 : now + timeout_ns;
	bool woken = rsv__sleep_until(self, deadline ? deadline : 0);

	/* A sleep set up by rsv_set_current_state() ends here; a queue's ends at finish_wait. */
	if (atomic_load_explicit(&self->wait_kind, memory_order_relaxed) == RSV_WAIT_SLEEP)
		rsv__clear_waiting(self);
	if (!woken)
		return 0;
	if (!deadline)
		return UINT64_MAX;
	now = self->ops->now(self);
	return now < deadline ? deadline - now : 1;
}

void rsv_schedule(void)
{
	rsv_schedule_timeout(UINT64_MAX);
}

static void wake_common(struct rsv_waitqueue *wq, bool all)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	struct rsv_list *pos, *tmp;

	if (!self->sim)
		atomic_thread_fence(memory_order_seq_cst); /* pairs with prepare() */
	if (atomic_load_explicit(&wq->nr_waiters, memory_order_relaxed)) {
		rsv_spin_lock(&wq->lock);
		rsv_list_for_each_safe(pos, tmp, &wq->head) {
			struct rsv_wait_entry *e = rsv_container_of(pos, struct rsv_wait_entry,
								    node);
			bool exclusive = e->flags & RSV_WQ_EXCLUSIVE;

			/* Like autoremove_wake_function: only a successful wake dequeues, and only
			 * a successful exclusive wake counts against the one allowed. */
			if (!rsv__try_wake(e->thread, RSV_TASK_UNINTERRUPTIBLE | RSV_TASK_KILLABLE))
				continue;
			dequeue(wq, e);
			if (exclusive && !all)
				break;
		}
		rsv_spin_unlock(&wq->lock);
	}
	self->ops->sched_point(self);
}

void rsv_wake_up(struct rsv_waitqueue *wq) { wake_common(wq, false); }
void rsv_wake_up_all(struct rsv_waitqueue *wq) { wake_common(wq, true); }

bool rsv_waitqueue_active(struct rsv_waitqueue *wq)
{
	const struct rsv_thread *self = rsv__self;

	if (!self || !self->sim)
		atomic_thread_fence(memory_order_seq_cst);
	return atomic_load_explicit(&wq->nr_waiters, memory_order_relaxed) != 0;
}
