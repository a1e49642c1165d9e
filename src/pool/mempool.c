/* Memory pools (the kernel's mm/mempool.c): min_nr preallocated elements behind a backing
 * allocator, and the policies the seed threads argue about for how that allocator is asked.
 *
 *   upstream            NOMEMALLOC|NORETRY|NOWARN always; first a pass without direct
 *                       reclaim or I/O, then the pool, then the full gfp, then the pool, then
 *                       wait for an element (at most 5 s) and start again.
 *   revert              the same loop as it was written before the 2025 refactor.
 *   2016                f9054c70d28b: NOMEMALLOC only while an unlocked read sees elements in the
 * pool: once it is empty a PF_MEMALLOC caller (kswapd, a reclaimer swapping through dm-crypt) gets
 * ALLOC_NO_WATERMARKS from the backing allocator and can drain the zone's last reserves (the v4.6
 * regression). memdie-only         Hocko's RFC 1/2: NOMEMALLOC is dropped only for an OOM victim,
 * and only when the pool is empty. no-direct-reclaim   NeilBrown: the backing allocator never
 * reclaims directly (kswapd is still woken); a caller that may block waits on the pool instead.
 *   pool-first          the pool's elements before the backing allocator (no thread's
 *                       position: the control that shows what asking the allocator first buys).
 *
 * Under every policy a caller that may block loops until it has an element; one that may not
 * gets NULL only when the backing allocator and the pool have both failed it. */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "common/assert.h"
#include "pool/internal.h"
#include "common/asan.h"
#include "reservoir/mempool.h"

#define RSV_MEMPOOL_MAGIC 0x6d706f6fu
#define POOL_WAIT_NS (5 * RSV_NSEC_PER_SEC) /* io_schedule_timeout(5*HZ): re-poll, as DM needed */
#define POISON_POOL 0x6c /* not the slab's free poison: a pool element is not a free object */

enum backing_kind { BACKING_USER, BACKING_SLAB, BACKING_KMALLOC, BACKING_PAGES };

/* ---- the pool's elements (curr_nr of them, at most min_nr) ---- */

static void *elem_addr(const struct rsv_mempool *pool, void *e)
{
	return pool->alloc == rsv_mempool_alloc_pages ? rsv_page_address(e) : e;
}

/* A parked element is nobody's: filled with poison in debug builds, and unreachable under
 * ASan until it is handed out again. */
static void poison(struct rsv_mempool *pool, void *e)
{
	if (!rsv__mp(pool)->elem_size)
		return;
#ifdef RSV_DEBUG
	memset(elem_addr(pool, e), POISON_POOL, rsv__mp(pool)->elem_size);
#endif
	rsv__asan_poison(elem_addr(pool, e), rsv__mp(pool)->elem_size);
}

static void check_poison(struct rsv_mempool *pool, void *e)
{
	if (rsv__mp(pool)->elem_size)
		rsv__asan_unpoison(elem_addr(pool, e), rsv__mp(pool)->elem_size);
#ifdef RSV_DEBUG
	const unsigned char *b = elem_addr(pool, e);

	for (size_t i = 0; i < rsv__mp(pool)->elem_size; i++)
		if (b[i] != POISON_POOL) {
			rsv__misuse(rsv__mp(pool)->sys,
				    "mempool \"%s\": element %p was written while it sat in "
				    "the pool (byte %zu)",
				    rsv__mp(pool)->name, e, i);
			return;
		}
#else
	(void)pool, (void)e;
#endif
}

/* Whether @e sits among the pool's elements now. */
static bool in_pool_locked(struct rsv_mempool *pool, const void *e)
{
	bool found = false;

	rsv_assert_held(&pool->lock);
	for (int i = atomic_load_explicit(&pool->curr_nr, memory_order_relaxed); i-- > 0 && !found;)
		found = pool->elements[i] == e;
	return found;
}

static bool in_pool(struct rsv_mempool *pool, const void *e)
{
	bool found;

	rsv_spin_lock(&pool->lock);
	found = in_pool_locked(pool, e);
	rsv_spin_unlock(&pool->lock);
	return found;
}

/* False (and a message) for an element that is in the pool already. */
static bool add_element(struct rsv_mempool *pool, void *e)
{
	int n = atomic_load_explicit(&pool->curr_nr, memory_order_relaxed);

	rsv_assert_held(&pool->lock);
	rsv_assert(n < (pool->min_nr > 1 ? pool->min_nr : 1)); /* the array's capacity */
#ifdef RSV_DEBUG
	if (in_pool_locked(pool, e))
		goto twice;
#else
	if (n && pool->elements[n - 1] == e)
		goto twice;
#endif
	poison(pool, e);
	pool->elements[n] = e;
	atomic_store_explicit(&pool->curr_nr, n + 1, memory_order_release);
	return true;
twice:
	rsv__misuse(rsv__mp(pool)->sys, "mempool \"%s\": element %p returned twice",
		    rsv__mp(pool)->name, e);
	return false;
}

static void *remove_element(struct rsv_mempool *pool)
{
	int n = atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) - 1;
	void *e;

	rsv_assert_held(&pool->lock);
	rsv_assert(n >= 0);
	e = pool->elements[n];

	atomic_store_explicit(&pool->curr_nr, n, memory_order_relaxed);
	if (n < atomic_load_explicit(&rsv__mp(pool)->low_water, memory_order_relaxed))
		atomic_store_explicit(&rsv__mp(pool)->low_water, n, memory_order_relaxed);
	check_poison(pool, e);
	return e;
}

