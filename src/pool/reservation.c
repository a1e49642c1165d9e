/* Reservations for critical sections (reservoir/reservation.h): Arcangeli's global pool behind a
 * semaphore and reiser4's per-thread pages, selected by policy `reservation`, and the allocator
 * hook through which a section's allocations reach them.
 *
 * Both keep their pages allocated (state ALLOC), linked through the page descriptors: to the
 * rest of the system they are pages in use, so conservation holds without a new page state.
 * Every change to the counts is under rp->lock; only per-thread lists are touched without it,
 * by their owner alone. */
#include <errno.h>
#include <stdlib.h>
#include "common/assert.h"
#include "pool/internal.h"

#define RESERVATION_MAGIC 0x72737276u
#define REFILL_WAIT_NS (100 * RSV_NSEC_PER_MSEC) /* HZ/10, as congestion_wait() */

struct rsv_reservation {
	unsigned magic;
	struct rsv_system *sys;
	unsigned long nr;
	unsigned long open; /* sections open on it; under rp->lock */
	struct rsv_list node;
};

static struct rsv_reservation_pool *rpool(const struct rsv_system *sys)
{
	return &rsv__pool_layer(sys)->reservations;
}

static unsigned mode(const struct rsv_system *sys)
{
	return rsv_policy_get(&sys->policy, RSV_POLICY_RESERVATION);
}

static void pin(struct rsv_reservation_pool *rp, long delta)
{
	rsv_assert_held(&rp->lock);
	rsv_assert(delta >= 0 || rp->pinned >= (unsigned long)-delta);
	rp->pinned += (unsigned long)delta;
	if (rp->pinned > rp->st.pinned_peak)
		rp->st.pinned_peak = rp->pinned;
}

static void list_push(struct rsv_system *sys, struct rsv_pfn_list *l, struct rsv_page *p)
{
	rsv__pfn_list_push(sys, l, rsv__pfn(sys, p));
}

static struct rsv_page *list_pop(struct rsv_system *sys, struct rsv_pfn_list *l)
{
	uint32_t pfn = l->head;

	if (pfn == RSV_NIL)
		return NULL;
	rsv__pfn_list_del(sys, l, pfn);
	return rsv__pfn_page(sys, pfn);
}

/* Waits a while for pages to come back to the buddy (wakes on frees, or times out, since
 * pages freed into a per-task cache wake nobody). */
static void wait_for_free_pages(struct rsv_system *sys)
{
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	rsv_prepare_to_wait(&sys->zone.free_wait, &we, RSV_TASK_UNINTERRUPTIBLE);
	rsv_schedule_timeout(REFILL_WAIT_NS);
	rsv_finish_wait(&sys->zone.free_wait, &we);
}

static bool fatal_signal(const struct rsv_task *t)
{
	return atomic_load_explicit(&t->fatal_signal, memory_order_relaxed);
}

/* ---- the global pool ---- */

/* An ordinary order-0 allocation that waits for memory rather than killing for it. The
 * global pool's refill runs after the section's I/O has been submitted, whose completion
 * frees pages; a per-thread reservation waits for the writeout of earlier sections. NULL
 * only for a task that has been killed. */
static struct rsv_page *wait_page(struct rsv_system *sys, struct rsv_task *t)
{
	struct rsv_reservation_pool *rp = rpool(sys);
	struct rsv_page *p;

	while (!(p = rsv_alloc_pages(RSV_GFP_KERNEL | RSV___GFP_NORETRY | RSV___GFP_NOWARN, 0))) {
		if (fatal_signal(t))
			return NULL;
		rsv_spin_lock(&rp->lock);
		rp->st.refill_waits++;
		rsv_spin_unlock(&rp->lock);
		wait_for_free_pages(sys);
	}
	return p;
}

/* Fills the pool up to its target; false if the task was killed first. */
static bool pool_fill(struct rsv_system *sys, struct rsv_task *t, bool refill)
{
	struct rsv_reservation_pool *rp = rpool(sys);

	for (;;) {
		struct rsv_page *p;

		rsv_spin_lock(&rp->lock);
		if (rp->nr >= rp->target) {
			rsv_spin_unlock(&rp->lock);
			return true;
		}
		rsv_spin_unlock(&rp->lock);
		p = refill ? wait_page(sys, t) : rsv_alloc_pages(RSV_GFP_KERNEL, 0);
		if (!p)
			return false;
		rsv_spin_lock(&rp->lock);
		list_push(sys, &rp->pages, p);
		rp->nr++;
		pin(rp, 1);
		rp->st.refill_pages += refill;
		rsv_spin_unlock(&rp->lock);
	}
}

