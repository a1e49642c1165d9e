/* Slab caches: objects of one size carved from blocks of pages, with per-task magazines.
 *
 * Fast path. Each task has, per cache, a loaded and a previous magazine (Bonwick, 2001). An
 * allocation pops from the loaded one, a free pushes onto it; when it runs out (or over), the
 * two are swapped, and only when both are exhausted does the task exchange a whole magazine
 * with the cache's depot under the cache lock: one lock round trip per magazine, never per
 * object. An object freed by another task than the one that allocated it goes into the
 * freeing task's magazine like any other; it reaches the allocating task through the depot
 * (the I/O completion pattern), and nothing is lost on the way.
 *
 * The magazines are guarded by the task's page-cache protocol (mm/pcp.c): the owner enters
 * with a plain store and a compiler fence, so a hit costs no atomic read-modify-write; a
 * drainer (shrink, destroy, the shrinker) freezes every task's caches at once, with one
 * membarrier(), and empties their magazines. An owner that finds itself frozen goes to the
 * slabs directly under the cache lock.
 *
 * Slow path. The depot keeps a few full magazines; beyond that a magazine is emptied into the
 * slabs. A slab lives on one of three lists (full, partial, empty); allocation prefers
 * partial slabs, then empty ones, then a new slab from the page allocator with the caller's
 * gfp. More than two empty slabs and the rest go back at once; the last two go through the
 * slab shrinker under memory pressure, or rsv_kmem_cache_shrink(). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "pool/internal.h"

#define MIN_EMPTY_SLABS 2
#define DEPOT_MAX_FULL 8

/* ---- slab pages ---- */

/* A per-cache key for the free-list links: the system's seed mixed with where the cache
 * lives, so that it differs between caches and, with address randomisation, between runs. It
 * never decides anything, so the simulator's runs stay the same. */
static uintptr_t link_key(const struct rsv_system *sys, const struct rsv_kmem_cache *c)
{
	uint64_t x = sys->cfg.seed ^ (uint64_t)(uintptr_t)c ^ 0x9e3779b97f4a7c15ull;

	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return (uintptr_t)(x ^ (x >> 31)) | 1;
}

/* SLAB_FREELIST_HARDENED's idea: a free object's link is stored as next ^ key ^ its own
 * address byte-swapped, so that a stray write over a free object decodes to garbage, which
 * slab_pop() refuses, rather than to an address someone chose. */
static void link_store(const struct rsv_kmem_cache *c, void *obj, const void *next)
{
	uintptr_t v = (uintptr_t)next ^ c->link_key ^ __builtin_bswap64((uintptr_t)obj);

	memcpy((char *)obj + c->link_off, &v, sizeof(v));
}

void *rsv__slab_link_load(const struct rsv_kmem_cache *c, const void *obj)
{
	uintptr_t v;

	memcpy(&v, (const char *)obj + c->link_off, sizeof(v));
	return (void *)(v ^ c->link_key ^ __builtin_bswap64((uintptr_t)obj));
}

static struct rsv_page *obj_slab(const struct rsv_kmem_cache *c, const void *obj)
{
	size_t pfn = (size_t)((const char *)obj - c->sys->arena) >> RSV_PAGE_SHIFT;

	return &c->sys->memmap[pfn & ~(((size_t)1 << c->order) - 1)];
}

static char *slab_base(const struct rsv_kmem_cache *c, const struct rsv_page *head)
{
	return rsv__page_addr(c->sys, head);
}

/* Why @obj cannot be an object of @c, or NULL. Does not look at whether it is free. */
static const char *not_an_object(const struct rsv_kmem_cache *c, const void *obj)
{
	struct rsv_page *p = rsv__addr_page(c->sys, obj);

	if (!p)
		return "not an address in the system's arena";
	if (!(rsv__page_flags(p) & RSV_PAGE_SLAB))
		return "not in a slab";
	if (p->slab_cache != c)
		return "an object of another cache";
	if (!rsv__slab_obj_aligned(c, obj) ||
	    (const char *)obj + c->stride > slab_base(c, obj_slab(c, obj)) +
						((size_t)c->objperslab * c->stride))
		return "not the start of an object";
	return NULL;
}

/* Under the cache lock: @head from the list its flags name to list @to. */
static void list_move(struct rsv_kmem_cache *c, struct rsv_page *head, unsigned to)
{
	unsigned f = rsv__page_flags(head), from = rsv__slab_list(head);
	uint32_t pfn = rsv__pfn(c->sys, head);

	rsv_assert_held(&c->lock);
	rsv_assert(from < NR_SLAB_LISTS && to < NR_SLAB_LISTS && c->nr[from] > 0);

	rsv__pfn_list_del(c->sys, &c->lists[from], pfn);
	c->nr[from]--;
	rsv__pfn_list_push(c->sys, &c->lists[to], pfn);
	c->nr[to]++;
	atomic_store_explicit(&head->flags, (uint16_t)((f & ~RSV_SLAB_LIST_MASK) |
								(to << RSV_SLAB_LIST_SHIFT)),
			      memory_order_relaxed);
}

static unsigned list_for(const struct rsv_kmem_cache *c, const struct rsv_page *head)
{
	return head->inuse == 0 ? SLAB_EMPTY : head->inuse == c->objperslab ? SLAB_FULL
									    : SLAB_PARTIAL;
}

/* A new slab, its objects threaded on its free list. Called without the cache lock: it may
 * sleep in the page allocator. */
static struct rsv_page *new_slab(struct rsv_kmem_cache *c, rsv_gfp_t gfp)
{
	struct rsv_page *head = rsv_alloc_pages((gfp & ~(RSV___GFP_ZERO | RSV___GFP_ACCOUNT)) |
						RSV___GFP_NOWARN, c->order);
	char *base, *prev = NULL;
	uint32_t pfn;