/* The element may reach the task that frees it with no lock in between. This release pairs
 * with the acquire in may_refill(): whoever frees the element then reads a curr_nr no older
 * than the one this allocation left, so the unlocked "below min_nr?" test cannot miss a pool
 * that needs the element back (Tejun Heo, "mempool: fix and document synchronization and memory
 * barrier usage", 2011). */
static void *handed_out(struct rsv_mempool *pool, struct rsv_pool_slot *s, void *e)
{
	atomic_thread_fence(memory_order_release);
	if (rsv_likely(s != NULL)) {
		rsv__owner_add(&s->out, 1);
		if (rsv_unlikely(s->last_freed == e))
			s->last_freed = NULL;
	} else {
		rsv__shared_add(&rsv__mp(pool)->outstanding, 1);
	}
	return e;
}

/* Counts @n elements handed out (negative: given back) on the calling task's slot. */
static void count_out(struct rsv_mempool *pool, struct rsv_task *t, long n)
{
	struct rsv_pool_slot *s = rsv__pool_slot(t, pool);

	atomic_thread_fence(memory_order_release); /* as handed_out() */
	if (rsv_likely(s != NULL))
		rsv__owner_add(&s->out, n);
	else
		rsv__shared_add(&rsv__mp(pool)->outstanding, n);
}

static bool may_refill(struct rsv_mempool *pool)
{
	atomic_thread_fence(memory_order_acquire);
	return atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) < pool->min_nr ||
	       (pool->min_nr == 0 &&
		atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) == 0);
}

/* ---- validation ---- */

static struct rsv_task *pool_task(struct rsv_mempool *pool, const char *what)
{
	struct rsv_task *t = rsv__task_current();

	if (!t) {
		errno = EPERM;
		return NULL;
	}
	if (!pool || rsv__mp(pool)->magic != RSV_MEMPOOL_MAGIC || rsv__mp(pool)->sys != t->sys) {
		rsv__misuse(t->sys, "%s: %p is not an initialised mempool of task \"%s\"'s system",
			    what, (void *)pool, t->name);
		errno = EINVAL;
		return NULL;
	}
	return t;
}

static enum backing_kind backing_of(const struct rsv_mempool *pool)
{
	if (pool->alloc == rsv_mempool_alloc_slab)
		return BACKING_SLAB;
	if (pool->alloc == rsv_mempool_kmalloc)
		return BACKING_KMALLOC;
	if (pool->alloc == rsv_mempool_alloc_pages)
		return BACKING_PAGES;
	return BACKING_USER;
}

/* For pools over the library's allocators: is @e one of their elements at all? */
static const char *foreign_element(struct rsv_mempool *pool, void *e)
{
	struct rsv_page *p;

	switch (backing_of(pool)) {
	case BACKING_SLAB:
		p = rsv__addr_page(rsv__mp(pool)->sys, e);
		return p && p->slab_cache == pool->pool_data ? NULL
							     : "not an object of the pool's cache";
	case BACKING_KMALLOC:
		return rsv__ksize_checked(e, NULL) >= (size_t)(uintptr_t)pool->pool_data
			       ? NULL
			       : "not a kmalloc block of the pool's size";
	case BACKING_PAGES:
		p = e;
		return p >= rsv__mp(pool)->sys->memmap &&
				       p < rsv__mp(pool)->sys->memmap +
						       rsv__mp(pool)->sys->nr_pages &&
				       rsv__page_state(p) == RSV_PAGE_ALLOC &&
				       p->order == (unsigned)(uintptr_t)pool->pool_data
			       ? NULL
			       : "not an allocated block of the pool's order";
	default:
		return NULL;
	}
}

/* The checkers watching this task: might_alloc() with the caller's gfp, as mempool_alloc()
 * does before anything, then fail_mempool_alloc(_bulk), which forces the pool's elements. */
static RSV_NOINLINE bool checkers_refuse(struct rsv_task *t, rsv_gfp_t gfp,
					 enum rsv_fault_attr attr, size_t count)
{
	rsv__might_alloc(t->sys, t, gfp);
	return rsv__should_fail(t->sys, t, attr, gfp, 0, count);
}

/* ---- allocation ---- */

/* What a backing allocation cost, counted only when it reached the page allocator's slow
 * path (the only place reclaim and grants from the reserves happen). */
static RSV_NOINLINE void count_slow_path(struct rsv_mempool *pool,
					 const struct rsv_alloc_cost *cost, bool had_elements)
{
	if (cost->direct_reclaims) {
		rsv__shared_add(&rsv__mp(pool)->st_reclaims, cost->direct_reclaims);
		if (had_elements)
			rsv__shared_add(&rsv__mp(pool)->st_reclaim_with, cost->direct_reclaims);
	}
	if (cost->grants) {
		long left = (long)rsv_system_free_pages(rsv__mp(pool)->sys);

		rsv__shared_add(&rsv__mp(pool)->st_grants, cost->grants);
		/* The free pages a grant left: read right after it, so that a run judged by how
		 * far grants took memory down need not catch the moment by sampling. */
		if (left <
		    atomic_load_explicit(&rsv__mp(pool)->grant_free_low, memory_order_relaxed))
			atomic_store_explicit(&rsv__mp(pool)->grant_free_low, left,
					      memory_order_relaxed);
	}
}

