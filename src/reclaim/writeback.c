/* Dirty-page writeback outside reclaim: the flusher task that cleans file pages in the
 * background, and balance_dirty_pages(), which makes the tasks that dirty pages wait for it.
 *
 * The flusher writes the oldest dirty file pages while NR_DIRTY is above the background limit,
 * and writes every dirty page when reclaim asks (it met a batch of dirty pages it was not
 * allowed to write, as a GFP_NOFS reclaimer does). It is a service task: reclaim throttling
 * never stops it, because reclaim waits for it.
 *
 * balance_dirty_pages(): no pause while dirty + writeback is below the freerun
 * ceiling, (thresh + background) / 2; between the ceiling and the hard limit one pause
 * proportional to the excess, at most MAX_PAUSE; above the hard limit pauses of MAX_PAUSE
 * until writeback brings the count under it. A task checks every RATELIMIT pages it dirties,
 * every few pages once the limit has been exceeded. A PF_LOCAL_THROTTLE task (an I/O flusher
 * daemon) is weighed only by the dirty and writeback pages of the device it writes to, so
 * that the global dirty state it exists to clean never stops it. Pauses are killable.
 *
 * Periodic writeback (wb_check_old_data_flush(), the old kupdate): while anything is dirty the
 * flusher also wakes every dirty_writeback interval and writes every dirty page of the files
 * that turned dirty more than dirty_expire ago, so that pages dirtied below the background
 * limit still reach the disk. As in the kernel the timer is armed only when the system turns
 * dirty (wb_wakeup_delayed()) and re-armed only while something stays dirty: with nothing
 * dirty the flusher sleeps without a timer, and the simulator can still find a deadlock by
 * seeing no timer pending.
 *
 * Not modelled: the kernel's bandwidth estimation and per-wb proportional limits (the pause
 * here is proportional to the global excess). */
#include "reclaim/internal.h"

#define MAX_PAUSE_NS (RSV_NSEC_PER_SEC / 5)
#define RATELIMIT_PAGES 32u
#define RATELIMIT_EXCEEDED 8u
#define FLUSH_BATCH 32

/* ---- the flusher ---- */

enum flush_mode {
	FLUSH_BACKGROUND, /* while NR_DIRTY is above the background limit */
	FLUSH_ALL,        /* reclaim asked for every dirty page */
	FLUSH_EXPIRED,    /* kupdate: files dirty since before @expired_before */
};

/* @expired_before: for FLUSH_EXPIRED, the latest dirtied_when of an expired file (the
 * kernel writes an inode once its dirtied_when is not after jiffies - dirty_expire). */
static bool flusher_may_write(const struct rsv_page *p, enum flush_mode mode,
			      uint64_t expired_before)
{
	unsigned f = rsv__page_flags(p);
	const struct rsv_mapping *m = rsv__page_mapping(p);

	return (f & PG_lru) && (f & PG_dirty) && !(f & PG_writeback) && m->dev &&
	       (mode != FLUSH_EXPIRED ||
		atomic_load_explicit(&m->dirtied_when, memory_order_relaxed) <= expired_before);
}

/* Claims up to @max dirty pages from the cold end of the file LRU, under lru_lock: a page on
 * the list is no reclaimer's, and once claimed (PG_writeback) every reclaimer leaves it. */
static int claim_dirty(struct rsv_system *sys, struct rsv_page **out, int max,
		       enum flush_mode mode, uint64_t expired_before)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	int n = 0;

	rsv_spin_lock(&r->lru_lock);
	for (uint32_t pfn = r->lru[RSV_LRU_FILE].list.tail; pfn != RSV_NIL && n < max;) {
		struct rsv_page *p = rsv__pfn_page(sys, pfn);

		pfn = p->prev;
		if (flusher_may_write(p, mode, expired_before) && rsv__writeback_claim(p))
			out[n++] = p;
	}
	rsv_spin_unlock(&r->lru_lock);
	return n;
}

static long background_excess(struct rsv_system *sys)
{
	unsigned long bg;

	rsv_dirty_limits(sys, &bg, NULL);
	return rsv__vm_get(rsv__reclaim(sys), RSV_NR_DIRTY) - (long)bg;
}

/* One round of work: the background excess, everything dirty if reclaim asked, or the
 * expired files. At most what was dirty when it started, so a device that fails every write
 * cannot keep it here. */