	if (!head)
		return NULL;
	pfn = rsv__pfn(c->sys, head);
	base = slab_base(c, head);
	for (unsigned i = 1; i < 1u << c->order; i++) {
		struct rsv_page *tail = rsv__pfn_page(c->sys, pfn + i);

		tail->slab_cache = c;
		atomic_store_explicit(&tail->flags, RSV_PAGE_SLAB, memory_order_relaxed);
	}
	for (unsigned i = c->objperslab; i-- > 0;) {
		char *obj = base + (size_t)i * c->stride;

		if (c->ctor)
			c->ctor(obj);
		else if (c->flags & RSV_SLAB_POISON)
			memset(obj, POISON_FREE, c->stride);
		rsv__slab_key_set(c, obj);
		link_store(c, obj, prev);
		prev = obj;
	}
	head->slab_cache = c;
	head->freelist = prev;
	head->inuse = 0;
	atomic_store_explicit(&head->flags, RSV_PAGE_SLAB | (SLAB_EMPTY << RSV_SLAB_LIST_SHIFT),
			      memory_order_relaxed);
	return head;
}

/* The slab's pages go back; the caller took it off its list. */
static void discard_slab(struct rsv_kmem_cache *c, struct rsv_page *head)
{
	uint32_t pfn = rsv__pfn(c->sys, head);

	for (unsigned i = 0; i < 1u << c->order; i++) {
		struct rsv_page *p = rsv__pfn_page(c->sys, pfn + i);

		atomic_store_explicit(&p->flags, 0, memory_order_relaxed);
		p->layer_words[0] = p->layer_words[1] = 0;
	}
	rsv_free_pages(head, c->order);
}

/* Whether @p is the start of an object of the slab at @head. */
static bool in_slab(const struct rsv_kmem_cache *c, const struct rsv_page *head, const void *p)
{
	const char *base = slab_base(c, head), *q = p;

	return q >= base && q < base + (size_t)c->objperslab * c->stride &&
	       (size_t)(q - base) % c->stride == 0;
}

/* Under the cache lock: one object out of @head. A link that decodes outside the slab means
 * a free object was written to: the rest of the slab's free list is given up (leaked, not
 * handed out twice) and the corruption reported. */
static void *slab_pop(struct rsv_kmem_cache *c, struct rsv_page *head)
{
	void *obj = head->freelist;
	void *next;

	rsv_assert_held(&c->lock);
	rsv_assert(obj && head->inuse < c->objperslab && head->slab_cache == c);
	next = rsv__slab_link_load(c, obj);

	if (next && !in_slab(c, head, next)) {
		rsv__misuse(c->sys, "cache \"%s\": free object %p was overwritten (its free-list "
			    "link is corrupt); the rest of its slab is abandoned", c->name, obj);
		head->inuse = c->objperslab - 1; /* none left to hand out */
		next = NULL;
	}
	head->freelist = next;
	head->inuse++;
	c->inuse++;
	return obj;
}

/* Under the cache lock: @obj back into its slab. An empty slab beyond the few kept is
 * returned in *@discard for the caller to free outside the lock. */
static void slab_push(struct rsv_kmem_cache *c, void *obj, struct rsv_page **discard)
{
	struct rsv_page *head = obj_slab(c, obj);
	void *next = head->freelist;

	rsv_assert_held(&c->lock);
	rsv_assert(head->inuse > 0 && c->inuse > 0 && head->slab_cache == c);
	if (c->flags & RSV_SLAB_POISON)
		memset(obj, POISON_FREE, c->stride);
	rsv__slab_key_set(c, obj);
	link_store(c, obj, next);
	head->freelist = obj;
	head->inuse--;
	c->inuse--;
	if (list_for(c, head) != rsv__slab_list(head))
		list_move(c, head, list_for(c, head));
	if (head->inuse == 0 && c->nr[SLAB_EMPTY] > MIN_EMPTY_SLABS && !*discard) {
		rsv__pfn_list_del(c->sys, &c->lists[SLAB_EMPTY], rsv__pfn(c->sys, head));
		c->nr[SLAB_EMPTY]--;
		c->slabs_freed++;
		*discard = head;
	}
}

/* Under the cache lock: up to @want objects from partial, then empty slabs. */
static unsigned take_from_slabs(struct rsv_kmem_cache *c, void **objs, unsigned want)
{
	unsigned n = 0;

	rsv_assert_held(&c->lock);
	for (unsigned l = SLAB_PARTIAL; l <= SLAB_EMPTY && n < want; l++) {
		while (n < want && c->lists[l].head != RSV_NIL) {
			struct rsv_page *head = rsv__pfn_page(c->sys, c->lists[l].head);

			while (n < want && head->inuse < c->objperslab)
				objs[n++] = slab_pop(c, head);
			list_move(c, head, list_for(c, head));
		}
	}
	return n;
}

/* Objects for a refill, a new slab if the lists are dry: at least one, or 0 if the page
 * allocator said no. May sleep. */
static unsigned refill(struct rsv_kmem_cache *c, rsv_gfp_t gfp, void **objs, unsigned want)
{
	unsigned n;

	rsv_spin_lock(&c->lock);
	n = take_from_slabs(c, objs, want);
	rsv_spin_unlock(&c->lock);
	while (!n) {
		struct rsv_page *head = new_slab(c, gfp);

		if (!head)
			return 0;
		rsv_spin_lock(&c->lock);
		rsv__pfn_list_push(c->sys, &c->lists[SLAB_EMPTY], rsv__pfn(c->sys, head));
		c->nr[SLAB_EMPTY]++;
		c->slabs_created++;
		n = take_from_slabs(c, objs, want);
		rsv_spin_unlock(&c->lock);
	}
	return n;
}

