/* Mappings: the owners of reclaimable pages. A file mapping is a page cache whose pages can be
 * dropped when clean and written back when dirty; an anonymous mapping's pages can only be
 * written to swap. Every page of a mapping is on the LRU unless a reclaimer has isolated it. */
#include <stdio.h>
#include <stdlib.h>
#include "reclaim/internal.h"

static enum rsv_lru_type lru_of(const struct rsv_mapping *m)
{
	return m->kind == RSV_MAPPING_ANON ? RSV_LRU_ANON : RSV_LRU_FILE;
}

static enum rsv_vm_counter nr_of(const struct rsv_mapping *m)
{
	return m->kind == RSV_MAPPING_ANON ? RSV_NR_ANON : RSV_NR_FILE;
}

struct rsv_mapping *rsv_mapping_create(struct rsv_system *sys, enum rsv_mapping_kind kind,
				       const char *name, struct rsv_bdev *dev, unsigned flags)
{
	struct rsv_reclaim *r;
	struct rsv_mapping *m;

	if (!sys || (kind != RSV_MAPPING_ANON && kind != RSV_MAPPING_FILE) ||
	    (flags & ~RSV_MAPPING_FS) || (dev && dev->sys != sys)) {
		errno = EINVAL;
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	r = rsv__reclaim(sys);
	m->sys = sys;
	m->kind = kind;
	snprintf(m->name, sizeof(m->name), "%s", name ? name : "mapping");
	m->dev = dev;
	m->flags = flags;
	m->owner = rsv__task_current();
	atomic_init(&m->nr_pages, 0);
	atomic_init(&m->nr_inflight, 0);
	atomic_init(&m->nr_dirty, 0);
	rsv_spin_lock(&r->objects_lock);
	rsv_list_add_tail(&m->node, &r->mappings);
	rsv_spin_unlock(&r->objects_lock);
	return m;
}

struct rsv_page *rsv_mapping_add_page(struct rsv_mapping *m, rsv_gfp_t gfp, uint64_t index)
{
	struct rsv_reclaim *r = rsv__reclaim(m->sys);
	/* The mapping charges its owner itself (anonymous pages only), not the caller. */
	struct rsv_page *p = rsv_alloc_pages(gfp & ~RSV___GFP_ACCOUNT, 0);

	if (!p)
		return NULL;
	p->mapping = m;
	p->index = index;
	if (m->kind == RSV_MAPPING_ANON && m->owner)
		p->owner = rsv_task_id(m->owner);
	rsv__page_set(p, PG_mapping | (m->kind == RSV_MAPPING_ANON ? PG_anon : 0));
	rsv_spin_lock(&r->lru_lock);
	rsv__lru_add(m->sys, p, lru_of(m));
	rsv_spin_unlock(&r->lru_lock);
	atomic_fetch_add(&m->nr_pages, 1);
	rsv__vm_add(r, nr_of(m), 1);
	if (m->kind == RSV_MAPPING_ANON && m->owner)
		atomic_fetch_add(&m->owner->rss, 1);
	return p;
}

unsigned long rsv_mapping_nr_pages(const struct rsv_mapping *m)
{
	return (unsigned long)atomic_load(&m->nr_pages);
}

static struct rsv_mapping *mapping_of(struct rsv_page *page)
{
	struct rsv_task *t = rsv__task_current();

	if (!t || !page || page < t->sys->memmap || page >= t->sys->memmap + t->sys->nr_pages ||
	    rsv__page_state(page) != RSV_PAGE_ALLOC || !(rsv__page_flags(page) & PG_mapping))
		return NULL;
	return rsv__page_mapping(page);
}

int rsv_page_mark_dirty(struct rsv_page *page)
{
	struct rsv_mapping *m = mapping_of(page);

	if (!m)
		return -EINVAL;
	if (!(rsv__page_set(page, PG_dirty) & PG_dirty)) {
		if (rsv__account_dirty(m, 1))
			rsv__wb_wakeup_delayed(m->sys);
		rsv__task_current()->nr_dirtied++;
	}
	return 0;
}

int rsv_page_touch(struct rsv_page *page)
{
	if (!mapping_of(page))
		return -EINVAL;
	rsv__page_set(page, PG_referenced);
	return 0;
}

/* A page leaves its mapping for good: off the counters, back to the allocator. The caller
 * has taken it off the LRU (or it was isolated), and it is not under writeback. */
void rsv__mapping_free_page(struct rsv_page *p)
{
	struct rsv_mapping *m = rsv__page_mapping(p);
	struct rsv_reclaim *r = rsv__reclaim(m->sys);

#ifdef RSV_DEBUG
	/* A reclaim bug, not the caller's: the device would write into a reallocated page. */
	if (rsv__page_flags(p) & (PG_writeback | PG_lru)) {
		fprintf(stderr, "reservoir: bug: page %u of mapping \"%s\" freed %s\n",
			rsv__pfn(m->sys, p), m->name,
			rsv__page_flags(p) & PG_lru ? "on the LRU" : "under writeback");
		abort();
	}
#endif
	if (rsv__page_clear(p, PG_dirty) & PG_dirty)
		rsv__account_dirty(m, -1);
	rsv__vm_add(r, nr_of(m), -1);
	atomic_fetch_sub(&m->nr_pages, 1);
	if (m->kind == RSV_MAPPING_ANON && m->owner)
		atomic_fetch_sub(&m->owner->rss, 1);
	atomic_store_explicit(&p->flags, 0, memory_order_relaxed);
	p->layer_words[0] = p->layer_words[1] = 0;
	rsv_free_pages(p, 0);
}

#define TRUNCATE_BATCH 64

/* Takes every page of @m off the LRU and frees it, a batch per pass over the list. Pages under
 * writeback, or isolated by a reclaimer, are waited for: both come back to the LRU. */
static void truncate_mapping(struct rsv_mapping *m)
{
	struct rsv_system *sys = m->sys;
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_page *victims[TRUNCATE_BATCH];

	while (atomic_load(&m->nr_pages) > 0) {
		int n = 0;

		rsv_wait_event(&r->writeback_wait, !atomic_load(&m->nr_inflight));
		rsv_spin_lock(&r->lru_lock);
		for (uint32_t pfn = r->lru[lru_of(m)].list.head;
		     pfn != RSV_NIL && n < TRUNCATE_BATCH;) {
			struct rsv_page *p = rsv__pfn_page(sys, pfn);

			pfn = p->next;
			if (rsv__page_mapping(p) == m && !(rsv__page_flags(p) & PG_writeback)) {
				rsv__lru_del(sys, p, lru_of(m));
				victims[n++] = p;
			}
		}
		rsv_spin_unlock(&r->lru_lock);
		for (int i = 0; i < n; i++)
			rsv__mapping_free_page(victims[i]);
		if (!n)
			rsv_msleep(1);
	}
}

/* exit_mmap(): a created task returned, its anonymous memory goes with it. */
void rsv__mappings_release_task(struct rsv_system *sys, struct rsv_task *t)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_list *pos;

	for (;;) {
		struct rsv_mapping *mine = NULL;

		rsv_spin_lock(&r->objects_lock);
		rsv_list_for_each(pos, &r->mappings) {
			struct rsv_mapping *m = rsv_container_of(pos, struct rsv_mapping, node);

			if (m->kind == RSV_MAPPING_ANON && m->owner == t &&
			    atomic_load(&m->nr_pages)) {
				mine = m;
				break;
			}
		}
		rsv_spin_unlock(&r->objects_lock);
		if (!mine)
			return;
		truncate_mapping(mine);
	}
}

int rsv_mapping_destroy(struct rsv_mapping *m)
{
	struct rsv_task *self = rsv__task_current();
	struct rsv_reclaim *r;

	if (!m)
		return -EINVAL;
	/* Its pages go back through the caller's page cache: only a task of the system can. */
	if (!self || self->sys != m->sys)
		return -EPERM;
	r = rsv__reclaim(m->sys);
	truncate_mapping(m);
	rsv_spin_lock(&r->objects_lock);
	rsv_list_del(&m->node);
	rsv_spin_unlock(&r->objects_lock);
	free(m);
	return 0;
}

/* At system teardown: no task runs any more, the pages go with the arena. */
void rsv__mappings_destroy_all(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_list *pos, *tmp;

	rsv_list_for_each_safe(pos, tmp, &r->mappings)
		free(rsv_container_of(pos, struct rsv_mapping, node));
	rsv_list_init(&r->mappings);
}