static void flush(struct rsv_system *sys, enum flush_mode mode, uint64_t expired_before)
{
	struct rsv_page *batch[FLUSH_BATCH];
	long budget = rsv__vm_get(rsv__reclaim(sys), RSV_NR_DIRTY);

	while (budget > 0 && !rsv_kthread_should_stop() &&
	       (mode != FLUSH_BACKGROUND || background_excess(sys) > 0)) {
		int n = claim_dirty(sys, batch, FLUSH_BATCH, mode, expired_before);

		if (!n)
			return;
		for (int i = 0; i < n; i++)
			rsv__writeback_submit(batch[i], true);
		rsv__current_stat_add(RSV_STAT_FLUSHER_PAGES, (uint64_t)n);
		if (mode == FLUSH_EXPIRED)
			rsv__current_stat_add(RSV_STAT_FLUSHER_KUPDATE, (uint64_t)n);
		budget -= n;
	}
}

/* wb_wakeup_delayed(): the system just turned dirty; the first periodic round is one
 * interval from now. Called holding no spinlock. */
void rsv__wb_wakeup_delayed(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	uint64_t none = 0;

	if (r->flusher && atomic_compare_exchange_strong(&r->kupdate_at, &none,
							 rsv_now() + r->dirty_writeback_ns))
		rsv_wake_up(&r->flusher_wait); /* to sleep again, with the timer */
}

/* wb_check_old_data_flush(): the files dirty for longer than dirty_expire, then the next
 * round if anything is still dirty. The timer is cleared before NR_DIRTY is read again, so a
 * page dirtied in between arms it anew through rsv__wb_wakeup_delayed(). */
static void kupdate(struct rsv_system *sys, uint64_t now)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	flush(sys, FLUSH_EXPIRED, now > r->dirty_expire_ns ? now - r->dirty_expire_ns : 0);
	atomic_store(&r->kupdate_at, 0);
	if (rsv__vm_get(r, RSV_NR_DIRTY) > 0) {
		uint64_t none = 0;

		atomic_compare_exchange_strong(&r->kupdate_at, &none, now + r->dirty_writeback_ns);
	}
}

static bool flusher_has_work(struct rsv_reclaim *r)
{
	return atomic_load(&r->flusher_woken) || rsv_kthread_should_stop();
}

/* Sleeps until woken for work or the periodic round is due; returns when that round is due
 * (0: not due). */
static uint64_t flusher_sleep(struct rsv_reclaim *r)
{
	struct rsv_wait_entry we;
	uint64_t due, now;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(&r->flusher_wait, &we, RSV_TASK_UNINTERRUPTIBLE);
		due = atomic_load(&r->kupdate_at);
		now = rsv_now();
		if (flusher_has_work(r) || (due && now >= due))
			break;
		rsv_schedule_timeout(due ? due - now : UINT64_MAX);
	}
	rsv_finish_wait(&r->flusher_wait, &we);
	return due && now >= due ? now : 0;
}

static int flusher_main(void *arg)
{
	struct rsv_system *sys = arg;
	struct rsv_reclaim *r = rsv__reclaim(sys);

	for (;;) {
		uint64_t kupdate_now = flusher_sleep(r);

		if (rsv_kthread_should_stop())
			return 0;
		if (atomic_exchange(&r->flusher_woken, false)) {
			bool all = atomic_exchange(&r->flush_all, false);

			rsv__current_stat_add(RSV_STAT_FLUSHER_WAKEUP, 1);
			flush(sys, all ? FLUSH_ALL : FLUSH_BACKGROUND, 0);
		}
		if (kupdate_now)
			kupdate(sys, kupdate_now);
	}
}

/* wb_start_background_writeback() (@all false) or wakeup_flusher_threads(WB_REASON_VMSCAN). */
void rsv__wakeup_flusher(struct rsv_system *sys, bool all)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (!r->flusher)
		return;
	if (all)
		atomic_store(&r->flush_all, true);
	if (!atomic_exchange(&r->flusher_woken, true))
		rsv_wake_up(&r->flusher_wait);
}