/* pool->alloc(), with what it cost counted: direct reclaim entered, reserves granted. A
 * backing allocator that is itself a mempool reports to its own pool, then to ours. */
static inline void *backing_alloc(struct rsv_mempool *pool, struct rsv_task *t,
				  struct rsv_pool_slot *s, rsv_gfp_t gfp)
{
	struct rsv_alloc_cost cost = { 0 }, *outer = t->alloc_cost;
	bool had_elements = atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) > 0;
	void *e;

	t->alloc_cost = &cost;
	e = pool->alloc(gfp, pool->pool_data);
	t->alloc_cost = outer;
	if (rsv_unlikely(cost.direct_reclaims | cost.grants)) {
		count_slow_path(pool, &cost, had_elements);
		if (outer) {
			outer->direct_reclaims += cost.direct_reclaims;
			outer->grants += cost.grants;
		}
	}
	if (e) {
		if (rsv_likely(s != NULL))
			rsv__owner_add(&s->backing, 1);
		else
			rsv__shared_add(&rsv__mp(pool)->st_backing, 1);
	}
	return e;
}

static void *take_from_pool(struct rsv_mempool *pool)
{
	void *e = NULL;

	rsv_spin_lock(&pool->lock);
	if (atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) > 0)
		e = remove_element(pool);
	rsv_spin_unlock(&pool->lock);
	if (e)
		rsv__shared_add(&rsv__mp(pool)->st_pool, 1);
	return e;
}

/* Called with the lock held; returns with it released. Queued before the unlock, so a free
 * that refills the pool after we looked cannot miss us (Heo, 2011). */
static void wait_for_element(struct rsv_mempool *pool, struct rsv_task *t)
{
	struct rsv_task_doing prev;
	struct rsv_wait_entry we;
	uint64_t start;
	bool woken;

	rsv_assert_held(&pool->lock);
	prev = rsv__doing_begin(t, RSV_DOING_MEMPOOL, pool);
	start = t->doing.since;
	rsv_wait_entry_init(&we);
	rsv_prepare_to_wait(&pool->wait, &we, RSV_TASK_UNINTERRUPTIBLE);
	rsv_spin_unlock(&pool->lock);
	woken = rsv_schedule_timeout(POOL_WAIT_NS) != 0;
	rsv_finish_wait(&pool->wait, &we);
	t->doing = prev;
	rsv__task_stat_add(t, woken ? RSV_STAT_MEMPOOL_WAIT_WOKEN : RSV_STAT_MEMPOOL_WAIT_TIMEOUT,
			   1);
	rsv__shared_add(&rsv__mp(pool)->st_waits, 1);
	rsv__shared_add(&rsv__mp(pool)->st_wait_ns, rsv_now() - start);
}

/* The gfp the backing allocator sees on this pass. */
static rsv_gfp_t backing_gfp(struct rsv_mempool *pool, struct rsv_task *t, unsigned policy,
			     rsv_gfp_t temp)
{
	int curr = atomic_load_explicit(&pool->curr_nr, memory_order_relaxed);

	switch (policy) {
	case RSV_MEMPOOL_2016:
		return curr > 0 ? temp | RSV___GFP_NOMEMALLOC : temp;
	case RSV_MEMPOOL_MEMDIE_ONLY:
		return curr == 0 && rsv_task_is_oom_victim(t) ? temp & ~RSV___GFP_NOMEMALLOC
							      : temp;
	case RSV_MEMPOOL_NO_DIRECT_RECLAIM:
		return temp & ~(RSV___GFP_DIRECT_RECLAIM | RSV___GFP_IO);
	default:
		return temp;
	}
}

/* The gfp mempool_alloc() gives the backing allocator: never a retry or a warning, reserves
 * only as the policy allows. */
static rsv_gfp_t adjust_gfp(rsv_gfp_t gfp, unsigned policy)
{
	gfp |= RSV___GFP_NORETRY | RSV___GFP_NOWARN;
	return policy == RSV_MEMPOOL_2016 ? gfp : gfp | RSV___GFP_NOMEMALLOC;
}

