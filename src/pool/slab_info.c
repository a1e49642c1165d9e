/* What the slab caches hold: /proc/slabinfo's numbers, and the slab part of
 * rsv_system_check() (every slab's free list agrees with its count, every cached object is
 * an object of its cache, and the objects out of slabs add up). */
#include <inttypes.h>
#include <string.h>
#include "pool/internal.h"

#define FAIL(sys, ...) (rsv__set_error((sys), __VA_ARGS__), -EUCLEAN)

/* Sums what the tasks counted; racy reads of counters only their owners write. */
static void task_counts(struct rsv_kmem_cache *c, struct rsv_slabinfo *out,
			unsigned long *in_magazines)
{
	struct rsv_list *pos;

	rsv_spin_lock(&c->sys->tasks_lock);
	rsv_list_for_each(pos, &c->sys->tasks) {
		struct rsv_task_caches *ts = rsv_container_of(pos, struct rsv_task, node)->slab;
		struct rsv_task_cache *tc;

		if (!ts || c->id >= ts->nr || (tc = &ts->tc[c->id])->cache != c)
			continue;
		out->allocs += atomic_load_explicit(&tc->allocs, memory_order_relaxed);
		out->frees += atomic_load_explicit(&tc->frees, memory_order_relaxed);
		out->magazine_hits += atomic_load_explicit(&tc->allocs, memory_order_relaxed) -
				      atomic_load_explicit(&tc->misses, memory_order_relaxed);
		if (in_magazines)
			*in_magazines += tc->loaded->count + (tc->prev ? tc->prev->count : 0);
	}
	rsv_spin_unlock(&c->sys->tasks_lock);
}

static unsigned long depot_objects(const struct rsv_kmem_cache *c)
{
	unsigned long n = 0;

	for (const struct rsv_magazine *m = c->depot_full; m; m = m->next)
		n += m->count;
	for (const struct rsv_magazine *m = c->depot_empty; m; m = m->next)
		n += m->count;
	return n;
}

static void info(struct rsv_kmem_cache *c, struct rsv_slabinfo *out, unsigned long *cached)
{
	unsigned long in_magazines = 0;

	*out = (struct rsv_slabinfo){ .name = c->name, .objsize = c->stride,
				      .objperslab = c->objperslab,
				      .pagesperslab = 1u << c->order };
	task_counts(c, out, &in_magazines);
	rsv_spin_lock(&c->lock);
	out->num_slabs = c->nr[SLAB_FULL] + c->nr[SLAB_PARTIAL] + c->nr[SLAB_EMPTY];
	out->active_slabs = c->nr[SLAB_FULL] + c->nr[SLAB_PARTIAL];
	out->num_objs = out->num_slabs * c->objperslab;
	out->active_objs = c->inuse;
	in_magazines += depot_objects(c);
	out->allocated = c->inuse > in_magazines ? c->inuse - in_magazines : 0;
	out->allocs += c->exited_allocs;
	out->frees += c->exited_frees;
	out->magazine_hits += c->exited_hits;
	out->slabs_created = c->slabs_created;
	out->slabs_freed = c->slabs_freed;
	rsv_spin_unlock(&c->lock);
	if (cached)
		*cached = in_magazines;
}

void rsv_kmem_cache_info(struct rsv_kmem_cache *c, struct rsv_slabinfo *out)
{
	if (c && c->magic == RSV_SLAB_MAGIC)
		info(c, out, NULL);
	else
		*out = (struct rsv_slabinfo){ .name = "(invalid)" };
}

