/* The page allocator's entry points: alloc_pages with its fast path at the low watermark and
 * its slow path (the kernel's __alloc_pages_slowpath()), and free_pages with the checks that catch
 * a double or foreign free.
 *
 * The slow path follows __alloc_pages_slowpath() step by step. Where it needs kswapd, direct
 * reclaim or the OOM killer it calls sys->reclaim, which the reclaim layer fills in; without
 * it those steps report no progress, and the outcome is that of a machine with nothing
 * reclaimable: non-blocking callers fail fast, NORETRY fails, NOFAIL waits for freed pages. */
#include <string.h>
#include "mm/pcp.h"
#include "common/asan.h"

#define MAX_RECLAIM_RETRIES 16

static void wmark_failed_count(struct rsv_task *tsk, unsigned alloc_flags)
{
	static const enum rsv_stat_item item[] = {
		[RSV_ALLOC_WMARK_MIN] = RSV_STAT_WMARK_FAIL_MIN,
		[RSV_ALLOC_WMARK_LOW] = RSV_STAT_WMARK_FAIL_LOW,
		[RSV_ALLOC_WMARK_HIGH] = RSV_STAT_WMARK_FAIL_HIGH,
	};

	rsv__task_stat_add(tsk, item[alloc_flags & RSV_ALLOC_WMARK_MASK], 1);
}

/* get_page_from_freelist() for our single zone. */
static struct rsv_page *get_page_from_freelist(struct rsv_system *sys, struct rsv_task *tsk,
					       rsv_gfp_t gfp, unsigned order, unsigned alloc_flags)
{
	struct rsv_zone *z = &sys->zone;
	unsigned long mark = z->wmark[alloc_flags & RSV_ALLOC_WMARK_MASK];

	struct rsv_page *page;

	if (rsv_unlikely(!rsv__zone_watermark_fast(z, order, mark, alloc_flags))) {
		wmark_failed_count(tsk, alloc_flags);
		if (!(alloc_flags & RSV_ALLOC_NO_WATERMARKS))
			return NULL;
	}
	page = rsv__pcp_alloc_fast(sys, tsk, order);
	return rsv_likely(page) ? page : rsv__rmqueue(sys, tsk, order);
}

/* ---- accounting of the reserves below min ---- */

static enum rsv_stat_item below_min_class(const struct rsv_task *tsk, rsv_gfp_t gfp,
					  unsigned alloc_flags)
{
	if (gfp & RSV___GFP_NOFAIL)
		return RSV_STAT_BELOW_MIN_NOFAIL;
	if (alloc_flags & RSV_ALLOC_NO_WATERMARKS) {
		if (gfp & RSV___GFP_MEMALLOC)
			return RSV_STAT_BELOW_MIN_GFP_MEMALLOC;
		if (rsv__task_flags(tsk) & RSV_PF_MEMALLOC)
			return RSV_STAT_BELOW_MIN_PF_MEMALLOC;
		return RSV_STAT_BELOW_MIN_OOM_VICTIM;
	}
	if (alloc_flags & RSV_ALLOC_OOM)
		return RSV_STAT_BELOW_MIN_OOM_VICTIM;
	if (alloc_flags & RSV_ALLOC_MIN_RESERVE)
		return RSV_STAT_BELOW_MIN_ATOMIC;
	return RSV_STAT_BELOW_MIN_NONBLOCK;
}

static enum rsv_stat_item grant_kind(unsigned alloc_flags)
{
	if (alloc_flags & RSV_ALLOC_NO_WATERMARKS)
		return RSV_STAT_GRANT_NO_WATERMARKS;
	if (alloc_flags & RSV_ALLOC_OOM)
		return RSV_STAT_GRANT_OOM;
	if (alloc_flags & RSV_ALLOC_MIN_RESERVE)
		return RSV_STAT_GRANT_MIN_RESERVE;
	return RSV_STAT_GRANT_NON_BLOCK;
}

/* Counts what a slow-path allocation took from below the min watermark, and by whom. */
static void account_reserves(struct rsv_system *sys, struct rsv_task *tsk, rsv_gfp_t gfp,
			     unsigned order, unsigned alloc_flags)
{
	long free_after = rsv__zone_free(&sys->zone);
	long min = (long)sys->zone.wmark[RSV_WMARK_MIN];
	long below;

	if (!(alloc_flags & (RSV_ALLOC_RESERVES | RSV_ALLOC_NO_WATERMARKS)) || free_after >= min)
		return;
	below = min - free_after;
	if (below > (1L << order))
		below = 1L << order;
	rsv__task_stat_add(tsk, grant_kind(alloc_flags), 1);
	if (tsk->alloc_cost)
		tsk->alloc_cost->grants++;
	rsv__task_stat_add(tsk, below_min_class(tsk, gfp, alloc_flags), (uint64_t)below);
}