static void return_to_slabs(struct rsv_kmem_cache *c, void **objs, unsigned n)
{
	while (n) {
		struct rsv_page *discard = NULL;

		rsv_spin_lock(&c->lock);
		while (n && !discard)
			slab_push(c, objs[--n], &discard);
		rsv_spin_unlock(&c->lock);
		if (discard)
			discard_slab(c, discard);
	}
}

/* ---- magazines ---- */

static struct rsv_magazine *mag_new(const struct rsv_kmem_cache *c)
{
	struct rsv_magazine *m = malloc(sizeof(*m) + c->mag_size * sizeof(void *));

	if (m) {
		m->next = NULL;
		m->count = 0;
	}
	return m;
}

/* Under the cache lock. The list heads are stored atomically (relaxed) because load_full()
 * peeks at depot_full without the lock. */
static struct rsv_magazine *depot_get(struct rsv_kmem_cache *c, struct rsv_magazine **list,
				      unsigned *nr)
{
	struct rsv_magazine *m = *list;

	rsv_assert_held(&c->lock);
	if (m) {
		__atomic_store_n(list, m->next, __ATOMIC_RELAXED);
		(*nr)--;
	}
	return m;
}

static void depot_put(struct rsv_kmem_cache *c, struct rsv_magazine **list, unsigned *nr,
		      struct rsv_magazine *m)
{
	rsv_assert_held(&c->lock);
	m->next = *list;
	__atomic_store_n(list, m, __ATOMIC_RELAXED);
	(*nr)++;
}

/* The caller's cache for @c, made on first use; inside the protocol's section. */
static struct rsv_task_cache *task_cache_get(struct rsv_task *t, struct rsv_kmem_cache *c)
{
	struct rsv_task_caches *ts = t->slab;
	struct rsv_task_cache *tc;

	if (!ts || c->id >= ts->nr) {
		unsigned nr = c->id + 8;
		struct rsv_task_caches *bigger =
			realloc(ts, sizeof(*ts) + nr * sizeof(struct rsv_task_cache));

		if (!bigger)
			return NULL;
		if (!ts)
			bigger->kfree_guess = NULL;
		memset(&bigger->tc[ts ? bigger->nr : 0], 0,
		       (nr - (ts ? bigger->nr : 0)) * sizeof(struct rsv_task_cache));
		bigger->nr = nr;
		t->slab = ts = bigger;
	}
	tc = &ts->tc[c->id];
	if (tc->cache != c) {
		struct rsv_magazine *m = mag_new(c);

		if (!m)
			return NULL;
		memset(tc, 0, sizeof(*tc));
		tc->loaded = m;
		tc->cache = c;
	}
	return tc;
}

/* Inside the section: a full magazine for @tc, from the previous one or the depot. */
static bool load_full(struct rsv_kmem_cache *c, struct rsv_task_cache *tc)
{
	struct rsv_magazine *full;

	if (tc->prev && tc->prev->count) {
		struct rsv_magazine *m = tc->loaded;

		tc->loaded = tc->prev;
		tc->prev = m;
		return true;
	}
	if (!__atomic_load_n(&c->depot_full, __ATOMIC_RELAXED)) /* a peek: the lock decides */
		return false;
	rsv_spin_lock(&c->lock);
	full = depot_get(c, &c->depot_full, &c->nr_depot_full);
	if (full)
		depot_put(c, &c->depot_empty, &c->nr_depot_empty, tc->loaded);
	rsv_spin_unlock(&c->lock);
	if (full)
		tc->loaded = full;
	return full;
}

/* Inside the section: room in the loaded magazine, by swapping, by trading the previous
 * (full) one to the depot, or by emptying it into the slabs when the depot has enough. */
static bool make_room(struct rsv_kmem_cache *c, struct rsv_task_cache *tc)
{
	struct rsv_magazine *empty = NULL, *spill = NULL;

	if (tc->prev && tc->prev->count < c->mag_size) {
		struct rsv_magazine *m = tc->loaded;

		tc->loaded = tc->prev;
		tc->prev = m;
		return true;
	}
	rsv_spin_lock(&c->lock);
	if (tc->prev && c->nr_depot_full >= DEPOT_MAX_FULL)
		spill = tc->prev;
	else if (tc->prev)
		depot_put(c, &c->depot_full, &c->nr_depot_full, tc->prev);
	if (!spill)
		empty = depot_get(c, &c->depot_empty, &c->nr_depot_empty);
	rsv_spin_unlock(&c->lock);
	if (spill) {
		return_to_slabs(c, spill->objs, spill->count);
		spill->count = 0;
		empty = spill;
	} else if (!empty && !(empty = mag_new(c))) {
		tc->prev = NULL; /* it is in the depot */
		return false;
	}
	tc->prev = tc->loaded;
	tc->loaded = empty;
	return true;
}

/* ---- is it free? ---- */

static bool in_magazine(const struct rsv_magazine *m, const void *obj)
{
	for (unsigned i = 0; m && i < m->count; i++)
		if (m->objs[i] == obj)
			return true;
	return false;
}

/* Under the cache lock: whether @obj is on the free list of its slab @head. A corrupt link
 * ends the walk (slab_pop() reports it when it gets there). */
