/* The OOM killer and its reaper (the kernel's mm/oom_kill.c).
 *
 * out_of_memory() picks the task whose death frees the most (its charged anonymous pages and
 * swap entries, adjusted by oom_score_adj), marks it a victim (reserves per policy memdie) and
 * sends it a fatal signal. While a victim is alive and not marked OOM_SKIP, no second task is
 * killed: the killer waits for it. A victim may never exit by itself (stuck on a lock, in
 * D-state, in a mempool wait); under policy oom=reaper the reaper frees its anonymous memory
 * without its cooperation 2 s after the kill and then marks it OOM_SKIP whatever happened, so
 * the killer can move on. That is the forward-progress argument for giving victims only a
 * partial reserve. */
#include <limits.h>
#include "reclaim/internal.h"

#define OOM_REAPER_DELAY (2 * RSV_NSEC_PER_SEC)
#define OOM_REAPER_TRIES 10
#define OOM_SCORE_ADJ_MIN (-1000)

/* A task still being created is on the list before its thread is published: not yet. */
static bool killable(const struct rsv_task *t)
{
	return atomic_load_explicit(&t->started, memory_order_acquire) &&
	       !(rsv__task_flags(t) & RSV_PF_KTHREAD) && !atomic_load(&t->exited) &&
	       t->oom_score_adj != OOM_SCORE_ADJ_MIN && !t->attached;
}

/* oom_badness(): rss + swap entries + adj * totalpages / 1000. */
static long badness(const struct rsv_system *sys, const struct rsv_task *t)
{
	long points = atomic_load(&t->rss) + atomic_load(&t->swapents);

	return points + (long)t->oom_score_adj * (long)sys->nr_pages / 1000;
}

enum selection { SELECTED, NONE, WAIT_FOR_VICTIM };

/* select_bad_process(): the highest score wins, ties go to the later task. A live victim that
 * has not been marked OOM_SKIP aborts the selection. Any killable task may be chosen, one
 * with nothing to free or a negative score included (chosen_points starts at LONG_MIN since
 * 9066e5cfb73c): only when there is none does out_of_memory() panic. */
static enum selection select_victim(struct rsv_system *sys, struct rsv_task **victim)
{
	struct rsv_list *pos;
	long best = LONG_MIN;

	*victim = NULL;
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);
		long points;

		if (!killable(t) || atomic_load(&t->oom_skip))
			continue;
		if (atomic_load(&t->oom_victim)) {
			rsv_spin_unlock(&sys->tasks_lock);
			return WAIT_FOR_VICTIM;
		}
		points = badness(sys, t);
		if (points >= best) {
			best = points;
			*victim = t;
		}
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return *victim ? SELECTED : NONE;
}

static void queue_for_reaper(struct rsv_system *sys, struct rsv_task *victim)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	bool queued = false;

	if (rsv_policy_get(&sys->policy, RSV_POLICY_OOM) != RSV_OOM_REAPER || !r->oom_reaper)
		return;
	rsv_spin_lock(&r->oom_queue_lock);
	if (r->oom_queue_len < sizeof(r->oom_queue) / sizeof(r->oom_queue[0])) {
		r->oom_queued_at[r->oom_queue_len] = rsv_now();
		r->oom_queue[r->oom_queue_len++] = victim;
		queued = true;
	}
	rsv_spin_unlock(&r->oom_queue_lock);
	if (queued)
		rsv_wake_up(&r->oom_reaper_wait);
	else /* a full queue: let the killer move on rather than wait forever */
		atomic_store(&victim->oom_skip, true);
}

static void kill(struct rsv_system *sys, struct rsv_task *victim)
{
	/* What dump_header() would show: was there still something for reclaim to free? */
	if (rsv__reclaimable_pages(sys))
		rsv__current_stat_add(RSV_STAT_OOM_KILL_RECLAIMABLE, 1);
	rsv_task_mark_oom_victim(victim);
	rsv_task_kill(victim);
	rsv__current_stat_add(RSV_STAT_OOM_KILL, 1);
	queue_for_reaper(sys, victim);
}

/* out_of_memory(), under oom_lock. Waiting is the caller's, once oom_lock is released: a
 * task that slept holding it would keep every other allocator out of this path. */
enum rsv_oom_result rsv__out_of_memory(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order)
{
	struct rsv_task *self = rsv__task_current(), *victim;