/* ---- slow path steps ---- */

static void wake_all_kswapds(struct rsv_system *sys, struct rsv_task *tsk, rsv_gfp_t gfp,
			     unsigned order)
{
	rsv__task_stat_add(tsk, RSV_STAT_KSWAPD_WAKE, 1);
	sys->reclaim->wake_kswapd(sys, gfp, order);
}

/* Drains every cache holding pages. With @wait false, a drain already under way serves the
 * caller too and it returns at once, as drain_all_pages(NULL) does in the kernel: failing
 * allocators must not queue up to repeat the same drain. Returns false if it skipped. */
static bool drain_all_caches(struct rsv_system *sys, bool wait)
{
	int freed;

	if (!rsv_mutex_trylock(&sys->drain_lock)) {
		if (!wait)
			return false;
		rsv_mutex_lock(&sys->drain_lock);
	}
	rsv_spin_lock(&sys->tasks_lock);
	freed = rsv__pcp_drain_all(sys);
	rsv_spin_unlock(&sys->tasks_lock);
	rsv_mutex_unlock(&sys->drain_lock);
	if (freed)
		rsv__zone_wake_waiters(sys);
	return true;
}

/* Pages stranded in other tasks' caches. Userspace tasks are threads, not CPUs: there can be
 * many more of them than CPUs, and a sleeping one's cache is out of reach until drained, so
 * reservoir drains whenever a direct-reclaim attempt fails, not only after progress. */
static void drain_all(struct rsv_system *sys, struct rsv_task *tsk)
{
	if (drain_all_caches(sys, false))
		rsv__task_stat_add(tsk, RSV_STAT_DRAIN_ALL, 1);
}

/* __alloc_pages_direct_reclaim(): reclaim under PF_MEMALLOC, then one attempt, then one more
 * after draining the page caches. */
static struct rsv_page *direct_reclaim(struct rsv_system *sys, struct rsv_task *tsk,
				       rsv_gfp_t gfp, unsigned order, unsigned alloc_flags,
				       unsigned long *progress)
{
	struct rsv_page *page;
	unsigned noreclaim;
	const char *lockdep;

	rsv__task_stat_add(tsk, RSV_STAT_DIRECT_RECLAIM, 1);
	if (tsk->alloc_cost)
		tsk->alloc_cost->direct_reclaims++;
	lockdep = rsv__lockdep_reclaim_enter(sys, tsk, gfp);
	noreclaim = rsv_memalloc_noreclaim_save();
	*progress = sys->reclaim->direct_reclaim(sys, gfp, order);
	rsv_memalloc_noreclaim_restore(noreclaim);
	rsv__lockdep_reclaim_exit(sys, lockdep);
	rsv__task_stat_add(tsk, RSV_STAT_DIRECT_RECLAIM_PAGES, *progress);

	page = get_page_from_freelist(sys, tsk, gfp, order, alloc_flags);
	if (page)
		return page;
	drain_all(sys, tsk);
	return get_page_from_freelist(sys, tsk, gfp, order, alloc_flags);
}

/* should_reclaim_retry(): keep going while reclaim progresses, or while the zone would pass
 * the min watermark if everything reclaimable were reclaimed; never more than 16 fruitless
 * rounds. */
static bool should_reclaim_retry(struct rsv_system *sys, struct rsv_task *tsk, unsigned order,
				 unsigned alloc_flags, bool progress, int *no_progress_loops)
{
	struct rsv_zone *z = &sys->zone;
	long available;

	if (progress && order <= RSV_COSTLY_ORDER)
		*no_progress_loops = 0;
	else
		(*no_progress_loops)++;
	if (*no_progress_loops > MAX_RECLAIM_RETRIES)
		return false;
	available = rsv__zone_free(z) + (long)sys->reclaim->reclaimable_pages(sys);
	if (!rsv__zone_watermark_ok(z, order, z->wmark[RSV_WMARK_MIN], alloc_flags, available))
		return false;
	/* A workqueue worker that loops without sleeping would stall its pool's other work. */
	if (rsv__task_flags(tsk) & RSV_PF_WQ_WORKER)
		rsv_sleep_ns(RSV_JIFFY_NS);
	else
		rsv_sched_point();
	rsv__task_stat_add(tsk, RSV_STAT_RECLAIM_RETRY, 1);
	return true;
}