static bool on_free_list(const struct rsv_kmem_cache *c, const struct rsv_page *head,
			 const void *obj)
{
	unsigned left = c->objperslab - head->inuse;

	for (const void *o = head->freelist; o && left && in_slab(c, head, o); left--) {
		if (o == obj)
			return true;
		o = rsv__slab_link_load(c, o);
	}
	return false;
}

bool rsv__slab_obj_is_free(struct rsv_kmem_cache *c, const void *obj)
{
	struct rsv_system *sys = c->sys;
	bool found = false;
	struct rsv_list *pos;

	rsv_spin_lock(&sys->tasks_lock);
	rsv__pcp_freeze_all(sys);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task_caches *ts = rsv_container_of(pos, struct rsv_task, node)->slab;
		const struct rsv_task_cache *tc = ts && c->id < ts->nr ? &ts->tc[c->id] : NULL;

		if (tc && tc->cache == c &&
		    (in_magazine(tc->loaded, obj) || in_magazine(tc->prev, obj))) {
			found = true;
			break;
		}
	}
	rsv_spin_lock(&c->lock);
	for (const struct rsv_magazine *m = c->depot_full; m && !found; m = m->next)
		found = in_magazine(m, obj);
	found = found || on_free_list(c, obj_slab(c, obj), obj);
	rsv_spin_unlock(&c->lock);
	rsv__pcp_thaw_all(sys);
	rsv_spin_unlock(&sys->tasks_lock);
	return found;
}

/* Whether the object @obj of @c carries the sign of a free one: its mark, or (in a poisoned
 * cache) the free poison whole past its first word. A hint, which rsv__slab_obj_is_free()
 * confirms or refutes: a user may have written the mark's value or filled an object with
 * the poison byte. A cache of 8-byte objects without poison has no room for a sign. */
static bool looks_free(const struct rsv_kmem_cache *c, const void *obj)
{
	if (c->flags & RSV_SLAB_POISON)
		return c->stride > sizeof(void *) &&
		       rsv__slab_poison_intact(c, obj, sizeof(void *));
	return rsv__slab_key_is_set(c, obj);
}

int rsv__slab_check_live(struct rsv_kmem_cache *c, const void *obj, const char *who)
{
	const char *why = not_an_object(c, obj);
	struct rsv_task *t = rsv__task_current();

	if (!why && looks_free(c, obj) && rsv__slab_obj_is_free(c, obj))
		why = "the object is free (a use after free)";
	if (!why)
		return 0;
	rsv__misuse(c->sys, "%s(%p) by task \"%s\": %s", who, obj, t ? t->name : "?", why);
	return -EINVAL;
}

/* ---- allocation ---- */

void rsv__slab_poison_broken(struct rsv_kmem_cache *c, void *obj)
{
	rsv__misuse(c->sys, "cache \"%s\": object %p was written after it was freed", c->name,
		    obj);
}

/* In a poisoned cache an object handed out is checked and marked in use (pool/internal.h),
 * so that a free of an object still full of the free poison can only be a second free. */
static void *prepare(struct rsv_kmem_cache *c, void *obj, rsv_gfp_t gfp, size_t intact_from)
{
	if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
		rsv__slab_poison_take(c, obj, intact_from);
	rsv__slab_key_clear(c, obj);
	if (gfp & RSV___GFP_ZERO)
		memset(obj, 0, c->size);
	return obj;
}

static bool valid_cache(struct rsv_task *t, struct rsv_kmem_cache *c, const char *what)
{
	if (!t) {
		errno = EPERM;
		return false;
	}
	if (!c || c->magic != RSV_SLAB_MAGIC || c->sys != t->sys) {
		rsv__misuse(t->sys, "%s: %p is not a cache of task \"%s\"'s system", what,
			    (void *)c, t->name);
		errno = EINVAL;
		return false;
	}
	return true;
}

/* The cache lock only: for a frozen task, or when the magazines cannot be had. */
static void *alloc_direct(struct rsv_kmem_cache *c, rsv_gfp_t gfp)
{
	void *obj;

	if (!refill(c, gfp, &obj, 1))
		return errno = ENOMEM, NULL;
	return prepare(c, obj, gfp, sizeof(void *));
}

/* The checkers watching this task: might_alloc() for lockdep, then fail_slab. */
static RSV_NOINLINE bool checkers_refuse(struct rsv_kmem_cache *c, struct rsv_task *t,
					 rsv_gfp_t gfp)
{
	rsv__might_alloc(c->sys, t, gfp);
	return rsv__should_fail(c->sys, t, RSV_FAIL_SLAB, gfp, 0, c->size);
}

RSV_NOINLINE void *rsv__slab_alloc_rest(struct rsv_kmem_cache *c, struct rsv_task *t, rsv_gfp_t gfp)
{
	struct rsv_system *sys;
	struct rsv_task_cache *tc;
	void *batch[64];
	unsigned n;

	if (!valid_cache(t, c, "rsv_kmem_cache_alloc"))
		return NULL;
	sys = t->sys;
	if (rsv__gfp_invalid(gfp, 0)) {
		rsv__misuse(sys, "rsv_kmem_cache_alloc(\"%s\"): invalid gfp %#x", c->name, gfp);
		return errno = EINVAL, NULL;
	}
	if (atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed) &&
	    checkers_refuse(c, t, gfp))
		return errno = ENOMEM, NULL;
	if (!rsv__pcp_enter(sys, &t->pcp))
		return alloc_direct(c, gfp);
	tc = task_cache_get(t, c);
	if (tc && (tc->loaded->count || load_full(c, tc))) {
		void *obj = tc->loaded->objs[--tc->loaded->count];

		rsv__owner_add(&tc->allocs, 1);
		rsv__pcp_exit(sys, &t->pcp);
		return prepare(c, obj, gfp, 0);
	}
	rsv__pcp_exit(sys, &t->pcp);
	if (!tc)
		return alloc_direct(c, gfp);
	/* The refill may sleep: outside the section. */
	n = refill(c, gfp, batch, c->mag_size / 2 < 64 ? c->mag_size / 2 : 64);
	if (!n)
		return errno = ENOMEM, NULL;
	if (rsv__pcp_enter(sys, &t->pcp)) {
		tc = rsv__task_cache(t, c); /* a drain may have reset it; then it all goes back */
		while (tc && n > 1 && tc->loaded->count < c->mag_size) {
			void *obj = batch[--n];

			if (c->flags & RSV_SLAB_POISON)
				memset(obj, POISON_FREE, c->stride);
			tc->loaded->objs[tc->loaded->count++] = obj;
		}
		if (tc) {
			rsv__owner_add(&tc->allocs, 1);
			rsv__owner_add(&tc->misses, 1);
		}
		rsv__pcp_exit(sys, &t->pcp);
	}
	if (n > 1)
		return_to_slabs(c, batch + 1, n - 1);
	return prepare(c, batch[0], gfp, sizeof(void *));
}

