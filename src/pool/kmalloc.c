/* kmalloc: general-purpose allocation in size classes backed by slab caches, and whole pages
 * beyond the largest class. A large block's head page carries RSV_PAGE_KMALLOC and its size,
 * so that rsv_kfree() and rsv_ksize() need nothing but the address. */
#include <stdio.h>
#include <string.h>
#include "pool/internal.h"

static const unsigned class_size[] = { 8, 16, 32, 64, 96, 128, 192, 256, 512,
				       1024, 2048, 4096, 8192 };
#define NR_CLASSES (sizeof(class_size) / sizeof(class_size[0]))

/* Sizes up to 192 by eighths, the rest by powers of two. */
static const uint8_t small_index[24] = {
	0, 1, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 6, 6, 6, 6, 6, 6,
};

static unsigned size_class(size_t size)
{
	if (size <= 192)
		return small_index[(size - 1) / 8];
	if (size <= 256)
		return 7;
	return 8 + (unsigned)(64 - __builtin_clzll((unsigned long long)(size - 1))) - 9;
}

int rsv__kmalloc_init(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);

	for (unsigned i = 0; i < NR_CLASSES; i++) {
		char name[32];

		snprintf(name, sizeof(name), "kmalloc-%u%s",
			 class_size[i] >= 1024 ? class_size[i] / 1024 : class_size[i],
			 class_size[i] >= 1024 ? "k" : "");
		pl->kmalloc[i] = rsv_kmem_cache_create(sys, name, class_size[i], 0, 0, NULL);
		if (!pl->kmalloc[i])
			return -ENOMEM;
		/* The first caches of a system: class i is cache id i, which rsv_kmalloc's hit
		 * relies on to find its magazine without the cache. */
		if (pl->kmalloc[i]->id != i)
			return -EINVAL;
	}
	return 0;
}

struct rsv_kmem_cache *rsv_kmalloc_cache(struct rsv_system *sys, size_t size)
{
	if (!sys || !size || size > RSV_KMALLOC_MAX_CACHE_SIZE)
		return NULL;
	return rsv__pool_layer(sys)->kmalloc[size_class(size)];
}

/* No task, no size, or more than the largest class: out of line, in rsv_kmalloc()'s tail. */
static RSV_NOINLINE void *kmalloc_other(struct rsv_task *t, size_t size, rsv_gfp_t gfp)
{
	size_t pages;
	unsigned order;
	struct rsv_page *head;

	if (!t)
		return errno = EPERM, NULL;
	if (!size)
		return errno = EINVAL, NULL;

	/* Before any rounding: size + PAGE_SIZE - 1 wraps to a page or none near SIZE_MAX. */
	if (size > RSV_KMALLOC_MAX_SIZE) {
		rsv__misuse(t->sys,
			    "rsv_kmalloc(%zu) by task \"%s\": larger than an order-%u block", size,
			    t->name, RSV_MAX_ORDER);
		return errno = EINVAL, NULL;
	}
	pages = (size + RSV_PAGE_SIZE - 1) >> RSV_PAGE_SHIFT;
	order = pages <= 1 ? 0 : (unsigned)(64 - __builtin_clzll(pages - 1));
	head = rsv_alloc_pages(gfp, order);
	if (!head)
		return NULL;
	atomic_fetch_or_explicit(&head->flags, RSV_PAGE_KMALLOC, memory_order_relaxed);
	head->kmalloc_size = size;
	return rsv__page_addr(t->sys, head);
}

/* kmalloc's hit on the task's slot for class @idx: the cache is the one the slot names, read
 * inside the section with the magazine, so that nothing waits on the pool layer's pointer;
 * a poisoned cache's objects are left to kmalloc_miss(). */
static inline void *kmalloc_hit(struct rsv_task *t, struct rsv_task_cache *tc)
{
	struct rsv_kmem_cache *c;
	struct rsv_magazine *m;
	void *obj = NULL;

	if (rsv_unlikely(!rsv__pcp_enter(t->sys, &t->pcp)))
		return NULL;
	c = tc->cache;
	m = tc->loaded;
	if (rsv_likely(c != NULL) && rsv_likely(!(c->flags & RSV_SLAB_POISON)) &&
	    rsv_likely(m->count)) {
		obj = m->objs[--m->count];
		rsv__owner_add(&tc->allocs, 1);
	}
	rsv__pcp_exit(t->sys, &t->pcp);
	if (obj) /* a cache lives while its objects do */
		rsv__slab_key_clear(c, obj);
	return obj;
}

/* Everything after a missed hit: a poisoned cache's own hit, or the slow path. Class i is
 * cache id i (rsv__kmalloc_init()). */
static RSV_NOINLINE void *kmalloc_miss(struct rsv_task *t, unsigned idx, rsv_gfp_t gfp)
{
	struct rsv_kmem_cache *c = rsv__pool_layer(t->sys)->kmalloc[idx];

	if ((c->flags & RSV_SLAB_POISON) && !(gfp & (RSV___GFP_ZERO | ~RSV_GFP_VALID_MASK)) &&
	    !atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed))
		return rsv__slab_alloc_poisoned(c, t, gfp);
	return rsv__slab_alloc_rest(c, t, gfp);
}