/* Everything after a failed first pass (@tried), or the whole of it. */
static void *alloc_slow_body(struct rsv_mempool *pool, struct rsv_task *t, rsv_gfp_t gfp,
			     bool tried)
{
	struct rsv_pool_slot *s = rsv__pool_slot(t, pool);
	unsigned policy;
	rsv_gfp_t temp;
	bool forced;
	void *e;

	if (gfp & (RSV___GFP_ZERO | RSV___GFP_NOMEMALLOC)) {
		rsv__misuse(t->sys,
			    "rsv_mempool_alloc(\"%s\"): gfp %#x: pool elements are not "
			    "zeroed and the pool decides on __GFP_NOMEMALLOC",
			    rsv__mp(pool)->name, gfp);
		gfp &= ~(RSV___GFP_ZERO | RSV___GFP_NOMEMALLOC);
	}
	policy = rsv_policy_get(&t->sys->policy, RSV_POLICY_MEMPOOL);
	gfp = adjust_gfp(gfp, policy);
	temp = gfp & ~(RSV___GFP_DIRECT_RECLAIM | RSV___GFP_IO);
	/* fail_mempool_alloc: the backing allocator is skipped, the pool's elements are used. */
	forced = atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed) &&
		 checkers_refuse(t, gfp, RSV_FAIL_MEMPOOL_ALLOC, 1);
	if ((policy == RSV_MEMPOOL_POOL_FIRST || forced) && (e = take_from_pool(pool)))
		return handed_out(pool, s, e);
	for (;;) {
		if (!tried && !forced &&
		    (e = backing_alloc(pool, t, s, backing_gfp(pool, t, policy, temp))))
			return handed_out(pool, s, e);
		tried = false;
		rsv_spin_lock(&pool->lock);
		if (atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) > 0) {
			e = remove_element(pool);
			rsv_spin_unlock(&pool->lock);
			rsv__shared_add(&rsv__mp(pool)->st_pool, 1);
			return handed_out(pool, s, e);
		}
		if (temp != gfp) { /* now with direct reclaim and I/O allowed */
			rsv_spin_unlock(&pool->lock);
			temp = gfp;
			continue;
		}
		if (!(gfp & RSV___GFP_DIRECT_RECLAIM)) {
			rsv_spin_unlock(&pool->lock);
			errno = ENOMEM;
			return NULL;
		}
		wait_for_element(pool, t);
	}
}

/* Hocko's RFC 2/2 (throttle=less-throttle-exempt): a mempool user is on a writeout path, so
 * it allocates as PF_LESS_THROTTLE and throttle_vm_writeout() leaves it alone. */
static RSV_NOINLINE void *alloc_slow(struct rsv_mempool *pool, rsv_gfp_t gfp, bool tried)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_alloc");
	unsigned saved;
	void *e;

	if (!t)
		return NULL;
	if (rsv_likely(rsv_policy_get(&t->sys->policy, RSV_POLICY_THROTTLE) !=
		       RSV_THROTTLE_LESS_THROTTLE_EXEMPT))
		return alloc_slow_body(pool, t, gfp, tried);
	saved = rsv_memalloc_flags_save(RSV_PF_LESS_THROTTLE);
	e = alloc_slow_body(pool, t, gfp, tried);
	rsv_memalloc_flags_restore(saved);
	return e;
}

/* The backing allocator without direct reclaim or I/O, then the slow path. */
static RSV_NOINLINE void *alloc_first_pass(struct rsv_mempool *pool, struct rsv_task *t,
					   struct rsv_pool_slot *s, rsv_gfp_t gfp, unsigned policy)
{
	void *e;

	/* A poisoned cache's hit, as the inline one for the rest. */
	if (rsv__mp(pool)->backing == BACKING_SLAB &&
	    (((struct rsv_kmem_cache *)pool->pool_data)->flags & RSV_SLAB_POISON) &&
	    (e = rsv__slab_alloc_hit_poisoned(pool->pool_data, t))) {
		rsv__owner_add(&s->backing, 1);
		return handed_out(pool, s, e);
	}
	e = backing_alloc(pool, t, s,
			  backing_gfp(pool, t, policy,
				      adjust_gfp(gfp, policy) &
					      ~(RSV___GFP_DIRECT_RECLAIM | RSV___GFP_IO)));
	if (rsv_likely(e != NULL))
		return handed_out(pool, s, e);
	return alloc_slow(pool, gfp, true);
}

/* The common case, inline: a valid pool, a task with its counting slot, and a first pass
 * (no direct reclaim, no I/O) that the backing allocator serves. */
void *rsv_mempool_alloc(struct rsv_mempool *pool, rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_pool_slot *s;
	unsigned policy;
	void *e;

	if (rsv_unlikely(!t || !pool || rsv__mp(pool)->magic != RSV_MEMPOOL_MAGIC ||
			 rsv__mp(pool)->sys != t->sys) ||
	    rsv_unlikely(gfp & (RSV___GFP_ZERO | RSV___GFP_NOMEMALLOC)) ||
	    rsv_unlikely(atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed)) ||
	    rsv_unlikely(!(s = rsv__pool_slot_hit(t, pool))))
		return alloc_slow(pool, gfp, false);
	policy = rsv_policy_get(&t->sys->policy, RSV_POLICY_MEMPOOL);
	if (rsv_unlikely(policy == RSV_MEMPOOL_POOL_FIRST))
		return alloc_slow(pool, gfp, false);
	/* A slab cache's hit never reaches the page allocator: nothing to count but the hit. */
	if (rsv__mp(pool)->backing == BACKING_SLAB &&
	    rsv_likely((e = rsv__slab_alloc_hit(t, pool->pool_data)) != NULL)) {
		rsv__owner_add(&s->backing, 1);
		return handed_out(pool, s, e);
	}
	return alloc_first_pass(pool, t, s, gfp, policy); /* a tail call: the hit saves nothing */
}

void *rsv_mempool_alloc_preallocated(struct rsv_mempool *pool)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_alloc_preallocated");
	void *e;

	if (!t)
		return NULL;
	e = take_from_pool(pool);
	return e ? handed_out(pool, rsv__pool_slot(t, pool), e) : (errno = ENOMEM, NULL);
}

