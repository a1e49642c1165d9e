/* The reclaim layer's part of rsv_system_check(): every page on an LRU list is an allocated
 * page of a live mapping with the right flags, and the NR_* gauges match what the lists hold
 * (at a quiescent point no page is isolated, so the lists hold every mapping page). */
#include "reclaim/internal.h"

#define FAIL(sys, ...) (rsv__set_error((sys), __VA_ARGS__), -EUCLEAN)

struct lru_census {
	long pages, dirty, writeback;
};

static int walk_lru(struct rsv_system *sys, enum rsv_lru_type t, struct lru_census *c)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	uint32_t prev = RSV_NIL;
	unsigned long n = 0;

	for (uint32_t pfn = r->lru[t].list.head; pfn != RSV_NIL;
	     pfn = rsv__pfn_page(sys, pfn)->next) {
		struct rsv_page *p = rsv__pfn_page(sys, pfn);
		unsigned f = rsv__page_flags(p);
		struct rsv_mapping *m = rsv__page_mapping(p);

		if (pfn >= sys->nr_pages || ++n > sys->nr_pages)
			return FAIL(sys, "%s LRU is corrupt near page %u", t ? "file" : "anon",
				    pfn);
		if (rsv__page_state(p) != RSV_PAGE_ALLOC || p->order || !(f & PG_lru) ||
		    !(f & PG_mapping) || !m || p->prev != prev)
			return FAIL(sys, "page %u on the %s LRU: state %u order %u flags %#x",
				    pfn, t ? "file" : "anon", rsv__page_state(p), p->order, f);
		if ((m->kind == RSV_MAPPING_ANON) != (t == RSV_LRU_ANON) ||
		    !(f & PG_anon) != (t == RSV_LRU_FILE))
			return FAIL(sys, "page %u of mapping \"%s\" is on the wrong LRU", pfn,
				    m->name);
		c->pages++;
		c->dirty += !!(f & PG_dirty);
		c->writeback += !!(f & PG_writeback);
		prev = pfn;
	}
	if (n != rsv__lru_size(&r->lru[t]) || (r->lru[t].list.tail != prev))
		return FAIL(sys, "%s LRU holds %lu pages, its count says %lu",
			    t ? "file" : "anon", n, rsv__lru_size(&r->lru[t]));
	return 0;
}

/* The mappings' own counts (what balance_dirty_pages weighs per device) add up to the gauges. */
static int check_mappings(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	long pages = 0, dirty = 0, inflight = 0;
	struct rsv_list *pos;

	rsv_spin_lock(&r->objects_lock);
	rsv_list_for_each(pos, &r->mappings) {
		struct rsv_mapping *m = rsv_container_of(pos, struct rsv_mapping, node);

		pages += atomic_load(&m->nr_pages);
		dirty += atomic_load(&m->nr_dirty);
		inflight += atomic_load(&m->nr_inflight);
	}
	rsv_spin_unlock(&r->objects_lock);
	if (pages != rsv__vm_get(r, RSV_NR_ANON) + rsv__vm_get(r, RSV_NR_FILE) ||
	    dirty != rsv__vm_get(r, RSV_NR_DIRTY) || inflight != rsv__vm_get(r, RSV_NR_WRITEBACK))
		return FAIL(sys, "mappings count %ld pages, %ld dirty, %ld under writeback; the "
			    "gauges say %ld, %ld, %ld", pages, dirty, inflight,
			    rsv__vm_get(r, RSV_NR_ANON) + rsv__vm_get(r, RSV_NR_FILE),
			    rsv__vm_get(r, RSV_NR_DIRTY), rsv__vm_get(r, RSV_NR_WRITEBACK));
	return 0;
}

int rsv__reclaim_check(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct lru_census anon = { 0 }, file = { 0 };
	int err;

	rsv_spin_lock(&r->lru_lock);
	err = walk_lru(sys, RSV_LRU_ANON, &anon);
	if (!err)
		err = walk_lru(sys, RSV_LRU_FILE, &file);
	rsv_spin_unlock(&r->lru_lock);
	if (err)
		return err;
	if (rsv__vm_get(r, RSV_NR_ISOLATED))
		return FAIL(sys, "%ld pages isolated by reclaimers at a quiescent point",
			    rsv__vm_get(r, RSV_NR_ISOLATED));
	if (anon.pages != rsv__vm_get(r, RSV_NR_ANON) || file.pages != rsv__vm_get(r, RSV_NR_FILE))
		return FAIL(sys,
			    "LRUs hold %ld anon and %ld file pages, the counters say %ld and %ld",
			    anon.pages, file.pages, rsv__vm_get(r, RSV_NR_ANON),
			    rsv__vm_get(r, RSV_NR_FILE));
	if (anon.dirty + file.dirty != rsv__vm_get(r, RSV_NR_DIRTY))
		return FAIL(sys, "%ld dirty pages on the LRUs, NR_DIRTY says %ld",
			    anon.dirty + file.dirty, rsv__vm_get(r, RSV_NR_DIRTY));
	if (anon.writeback + file.writeback != rsv__vm_get(r, RSV_NR_WRITEBACK))
		return FAIL(sys, "%ld pages under writeback on the LRUs, NR_WRITEBACK says %ld",
			    anon.writeback + file.writeback, rsv__vm_get(r, RSV_NR_WRITEBACK));
	return check_mappings(sys);
}