/* Waits up to a jiffy for pages to come back to the buddy. The kernel's NOFAIL loop only
 * calls cond_resched(); a thread that spins here would burn a real CPU, so it sleeps on the
 * zone's free queue instead. */
static void nofail_wait(struct rsv_system *sys, struct rsv_task *tsk)
{
	struct rsv_wait_entry we;

	rsv__task_stat_add(tsk, RSV_STAT_NOFAIL_WAIT, 1);
	rsv_wait_entry_init(&we);
	rsv_prepare_to_wait(&sys->zone.free_wait, &we, RSV_TASK_UNINTERRUPTIBLE);
	rsv_schedule_timeout(RSV_JIFFY_NS);
	rsv_finish_wait(&sys->zone.free_wait, &we);
}

/* The kernel retries at once, or after a jiffy when another task holds oom_lock, where this
 * waits: an allocation that may not kill (no __GFP_FS), finds a victim still dying, or finds
 * oom_lock taken would otherwise spin a CPU, and on the simulator hold virtual time still.
 * It waits for pages to come back to the buddy allocator, at most a time that doubles with
 * each round of the same allocation, from a jiffy to 64: freed memory ends the wait at once,
 * and a retry loop that goes on for seconds costs a few hundred rounds, not tens of
 * thousands. The task waits for what only others can do (free pages), as a task parked on a
 * queue does: when no one ever does it, the watchdog calls it the deadlock it is, whether the
 * kernel would spin or sleep meanwhile. */
#define BACKOFF_MAX_SHIFT 6

static void alloc_backoff(struct rsv_system *sys, struct rsv_task *tsk)
{
	unsigned shift = 0;
	struct rsv_wait_entry we;

	if (tsk) {
		shift = tsk->oom_naps < BACKOFF_MAX_SHIFT ? tsk->oom_naps : BACKOFF_MAX_SHIFT;
		tsk->oom_naps++;
	}
	rsv_wait_entry_init(&we);
	rsv__prepare_to_wait_as(&sys->zone.free_wait, &we, RSV_TASK_UNINTERRUPTIBLE,
				RSV_WAIT_RETRY);
	rsv_schedule_timeout(RSV_JIFFY_NS << shift);
	rsv_finish_wait(&sys->zone.free_wait, &we);
}

/* __alloc_pages_may_oom(). *@used gets the alloc flags of the attempt that succeeded, so
 * that what a NOFAIL caller takes below min is accounted to it. */
static struct rsv_page *may_oom(struct rsv_system *sys, struct rsv_task *tsk, rsv_gfp_t gfp,
				unsigned order, bool *progress, unsigned *used)
{
	enum rsv_oom_result oom = RSV_OOM_NONE;
	struct rsv_page *page = NULL;

	*progress = false;
	if (!rsv_mutex_trylock(&sys->oom_lock)) {
		/* Someone else is killing: that is progress; wait for what it frees. */
		*progress = true;
		alloc_backoff(sys, tsk);
		return NULL;
	}
	/* A parallel kill may have freed memory: try at high, without reclaim. */
	*used = RSV_ALLOC_WMARK_HIGH | RSV_ALLOC_CPUSET;
	page = get_page_from_freelist(sys, tsk, gfp & ~RSV___GFP_DIRECT_RECLAIM, order, *used);
	if (page || order > RSV_COSTLY_ORDER || (gfp & RSV___GFP_RETRY_MAYFAIL))
		goto out;
	rsv__task_stat_add(tsk, RSV_STAT_OOM_CALL, 1);
	oom = sys->reclaim->out_of_memory(sys, gfp, order);
	/* out_of_memory(): nothing killable, and an allocation that may neither fail (order
	 * <= PAGE_ALLOC_COSTLY_ORDER without __GFP_RETRY_MAYFAIL) nor wait for a kill. The
	 * kernel panics there for __GFP_NOFAIL too; here NOFAIL goes on waiting for freed pages
	 * (nofail_wait()), the guarantee its callers and the fail-nth sweep rely on. */
	if (oom == RSV_OOM_NO_VICTIM && !(gfp & RSV___GFP_NOFAIL)) {
		rsv_mutex_unlock(&sys->oom_lock);
		rsv__panic(sys, "Out of memory and no killable processes: task \"%s\" (gfp %#x, "
			   "order %u); system is deadlocked on memory",
			   tsk ? tsk->name : "?", (unsigned)gfp, order);
	}
	if (oom != RSV_OOM_NONE || (gfp & RSV___GFP_NOFAIL)) {
		*progress = true;
		if (gfp & RSV___GFP_NOFAIL) {
			*used = RSV_ALLOC_NO_WATERMARKS;
			page = get_page_from_freelist(sys, tsk, gfp, order, *used);
			if (!page) {
				rsv_mutex_unlock(&sys->oom_lock);
				nofail_wait(sys, tsk);
				return NULL;
			}
		}
	}
out:
	rsv_mutex_unlock(&sys->oom_lock);
	if (!page && oom == RSV_OOM_WAIT)
		alloc_backoff(sys, tsk);
	return page;
}