/* A poisoned cache's hit, its poison checked as the object is handed out; out of line, with
 * a small frame, the slow path's being large. */
void *rsv__slab_alloc_hit_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t)
{
	struct rsv_task_cache *tc = rsv__task_cache_slot(t, c->id);
	void *obj;

	if (!tc || !(obj = rsv__slab_alloc_hit_cc(t, tc, c)))
		return NULL;
	rsv__slab_poison_take(c, obj, 0);
	return obj;
}

RSV_NOINLINE void *rsv__slab_alloc_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t,
					    rsv_gfp_t gfp)
{
	void *obj = rsv__slab_alloc_hit_poisoned(c, t);

	return obj ? obj : rsv__slab_alloc_rest(c, t, gfp);
}

/* The hit is rsv__slab_alloc_hit(); rsv__slab_alloc_rest() does the rest, with the full gfp check
 * (the fast path refuses only unknown bits). Every path but the hit is a tail call, so that
 * the hit saves no registers. */
void *rsv_kmem_cache_alloc(struct rsv_kmem_cache *c, rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();
	void *obj;

	if (rsv_likely(t && c) && rsv_likely(!(gfp & (RSV___GFP_ZERO | ~RSV_GFP_VALID_MASK))) &&
	    rsv_likely(!atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed))) {
		if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
			return rsv__slab_alloc_poisoned(c, t, gfp);
		if (rsv_likely((obj = rsv__slab_alloc_hit(t, c)) != NULL))
			return obj;
	}
	return rsv__slab_alloc_rest(c, t, gfp);
}

/* ---- free ---- */

/* As rsv__slab_free_hit(), with the poison: every field of the task's cache read inside the
 * section. */
static bool free_hit_poisoned(struct rsv_task *t, struct rsv_kmem_cache *c, void *obj)
{
	struct rsv_task_cache *tc = rsv__task_cache_slot(t, c->id);
	struct rsv_magazine *m;
	bool done = false;

	if (!tc)
		return false;
	/* The free poison whole: likely a second free, which the slow path makes sure of. */
	if (c->stride <= sizeof(void *) || rsv__slab_poison_intact(c, obj, sizeof(void *)))
		return false;
	if (!rsv__pcp_enter(t->sys, &t->pcp))
		return false;
	m = tc->loaded;
	if (tc->cache == c && m->count < c->mag_size && !rsv__magazine_last_is(m, obj)) {
		memset(obj, POISON_FREE, c->stride);
		m->objs[m->count++] = obj;
		rsv__owner_add(&tc->frees, 1);
		done = true;
	}
	rsv__pcp_exit(t->sys, &t->pcp);
	return done;
}

static void free_direct(struct rsv_kmem_cache *c, void *obj)
{
	return_to_slabs(c, &obj, 1);
}

/* A free into a slab with no object out is a double free; the count is the cache lock's. */
static bool slab_is_empty(struct rsv_kmem_cache *c, void *obj)
{
	bool empty;

	rsv_spin_lock(&c->lock);
	empty = obj_slab(c, obj)->inuse == 0;
	rsv_spin_unlock(&c->lock);
	return empty;
}

/* 0, or -EINVAL for a free the checks refused (reported as a misuse). */
static RSV_NOINLINE int free_slow(struct rsv_kmem_cache *c, struct rsv_task *t, void *obj,
				   const char *who)
{
	struct rsv_system *sys = t->sys;
	struct rsv_task_cache *tc;
	const char *why = not_an_object(c, obj);

	if (why) {
		rsv__misuse(sys, "%s(\"%s\", %p) by task \"%s\": %s", who, c->name, obj, t->name,
			    why);
		return -EINVAL;
	}
	if (slab_is_empty(c, obj)) {
		rsv__misuse(sys, "%s(\"%s\", %p) by task \"%s\": double free (its slab is empty)",
			    who, c->name, obj, t->name);
		return -EINVAL;
	}
	/* The free mark or the free poison says "free already"; the search says whether it is.
	 * The fast path sent every such free here. */
	if (looks_free(c, obj) && rsv__slab_obj_is_free(c, obj)) {
		rsv__misuse(sys,
			    "%s(\"%s\", %p) by task \"%s\": double free (the object is "
			    "free already)",
			    who, c->name, obj, t->name);
		return -EINVAL;
	}
	if (!rsv__pcp_enter(sys, &t->pcp)) {
		free_direct(c, obj);
		return 0;
	}
	tc = task_cache_get(t, c);
	if (tc && rsv__magazine_last_is(tc->loaded, obj)) {
		rsv__pcp_exit(sys, &t->pcp);
		rsv__misuse(sys, "%s(\"%s\", %p) by task \"%s\": double free", who, c->name, obj,
			    t->name);
		return -EINVAL;
	}
	if (tc && (tc->loaded->count < c->mag_size || make_room(c, tc))) {
		if (c->flags & RSV_SLAB_POISON)
			memset(obj, POISON_FREE, c->stride);
		rsv__slab_key_set(c, obj);
		tc->loaded->objs[tc->loaded->count++] = obj;
		rsv__owner_add(&tc->frees, 1);
		rsv__pcp_exit(sys, &t->pcp);
		return 0;
	}
	rsv__pcp_exit(sys, &t->pcp);
	free_direct(c, obj);
	return 0;
}