void rsv_slabinfo_print(struct rsv_system *sys, FILE *out, bool all)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	struct rsv_list *pos;

	fprintf(out, "# name            <active_objs> <num_objs> <objsize> <objperslab> "
		     "<pagesperslab> : slabdata <active_slabs> <num_slabs> : allocs frees hits\n");
	rsv_spin_lock(&pl->lock);
	rsv_list_for_each(pos, &pl->caches) {
		struct rsv_kmem_cache *c = rsv_container_of(pos, struct rsv_kmem_cache, node);
		struct rsv_slabinfo i;

		info(c, &i, NULL);
		if (!all && !i.num_slabs)
			continue;
		fprintf(out, "%-17s %6lu %6lu %6zu %4u %4u : slabdata %6lu %6lu : %" PRIu64
			" %" PRIu64 " %" PRIu64 "\n", i.name, i.active_objs, i.num_objs,
			i.objsize, i.objperslab, i.pagesperslab, i.active_slabs, i.num_slabs,
			i.allocs, i.frees, i.magazine_hits);
	}
	rsv_spin_unlock(&pl->lock);
}

/* ---- rsv_system_check() ---- */

static int check_slab(struct rsv_kmem_cache *c, struct rsv_page *head, unsigned list,
		      unsigned long *inuse)
{
	char *base = rsv__page_addr(c->sys, head);
	unsigned nfree = 0;

	if (rsv__page_state(head) != RSV_PAGE_ALLOC || head->order != c->order ||
	    rsv__slab_list(head) != list || head->slab_cache != c || head->inuse > c->objperslab)
		return FAIL(c->sys, "cache \"%s\": slab at page %u is malformed (state %u, order "
			    "%u, flags %#x, %u in use)", c->name, rsv__pfn(c->sys, head),
			    rsv__page_state(head), head->order, rsv__page_flags(head), head->inuse);
	for (char *obj = head->freelist; obj;) {
		if (obj < base || obj >= base + ((size_t)RSV_PAGE_SIZE << c->order) ||
		    (size_t)(obj - base) % c->stride || ++nfree > c->objperslab)
			return FAIL(c->sys,
				    "cache \"%s\": the free list of the slab at page %u is "
				    "corrupt near %p",
				    c->name, rsv__pfn(c->sys, head), (void *)obj);
		obj = rsv__slab_link_load(c, obj);
	}
	if (nfree + head->inuse != c->objperslab)
		return FAIL(c->sys, "cache \"%s\": slab at page %u has %u free and %u in use of %u",
			    c->name, rsv__pfn(c->sys, head), nfree, head->inuse, c->objperslab);
	*inuse += head->inuse;
	return 0;
}

static int check_cache(struct rsv_kmem_cache *c)
{
	unsigned long inuse = 0, cached = 0;
	struct rsv_slabinfo i;
	int err = 0;

	rsv_spin_lock(&c->lock);
	for (unsigned l = 0; l < NR_SLAB_LISTS && !err; l++) {
		unsigned long n = 0;

		for (uint32_t pfn = c->lists[l].head; pfn != RSV_NIL && !err;
		     pfn = rsv__pfn_page(c->sys, pfn)->next, n++)
			err = check_slab(c, rsv__pfn_page(c->sys, pfn), l, &inuse);
		if (!err && n != c->nr[l])
			err = FAIL(c->sys,
				   "cache \"%s\": list %u holds %lu slabs, its count says %lu",
				   c->name, l, n, c->nr[l]);
	}
	if (!err && inuse != c->inuse)
		err = FAIL(c->sys, "cache \"%s\": slabs hand out %lu objects, the cache counts %lu",
			   c->name, inuse, c->inuse);
	rsv_spin_unlock(&c->lock);
	if (err)
		return err;
	info(c, &i, &cached);
	if (cached > c->inuse)
		return FAIL(c->sys,
			    "cache \"%s\": %lu objects cached in magazines, only %lu out of "
			    "the slabs",
			    c->name, cached, c->inuse);
	return 0;
}

int rsv__slab_check(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	struct rsv_list *pos;
	int err = 0;

	rsv_spin_lock(&pl->lock);
	rsv_list_for_each(pos, &pl->caches) {
		err = check_cache(rsv_container_of(pos, struct rsv_kmem_cache, node));
		if (err)
			break;
	}
	rsv_spin_unlock(&pl->lock);
	return err;
}