static struct rsv_page *got_page(struct rsv_system *sys, struct rsv_task *tsk, rsv_gfp_t gfp,
				 unsigned order, unsigned alloc_flags, struct rsv_page *page)
{
	account_reserves(sys, tsk, gfp, order, alloc_flags);
	return page;
}

static struct rsv_page *alloc_pages_slowpath(struct rsv_system *sys, struct rsv_task *tsk,
					     rsv_gfp_t gfp, unsigned order)
{
	bool can_direct_reclaim = gfp & RSV___GFP_DIRECT_RECLAIM;
	bool costly = order > RSV_COSTLY_ORDER;
	int no_progress_loops = 0;
	unsigned alloc_flags, reserve_flags;
	struct rsv_page *page;
	unsigned long reclaimed;
	unsigned oom_flags;
	bool oom_progress;

	rsv__task_stat_add(tsk, RSV_STAT_ALLOC_SLOW, 1);
	alloc_flags = rsv__gfp_to_alloc_flags(gfp, order);
	if (alloc_flags & RSV_ALLOC_KSWAPD)
		wake_all_kswapds(sys, tsk, gfp, order);
	page = get_page_from_freelist(sys, tsk, gfp, order, alloc_flags);
	if (page)
		return got_page(sys, tsk, gfp, order, alloc_flags, page);
retry:
	if (alloc_flags & RSV_ALLOC_KSWAPD)
		wake_all_kswapds(sys, tsk, gfp, order);
	reserve_flags = rsv__gfp_pfmemalloc_flags(sys, tsk, gfp);
	if (reserve_flags)
		alloc_flags = reserve_flags | (alloc_flags & RSV_ALLOC_KSWAPD);
	page = get_page_from_freelist(sys, tsk, gfp, order, alloc_flags);
	if (page)
		return got_page(sys, tsk, gfp, order, alloc_flags, page);

	if (!can_direct_reclaim)
		goto nopage;
	/* A reclaimer must not recurse into reclaim: it fails instead. */
	if (rsv__task_flags(tsk) & RSV_PF_MEMALLOC)
		goto nopage;

	page = direct_reclaim(sys, tsk, gfp, order, alloc_flags, &reclaimed);
	if (page)
		return got_page(sys, tsk, gfp, order, alloc_flags, page);
	if (gfp & RSV___GFP_NORETRY)
		goto nopage;
	if (costly && !(gfp & RSV___GFP_RETRY_MAYFAIL))
		goto nopage;
	if (should_reclaim_retry(sys, tsk, order, alloc_flags, reclaimed > 0, &no_progress_loops))
		goto retry;

	/* A task in a reservation section falls back to its reserved pages where the kernel would
	 * start killing. */
	if (rsv_unlikely(tsk->reservation.flags & RSV_TR_FALLBACK) &&
	    (page = sys->pool->reservation_alloc(tsk, gfp, order, RSV_RESERVATION_FALLBACK)))
		return page;
	page = may_oom(sys, tsk, gfp, order, &oom_progress, &oom_flags);
	if (page)
		return got_page(sys, tsk, gfp, order, oom_flags, page);
	/* A victim that already has its reserve, or refuses reserves, must not loop: it has
	 * to unwind and exit to release its memory. */
	if (atomic_load_explicit(&tsk->oom_victim, memory_order_relaxed) &&
	    ((alloc_flags & RSV_ALLOC_OOM) || (gfp & RSV___GFP_NOMEMALLOC)))
		goto nopage;
	if (oom_progress) {
		no_progress_loops = 0;
		goto retry;
	}
nopage:
	if (rsv_unlikely(tsk->reservation.flags & RSV_TR_FALLBACK) &&
	    (page = sys->pool->reservation_alloc(tsk, gfp, order, RSV_RESERVATION_FALLBACK)))
		return page;
	if (gfp & RSV___GFP_NOFAIL) {
		/* rsv_gfp_check() guarantees NOFAIL callers may block. */
		page = get_page_from_freelist(sys, tsk, gfp, order, RSV_ALLOC_MIN_RESERVE);
		if (page)
			return got_page(sys, tsk, gfp, order, RSV_ALLOC_MIN_RESERVE, page);
		nofail_wait(sys, tsk);
		goto retry;
	}
	rsv__task_stat_add(tsk, RSV_STAT_ALLOC_FAIL, 1);
	return NULL;
}