unsigned rsv_mempool_alloc_bulk(struct rsv_mempool *pool, void **elems, unsigned count)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_alloc_bulk");
	rsv_gfp_t fast = (RSV_GFP_KERNEL & ~(RSV___GFP_DIRECT_RECLAIM | RSV___GFP_IO)) |
			 RSV___GFP_NOMEMALLOC | RSV___GFP_NORETRY | RSV___GFP_NOWARN;

	unsigned filled = 0;
	bool forced;

	if (!t)
		return 0;
	if (count > (unsigned)pool->min_nr) {
		rsv__misuse(t->sys,
			    "rsv_mempool_alloc_bulk(\"%s\", %u): more than min_nr (%d) "
			    "could wait forever",
			    rsv__mp(pool)->name, count, pool->min_nr);
		return 0;
	}
	forced = atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed) &&
		 checkers_refuse(t, RSV_GFP_KERNEL, RSV_FAIL_MEMPOOL_ALLOC_BULK, count);
	for (;;) {
		unsigned missing = 0;

		for (unsigned i = 0; i < count; i++) {
			if (elems[i])
				continue;
			if (!forced &&
			    (elems[i] = backing_alloc(pool, t, rsv__pool_slot(t, pool), fast)))
				filled++;
			else
				missing++;
		}
		if (!missing)
			break;
		rsv_spin_lock(&pool->lock);
		if (atomic_load_explicit(&pool->curr_nr, memory_order_relaxed) >= (int)missing) {
			for (unsigned i = 0; i < count; i++)
				if (!elems[i])
					elems[i] = remove_element(pool);
			rsv_spin_unlock(&pool->lock);
			rsv__shared_add(&rsv__mp(pool)->st_pool, missing);
			filled += missing;
			break;
		}
		wait_for_element(pool, t);
	}
	count_out(pool, t, (long)filled);
	return count;
}

/* ---- free ---- */

/* Takes @e back from its holder: false (and a message) if it is not one of the pool's, or
 * it is given back twice. A task freeing the element it freed last is the cheap suspicion;
 * the element may since have come back to someone (from the pool or the backing allocator)
 * and be handed to this task to free, so the suspicion is confirmed against the pool's
 * elements. An element the backing allocator holds is that allocator's to check. */
static inline bool taken_back_as(struct rsv_mempool *pool, struct rsv_task *t, void *e,
				 bool (*in_pool_fn)(struct rsv_mempool *, const void *))
{
	const char *why = foreign_element(pool, e);
	struct rsv_pool_slot *s;

	if (rsv_likely(!why)) {
		s = rsv__pool_slot(t, pool);
		if (rsv_likely(s != NULL) &&
		    (rsv_likely(s->last_freed != e) || !in_pool_fn(pool, e))) {
			s->last_freed = e;
			rsv__owner_add(&s->out, -1);
			return true;
		}
		if (!s) {
			atomic_fetch_sub_explicit(&rsv__mp(pool)->outstanding, 1,
						  memory_order_relaxed);
			return true;
		}
		why = "freed twice (it is among the pool's elements already)";
	}
	rsv__misuse(t->sys, "rsv_mempool_free(%p, \"%s\") by task \"%s\": %s", e,
		    rsv__mp(pool)->name, t->name, why);
	return false;
}

/* The pool's lock is taken only to confirm a suspicion. */
static bool taken_back(struct rsv_mempool *pool, struct rsv_task *t, void *e)
{
	return taken_back_as(pool, t, e, in_pool);
}

static bool taken_back_locked(struct rsv_mempool *pool, struct rsv_task *t, void *e)
{
	rsv_assert_held(&pool->lock);
	return taken_back_as(pool, t, e, in_pool_locked);
}

static void wake_waiters(struct rsv_mempool *pool)
{
	if (rsv_waitqueue_active(&pool->wait))
		rsv_wake_up(&pool->wait);
}

/* pool->free(), told whether the library's own allocator took @e back: 0, or -EINVAL when
 * its checks refused it (a misuse they reported: an element freed twice that had gone back
 * there). A user's allocator answers nothing, and is taken at its word. */
static int backing_release(struct rsv_mempool *pool, void *e)
{
	if (rsv__mp(pool)->backing == BACKING_SLAB && pool->free == rsv_mempool_free_slab)
		return rsv__slab_free_checked(pool->pool_data, e, "rsv_kmem_cache_free");
	if (rsv__mp(pool)->backing == BACKING_KMALLOC && pool->free == rsv_mempool_kfree)
		return rsv__kfree(e, "rsv_kfree");
	if (rsv__mp(pool)->backing == BACKING_PAGES && pool->free == rsv_mempool_free_pages)
		return rsv_free_pages(e, (unsigned)(uintptr_t)pool->pool_data);
	pool->free(e, pool->pool_data);
	return 0;
}

/* Gives @e back to the backing allocator. If the library's own allocator refuses it, it was
 * never out: the count taken_back() lowered goes up again. */
static void backing_free(struct rsv_mempool *pool, struct rsv_task *t, void *e)
{
	struct rsv_pool_slot *s;

	if (rsv_likely(!backing_release(pool, e)))
		return;
	if ((s = rsv__pool_slot(t, pool)))
		rsv__owner_add(&s->out, 1);
	else
		rsv__shared_add(&rsv__mp(pool)->outstanding, 1);
}