RSV_NOINLINE int rsv__slab_free_rest(struct rsv_kmem_cache *c, struct rsv_task *t, void *obj,
				     const char *who)
{
	if (!valid_cache(t, c, who))
		return t ? -EINVAL : -EPERM;
	return free_slow(c, t, obj, who);
}

RSV_NOINLINE int rsv__slab_free_poisoned(struct rsv_kmem_cache *c, struct rsv_task *t, void *obj,
					 const char *who)
{
	return free_hit_poisoned(t, c, obj) ? 0 : rsv__slab_free_rest(c, t, obj, who);
}

/* Every path but the hit is a tail call, so that the hit saves no registers. */
int rsv__slab_free_checked(struct rsv_kmem_cache *c, void *obj, const char *who)
{
	struct rsv_task *t = rsv__task_current();

	if (rsv_unlikely(!obj))
		return 0;
	if (rsv_likely(t && c) && rsv_likely(rsv__slab_own_object(c, obj))) {
		if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
			return rsv__slab_free_poisoned(c, t, obj, who);
		if (rsv_likely(rsv__slab_free_hit(t, c, obj)))
			return 0;
	}
	return rsv__slab_free_rest(c, t, obj, who);
}

void rsv_kmem_cache_free(struct rsv_kmem_cache *c, void *obj)
{
	(void)rsv__slab_free_checked(c, obj, "rsv_kmem_cache_free");
}

size_t rsv_kmem_cache_alloc_bulk(struct rsv_kmem_cache *c, rsv_gfp_t gfp, size_t n, void **objs)
{
	for (size_t i = 0; i < n; i++) {
		if (!(objs[i] = rsv_kmem_cache_alloc(c, gfp))) {
			rsv_kmem_cache_free_bulk(c, i, objs);
			return 0;
		}
	}
	return n;
}

void rsv_kmem_cache_free_bulk(struct rsv_kmem_cache *c, size_t n, void **objs)
{
	for (size_t i = 0; i < n; i++)
		rsv_kmem_cache_free(c, objs[i]);
}

/* ---- draining ---- */

/* Empties @tc's magazines into the slabs and frees them; @tc is frozen or the caller's. */
static void task_cache_flush(struct rsv_task_cache *tc)
{
	struct rsv_kmem_cache *c = tc->cache;

	if (!c)
		return;
	return_to_slabs(c, tc->loaded->objs, tc->loaded->count);
	free(tc->loaded);
	if (tc->prev) {
		return_to_slabs(c, tc->prev->objs, tc->prev->count);
		free(tc->prev);
	}
	rsv_spin_lock(&c->lock);
	c->exited_allocs += atomic_load(&tc->allocs);
	c->exited_frees += atomic_load(&tc->frees);
	c->exited_hits += atomic_load(&tc->allocs) - atomic_load(&tc->misses);
	rsv_spin_unlock(&c->lock);
	memset(tc, 0, sizeof(*tc));
}

/* Every task's magazines of @only (or of every cache): tasks frozen as for a page drain. */
static void drain_all_tasks(struct rsv_system *sys, struct rsv_kmem_cache *only)
{
	struct rsv_list *pos;

	rsv_spin_lock(&sys->tasks_lock);
	rsv__pcp_freeze_all(sys);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task_caches *ts = rsv_container_of(pos, struct rsv_task, node)->slab;

		for (unsigned i = 0; ts && i < ts->nr; i++)
			if (!only || ts->tc[i].cache == only)
				task_cache_flush(&ts->tc[i]);
	}
	rsv__pcp_thaw_all(sys);
	rsv_spin_unlock(&sys->tasks_lock);
}

static void depot_flush(struct rsv_kmem_cache *c)
{
	for (;;) {
		struct rsv_magazine *m;

		rsv_spin_lock(&c->lock);
		m = depot_get(c, &c->depot_full, &c->nr_depot_full);
		if (!m)
			m = depot_get(c, &c->depot_empty, &c->nr_depot_empty);
		rsv_spin_unlock(&c->lock);
		if (!m)
			return;
		return_to_slabs(c, m->objs, m->count);
		free(m);
	}
}

/* Frees up to @max pages of empty slabs; the pages freed. */
static unsigned long free_empty_slabs(struct rsv_kmem_cache *c, unsigned long max)
{
	unsigned long freed = 0;

	while (freed < max) {
		struct rsv_page *head = NULL;

		rsv_spin_lock(&c->lock);
		if (c->lists[SLAB_EMPTY].head != RSV_NIL) {
			head = rsv__pfn_page(c->sys, c->lists[SLAB_EMPTY].head);
			rsv__pfn_list_del(c->sys, &c->lists[SLAB_EMPTY], rsv__pfn(c->sys, head));
			c->nr[SLAB_EMPTY]--;
			c->slabs_freed++;
		}
		rsv_spin_unlock(&c->lock);
		if (!head)
			break;
		discard_slab(c, head);
		freed += 1ul << c->order;
	}
	return freed;
}