/* The slow path, with the task marked as in it for the blocked-chain reports. */
struct rsv_page *rsv__alloc_pages_slowpath(struct rsv_system *sys, struct rsv_task *tsk,
					   rsv_gfp_t gfp, unsigned order)
{
	struct rsv_task_doing prev = rsv__doing_begin(tsk, RSV_DOING_ALLOC, NULL);
	unsigned naps = tsk->oom_naps;
	struct rsv_page *page;

	tsk->oom_naps = 0;
	tsk->doing.gfp = gfp;
	tsk->doing.order = order;
	page = alloc_pages_slowpath(sys, tsk, gfp, order);
	tsk->doing = prev;
	tsk->oom_naps = naps; /* a nested allocation (from reclaim) keeps the outer one's */
	return page;
}

/* ---- entry points ---- */

static RSV_NOINLINE struct rsv_page *alloc_bad_input(struct rsv_task *tsk, rsv_gfp_t gfp,
						     unsigned order)
{
	if (!tsk) {
		errno = EPERM;
		return NULL;
	}
	rsv__misuse(tsk->sys, "rsv_alloc_pages(gfp=%#x, order=%u) by task \"%s\": %s", gfp, order,
		    tsk->name, rsv_gfp_check_reason(gfp, order));
	errno = EINVAL;
	return NULL;
}

/* The first attempt of every allocation, at the low watermark, inline: a cache hit costs no
 * call. NULL sends the caller through get_page_from_freelist(), which also counts. */
static inline struct rsv_page *get_page_fast(struct rsv_system *sys, struct rsv_task *tsk,
					     unsigned order)
{
	struct rsv_zone *z = &sys->zone;

	if (rsv_unlikely(!rsv__zone_watermark_fast(z, order, z->wmark[RSV_WMARK_LOW],
						   RSV_ALLOC_WMARK_LOW)))
		return NULL;
	return rsv__pcp_alloc_fast(sys, tsk, order);
}

static void zero_block(struct rsv_system *sys, struct rsv_task *tsk, struct rsv_page *page,
		       unsigned order)
{
	memset(rsv_page_address(page), 0, RSV_PAGE_SIZE << order);
	rsv__task_stat_add(tsk, RSV_STAT_ALLOC_ZEROED, 1);
}

/* __GFP_ACCOUNT: the block counts in its task's OOM badness until it is freed, by anyone. */
static void charge_block(struct rsv_task *tsk, struct rsv_page *page, unsigned order)
{
	atomic_store_explicit(&page->flags, RSV_PAGE_ACCOUNTED, memory_order_relaxed);
	atomic_fetch_add_explicit(&tsk->rss, 1L << order, memory_order_relaxed);
}

static void uncharge_block(struct rsv_system *sys, struct rsv_page *page, unsigned order)
{
	struct rsv_task *charged = rsv__task_by_id(sys, page->owner);

	atomic_fetch_and_explicit(&page->flags, (uint16_t)~RSV_PAGE_ACCOUNTED,
				  memory_order_relaxed);
	if (charged)
		atomic_fetch_sub_explicit(&charged->rss, 1L << order, memory_order_relaxed);
}

/* The checkers that watch allocations (armed with t->alloc_hooks): lockdep's might_alloc(),
 * then fault injection, which may refuse this one. */
static RSV_NOINLINE bool checkers_refuse(struct rsv_system *sys, struct rsv_task *tsk,
					 rsv_gfp_t gfp, unsigned order)
{
	rsv__might_alloc(sys, tsk, gfp);
	return rsv__should_fail(sys, tsk, RSV_FAIL_PAGE_ALLOC, gfp, order, RSV_PAGE_SIZE << order);
}