/* Pages above the target go back (a reservation went away). */
static void pool_trim(struct rsv_system *sys)
{
	struct rsv_reservation_pool *rp = rpool(sys);
	struct rsv_pfn_list surplus = RSV_PFN_LIST_INIT;
	struct rsv_page *p;

	rsv_spin_lock(&rp->lock);
	while (rp->nr > rp->target && (p = list_pop(sys, &rp->pages))) {
		list_push(sys, &surplus, p);
		rp->nr--;
		pin(rp, -1);
	}
	rsv_spin_unlock(&rp->lock);
	while ((p = list_pop(sys, &surplus)))
		rsv_free_pages(p, 0);
}

static void pool_take(struct rsv_reservation_pool *rp, struct rsv_task *t)
{
	uint64_t t0 = 0;
	bool waited = !rsv_down_trylock(&rp->sem);

	if (waited) {
		t0 = rsv_now();
		rsv_down(&rp->sem);
	}
	rsv_spin_lock(&rp->lock);
	rp->st.sem_acquires++;
	if (waited) {
		rp->st.sem_waits++;
		rp->st.sem_wait_ns += rsv_now() - t0;
	}
	if (++rp->users > rp->st.users_peak)
		rp->st.users_peak = rp->users;
	rsv_spin_unlock(&rp->lock);
	t->reservation.flags |= RSV_TR_HOLDS;
}

static void pool_release(struct rsv_reservation_pool *rp, struct rsv_task *t)
{
	rsv_spin_lock(&rp->lock);
	rp->users--;
	rsv_spin_unlock(&rp->lock);
	t->reservation.flags &= ~RSV_TR_HOLDS;
	rsv_up(&rp->sem);
}

/* The fallback of a section whose ordinary allocation failed: once per section the task
 * queues for the semaphore, then it owns the pool until it leaves the section. A holder that
 * finds the pool empty has used more than its reservation; it waits for memory like anyone. */
static struct rsv_page *pool_alloc(struct rsv_task *t, rsv_gfp_t gfp, unsigned order)
{
	struct rsv_system *sys = t->sys;
	struct rsv_reservation_pool *rp = rpool(sys);
	bool may_sleep = gfp & RSV___GFP_DIRECT_RECLAIM;
	struct rsv_page *p;

	if (order)
		return NULL;
	if (!(t->reservation.flags & RSV_TR_HOLDS)) {
		if (!may_sleep)
			return NULL;
		pool_take(rp, t);
	}
	rsv_spin_lock(&rp->lock);
	p = list_pop(sys, &rp->pages);
	if (p) {
		rp->nr--;
		pin(rp, -1);
		rp->st.pool_allocs++;
		if (rp->target - rp->nr > rp->st.pool_used_peak)
			rp->st.pool_used_peak = rp->target - rp->nr;
	} else {
		rp->st.pool_empty++;
	}
	rsv_spin_unlock(&rp->lock);
	if (!p && may_sleep)
		wait_for_free_pages(sys);
	return p;
}

/* ---- per-thread pages ---- */

static int thread_fill(struct rsv_task *t, unsigned long want)
{
	struct rsv_reservation_pool *rp = rpool(t->sys);
	struct rsv_task_reservation *tr = &t->reservation;
	unsigned saved = tr->flags & RSV_TR_FIRST;

	tr->flags &= ~RSV_TR_FIRST; /* the top-up must come from the allocator */
	while (tr->nr < want) {
		struct rsv_page *p = wait_page(t->sys, t);

		if (!p) {
			tr->flags |= saved;
			return -ENOMEM;
		}
		list_push(t->sys, &tr->pages, p);
		tr->nr++;
		rsv_spin_lock(&rp->lock);
		pin(rp, 1);
		rp->st.thread_reserved++;
		rsv_spin_unlock(&rp->lock);
	}
	if (tr->nr)
		tr->flags |= RSV_TR_FIRST;
	return 0;
}

static struct rsv_page *thread_alloc(struct rsv_task *t, unsigned order)
{
	struct rsv_reservation_pool *rp = rpool(t->sys);
	struct rsv_task_reservation *tr = &t->reservation;
	struct rsv_page *p;

	if (order || !(p = list_pop(t->sys, &tr->pages)))
		return NULL;
	if (!--tr->nr)
		tr->flags &= ~RSV_TR_FIRST;
	rsv_spin_lock(&rp->lock);
	pin(rp, -1);
	rp->st.thread_allocs++;
	rsv_spin_unlock(&rp->lock);
	return p;
}

static void thread_release(struct rsv_task *t)
{
	struct rsv_reservation_pool *rp = rpool(t->sys);
	struct rsv_task_reservation *tr = &t->reservation;
	unsigned long n = tr->nr;
	struct rsv_page *p;

	tr->flags &= ~RSV_TR_FIRST;
	while ((p = list_pop(t->sys, &tr->pages)))
		rsv_free_pages(p, 0);
	tr->nr = tr->want = 0;
	rsv_spin_lock(&rp->lock);
	pin(rp, -(long)n);
	rp->st.thread_returned += n;
	rsv_spin_unlock(&rp->lock);
}

