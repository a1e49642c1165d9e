/* Shrinkers: caches of upper layers offered to reclaim (the kernel's do_shrink_slab()). Each pass
 * asks a shrinker for a share of its objects that grows as priority drops and shrinks with
 * its seeks, plus what earlier passes could not do (deferred); work is done in batches, and a
 * shrinker that answers SHRINK_STOP (it cannot work in this context) has the rest deferred.
 * The core never filters by gfp: shrinkers see sc->gfp_mask and restrict themselves. */
#include "reclaim/internal.h"

#define DEFAULT_BATCH 128

int rsv_register_shrinker(struct rsv_system *sys, struct rsv_shrinker *s)
{
	struct rsv_reclaim *r;

	if (!sys || !s || !s->count_objects || !s->scan_objects)
		return -EINVAL;
	r = rsv__reclaim(sys);
	rsv_spin_lock(&r->shrinker_lock);
	if (s->registered) {
		rsv_spin_unlock(&r->shrinker_lock);
		rsv__misuse(sys, "shrinker \"%s\" registered twice", s->name ? s->name : "?");
		return -EBUSY;
	}
	atomic_init(&s->nr_deferred, 0);
	atomic_init(&s->nr_calls, 0);
	atomic_init(&s->nr_freed, 0);
	atomic_init(&s->nr_overscan, 0);
	s->registered = true;
	s->dying = false;
	s->active = 0;
	rsv_list_add_tail(&s->node, &r->shrinkers);
	rsv_spin_unlock(&r->shrinker_lock);
	return 0;
}

static bool on_list(struct rsv_reclaim *r, struct rsv_shrinker *s)
{
	struct rsv_list *pos;

	rsv_list_for_each(pos, &r->shrinkers)
		if (pos == &s->node)
			return true;
	return false;
}

static bool scans_finished(struct rsv_reclaim *r, struct rsv_shrinker *s)
{
	bool idle;

	rsv_spin_lock(&r->shrinker_lock);
	idle = !s->active;
	rsv_spin_unlock(&r->shrinker_lock);
	return idle;
}

/* Waits for scans in progress, like the kernel's shrinker refcount and completion: once this
 * returns, no reclaimer will call @s again. While the system is being destroyed no task runs
 * again, and a scan a deadlocked run left half done never finishes: nothing to wait for. */
int rsv_unregister_shrinker(struct rsv_system *sys, struct rsv_shrinker *s)
{
	struct rsv_reclaim *r;

	if (!sys || !s)
		return -EINVAL;
	r = rsv__reclaim(sys);
	rsv_spin_lock(&r->shrinker_lock);
	if (!s->registered || s->dying || !on_list(r, s)) {
		rsv_spin_unlock(&r->shrinker_lock);
		rsv__misuse(sys, "shrinker \"%s\" unregistered but not registered with this system",
			    s->name ? s->name : "?");
		return -ENOENT;
	}
	s->dying = true;
	rsv_spin_unlock(&r->shrinker_lock);
	if (!atomic_load(&sys->kthreads_stop))
		rsv_wait_event(&r->shrinker_idle, scans_finished(r, s));
	rsv_spin_lock(&r->shrinker_lock);
	rsv_list_del(&s->node);
	s->registered = false;
	rsv_spin_unlock(&r->shrinker_lock);
	return 0;
}

static unsigned long do_shrink_slab(struct rsv_system *sys, struct rsv_shrink_control *sc,
				    struct rsv_shrinker *s, int priority, bool *had_objects)
{
	long batch = s->batch ? s->batch : DEFAULT_BATCH;
	int seeks = s->seeks ? s->seeks : RSV_DEFAULT_SEEKS;
	unsigned long freeable = s->count_objects(s, sc), freed = 0, scanned = 0;
	unsigned long delta, total, nr;
	long next_deferred;