/* A block handed out: its descriptor made an allocated one's. */
static inline struct rsv_page *prep_new_page(struct rsv_task *tsk, struct rsv_page *page,
					     unsigned order)
{
	rsv__asan_unpoison(rsv__page_addr(tsk->sys, page), RSV_PAGE_SIZE << order);
	rsv__set_page_state(page, RSV_PAGE_ALLOC);
	page->order = (uint8_t)order;
	page->owner = tsk->id;
	atomic_store_explicit(&page->flags, 0, memory_order_relaxed);
	page->layer_words[0] = page->layer_words[1] = 0;
	return page;
}

/* Everything but an order-0 hit on the task's cache (rsv_alloc_pages()). */
static RSV_NOINLINE struct rsv_page *alloc_pages_rest(struct rsv_task *tsk, rsv_gfp_t gfp,
						      unsigned order)
{
	struct rsv_system *sys;
	struct rsv_page *page;

	if (rsv_unlikely(!tsk || rsv__gfp_invalid(gfp, order)))
		return alloc_bad_input(tsk, gfp, order);
	sys = tsk->sys;
	gfp = rsv__task_gfp_context(tsk, gfp);
	if (rsv_unlikely(atomic_load_explicit(&tsk->alloc_hooks, memory_order_relaxed)) &&
	    checkers_refuse(sys, tsk, gfp, order))
		return errno = ENOMEM, NULL;
	if (rsv_unlikely(tsk->reservation.flags & RSV_TR_FIRST) &&
	    (page = sys->pool->reservation_alloc(tsk, gfp, order, RSV_RESERVATION_FIRST)))
		goto got;
	page = get_page_fast(sys, tsk, order);
	if (!page)
		page = get_page_from_freelist(sys, tsk, gfp, order, RSV_ALLOC_WMARK_LOW);
	if (rsv_likely(page))
		rsv__task_stat_add(tsk, RSV_STAT_ALLOC_FAST, 1);
	else if (!(page = rsv__alloc_pages_slowpath(sys, tsk, gfp, order)))
		return errno = ENOMEM, NULL;
got:
	prep_new_page(tsk, page, order);
	if (gfp & RSV___GFP_ACCOUNT)
		charge_block(tsk, page, order);
	if (gfp & RSV___GFP_ZERO)
		zero_block(sys, tsk, page, order);
	return page;
}

/* The common case inline: an order-0 block from the task's cache above the low watermark,
 * for a caller with no checker watching, no reservation to use first, nothing to zero or
 * charge. Every other path is a tail call, so that the hit saves no registers. */
struct rsv_page *rsv_alloc_pages(rsv_gfp_t gfp, unsigned order)
{
	struct rsv_task *tsk = rsv__task_current();
	struct rsv_page *page;

	/* rsv__gfp_invalid() and rsv__zone_watermark_fast() without their calls: what they
	 * would call for goes to the rest, which asks them. */
	if (rsv_likely(tsk) && rsv_likely(order == 0) &&
	    rsv_likely(!(gfp & (RSV___GFP_ZERO | RSV___GFP_ACCOUNT | RSV___GFP_NOFAIL |
				RSV___GFP_NORETRY | RSV___GFP_RETRY_MAYFAIL))) &&
	    rsv_likely(!(gfp & ~RSV_GFP_VALID_MASK)) &&
	    rsv_likely((gfp & (RSV___GFP_FS | RSV___GFP_IO | RSV___GFP_DIRECT_RECLAIM)) !=
		       (RSV___GFP_FS | RSV___GFP_DIRECT_RECLAIM)) &&
	    rsv_likely(!atomic_load_explicit(&tsk->alloc_hooks, memory_order_relaxed)) &&
	    rsv_likely(!(tsk->reservation.flags & RSV_TR_FIRST)) &&
	    rsv_likely(
		    rsv__zone_free(&tsk->sys->zone) - (long)tsk->sys->zone.nr_reserved_highatomic >
		    (long)(tsk->sys->zone.wmark[RSV_WMARK_LOW] + tsk->sys->zone.lowmem_reserve)) &&
	    rsv_likely((page = rsv__pcp_alloc_fast(tsk->sys, tsk, 0)) != NULL)) {
		rsv__task_stat_add(tsk, RSV_STAT_ALLOC_FAST, 1);
		return prep_new_page(tsk, page, 0);
	}
	return alloc_pages_rest(tsk, gfp, order);
}