unsigned long rsv_kmem_cache_shrink(struct rsv_kmem_cache *c)
{
	struct rsv_task *t = rsv__task_current();

	if (!valid_cache(t, c, "rsv_kmem_cache_shrink"))
		return 0;
	drain_all_tasks(c->sys, c);
	depot_flush(c);
	return free_empty_slabs(c, ~0ul);
}

unsigned long rsv_slab_shrink_all(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = sys ? rsv__pool_layer(sys) : NULL;
	struct rsv_task *t = rsv__task_current();
	unsigned long freed = 0;
	struct rsv_list *pos;

	if (!pl || !t || t->sys != sys)
		return 0;
	drain_all_tasks(sys, NULL);
	rsv_spin_lock(&pl->lock);
	rsv_list_for_each(pos, &pl->caches) {
		struct rsv_kmem_cache *c = rsv_container_of(pos, struct rsv_kmem_cache, node);

		/* Caches are only unlinked by destroy, which takes this lock: safe to unlock. */
		rsv_spin_unlock(&pl->lock);
		depot_flush(c);
		freed += free_empty_slabs(c, ~0ul);
		rsv_spin_lock(&pl->lock);
	}
	rsv_spin_unlock(&pl->lock);
	return freed;
}

/* ---- the task's exit ---- */

void rsv__slab_task_exit(struct rsv_task *t)
{
	struct rsv_task_caches *ts = t->slab;

	if (!ts)
		return;
	/* Drainers take tasks_lock and freeze; the owner takes its own pcp lock to exclude them. */
	rsv_spin_lock(&t->pcp.lock);
	t->slab = NULL;
	rsv_spin_unlock(&t->pcp.lock);
	for (unsigned i = 0; i < ts->nr; i++)
		task_cache_flush(&ts->tc[i]);
	free(ts);
}

/* ---- caches ---- */

/* The smallest order that gives at least 4 objects (at most order 3, the per-task page
 * caches' limit) and wastes at most an eighth of the slab. */
static unsigned slab_order(size_t stride)
{
	for (unsigned o = 0; o < 3; o++) {
		size_t bytes = (size_t)RSV_PAGE_SIZE << o;

		if (bytes / stride >= 4 && bytes % stride <= bytes / 8)
			return o;
	}
	return 3;
}

static unsigned magazine_size(size_t stride)
{
	return stride <= 256 ? 64 : stride <= 1024 ? 32 : stride <= 4096 ? 16 : 8;
}

static int assign_id(struct rsv_pool_layer *pl, struct rsv_kmem_cache *c)
{
	unsigned id = 0;

	while (id < pl->nr_ids && pl->by_id[id])
		id++;
	if (id == pl->nr_ids) {
		unsigned nr = pl->nr_ids ? 2 * pl->nr_ids : 32;
		struct rsv_kmem_cache **bigger = realloc(pl->by_id, nr * sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		memset(bigger + pl->nr_ids, 0, (nr - pl->nr_ids) * sizeof(*bigger));
		pl->by_id = bigger;
		pl->nr_ids = nr;
	}
	pl->by_id[id] = c;
	c->id = id;
	return 0;
}

struct rsv_kmem_cache *rsv_kmem_cache_create(struct rsv_system *sys, const char *name,
					     size_t size, size_t align, unsigned flags,
					     void (*ctor)(void *obj))
{
	struct rsv_pool_layer *pl = sys ? rsv__pool_layer(sys) : NULL;
	struct rsv_kmem_cache *c;

	/* At least a word, as the kernel's ARCH_SLAB_MINALIGN: links, marks and poison are
	 * whole words. (A non-power of two is refused below.) */
	if (align < sizeof(void *) && !(align & (align - 1)))
		align = sizeof(void *);
	if (flags & RSV_SLAB_HWCACHE_ALIGN && align < 64)
		align = 64;
	if (!pl || !size || size > 4 * RSV_KMALLOC_MAX_CACHE_SIZE || (align & (align - 1)) ||
	    align > RSV_PAGE_SIZE || (flags & ~(RSV_SLAB_HWCACHE_ALIGN | RSV_SLAB_POISON)) ||
	    (ctor && (flags & RSV_SLAB_POISON))) {
		errno = EINVAL;
		return NULL;
	}
	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->magic = RSV_SLAB_MAGIC;
	c->sys = sys;
	c->arena = sys->arena;
	c->arena_bytes = sys->arena_bytes;
	c->memmap = sys->memmap;
	snprintf(c->name, sizeof(c->name), "%s", name ? name : "cache");
	c->size = size;
	c->align = align;
	c->stride = (size + align - 1) & ~(align - 1);
	c->flags = flags;
	if (RSV_SLAB_POISON_ALL && !ctor)
		c->flags |= RSV_SLAB_POISON;
	if (ctor) {
		/* The constructor's state must outlive a free (SLUB puts the free pointer past
		 * such objects too): the link and the mark go after the object. */
		c->link_off = (uint32_t)((size + 7) & ~(size_t)7);
		c->key_off = c->link_off + sizeof(void *);
		c->stride = (c->key_off + sizeof(void *) + align - 1) & ~(align - 1);
	} else if (!(c->flags & RSV_SLAB_POISON) && c->stride >= 2 * sizeof(void *)) {
		c->key_off = sizeof(void *); /* the first word is the link */
	}
	c->link_key = link_key(sys, c);
	c->free_key = (c->link_key * 0x9e3779b97f4a7c15ull) ^ 0x6672656564ull;
	c->ctor = ctor;
	c->order = slab_order(c->stride);
	c->objperslab = (unsigned)(((size_t)RSV_PAGE_SIZE << c->order) / c->stride);
	c->mag_size = magazine_size(c->stride);
	c->reciprocal = (uint32_t)(((1ull << 32) + c->stride - 1) / c->stride);
	c->slab_mask = (uint32_t)(((size_t)RSV_PAGE_SIZE << c->order) - 1);
	rsv_spin_init(&c->lock);
	for (int l = 0; l < NR_SLAB_LISTS; l++)
		c->lists[l] = RSV_PFN_LIST_INIT;
	rsv_spin_lock(&pl->lock);
	if (assign_id(pl, c)) {
		rsv_spin_unlock(&pl->lock);
		free(c);
		errno = ENOMEM;
		return NULL;
	}
	rsv_list_add_tail(&c->node, &pl->caches);
	rsv_spin_unlock(&pl->lock);
	return c;
}

int rsv_kmem_cache_destroy(struct rsv_kmem_cache *c)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_pool_layer *pl;

	if (!c)
		return 0;
	if (!t || t->sys != c->sys)
		return -EPERM;
	if (!valid_cache(t, c, "rsv_kmem_cache_destroy"))
		return -EINVAL;
	pl = rsv__pool_layer(c->sys);
	rsv_kmem_cache_shrink(c);
	rsv_spin_lock(&c->lock);
	if (c->inuse) {
		unsigned long inuse = c->inuse;

		rsv_spin_unlock(&c->lock);
		rsv__set_error(c->sys,
			       "rsv_kmem_cache_destroy(\"%s\"): %lu objects still allocated",
			       c->name, inuse);
		return -EBUSY;
	}
	rsv_spin_unlock(&c->lock);
	rsv_spin_lock(&pl->lock);
	rsv_list_del(&c->node);
	pl->by_id[c->id] = NULL;
	rsv_spin_unlock(&pl->lock);
	free_empty_slabs(c, ~0ul);
	c->magic = 0;
	free(c);
	return 0;
}