	rsv_assert_held(&sys->oom_lock);
	/* A task already dying just needs its access to the reserves to get out. */
	if (self && atomic_load(&self->fatal_signal) && killable(self)) {
		if (!atomic_load(&self->oom_victim)) {
			rsv_task_mark_oom_victim(self);
			queue_for_reaper(sys, self);
		}
		return RSV_OOM_PROGRESS;
	}
	/* Reclaim was not allowed to do its best: killing would be premature. The caller retries
	 * until someone else frees memory. */
	if (!(gfp & RSV___GFP_FS))
		return RSV_OOM_WAIT;
	switch (select_victim(sys, &victim)) {
	case WAIT_FOR_VICTIM:
		return RSV_OOM_WAIT; /* and the victim gets to run */
	case NONE:
		return RSV_OOM_NO_VICTIM;
	case SELECTED:
		break;
	}
	kill(sys, victim);
	rsv_sleep_ns(RSV_JIFFY_NS); /* schedule_timeout_killable(1): give the victim a moment */
	return RSV_OOM_PROGRESS;
}

/* ---- the reaper ---- */

/* Frees what it can of the victim's anonymous memory: pages on the LRU that are not under
 * writeback. Returns how many; the rest (isolated, in flight) waits for another try. */
static long reap(struct rsv_system *sys, struct rsv_task *victim)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_page *batch[SWAP_CLUSTER_MAX];
	long reaped = 0;
	int n;

	do {
		n = 0;
		rsv_spin_lock(&r->lru_lock);
		for (uint32_t pfn = r->lru[RSV_LRU_ANON].list.head;
		     pfn != RSV_NIL && n < (int)SWAP_CLUSTER_MAX;) {
			struct rsv_page *p = rsv__pfn_page(sys, pfn);

			pfn = p->next;
			if (rsv__page_mapping(p)->owner == victim &&
			    !(rsv__page_flags(p) & PG_writeback)) {
				rsv__lru_del(sys, p, RSV_LRU_ANON);
				batch[n++] = p;
			}
		}
		rsv_spin_unlock(&r->lru_lock);
		for (int i = 0; i < n; i++)
			rsv__mapping_free_page(batch[i]);
		reaped += n;
	} while (n);
	return reaped;
}

static bool queue_nonempty(struct rsv_reclaim *r)
{
	bool busy;

	rsv_spin_lock(&r->oom_queue_lock);
	busy = r->oom_queue_len > 0;
	rsv_spin_unlock(&r->oom_queue_lock);
	return busy;
}

static struct rsv_task *dequeue(struct rsv_reclaim *r, uint64_t *queued_at)
{
	struct rsv_task *t = NULL;

	rsv_spin_lock(&r->oom_queue_lock);
	if (r->oom_queue_len) {
		t = r->oom_queue[0];
		*queued_at = r->oom_queued_at[0];
		r->oom_queue_len--;
		for (unsigned i = 0; i < r->oom_queue_len; i++) {
			r->oom_queue[i] = r->oom_queue[i + 1];
			r->oom_queued_at[i] = r->oom_queued_at[i + 1];
		}
	}
	rsv_spin_unlock(&r->oom_queue_lock);
	return t;
}

/* oom_reap_task(): after OOM_REAPER_DELAY, up to ten tries HZ/10 apart until the victim has
 * nothing left, then OOM_SKIP whatever happened. */
static void reap_victim(struct rsv_system *sys, struct rsv_task *victim, uint64_t queued_at)
{
	uint64_t now = rsv_now();

	if (queued_at + OOM_REAPER_DELAY > now)
		rsv_sleep_ns(queued_at + OOM_REAPER_DELAY - now);
	for (int i = 0; i < OOM_REAPER_TRIES && !atomic_load(&victim->exited); i++) {
		rsv__current_stat_add(RSV_STAT_OOM_REAPED, (uint64_t)reap(sys, victim));
		if (!atomic_load(&victim->rss))
			break;
		rsv_sleep_ns(RSV_NSEC_PER_SEC / 10);
	}
	atomic_store(&victim->oom_skip, true);
	rsv__zone_wake_waiters(sys);
}

static int oom_reaper_main(void *arg)
{
	struct rsv_system *sys = arg;
	struct rsv_reclaim *r = rsv__reclaim(sys);

	for (;;) {
		struct rsv_task *victim;
		uint64_t queued_at;

		rsv_wait_event(&r->oom_reaper_wait, queue_nonempty(r) || rsv_kthread_should_stop());
		if (rsv_kthread_should_stop())
			return 0;
		while ((victim = dequeue(r, &queued_at)))
			reap_victim(sys, victim, queued_at);
	}
}

int rsv__oom_reaper_start(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	rsv_spin_init(&r->oom_queue_lock);
	rsv_waitqueue_init(&r->oom_reaper_wait, "oom_reaper_wait");
	r->oom_reaper = rsv_kthread_create(sys, "oom_reaper", oom_reaper_main, sys);
	return r->oom_reaper ? 0 : -ENOMEM;
}