static RSV_NOINLINE void free_slow(void *element, struct rsv_mempool *pool)
{
	struct rsv_task *t;
	bool refill = false, kept = false;

	if (!(t = pool_task(pool, "rsv_mempool_free")) || !taken_back(pool, t, element))
		return;
	if (rsv_unlikely(may_refill(pool))) {
		rsv_spin_lock(&pool->lock);
		if ((refill = may_refill(pool)))
			kept = add_element(pool, element);
		rsv_spin_unlock(&pool->lock);
		if (kept) {
			rsv__shared_add(&rsv__mp(pool)->st_returned, 1);
			wake_waiters(pool);
		}
		if (refill) /* kept, or already in the pool: a double free, reported */
			return;
	}
	backing_free(pool, t, element);
}

/* The common case for a slab-backed pool, inline: the pool keeps nothing back (it is full),
 * the element is the cache's (the pool's own check), and the cache takes it on a hit. */
void rsv_mempool_free(void *element, struct rsv_mempool *pool)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_kmem_cache *c;
	struct rsv_pool_slot *s;

	if (rsv_unlikely(!element))
		return;
	if (rsv_likely(t && pool && rsv__mp(pool)->magic == RSV_MEMPOOL_MAGIC &&
		       rsv__mp(pool)->sys == t->sys) &&
	    rsv__mp(pool)->backing == BACKING_SLAB && (c = pool->pool_data) &&
	    rsv_likely(rsv__slab_own_object(c, element)) &&
	    rsv_likely((s = rsv__pool_slot_hit(t, pool)) != NULL) &&
	    rsv_likely(s->last_freed != element) && rsv_likely(!may_refill(pool))) {
		s->last_freed = element;
		rsv__owner_add(&s->out, -1);
		if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
			(void)rsv__slab_free_poisoned(c, t, element, "rsv_kmem_cache_free");
		else if (!rsv__slab_free_hit(t, c, element))
			rsv_kmem_cache_free(c, element);
		return;
	}
	free_slow(element, pool);
}

unsigned rsv_mempool_free_bulk(struct rsv_mempool *pool, void **elems, unsigned count)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_free_bulk");
	unsigned kept = 0, i = 0;

	if (!t)
		return 0;
	if (may_refill(pool)) {
		rsv_spin_lock(&pool->lock);
		for (; i < count && may_refill(pool); i++)
			if (elems[i] && taken_back_locked(pool, t, elems[i]))
				kept += add_element(pool, elems[i]);
		rsv_spin_unlock(&pool->lock);
	}
	if (kept) {
		rsv__shared_add(&rsv__mp(pool)->st_returned, kept);
		wake_waiters(pool);
	}
	for (; i < count; i++)
		if (elems[i] && taken_back(pool, t, elems[i]))
			backing_free(pool, t, elems[i]);
	return kept;
}

/* mempool_free_bulk() as the kernel has it (blk-crypto's fallback frees the remainder
 * itself): every element is taken back from its holder, a prefix of them is kept while the
 * pool is short, and the count kept is returned; elems[kept..count) are the caller's to free
 * to the backing allocator. A NULL or refused element ends the prefix there, named. */
unsigned rsv_mempool_keep_bulk(struct rsv_mempool *pool, void **elems, unsigned count)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_keep_bulk");
	unsigned kept = 0, i = 0;
	bool refused = false;

	if (!t)
		return 0;
	if (may_refill(pool)) {
		rsv_spin_lock(&pool->lock);
		while (i < count && may_refill(pool)) {
			if (!elems[i] || !taken_back_locked(pool, t, elems[i])) {
				refused = true;
				break;
			}
			kept += add_element(pool, elems[i++]);
		}
		rsv_spin_unlock(&pool->lock);
	}
	if (kept) {
		rsv__shared_add(&rsv__mp(pool)->st_returned, kept);
		wake_waiters(pool);
	}
	if (refused && !elems[i])
		rsv__misuse(t->sys, "rsv_mempool_keep_bulk(\"%s\"): element %u of %u is NULL",
			    rsv__mp(pool)->name, i, count);
	/* The rest go back to the backing allocator by the caller's hand: no longer out. */
	for (i += refused; i < count; i++)
		if (elems[i])
			taken_back(pool, t, elems[i]);
	return kept;
}

/* ---- lifecycle ---- */

/* At exit no one else uses the pool, but the element array is the lock's all the same; the
 * backing allocator's free runs without it. */
static void free_elements(struct rsv_mempool *pool)
{
	for (;;) {
		void *e;

		rsv_spin_lock(&pool->lock);
		if (!atomic_load_explicit(&pool->curr_nr, memory_order_relaxed)) {
			rsv_spin_unlock(&pool->lock);
			return;
		}
		e = remove_element(pool);
		rsv_spin_unlock(&pool->lock);
		pool->free(e, pool->pool_data);
	}
}

void rsv_mempool_exit(struct rsv_mempool *pool)
{
	struct rsv_task *t;
	long out;

	if (!pool || rsv__mp(pool)->magic != RSV_MEMPOOL_MAGIC)
		return; /* a zeroed pool, as mempool_exit() allows */
	if (!(t = pool_task(pool, "rsv_mempool_exit")))
		return;
	out = rsv__pool_outstanding(pool);
	if (out)
		rsv__misuse(t->sys,
			    "mempool \"%s\" torn down by task \"%s\" with %ld elements still "
			    "out: freeing them into it later is a use after free",
			    rsv__mp(pool)->name, t->name, out);
	free_elements(pool);
	free(pool->elements);
	pool->elements = NULL;
	rsv__pool_unregister(pool);
	rsv__mp(pool)->magic = 0;
}