void *rsv_get_free_pages(rsv_gfp_t gfp, unsigned order)
{
	struct rsv_page *page = rsv_alloc_pages(gfp, order);

	return page ? rsv_page_address(page) : NULL;
}

/* Why @page cannot be freed at @order by @tsk, or NULL if it can. */
static const char *free_misuse(struct rsv_system *sys, const struct rsv_page *page,
			       unsigned order)
{
	if (page < sys->memmap || page >= sys->memmap + sys->nr_pages)
		return "not a page of this system (freed by a task of another system?)";
	if (((uintptr_t)page - (uintptr_t)sys->memmap) % sizeof(*page))
		return "not a page descriptor";
	if (order > RSV_MAX_ORDER)
		return "order above 10";
	switch (rsv__page_state(page)) {
	case RSV_PAGE_ALLOC:
		return page->order == order ? NULL : "freed with a different order than allocated";
	case RSV_PAGE_TAIL:
		return "not the first page of an allocation";
	default:
		return "double free: the page is already free";
	}
}

/* Pages a layer holds (slab, large kmalloc, a mapping) keep their references in the layer;
 * get_page() counts only for blocks handed out plain. */
#define LAYER_FLAGS (RSV_PAGE_SLAB | RSV_PAGE_KMALLOC | PG_mapping)

/* Why @page cannot take another reference, or NULL. */
static const char *ref_misuse(struct rsv_system *sys, const struct rsv_page *page)
{
	if (page < sys->memmap || page >= sys->memmap + sys->nr_pages ||
	    ((uintptr_t)page - (uintptr_t)sys->memmap) % sizeof(*page))
		return "not a page of this system";
	if (rsv__page_state(page) == RSV_PAGE_TAIL)
		return "not the first page of an allocation";
	if (rsv__page_state(page) != RSV_PAGE_ALLOC)
		return "the page is free: it has no reference to take or drop";
	if (rsv__page_flags(page) & LAYER_FLAGS)
		return "a page of the slab, kmalloc or page cache: reservoir counts references "
		       "only on pages from alloc_pages()";
	return NULL;
}

/* get_page() and put_page()'s checks: 0 if @page may take or drop a reference. */
static int ref_check(struct rsv_page *page, const char *who)
{
	struct rsv_task *tsk = rsv__task_current();
	const char *why;

	if (!tsk)
		return -EPERM;
	if ((why = page ? ref_misuse(tsk->sys, page) : "NULL page"))
		return rsv__misuse(tsk->sys, "%s(%p) by task \"%s\": %s", who, (const void *)page,
				   tsk->name, why);
	return 0;
}

int rsv_get_page(struct rsv_page *page)
{
	int err = ref_check(page, "get_page");

	if (!err)
		atomic_fetch_add_explicit(&page->extra_refs, 1, memory_order_relaxed);
	return err;
}

/* Drops one of @page's extra references if it has one: true then, and the block stays. The
 * release pairs with the freeing side's acquire, so that what another holder wrote before
 * its put is written before the block goes back, as put_page_testzero()'s ordering. */
static bool put_extra_ref(struct rsv_page *page)
{
	uint32_t refs = atomic_load_explicit(&page->extra_refs, memory_order_acquire);

	while (refs)
		if (atomic_compare_exchange_weak_explicit(&page->extra_refs, &refs, refs - 1,
							  memory_order_acq_rel,
							  memory_order_acquire))
			return true;
	return false;
}

int rsv_put_page(struct rsv_page *page)
{
	int err = ref_check(page, "put_page");

	if (err)
		return err;
	return put_extra_ref(page) ? 0 : rsv_free_pages(page, page->order);
}

int rsv_page_count(const struct rsv_page *page)
{
	struct rsv_task *tsk = rsv__task_current();

	if (!tsk || !page || ref_misuse(tsk->sys, page))
		return 0;
	return 1 + (int)atomic_load_explicit(&page->extra_refs, memory_order_relaxed);
}