/* ---- the allocator's hook ---- */

struct rsv_page *rsv__reservation_alloc(struct rsv_task *t, rsv_gfp_t gfp, unsigned order,
				    enum rsv_reservation_when when)
{
	if (when == RSV_RESERVATION_FIRST)
		return thread_alloc(t, order);
	return pool_alloc(t, gfp, order);
}

/* ---- reservations ---- */

static unsigned long largest(struct rsv_reservation_pool *rp)
{
	unsigned long max = 0;
	struct rsv_list *pos;

	rsv_list_for_each(pos, &rp->reservations) {
		struct rsv_reservation *r = rsv_container_of(pos, struct rsv_reservation, node);

		if (r->nr > max)
			max = r->nr;
	}
	return max;
}

struct rsv_reservation *rsv_reservation_create(struct rsv_system *sys, unsigned long nr_pages)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_reservation_pool *rp;
	struct rsv_reservation *r;

	if (!t || !sys || t->sys != sys)
		return errno = EPERM, NULL;
	if (!nr_pages || nr_pages > RSV_RESERVATION_MAX_PAGES || nr_pages > sys->nr_pages / 4)
		return errno = EINVAL, NULL;
	if (!(r = calloc(1, sizeof(*r))))
		return errno = ENOMEM, NULL;
	*r = (struct rsv_reservation){ .magic = RESERVATION_MAGIC, .sys = sys, .nr = nr_pages };
	rp = rpool(sys);
	rsv_spin_lock(&rp->lock);
	rsv_list_add_tail(&r->node, &rp->reservations);
	rp->nr_reservations++;
	if (mode(sys) == RSV_RESERVATION_GLOBAL_POOL && nr_pages > rp->target)
		rp->target = nr_pages;
	rsv_spin_unlock(&rp->lock);
	if (mode(sys) == RSV_RESERVATION_GLOBAL_POOL && !pool_fill(sys, t, false)) {
		rsv_reservation_destroy(r);
		return errno = ENOMEM, NULL;
	}
	return r;
}

static bool valid(const struct rsv_reservation *r)
{
	return r && r->magic == RESERVATION_MAGIC;
}

int rsv_reservation_destroy(struct rsv_reservation *r)
{
	struct rsv_reservation_pool *rp;

	if (!r)
		return 0;
	if (!valid(r))
		return -EINVAL;
	rp = rpool(r->sys);
	rsv_spin_lock(&rp->lock);
	if (r->open) {
		rsv_spin_unlock(&rp->lock);
		return -EBUSY;
	}
	rsv_list_del(&r->node);
	rp->nr_reservations--;
	if (mode(r->sys) == RSV_RESERVATION_GLOBAL_POOL)
		rp->target = largest(rp);
	rsv_spin_unlock(&rp->lock);
	pool_trim(r->sys);
	r->magic = 0;
	free(r);
	return 0;
}

static struct rsv_task *section_task(const struct rsv_reservation *r)
{
	struct rsv_task *t = rsv__task_current();

	return valid(r) && t && t->sys == r->sys ? t : NULL;
}

static void open_count(struct rsv_reservation *r, long delta, bool outermost)
{
	struct rsv_reservation_pool *rp = rpool(r->sys);

	rsv_spin_lock(&rp->lock);
	r->open += delta;
	rp->st.sections += outermost;
	rsv_spin_unlock(&rp->lock);
}

int rsv_reservation_enable(struct rsv_reservation *r)
{
	struct rsv_task *t = section_task(r);
	struct rsv_task_reservation *tr;

	if (!t)
		return -EINVAL;
	tr = &t->reservation;
	if (mode(r->sys) == RSV_RESERVATION_PER_THREAD && r->nr > tr->want) {
		unsigned long old = tr->want;

		tr->want = r->nr;
		if (thread_fill(t, r->nr)) {
			tr->want = old;
			if (!tr->depth)
				thread_release(t);
			return -ENOMEM;
		}
	}
	open_count(r, 1, !tr->depth);
	if (!tr->depth++ && mode(r->sys) == RSV_RESERVATION_GLOBAL_POOL)
		tr->flags |= RSV_TR_FALLBACK;
	return 0;
}

static long open_sections(struct rsv_reservation *r)
{
	struct rsv_reservation_pool *rp = rpool(r->sys);
	long open;

	rsv_spin_lock(&rp->lock);
	open = r->open;
	rsv_spin_unlock(&rp->lock);
	return open;
}

