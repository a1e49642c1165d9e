/* Per-task counts of mempool elements out and backing hits: the mempool's fast path writes
 * only the calling task's slot, and the rare readers (resize, exit, stats) sum every task's.
 * Tasks stay on the system's list until it is destroyed, so what an exited task counted is
 * still summed. Pools get an id (a slot index) and a serial (the slot's owner) here. */
#include <stdlib.h>
#include "pool/internal.h"

#define NO_ID UINT32_MAX

static struct rsv_pool_slot *claim(struct rsv_pool_slot *s, const struct rsv_mempool *pool)
{
	atomic_store_explicit(&s->out, 0, memory_order_relaxed);
	atomic_store_explicit(&s->backing, 0, memory_order_relaxed);
	s->last_freed = NULL;
	/* Release: a reader that sees the serial sees the zeroed counts. */
	atomic_store_explicit(&s->serial, rsv__mp(pool)->serial, memory_order_release);
	return s;
}

struct rsv_pool_slot *rsv__pool_slot_slow(struct rsv_task *t, struct rsv_mempool *pool)
{
	struct rsv_task_pools *tp = atomic_load_explicit(&t->mempools, memory_order_relaxed);
	struct rsv_pool_slot *chunk;
	unsigned c = rsv__mp(pool)->id / RSV_POOL_SLOTS_PER_CHUNK;

	if (rsv__mp(pool)->id >= RSV_POOL_MAX_IDS)
		return NULL;
	if (!tp) {
		if (!(tp = calloc(1, sizeof(*tp))))
			return NULL;
		atomic_store_explicit(&t->mempools, tp, memory_order_release);
	}
	chunk = atomic_load_explicit(&tp->chunk[c], memory_order_relaxed);
	if (!chunk) {
		if (!(chunk = calloc(RSV_POOL_SLOTS_PER_CHUNK, sizeof(*chunk))))
			return NULL;
		atomic_store_explicit(&tp->chunk[c], chunk, memory_order_release);
	}
	return claim(&chunk[rsv__mp(pool)->id % RSV_POOL_SLOTS_PER_CHUNK], pool);
}

void rsv__pool_register(struct rsv_mempool *pool)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(rsv__mp(pool)->sys);

	rsv_spin_lock(&pl->lock);
	rsv__mp(pool)->serial = ++pl->next_pool_serial;
	rsv__mp(pool)->id = NO_ID;
	for (unsigned w = 0; w < RSV_POOL_CHUNKS; w++) {
		if (~pl->pool_ids[w]) {
			unsigned bit = (unsigned)__builtin_ctzll(~pl->pool_ids[w]);

			pl->pool_ids[w] |= 1ull << bit;
			rsv__mp(pool)->id = w * 64 + bit;
			break;
		}
	}
	rsv_spin_unlock(&pl->lock);
}

void rsv__pool_unregister(struct rsv_mempool *pool)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(rsv__mp(pool)->sys);

	if (rsv__mp(pool)->id >= RSV_POOL_MAX_IDS)
		return;
	rsv_spin_lock(&pl->lock);
	pl->pool_ids[rsv__mp(pool)->id / 64] &= ~(1ull << (rsv__mp(pool)->id % 64));
	rsv_spin_unlock(&pl->lock);
	rsv__mp(pool)->id = NO_ID;
}

static const struct rsv_pool_slot *find(const struct rsv_task *t, const struct rsv_mempool *pool)
{
	struct rsv_task_pools *tp = atomic_load_explicit(&t->mempools, memory_order_acquire);
	struct rsv_pool_slot *chunk;
	const struct rsv_pool_slot *s;

	if (!tp || rsv__mp(pool)->id >= RSV_POOL_MAX_IDS)
		return NULL;
	chunk = atomic_load_explicit(&tp->chunk[rsv__mp(pool)->id / RSV_POOL_SLOTS_PER_CHUNK],
				     memory_order_acquire);
	if (!chunk)
		return NULL;
	s = &chunk[rsv__mp(pool)->id % RSV_POOL_SLOTS_PER_CHUNK];
	return atomic_load_explicit(&s->serial, memory_order_acquire) == rsv__mp(pool)->serial
		       ? s
		       : NULL;
}

/* Sums one field of every task's slot for @pool. */
static long sum(struct rsv_mempool *pool, bool backing)
{
	struct rsv_system *sys = rsv__mp(pool)->sys;
	struct rsv_list *pos;
	long n = 0;

	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		const struct rsv_pool_slot *s = find(rsv_container_of(pos, struct rsv_task, node),
						     pool);

		if (s)
			n += backing ? (long)atomic_load_explicit(&s->backing, memory_order_relaxed)
				     : atomic_load_explicit(&s->out, memory_order_relaxed);
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return n;
}

long rsv__pool_outstanding(struct rsv_mempool *pool)
{
	return sum(pool, false) +
	       atomic_load_explicit(&rsv__mp(pool)->outstanding, memory_order_relaxed);
}

uint64_t rsv__pool_backing(struct rsv_mempool *pool)
{
	return (uint64_t)sum(pool, true) +
	       atomic_load_explicit(&rsv__mp(pool)->st_backing, memory_order_relaxed);
}

/* For the blocked-chain reports: the pool's state and a task that took elements it has not
 * given back (elements freed by another task leave the taker's count high: "took", not
 * "holds"). */
void rsv__pool_describe_wait(const void *obj, const struct rsv_task *waiter, char *buf,
			     size_t len, struct rsv_task **holder)
{
	const struct rsv_mempool *pool = obj;
	struct rsv_system *sys = rsv__mp(pool)->sys;
	struct rsv_list *pos;

	*holder = NULL;
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);
		const struct rsv_pool_slot *s = find(t, pool);

		if (t != waiter && s && atomic_load_explicit(&s->out, memory_order_relaxed) > 0 &&
		    !atomic_load(&t->exited)) {
			*holder = t;
			break;
		}
	}
	rsv_spin_unlock(&sys->tasks_lock);
	snprintf(buf, len, "for an element of mempool \"%s\" (%d of %d elements in the pool)%s%s%s",
		 rsv__mp(pool)->name, atomic_load_explicit(&pool->curr_nr, memory_order_relaxed),
		 pool->min_nr, *holder ? ", taken by \"" : "", *holder ? (*holder)->name : "",
		 *holder ? "\"" : "");
}

/* At system teardown. */
void rsv__pool_counts_free(struct rsv_task *t)
{
	struct rsv_task_pools *tp = atomic_load_explicit(&t->mempools, memory_order_relaxed);

	if (!tp)
		return;
	for (unsigned c = 0; c < RSV_POOL_CHUNKS; c++)
		free(atomic_load_explicit(&tp->chunk[c], memory_order_relaxed));
	free(tp);
	atomic_store_explicit(&t->mempools, NULL, memory_order_relaxed);
}