/* The pool belongs to @sys, named explicitly as every object of a system is; its elements are
 * preallocated in the calling task's context, which must be a task of @sys. */
int rsv_mempool_init(struct rsv_mempool *pool, struct rsv_system *sys, int min_nr,
		     rsv_mempool_alloc_t alloc, rsv_mempool_free_t free_fn, void *pool_data)
{
	struct rsv_task *t = rsv__task_current();
	int capacity = min_nr > 1 ? min_nr : 1;

	if (!t)
		return -EPERM;
	if (!pool || !sys || !alloc || !free_fn || min_nr < 0 || min_nr > RSV_MEMPOOL_MAX_MIN_NR)
		return -EINVAL;
	if (sys != t->sys) {
		rsv__misuse(t->sys, "rsv_mempool_init() by task \"%s\" for another system",
			    t->name);
		return -EINVAL;
	}
	if (alloc == rsv_mempool_alloc_slab &&
	    (!pool_data || ((struct rsv_kmem_cache *)pool_data)->sys != sys)) {
		rsv__misuse(sys,
			    "rsv_mempool_init() by task \"%s\": the slab pool's cache is "
			    "not a cache of its system",
			    t->name);
		return -EINVAL;
	}
	memset(pool, 0, sizeof(*pool));
	rsv_spin_init(&pool->lock);
	rsv_waitqueue_init(&pool->wait, "mempool");
	snprintf(rsv__mp(pool)->name, sizeof(rsv__mp(pool)->name), "mempool@%p", (void *)pool);
	rsv__mp(pool)->sys = sys;
	pool->min_nr = min_nr;
	pool->alloc = alloc;
	pool->free = free_fn;
	pool->pool_data = pool_data;
	rsv__mp(pool)->backing = (unsigned char)backing_of(pool);
	switch (backing_of(pool)) {
	case BACKING_SLAB:
		rsv__mp(pool)->elem_size = rsv_kmem_cache_size(pool_data);
		break;
	case BACKING_KMALLOC:
		rsv__mp(pool)->elem_size = (size_t)(uintptr_t)pool_data;
		if (!rsv__mp(pool)->elem_size || rsv__mp(pool)->elem_size > RSV_KMALLOC_MAX_SIZE)
			return -EINVAL; /* no element could ever be made */
		break;
	case BACKING_PAGES:
		if ((uintptr_t)pool_data > RSV_MAX_ORDER)
			return -EINVAL;
		rsv__mp(pool)->elem_size = (size_t)RSV_PAGE_SIZE << (uintptr_t)pool_data;
		break;
	default:
		break;
	}
	pool->elements = calloc((size_t)capacity, sizeof(void *));
	if (!pool->elements)
		return -ENOMEM;
	rsv__mp(pool)->magic = RSV_MEMPOOL_MAGIC;
	rsv__pool_register(pool);
	while (atomic_load(&pool->curr_nr) < capacity) {
		void *e = alloc(RSV_GFP_KERNEL, pool_data);

		if (!e) {
			free_elements(pool);
			free(pool->elements);
			rsv__pool_unregister(pool);
			rsv__mp(pool)->magic = 0;
			return -ENOMEM;
		}
		rsv_spin_lock(&pool->lock);
		add_element(pool, e);
		rsv_spin_unlock(&pool->lock);
	}
	atomic_store(&rsv__mp(pool)->low_water, capacity);
	atomic_store(&rsv__mp(pool)->grant_free_low, LONG_MAX);
	return 0;
}

struct rsv_mempool *rsv_mempool_create(struct rsv_system *sys, int min_nr,
				       rsv_mempool_alloc_t alloc, rsv_mempool_free_t free_fn,
				       void *pool_data)
{
	struct rsv_mempool *pool = calloc(1, sizeof(*pool));
	int err;

	if (!pool)
		return errno = ENOMEM, NULL;
	err = rsv_mempool_init(pool, sys, min_nr, alloc, free_fn, pool_data);
	if (err) {
		free(pool);
		errno = -err;
		return NULL;
	}
	return pool;
}

void rsv_mempool_destroy(struct rsv_mempool *pool)
{
	if (!pool)
		return;
	rsv_mempool_exit(pool);
	free(pool);
}

void rsv_mempool_set_name(struct rsv_mempool *pool, const char *name)
{
	if (pool && name)
		snprintf(rsv__mp(pool)->name, sizeof(rsv__mp(pool)->name), "%s", name);
}

/* Shrinking frees the surplus with the lock dropped around each free; growing swaps in a
 * bigger array, then refills with GFP_KERNEL until the first failure or a race. */