void rsv_reservation_disable(struct rsv_reservation *r)
{
	struct rsv_task *t = section_task(r);
	struct rsv_task_reservation *tr;

	if (!t || !t->reservation.depth || !open_sections(r)) {
		struct rsv_task *caller = rsv__task_current();

		if (caller)
			rsv__misuse(caller->sys, "rsv_reservation_disable() by task \"%s\" %s",
				    caller->name, t ? "without a matching enable"
						    : "on a reservation not of its system");
		return;
	}
	tr = &t->reservation;
	open_count(r, -1, false);
	if (--tr->depth)
		return;
	/* The flag goes first: the refill must wait for memory, never dip into the pool. */
	tr->flags &= ~RSV_TR_FALLBACK;
	if (tr->flags & RSV_TR_HOLDS) {
		pool_fill(r->sys, t, true);
		pool_release(rpool(r->sys), t);
	}
	if (tr->nr)
		thread_release(t);
	tr->want = 0;
}

unsigned rsv_reservation_depth(void)
{
	struct rsv_task *t = rsv__task_current();

	return t ? t->reservation.depth : 0;
}

void rsv_reservation_stats(struct rsv_system *sys, struct rsv_reservation_stats *st)
{
	struct rsv_reservation_pool *rp = rpool(sys);

	rsv_spin_lock(&rp->lock);
	*st = rp->st;
	st->policy = mode(sys);
	st->reservations = rp->nr_reservations;
	st->pool_target = rp->target;
	st->pool_pages = rp->nr;
	st->pinned = rp->pinned;
	st->users = rp->users;
	rsv_spin_unlock(&rp->lock);
}

/* ---- the layer's housekeeping ---- */

/* A task that returns inside a section has broken the bracket: its pages go back and the
 * semaphore is released (unrefilled: nobody can allocate for a task that has gone). */
void rsv__reservation_task_exit(struct rsv_task *t)
{
	struct rsv_task_reservation *tr = &t->reservation;

	if (!tr->depth && !tr->nr)
		return;
	if (tr->depth)
		rsv__misuse(t->sys, "task \"%s\" exited inside %u reservation section(s)", t->name,
			    tr->depth);
	tr->depth = 0;
	tr->flags &= ~RSV_TR_FALLBACK;
	if (tr->nr)
		thread_release(t);
	if (tr->flags & RSV_TR_HOLDS)
		pool_release(rpool(t->sys), t);
}

static const char *list_misfit(struct rsv_system *sys, const struct rsv_pfn_list *l,
			       unsigned long nr)
{
	unsigned long n = 0;

	for (uint32_t pfn = l->head; pfn != RSV_NIL; pfn = rsv__pfn_page(sys, pfn)->next) {
		if (rsv__page_state(rsv__pfn_page(sys, pfn)) != RSV_PAGE_ALLOC)
			return "holds a page that is not allocated";
		if (++n > nr)
			break;
	}
	return n == nr ? NULL : "holds a different number of pages than it counts";
}

int rsv__reservation_check(struct rsv_system *sys)
{
	struct rsv_reservation_pool *rp = rpool(sys);
	unsigned long pinned;
	const char *why;
	struct rsv_list *pos;
	int err = 0;

	rsv_spin_lock(&rp->lock);
	pinned = rp->nr;
	if ((why = list_misfit(sys, &rp->pages, rp->nr))) {
		rsv__set_error(sys, "reservations: the global pool %s (%lu)", why, rp->nr);
		err = -EUCLEAN;
	}
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);

		pinned += t->reservation.nr;
		if (!err && (why = list_misfit(sys, &t->reservation.pages, t->reservation.nr))) {
			rsv__set_error(sys, "reservations: task \"%s\"'s list %s", t->name, why);
			err = -EUCLEAN;
		}
	}
	rsv_spin_unlock(&sys->tasks_lock);
	if (!err && pinned != rp->pinned) {
		rsv__set_error(sys, "reservations: %lu pages held back, %lu counted", pinned,
			       rp->pinned);
		err = -EUCLEAN;
	}
	rsv_spin_unlock(&rp->lock);
	return err;
}

void rsv__reservation_init(struct rsv_system *sys)
{
	struct rsv_reservation_pool *rp = rpool(sys);

	rsv_spin_init(&rp->lock);
	rsv_sema_init(&rp->sem, "reserved_pages_pool", 1);
	rsv_list_init(&rp->reservations);
	rp->pages = RSV_PFN_LIST_INIT;
}

/* At teardown the pages go with the arena; only the C heap is ours to free. */
void rsv__reservation_exit(struct rsv_system *sys)
{
	struct rsv_reservation_pool *rp = rpool(sys);
	struct rsv_list *pos, *tmp;

	rsv_list_for_each_safe(pos, tmp, &rp->reservations) {
		struct rsv_reservation *r = rsv_container_of(pos, struct rsv_reservation, node);

		r->magic = 0;
		free(r);
	}
	rsv_list_init(&rp->reservations);
}