size_t rsv_kmem_cache_size(const struct rsv_kmem_cache *c) { return c ? c->size : 0; }
const char *rsv_kmem_cache_name(const struct rsv_kmem_cache *c) { return c ? c->name : "(null)"; }

/* ---- the slab shrinker: empty slabs under memory pressure ---- */

/* Recounted at most once a jiffy, and after every scan: a count is an estimate anyway. */
unsigned long rsv__slab_shrink_count(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct rsv_system *sys = s->private_data;
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	unsigned long pages = 0;
	uint64_t now = rsv_now();
	struct rsv_list *pos;

	(void)sc;
	if (now < atomic_load_explicit(&pl->count_until, memory_order_relaxed))
		return atomic_load_explicit(&pl->count_cached, memory_order_relaxed);
	rsv_spin_lock(&pl->lock);
	rsv_list_for_each(pos, &pl->caches) {
		struct rsv_kmem_cache *c = rsv_container_of(pos, struct rsv_kmem_cache, node);

		/* Under each cache's lock: at most once a jiffy, so exact costs little. */
		rsv_spin_lock(&c->lock);
		pages += (c->nr[SLAB_EMPTY] << c->order) +
			 ((unsigned long)c->nr_depot_full * c->mag_size / c->objperslab
			  << c->order);
		rsv_spin_unlock(&c->lock);
	}
	rsv_spin_unlock(&pl->lock);
	pages = pages ? pages : RSV_SHRINK_EMPTY;
	atomic_store_explicit(&pl->count_cached, pages, memory_order_relaxed);
	atomic_store_explicit(&pl->count_until, now + RSV_JIFFY_NS, memory_order_relaxed);
	return pages;
}

unsigned long rsv__slab_shrink_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct rsv_system *sys = s->private_data;
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	unsigned long freed = 0;
	struct rsv_list *pos;

	atomic_store_explicit(&pl->count_until, 0, memory_order_relaxed);
	rsv_spin_lock(&pl->lock);
	rsv_list_for_each(pos, &pl->caches) {
		struct rsv_kmem_cache *c = rsv_container_of(pos, struct rsv_kmem_cache, node);

		if (freed >= sc->nr_to_scan)
			break;
		rsv_spin_unlock(&pl->lock);
		depot_flush(c);
		freed += free_empty_slabs(c, sc->nr_to_scan - freed);
		rsv_spin_lock(&pl->lock);
	}
	rsv_spin_unlock(&pl->lock);
	return freed;
}

/* At system teardown, after every task has stopped: the C-heap parts of the caches and of
 * the tasks' magazines go; the slabs go with the arena. */
void rsv__slab_exit(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	struct rsv_list *pos, *tmp;

	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);
		struct rsv_task_caches *ts = t->slab;

		for (unsigned i = 0; ts && i < ts->nr; i++) {
			free(ts->tc[i].loaded);
			free(ts->tc[i].prev);
		}
		free(ts);
		t->slab = NULL;
	}
	rsv_list_for_each_safe(pos, tmp, &pl->caches) {
		struct rsv_kmem_cache *c = rsv_container_of(pos, struct rsv_kmem_cache, node);
		struct rsv_magazine *m;

		rsv_spin_lock(&c->lock); /* nobody else runs now: for the contract's sake */
		while ((m = depot_get(c, &c->depot_full, &c->nr_depot_full)))
			free(m);
		while ((m = depot_get(c, &c->depot_empty, &c->nr_depot_empty)))
			free(m);
		rsv_spin_unlock(&c->lock);
		free(c);
	}
	free(pl->by_id);
	pl->by_id = NULL;
}