/* Everything but a free of a plain block into the task's cache (rsv_free_pages()). */
static RSV_NOINLINE int free_pages_rest(struct rsv_task *tsk, struct rsv_page *page, unsigned order)
{
	struct rsv_system *sys;
	const char *why;

	if (rsv_unlikely(!tsk))
		return -EPERM;
	sys = tsk->sys;
	if (rsv_unlikely(!page))
		return 0; /* as __free_pages(NULL) would crash, free(NULL) is the better model */
	why = free_misuse(sys, page, order);
	if (rsv_unlikely(why))
		return rsv__misuse(sys, "rsv_free_pages(page %p, order %u) by task \"%s\": %s",
				   (const void *)page, order, tsk->name, why);
	/* __free_pages(): the caller's reference goes; the block only with the last one. */
	if (rsv_unlikely(!(rsv__page_flags(page) & LAYER_FLAGS) && put_extra_ref(page)))
		return 0;
	rsv__task_stat_add(tsk, RSV_STAT_FREE, 1);
	if (rsv_unlikely(atomic_load_explicit(&page->flags, memory_order_relaxed) &
			 RSV_PAGE_ACCOUNTED))
		uncharge_block(sys, page, order);
	rsv__asan_poison(rsv__page_addr(sys, page), RSV_PAGE_SIZE << order);
	if (rsv_likely(rsv__pcp_free_fast(sys, tsk, rsv__pfn(sys, page), order)))
		return 0;
	rsv__free_to_pcp_or_buddy(sys, tsk, rsv__pfn(sys, page), order);
	return 0;
}

/* The common case inline: a block allocated at @order, of no layer, unaccounted and with no
 * extra reference, into the task's cache below its high mark. Every other path is a tail
 * call, with every check again. */
int rsv_free_pages(struct rsv_page *page, unsigned order)
{
	struct rsv_task *tsk = rsv__task_current();
	struct rsv_system *sys;

	if (rsv_likely(tsk && page)) {
		sys = tsk->sys;
		if (rsv_likely(!free_misuse(sys, page, order)) &&
		    rsv_likely(!(atomic_load_explicit(&page->flags, memory_order_relaxed) &
				 (LAYER_FLAGS | RSV_PAGE_ACCOUNTED))) &&
		    rsv_likely(!atomic_load_explicit(&page->extra_refs, memory_order_relaxed))) {
			/* Poisoned before it is cached: a drainer may hand it on at once. (If the
			 * cache is full, the rest poisons it again, which is harmless.) */
			rsv__asan_poison(rsv__page_addr(sys, page), RSV_PAGE_SIZE << order);
			if (rsv_likely(rsv__pcp_free_fast(sys, tsk, rsv__pfn(sys, page), order))) {
				rsv__task_stat_add(tsk, RSV_STAT_FREE, 1);
				return 0;
			}
		}
	}
	return free_pages_rest(tsk, page, order);
}

int rsv_free_pages_addr(void *addr, unsigned order)
{
	struct rsv_task *tsk = rsv__task_current();
	struct rsv_page *page;

	if (!tsk)
		return -EPERM;
	if (!addr)
		return 0;
	page = rsv__addr_page(tsk->sys, addr);
	if (!page || ((uintptr_t)addr & (RSV_PAGE_SIZE - 1)))
		return rsv__misuse(tsk->sys, "rsv_free_pages_addr(%p, order %u) by task \"%s\": %s",
				   addr, order, tsk->name,
				   page ? "not a page-aligned address"
					: "address outside this system's arena");
	return rsv_free_pages(page, order);
}

void *rsv_page_address(const struct rsv_page *page)
{
	struct rsv_task *tsk = rsv__task_current();
	struct rsv_system *sys = tsk ? tsk->sys : NULL;

	if (!sys || page < sys->memmap || page >= sys->memmap + sys->nr_pages)
		return NULL;
	return rsv__page_addr(sys, page);
}

struct rsv_page *rsv_virt_to_page(const void *addr)
{
	struct rsv_task *tsk = rsv__task_current();

	return tsk ? rsv__addr_page(tsk->sys, addr) : NULL;
}

unsigned long rsv_page_to_pfn(const struct rsv_page *page)
{
	struct rsv_task *tsk = rsv__task_current();
	struct rsv_system *sys = tsk ? tsk->sys : NULL;

	if (!sys || page < sys->memmap || page >= sys->memmap + sys->nr_pages)
		return RSV_NO_PFN;
	return (unsigned long)(page - sys->memmap);
}

void rsv_drain_local_pages(void)
{
	struct rsv_task *tsk = rsv__task_current();

	if (tsk && rsv__drain_pcp(tsk->sys, tsk))
		rsv__zone_wake_waiters(tsk->sys);
}

void rsv_drain_all_pages(struct rsv_system *sys)
{
	drain_all_caches(sys, true);
}