int rsv_mempool_resize(struct rsv_mempool *pool, int new_min_nr)
{
	struct rsv_task *t = pool_task(pool, "rsv_mempool_resize");
	void **bigger;
	long out;

	if (!t)
		return -EINVAL;
	if (new_min_nr < 0 || new_min_nr > RSV_MEMPOOL_MAX_MIN_NR)
		return -EINVAL;
	out = rsv__pool_outstanding(pool);
	if (new_min_nr < out) {
		rsv__set_error(t->sys, "rsv_mempool_resize(\"%s\", %d): %ld elements are out",
			       rsv__mp(pool)->name, new_min_nr, out);
		return -EBUSY;
	}
	rsv_spin_lock(&pool->lock);
	if (new_min_nr <= pool->min_nr) {
		while (atomic_load(&pool->curr_nr) > (new_min_nr ? new_min_nr : 1)) {
			void *e = remove_element(pool);

			rsv_spin_unlock(&pool->lock);
			pool->free(e, pool->pool_data);
			rsv_spin_lock(&pool->lock);
		}
		pool->min_nr = new_min_nr;
		rsv_spin_unlock(&pool->lock);
		return 0;
	}
	rsv_spin_unlock(&pool->lock);
	bigger = calloc((size_t)new_min_nr, sizeof(void *));
	if (!bigger)
		return -ENOMEM;
	rsv_spin_lock(&pool->lock);
	memcpy(bigger, pool->elements, (size_t)atomic_load(&pool->curr_nr) * sizeof(void *));
	free(pool->elements);
	pool->elements = bigger;
	pool->min_nr = new_min_nr;
	while (atomic_load(&pool->curr_nr) < new_min_nr) {
		void *e;

		rsv_spin_unlock(&pool->lock);
		e = pool->alloc(RSV_GFP_KERNEL, pool->pool_data);
		if (!e)
			return 0;
		rsv_spin_lock(&pool->lock);
		if (atomic_load(&pool->curr_nr) < new_min_nr) {
			add_element(pool, e);
		} else {
			rsv_spin_unlock(&pool->lock);
			pool->free(e, pool->pool_data);
			return 0;
		}
	}
	rsv_spin_unlock(&pool->lock);
	return 0;
}

int rsv_mempool_curr_nr(const struct rsv_mempool *pool) { return atomic_load(&pool->curr_nr); }
int rsv_mempool_min_nr(const struct rsv_mempool *pool) { return pool->min_nr; }

void rsv_mempool_stats(const struct rsv_mempool *pool, struct rsv_mempool_stats *out)
{
	*out = (struct rsv_mempool_stats){
		.from_backing = rsv__pool_backing((struct rsv_mempool *)pool),
		.from_pool = atomic_load(&rsv__mp(pool)->st_pool),
		.waits = atomic_load(&rsv__mp(pool)->st_waits),
		.wait_ns = atomic_load(&rsv__mp(pool)->st_wait_ns),
		.direct_reclaims = atomic_load(&rsv__mp(pool)->st_reclaims),
		.reclaim_with_elements = atomic_load(&rsv__mp(pool)->st_reclaim_with),
		.reserves_granted = atomic_load(&rsv__mp(pool)->st_grants),
		.returned_to_pool = atomic_load(&rsv__mp(pool)->st_returned),
		.low_water = atomic_load(&rsv__mp(pool)->low_water),
		.free_after_grant = atomic_load(&rsv__mp(pool)->grant_free_low) == LONG_MAX
					    ? -1
					    : atomic_load(&rsv__mp(pool)->grant_free_low),
	};
}

/* ---- backing allocators ---- */

void *rsv_mempool_alloc_slab(rsv_gfp_t gfp, void *pool_data)
{
	return rsv_kmem_cache_alloc(pool_data, gfp);
}

void rsv_mempool_free_slab(void *element, void *pool_data)
{
	rsv_kmem_cache_free(pool_data, element);
}

void *rsv_mempool_kmalloc(rsv_gfp_t gfp, void *pool_data)
{
	return rsv_kmalloc((size_t)(uintptr_t)pool_data, gfp);
}

void rsv_mempool_kfree(void *element, void *pool_data)
{
	(void)pool_data;
	rsv_kfree(element);
}

void *rsv_mempool_alloc_pages(rsv_gfp_t gfp, void *pool_data)
{
	return rsv_alloc_pages(gfp, (unsigned)(uintptr_t)pool_data);
}

void rsv_mempool_free_pages(void *element, void *pool_data)
{
	rsv_free_pages(element, (unsigned)(uintptr_t)pool_data);
}

struct rsv_mempool *rsv_mempool_create_slab_pool(struct rsv_system *sys, int min_nr,
						 struct rsv_kmem_cache *c)
{
	if (!c || c->ctor) /* the kernel's rule: an element from the pool skips the ctor */
		return errno = EINVAL, NULL;
	return rsv_mempool_create(sys, min_nr, rsv_mempool_alloc_slab, rsv_mempool_free_slab, c);
}

/* Sizes and orders no element could have are refused by rsv_mempool_init(). */
struct rsv_mempool *rsv_mempool_create_kmalloc_pool(struct rsv_system *sys, int min_nr, size_t size)
{
	return rsv_mempool_create(sys, min_nr, rsv_mempool_kmalloc, rsv_mempool_kfree,
				  (void *)(uintptr_t)size);
}

struct rsv_mempool *rsv_mempool_create_page_pool(struct rsv_system *sys, int min_nr, unsigned order)
{
	return rsv_mempool_create(sys, min_nr, rsv_mempool_alloc_pages, rsv_mempool_free_pages,
				  (void *)(uintptr_t)order);
}