void *rsv_kmalloc(size_t size, rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_task_cache *tc;
	unsigned idx;
	void *obj;

	if (rsv_unlikely(!t) || rsv_unlikely(size - 1 >= RSV_KMALLOC_MAX_CACHE_SIZE))
		return kmalloc_other(t, size, gfp);
	idx = size_class(size);
	/* With every cache poisoned, kmalloc's too, straight to the poisoned hit. */
	if (!RSV_SLAB_POISON_ALL && rsv_likely((tc = rsv__task_cache_slot(t, idx)) != NULL) &&
	    rsv_likely(!(gfp & (RSV___GFP_ZERO | ~RSV_GFP_VALID_MASK))) &&
	    rsv_likely(!atomic_load_explicit(&t->alloc_hooks, memory_order_relaxed)) &&
	    rsv_likely((obj = kmalloc_hit(t, tc)) != NULL))
		return obj;
	return kmalloc_miss(t, idx, gfp);
}

void *rsv_kzalloc(size_t size, rsv_gfp_t gfp)
{
	return rsv_kmalloc(size, gfp | RSV___GFP_ZERO);
}

void *rsv_kmalloc_array(size_t n, size_t size, rsv_gfp_t gfp)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes))
		return errno = EOVERFLOW, NULL;
	return rsv_kmalloc(bytes, gfp);
}

void *rsv_kcalloc(size_t n, size_t size, rsv_gfp_t gfp)
{
	return rsv_kmalloc_array(n, size, gfp | RSV___GFP_ZERO);
}

int rsv__kfree(const void *p, const char *who)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_page *page;
	unsigned flags;

	if (rsv_unlikely(!p))
		return 0;
	if (rsv_unlikely(!t))
		return -EPERM;
	page = rsv__addr_page(t->sys, p);
	flags = page ? rsv__page_flags(page) : 0;
	if (rsv_likely(flags & RSV_PAGE_SLAB)) {
		struct rsv_kmem_cache *c = page->slab_cache;
		struct rsv_task_caches *ts = t->slab;

		if (rsv_likely(ts != NULL)) {
			struct rsv_kmem_cache *guess = ts->kfree_guess;

			if (rsv_likely(guess == c)) {
				__asm__(""
					: "+r"(guess)); /* the guess's register, not the page's */
				c = guess;
			} else
				ts->kfree_guess = c;
		}

		if (rsv_likely(rsv__slab_obj_aligned(c, p))) {
			if (rsv_unlikely(c->flags & RSV_SLAB_POISON))
				return rsv__slab_free_poisoned(c, t, (void *)p, who);
			if (rsv_likely(rsv__slab_free_hit(t, c, (void *)p)))
				return 0;
		}
		return rsv__slab_free_rest(c, t, (void *)p, who);
	}
	if ((flags & RSV_PAGE_KMALLOC) && rsv__page_state(page) == RSV_PAGE_ALLOC &&
	    !((uintptr_t)p & (RSV_PAGE_SIZE - 1))) {
		atomic_fetch_and_explicit(&page->flags, (uint16_t)~RSV_PAGE_KMALLOC,
					  memory_order_relaxed);
		page->kmalloc_size = 0; /* the layer's words go with the layer: see extra_refs */
		return rsv_free_pages(page, page->order);
	}
	rsv__misuse(t->sys, "%s(%p) by task \"%s\": %s", who, p, t->name,
		    !page ? "not an address in the system's arena"
			  : "not a block kmalloc returned (or freed already)");
	return -EINVAL;
}

void rsv_kfree(const void *p)
{
	(void)rsv__kfree(p, "rsv_kfree");
}

size_t rsv__ksize_checked(const void *p, const char *who)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_page *page = t && p ? rsv__addr_page(t->sys, p) : NULL;
	unsigned flags = page ? rsv__page_flags(page) : 0;

	if (!t || !p)
		return 0;
	if (flags & RSV_PAGE_SLAB) {
		struct rsv_kmem_cache *c = page->slab_cache;

		return who && rsv__slab_check_live(c, p, who) ? 0 : c->size;
	}
	if ((flags & RSV_PAGE_KMALLOC) && rsv__page_state(page) == RSV_PAGE_ALLOC &&
	    !((uintptr_t)p & (RSV_PAGE_SIZE - 1)))
		return (size_t)RSV_PAGE_SIZE << page->order;
	if (who)
		rsv__misuse(t->sys, "%s(%p) by task \"%s\": %s", who, p, t->name,
			    !page ? "not an address in the system's arena"
				  : "not a block kmalloc returned (or freed already)");
	return 0;
}

size_t rsv_ksize(const void *p)
{
	return rsv__ksize_checked(p, "rsv_ksize");
}