	if (!freeable || freeable == RSV_SHRINK_EMPTY)
		return 0;
	*had_objects = true;
	/* Take the deferred work for ourselves; whatever is left is put back at the end. */
	nr = (unsigned long)atomic_exchange(&s->nr_deferred, 0);
	delta = seeks ? (freeable >> priority) * 4 / (unsigned long)seeks : freeable / 2;
	total = (nr >> priority) + delta;
	if (total > freeable * 2)
		total = freeable * 2;
	while (total >= (unsigned long)batch || total >= freeable) {
		unsigned long ret,
			to_scan = total < (unsigned long)batch ? total : (unsigned long)batch;

		if (!to_scan)
			break;
		sc->nr_to_scan = to_scan;
		sc->nr_scanned = to_scan;
		atomic_fetch_add(&s->nr_calls, 1);
		ret = s->scan_objects(s, sc);
		if (ret == RSV_SHRINK_STOP)
			break;
		if (ret > to_scan) {
			/* A scan that claims to have freed more than it was asked for is a bug in
			 * the shrinker; count it and believe only the request. */
			atomic_fetch_add(&s->nr_overscan, 1);
			rsv__misuse(sys, "shrinker \"%s\" freed %lu objects when asked to scan %lu",
				    s->name ? s->name : "?", ret, to_scan);
			ret = to_scan;
		}
		freed += ret;
		/* A scan that looked at nothing would be asked again for ever (the kernel's loop
		 * has the same hole): it ends the pass, as SHRINK_STOP would. */
		if (!sc->nr_scanned && !ret)
			break;
		total -= sc->nr_scanned < total ? sc->nr_scanned : total;
		scanned += sc->nr_scanned;
		rsv_sched_point();
	}
	next_deferred = (long)(nr + delta) - (long)scanned;
	if (next_deferred > 0)
		atomic_fetch_add(&s->nr_deferred,
				 next_deferred > (long)(2 * freeable) ? (long)(2 * freeable)
								      : next_deferred);
	atomic_fetch_add(&s->nr_freed, freed);
	rsv__current_stat_add(RSV_STAT_SLABS_SCANNED, scanned);
	rsv__current_stat_add(RSV_STAT_SHRINKER_FREED, freed);
	return freed;
}

/* shrink_slab(). Shrinkers may sleep (a bufio shrinker waiting for its I/O is one of the seed
 * threads' deadlocks), so no lock is held across a call: each shrinker is pinned by a
 * reference while it runs, and several reclaimers may run the same one at once. */
unsigned long rsv__shrink_slab(struct rsv_system *sys, rsv_gfp_t gfp, int priority,
			       bool *had_objects)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	struct rsv_shrink_control sc = { .gfp_mask = gfp };
	unsigned long freed = 0;
	bool wake_idle = false;
	struct rsv_list *pos, *next;

	rsv_spin_lock(&r->shrinker_lock);
	for (pos = r->shrinkers.next; pos != &r->shrinkers; pos = next) {
		struct rsv_shrinker *s = rsv_container_of(pos, struct rsv_shrinker, node);

		if (s->dying) {
			next = pos->next;
			continue;
		}
		s->active++;
		rsv_spin_unlock(&r->shrinker_lock);
		freed += do_shrink_slab(sys, &sc, s, priority, had_objects);
		rsv_spin_lock(&r->shrinker_lock);
		/* Our reference kept @s on the list, so its successor is valid under the lock. */
		next = pos->next;
		if (!--s->active && s->dying)
			wake_idle = true;
	}
	rsv_spin_unlock(&r->shrinker_lock);
	if (wake_idle)
		rsv_wake_up_all(&r->shrinker_idle);
	return freed;
}

unsigned long rsv_shrink_slab(struct rsv_system *sys, rsv_gfp_t gfp, int priority)
{
	bool had_objects = false;

	if (!sys || priority < 0 || priority > DEF_PRIORITY || rsv_gfp_check(gfp, 0))
		return 0;
	return rsv__shrink_slab(sys, gfp, priority, &had_objects);
}