int rsv__flusher_start(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	rsv_waitqueue_init(&r->flusher_wait, "flusher_wait");
	rsv_waitqueue_init(&r->dirty_pause, "balance_dirty_pages");
	atomic_init(&r->flusher_woken, false);
	atomic_init(&r->flush_all, false);
	atomic_init(&r->dirty_exceeded, false);
	atomic_init(&r->kupdate_at, 0);
	r->dirty_expire_ns = (sys->cfg.dirty_expire_centisecs ? sys->cfg.dirty_expire_centisecs
							       : RSV_DIRTY_EXPIRE_CENTISECS) *
			     10 * RSV_NSEC_PER_MSEC;
	r->dirty_writeback_ns = (sys->cfg.dirty_writeback_centisecs
					 ? sys->cfg.dirty_writeback_centisecs
					 : RSV_DIRTY_WRITEBACK_CENTISECS) *
				10 * RSV_NSEC_PER_MSEC;
	r->flusher = rsv_kthread_create(sys, "flush", flusher_main, sys);
	return r->flusher ? 0 : -ENOMEM;
}

/* ---- balance_dirty_pages ---- */

/* Dirty and writeback pages of the mappings that write to @dev. */
static long device_dirty(struct rsv_system *sys, const struct rsv_bdev *dev)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_list *pos;
	long n = 0;

	rsv_spin_lock(&r->objects_lock);
	rsv_list_for_each(pos, &r->mappings) {
		struct rsv_mapping *m = rsv_container_of(pos, struct rsv_mapping, node);

		if (m->dev == dev)
			n += atomic_load(&m->nr_dirty) + atomic_load(&m->nr_inflight);
	}
	rsv_spin_unlock(&r->objects_lock);
	return n;
}

static void dirty_pause(struct rsv_system *sys, uint64_t ns)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_wait_entry we;
	uint64_t start = rsv_now();

	rsv__current_stat_add(RSV_STAT_DIRTY_THROTTLE, 1);
	rsv_wait_entry_init(&we);
	rsv__prepare_to_wait_as(&r->dirty_pause, &we, RSV_TASK_KILLABLE, RSV_WAIT_THROTTLE);
	if (!rsv_fatal_signal_pending())
		rsv_schedule_timeout(ns);
	rsv_finish_wait(&r->dirty_pause, &we);
	rsv__current_stat_add(RSV_STAT_DIRTY_THROTTLE_NS, rsv_now() - start);
}

static void balance_dirty_pages(struct rsv_mapping *m)
{
	struct rsv_system *sys = m->sys;
	struct rsv_reclaim *r = rsv__reclaim(sys);
	bool local = rsv__task_flags(rsv__task_current()) & RSV_PF_LOCAL_THROTTLE;

	while (!rsv_fatal_signal_pending()) {
		unsigned long bg, thresh, freerun;
		long nr_dirty = rsv__vm_get(r, RSV_NR_DIRTY), dirty;
		uint64_t pause;

		rsv_dirty_limits(sys, &bg, &thresh);
		if (nr_dirty > (long)bg)
			rsv__wakeup_flusher(sys, false);
		dirty = local ? device_dirty(sys, m->dev)
			      : nr_dirty + rsv__vm_get(r, RSV_NR_WRITEBACK);
		freerun = (thresh + bg) / 2;
		if (dirty <= (long)freerun) {
			atomic_store(&r->dirty_exceeded, false);
			return;
		}
		if (dirty >= (long)thresh) {
			atomic_store(&r->dirty_exceeded, true);
			dirty_pause(sys, MAX_PAUSE_NS);
			continue;
		}
		pause = MAX_PAUSE_NS * (uint64_t)(dirty - (long)freerun) / (thresh - freerun);
		dirty_pause(sys, pause > RSV_JIFFY_NS ? pause : RSV_JIFFY_NS);
		return;
	}
}

void rsv_balance_dirty_pages_ratelimited(struct rsv_mapping *m)
{
	struct rsv_task *t = rsv__task_current();
	unsigned ratelimit;

	/* Pages nobody can write back (no device) are not the flusher's to wait for. */
	if (!m || m->kind != RSV_MAPPING_FILE || !m->dev || !t || t->sys != m->sys)
		return;
	ratelimit = atomic_load(&rsv__reclaim(m->sys)->dirty_exceeded) ? RATELIMIT_EXCEEDED
								       : RATELIMIT_PAGES;
	if (t->nr_dirtied < ratelimit)
		return;
	t->nr_dirtied = 0;
	balance_dirty_pages(m);
}
