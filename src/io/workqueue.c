/* Workqueues: one unbound worker pool per system, its manager, its mayday timer and the
 * rescuers of RSV_WQ_MEM_RECLAIM workqueues, as kernel/workqueue.c has them (worker_thread(),
 * maybe_create_worker(), pool_mayday_timeout(), rescuer_thread(), insert_wq_barrier()),
 * reduced to one pool with no CPUs and no concurrency management: the parts that decide
 * whether work that reclaim waits for can run when memory is short.
 *
 * Locking: the pool's lock covers every list (the worklist, each workqueue's inactive list,
 * each worker's scheduled list), the counts and each item's pending bit and links. Items run,
 * workers are made and waiters are woken (a wake-up is a scheduling point on the simulator)
 * with it released. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

#define WORKER_STACK_ORDER 2 /* THREAD_SIZE, 16 KiB: the stack kthread_create() allocates */

struct wq_pool;

struct worker {
	struct rsv_list node; /* pool->workers */
	struct wq_pool *pool;
	struct rsv_task *task;
	struct rsv_page *stack;
	struct rsv_work *current_work;   /* what it runs now (pool lock) */
	struct rsv_list scheduled;       /* what it runs next, in order (pool lock) */
	struct rsv_workqueue *rescue_wq; /* a rescuer: the workqueue it rescues */
};

struct wq_pool {
	struct rsv_system_object obj; /* the system's teardown frees what is left */
	struct rsv_system *sys;
	struct rsv_spinlock lock;
	struct rsv_list worklist; /* items a worker may take, in order */
	struct rsv_list workers;  /* pool workers and rescuers */
	struct rsv_list wqs;
	unsigned nr_workers, nr_idle, nr_wqs, next_id;
	bool started;        /* its first worker and its timer exist */
	bool manager_active; /* a worker is making another */
	bool creating;       /* ...and has been since creating_since */
	uint64_t creating_since;
	struct rsv_waitqueue more_work; /* idle workers */
	struct rsv_waitqueue flushed;   /* flushers and drainers: an item finished */
	struct rsv_waitqueue mayday_wait;
	struct rsv_waitqueue rescue_wait; /* rescuers, each for its workqueue's mayday */
	struct rsv_task *mayday_timer;
	unsigned long create_failures;
};

struct rsv_workqueue {
	struct rsv_list node; /* pool->wqs */
	struct wq_pool *pool;
	char name[32];
	unsigned flags;
	int max_active;
	int nr_active;              /* items on the worklist, scheduled or running */
	unsigned long nr_in_flight; /* queued and not finished, the inactive ones too */
	struct rsv_list inactive;   /* queued past max_active */
	const char *lock_class;
	bool draining, mayday;
	struct worker *rescuer;
	struct rsv_workqueue_stats stats;
};

/* A flush's marker, run right after the item it follows (insert_wq_barrier()). */
struct wq_barrier {
	struct rsv_work work;
	struct wq_pool *pool;
	bool done; /* pool lock */
};

static struct rsv_workqueue *wq_of(const struct rsv_work *w)
{
	return atomic_load_explicit(&((struct rsv_work *)w)->wq, memory_order_acquire);
}

static bool is_barrier(const struct rsv_work *w)
{
	return w->barrier_for != NULL;
}

static struct rsv_work *first_work(struct rsv_list *head)
{
	return rsv_list_empty(head) ? NULL : rsv_container_of(head->next, struct rsv_work, entry);
}

void rsv_init_work(struct rsv_work *work, rsv_work_func_t func, const char *lock_class)
{
	memset(work, 0, sizeof(*work));
	rsv_list_init(&work->entry);
	work->func = func;
	work->lock_class = lock_class;
	atomic_init(&work->pending, false);
}

bool rsv_work_pending(const struct rsv_work *work)
{
	return atomic_load(&work->pending);
}

static struct worker *find_executing(struct wq_pool *pool, const struct rsv_work *work)
{
	struct rsv_list *pos;

	rsv_list_for_each(pos, &pool->workers) {
		struct worker *w = rsv_container_of(pos, struct worker, node);

		if (w->current_work == work)
			return w;
	}
	return NULL;
}

static struct worker *current_worker(struct wq_pool *pool)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_list *pos;

	rsv_list_for_each(pos, &pool->workers) {
		struct worker *w = rsv_container_of(pos, struct worker, node);

		if (w->task == t)
			return w;
	}
	return NULL;
}

/* Moves @work, and the barriers that follow it, from list @src to the tail of @dst. */
static void move_linked(struct rsv_work *work, struct rsv_list *src, struct rsv_list *dst)
{
	struct rsv_list *next = work->entry.next;

	rsv_list_del(&work->entry);
	rsv_list_add_tail(&work->entry, dst);
	while (next != src) {
		struct rsv_work *b = rsv_container_of(next, struct rsv_work, entry);

		if (b->barrier_for != work)
			break;
		next = next->next;
		rsv_list_del(&b->entry);
		rsv_list_add_tail(&b->entry, dst);
	}
}

/* pwq_activate_first_inactive(): barriers at the head go along; then one item, if
 * max_active allows. True if the worklist gained something: the caller wakes the idle
 * workers once it has dropped the lock. */
static bool activate_inactive(struct wq_pool *pool, struct rsv_workqueue *wq)
{
	struct rsv_work *w;
	bool moved = false;

	while ((w = first_work(&wq->inactive)) && is_barrier(w)) {
		move_linked(w, &wq->inactive, &pool->worklist);
		moved = true;
	}
	if (!w || wq->nr_active >= wq->max_active)
		return moved;
	wq->nr_active++;
	move_linked(w, &wq->inactive, &pool->worklist);
	return true;
}

bool rsv_queue_work(struct rsv_workqueue *wq, struct rsv_work *work)
{
	struct wq_pool *pool = wq->pool;
	struct worker *self;
	bool wake_workers, wake_timer;

	rsv_spin_lock(&pool->lock);
	if (atomic_load(&work->pending)) {
		rsv_spin_unlock(&pool->lock);
		return false;
	}
	/* __queue_work(): while draining, only the workqueue's own items may queue on it. */
	if (wq->draining && (!(self = current_worker(pool)) || !self->current_work ||
			     wq_of(self->current_work) != wq)) {
		rsv_spin_unlock(&pool->lock);
		rsv__misuse(pool->sys,
			    "queue_work() on workqueue \"%s\" while it is drained or "
			    "destroyed",
			    wq->name);
		return false;
	}
	atomic_store(&work->pending, true);
	atomic_store_explicit(&work->wq, wq, memory_order_release);
	work->barrier_for = NULL;
	wq->nr_in_flight++;
	rsv_list_add_tail(&work->entry, &wq->inactive);
	wake_workers = activate_inactive(pool, wq);
	/* A rescuer's workqueue with work while a worker is being made: the timer may act. */
	wake_timer = pool->creating && wq->rescuer;
	rsv_spin_unlock(&pool->lock);
	if (wake_workers)
		rsv_wake_up_all(&pool->more_work);
	if (wake_timer)
		rsv_wake_up_all(&pool->mayday_wait);
	return true;
}

/* process_one_work(): with the lock held, released around the function. The item may free
 * or requeue itself, so nothing of it is read once its function has run. */
static void process_one(struct worker *w, struct rsv_work *work)
{
	struct wq_pool *pool = w->pool;
	struct rsv_workqueue *wq = wq_of(work);
	bool barrier = is_barrier(work);
	const char *wq_class = barrier ? NULL : wq->lock_class, *cls = work->lock_class;

	rsv_list_del(&work->entry);
	w->current_work = work;
	if (!barrier)
		atomic_store(&work->pending, false);
	rsv_spin_unlock(&pool->lock);
	rsv_lockdep_acquire(pool->sys, wq_class);
	rsv_lockdep_acquire(pool->sys, cls);
	work->func(work);
	rsv_lockdep_release(pool->sys, cls);
	rsv_lockdep_release(pool->sys, wq_class);
	rsv_spin_lock(&pool->lock);
	w->current_work = NULL;
	if (!barrier) {
		bool more;

		if (w->rescue_wq)
			wq->stats.rescued++;
		else
			wq->stats.executed++;
		wq->nr_active--;
		wq->nr_in_flight--;
		more = activate_inactive(pool, wq);
		rsv_spin_unlock(&pool->lock);
		if (more)
			rsv_wake_up_all(&pool->more_work);
		rsv_wake_up_all(&pool->flushed);
		rsv_spin_lock(&pool->lock);
	}
}

static void run_scheduled(struct worker *w)
{
	struct rsv_work *work;

	while ((work = first_work(&w->scheduled)))
		process_one(w, work);
}

/* Takes @work (and its barriers) off the worklist for @w, or for the worker already running
 * it, which runs it next: an item never runs twice at once. */
static void claim(struct worker *w, struct rsv_work *work)
{
	struct worker *other = is_barrier(work) ? NULL : find_executing(w->pool, work);

	move_linked(work, &w->pool->worklist, other ? &other->scheduled : &w->scheduled);
}

static struct worker *create_worker(struct wq_pool *pool, struct rsv_workqueue *rescue_wq);

static bool pool_has_work(struct wq_pool *pool)
{
	bool any;

	rsv_spin_lock(&pool->lock);
	any = !rsv_list_empty(&pool->worklist);
	rsv_spin_unlock(&pool->lock);
	return any || rsv_kthread_should_stop();
}

/* maybe_create_worker(): while work waits and no worker is idle, make one; the mayday timer
 * watches how long that takes. A failed attempt waits CREATE_COOLDOWN before the next. */
static void manage(struct worker *w)
{
	struct wq_pool *pool = w->pool;

	pool->manager_active = true;
	while (!rsv_list_empty(&pool->worklist) && pool->nr_idle == 0 &&
	       !rsv_kthread_should_stop()) {
		bool arm = !pool->creating;

		if (arm) { /* the timer is armed once, as mod_timer() before the loop */
			pool->creating = true;
			pool->creating_since = rsv_now();
		}
		rsv_spin_unlock(&pool->lock);
		if (arm)
			rsv_wake_up_all(&pool->mayday_wait);
		if (!create_worker(pool, NULL)) {
			rsv_spin_lock(&pool->lock);
			pool->create_failures++;
			rsv_spin_unlock(&pool->lock);
			rsv_sleep_ns(RSV_WQ_CREATE_COOLDOWN_NS);
			rsv_spin_lock(&pool->lock);
			continue;
		}
		rsv_spin_lock(&pool->lock);
	}
	if (pool->creating) { /* del_timer() */
		pool->creating = false;
		rsv_spin_unlock(&pool->lock);
		rsv_wake_up_all(&pool->mayday_wait);
		rsv_spin_lock(&pool->lock);
	}
	pool->manager_active = false;
}

/* worker_thread(): idle until there is work; before taking any, make sure another worker is
 * idle (else make one), so that this one may block in its item. */
static int worker_thread(void *arg)
{
	struct worker *w = arg;
	struct wq_pool *pool = w->pool;

	rsv_task_set_flags(RSV_PF_WQ_WORKER, 0);
	rsv_spin_lock(&pool->lock);
	w->task = rsv__task_current();
	for (;;) {
		if (rsv_list_empty(&pool->worklist)) {
			if (rsv_kthread_should_stop())
				break;
			rsv_spin_unlock(&pool->lock);
			rsv_wait_event(&pool->more_work, pool_has_work(pool));
			rsv_spin_lock(&pool->lock);
			continue;
		}
		pool->nr_idle--;
		if (pool->nr_idle == 0 && !pool->manager_active)
			manage(w);
		while (!rsv_list_empty(&pool->worklist)) {
			claim(w, first_work(&pool->worklist));
			run_scheduled(w);
		}
		pool->nr_idle++;
	}
	rsv_spin_unlock(&pool->lock);
	return 0;
}

static bool rescue_asked(struct rsv_workqueue *wq)
{
	bool asked;

	rsv_spin_lock(&wq->pool->lock);
	asked = wq->mayday;
	rsv_spin_unlock(&wq->pool->lock);
	return asked || rsv_kthread_should_stop();
}

/* rescuer_thread(): called by the mayday timer, runs its workqueue's items off the worklist
 * itself, with the memory it was given when the workqueue was made. */
static int rescuer_thread(void *arg)
{
	struct worker *r = arg;
	struct rsv_workqueue *wq = r->rescue_wq;
	struct wq_pool *pool = r->pool;

	rsv_task_set_flags(RSV_PF_WQ_WORKER, 0);
	rsv_spin_lock(&pool->lock);
	r->task = rsv__task_current();
	rsv_spin_unlock(&pool->lock);
	for (;;) {
		rsv_wait_event(&pool->rescue_wait, rescue_asked(wq));
		rsv_spin_lock(&pool->lock);
		if (!wq->mayday) {
			rsv_spin_unlock(&pool->lock);
			if (rsv_kthread_should_stop())
				return 0;
			continue;
		}
		wq->mayday = false;
		for (;;) {
			struct rsv_work *work = NULL;
			struct rsv_list *pos;

			rsv_list_for_each(pos, &pool->worklist) {
				struct rsv_work *x = rsv_container_of(pos, struct rsv_work, entry);

				if (wq_of(x) == wq && !is_barrier(x)) {
					work = x;
					break;
				}
			}
			if (!work)
				break;
			claim(r, work);
		}
		run_scheduled(r);
		rsv_spin_unlock(&pool->lock);
	}
}

/* send_mayday(): every rescuer whose workqueue has items waiting. How many were called. */
static unsigned send_mayday(struct wq_pool *pool)
{
	unsigned called = 0;
	struct rsv_list *pos, *p;

	rsv_list_for_each(pos, &pool->wqs) {
		struct rsv_workqueue *wq = rsv_container_of(pos, struct rsv_workqueue, node);

		if (!wq->rescuer)
			continue;
		rsv_list_for_each(p, &pool->worklist) {
			if (wq_of(rsv_container_of(p, struct rsv_work, entry)) == wq) {
				wq->mayday = true;
				wq->stats.maydays++;
				called++;
				break;
			}
		}
	}
	return called;
}

/* Sleeping, the timer waits for a rescuer's workqueue to have work while a worker is still
 * in the making, or for the making to end. */
static bool rescuable_or_done(struct wq_pool *pool)
{
	bool wake = !pool->creating;
	struct rsv_list *p;

	rsv_list_for_each(p, &pool->worklist)
		wake = wake || wq_of(rsv_container_of(p, struct rsv_work, entry))->rescuer;
	return wake;
}

static bool rescuable_or_done_or_stop(struct wq_pool *pool)
{
	bool wake;

	rsv_spin_lock(&pool->lock);
	wake = rescuable_or_done(pool);
	rsv_spin_unlock(&pool->lock);
	return wake || rsv_kthread_should_stop();
}

static bool creating_or_stop(struct wq_pool *pool)
{
	bool c;

	rsv_spin_lock(&pool->lock);
	c = pool->creating;
	rsv_spin_unlock(&pool->lock);
	return c || rsv_kthread_should_stop();
}

/* pool_mayday_timeout(): once a worker has been in the making for MAYDAY_INITIAL_TIMEOUT,
 * call the rescuers, and again every MAYDAY_INTERVAL while it still is and they have work. It
 * sleeps without a timeout when there is nothing to rescue, so that a pool stuck for good
 * with no rescuer to call is a deadlock the simulator sees, not a timer that never ends. */
static int mayday_timer(void *arg)
{
	struct wq_pool *pool = arg;

	for (;;) {
		uint64_t since, now;
		unsigned called;

		rsv_wait_event(&pool->mayday_wait, creating_or_stop(pool));
		if (rsv_kthread_should_stop())
			return 0;
		rsv_spin_lock(&pool->lock);
		since = pool->creating_since;
		rsv_spin_unlock(&pool->lock);
		now = rsv_now();
		if (now - since < RSV_WQ_MAYDAY_INITIAL_NS)
			rsv_sleep_ns(RSV_WQ_MAYDAY_INITIAL_NS - (now - since));
		rsv_spin_lock(&pool->lock);
		if (!pool->creating ||
		    rsv_now() - pool->creating_since < RSV_WQ_MAYDAY_INITIAL_NS) {
			rsv_spin_unlock(&pool->lock);
			continue;
		}
		called = send_mayday(pool);
		rsv_spin_unlock(&pool->lock);
		if (called) {
			rsv_wake_up_all(&pool->rescue_wait);
			rsv_sleep_ns(RSV_WQ_MAYDAY_INTERVAL_NS);
		} else
			rsv_wait_event(&pool->mayday_wait, rescuable_or_done_or_stop(pool));
	}
}

/* create_worker(): a worker and its stack, GFP_KERNEL, by the calling task (the manager, or
 * the caller of rsv_alloc_workqueue() for the first worker and for a rescuer). It counts as
 * idle from the start, so that it is never counted out before it is counted in. */
static struct worker *create_worker(struct wq_pool *pool, struct rsv_workqueue *rescue_wq)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct rsv_task *t;
	char name[32];
	unsigned id;

	if (!w)
		return NULL;
	w->stack = rsv_alloc_pages(RSV_GFP_KERNEL, WORKER_STACK_ORDER);
	if (!w->stack) {
		free(w);
		return NULL;
	}
	w->pool = pool;
	w->rescue_wq = rescue_wq;
	rsv_list_init(&w->scheduled);
	rsv_spin_lock(&pool->lock);
	id = ++pool->next_id;
	rsv_list_add_tail(&w->node, &pool->workers);
	if (!rescue_wq) {
		pool->nr_workers++;
		pool->nr_idle++;
	}
	rsv_spin_unlock(&pool->lock);
	if (rescue_wq)
		snprintf(name, sizeof(name), "%.24s-resc", rescue_wq->name);
	else
		snprintf(name, sizeof(name), "kworker/u:%u", id);
	t = rsv_kthread_create(pool->sys, name, rescue_wq ? rescuer_thread : worker_thread, w);
	rsv_spin_lock(&pool->lock);
	w->task = t; /* (the worker may have set it first) */
	rsv_spin_unlock(&pool->lock);
	if (!t) {
		rsv_spin_lock(&pool->lock);
		rsv_list_del(&w->node);
		if (!rescue_wq) {
			pool->nr_workers--;
			pool->nr_idle--;
		}
		rsv_spin_unlock(&pool->lock);
		rsv_free_pages(w->stack, WORKER_STACK_ORDER);
		free(w);
		return NULL;
	}
	return w;
}

/* Stops @w (not the caller) and gives its memory back. Not on the pool's lists. */
static void destroy_worker(struct worker *w)
{
	if (w->task)
		rsv_kthread_stop(w->task);
	rsv_free_pages(w->stack, WORKER_STACK_ORDER);
	free(w);
}

static void pool_free(struct rsv_system_object *o)
{
	struct wq_pool *pool = rsv_container_of(o, struct wq_pool, obj);
	struct rsv_list *pos, *tmp;

	/* What the user did not destroy: the arena goes with the system, the host memory here. */
	rsv_list_for_each_safe(pos, tmp, &pool->wqs) {
		rsv_list_del(pos);
		free(rsv_container_of(pos, struct rsv_workqueue, node));
	}
	rsv_list_for_each_safe(pos, tmp, &pool->workers) {
		rsv_list_del(pos);
		free(rsv_container_of(pos, struct worker, node));
	}
	if (pool->sys->wq_pool == pool)
		pool->sys->wq_pool = NULL;
	free(pool);
}

static struct wq_pool *get_pool(struct rsv_system *sys)
{
	struct wq_pool *pool;
	bool made = false;

	rsv_spin_lock(&sys->tasks_lock);
	pool = sys->wq_pool;
	if (!pool && (pool = calloc(1, sizeof(*pool)))) {
		made = true;
		pool->sys = sys;
		rsv_spin_init(&pool->lock);
		rsv_list_init(&pool->worklist);
		rsv_list_init(&pool->workers);
		rsv_list_init(&pool->wqs);
		rsv_waitqueue_init(&pool->more_work, "wq-pool");
		rsv_waitqueue_init(&pool->flushed, "wq-flush");
		rsv_waitqueue_init(&pool->mayday_wait, "wq-mayday");
		rsv_waitqueue_init(&pool->rescue_wait, "wq-rescuers");
		pool->obj.destroy = pool_free;
		sys->wq_pool = pool;
	}
	rsv_spin_unlock(&sys->tasks_lock);
	if (made)
		rsv_system_add_object(sys, &pool->obj);
	return pool;
}

/* The first workqueue of a system starts its pool: a worker and the timer. */
static int pool_start(struct wq_pool *pool)
{
	bool start;

	rsv_spin_lock(&pool->lock);
	start = !pool->started;
	pool->started = true;
	rsv_spin_unlock(&pool->lock);
	if (!start)
		return 0;
	pool->mayday_timer = rsv_kthread_create(pool->sys, "wq-mayday", mayday_timer, pool);
	if (!pool->mayday_timer || !create_worker(pool, NULL)) {
		if (pool->mayday_timer)
			rsv_kthread_stop(pool->mayday_timer);
		pool->mayday_timer = NULL;
		rsv_spin_lock(&pool->lock);
		pool->started = false;
		rsv_spin_unlock(&pool->lock);
		return -ENOMEM;
	}
	return 0;
}

#define WQ_KNOWN_FLAGS                                                                             \
	(RSV_WQ_UNBOUND | RSV_WQ_FREEZABLE | RSV_WQ_MEM_RECLAIM | RSV_WQ_HIGHPRI |                 \
	 RSV_WQ_CPU_INTENSIVE | RSV_WQ_SYSFS | RSV_WQ_POWER_EFFICIENT)

struct rsv_workqueue *rsv_alloc_workqueue(struct rsv_system *sys, const char *name, unsigned flags,
					  int max_active, const char *lock_class)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_workqueue *wq;
	struct wq_pool *pool;

	if (!sys || !t || t->sys != sys) {
		errno = EPERM;
		return NULL;
	}
	if (!name || (flags & ~WQ_KNOWN_FLAGS) || max_active < 0 ||
	    max_active > RSV_WQ_MAX_ACTIVE) {
		errno = EINVAL;
		return NULL;
	}
	if (!(pool = get_pool(sys)) || pool_start(pool) || !(wq = calloc(1, sizeof(*wq)))) {
		errno = ENOMEM;
		return NULL;
	}
	wq->pool = pool;
	snprintf(wq->name, sizeof(wq->name), "%s", name);
	wq->flags = flags;
	wq->max_active = max_active ? max_active : RSV_WQ_DFL_ACTIVE;
	wq->lock_class = lock_class;
	rsv_list_init(&wq->inactive);
	/* init_rescuer(): made now, while memory is to be had, and kept. */
	if ((flags & RSV_WQ_MEM_RECLAIM) && !(wq->rescuer = create_worker(pool, wq))) {
		free(wq);
		errno = ENOMEM;
		return NULL;
	}
	rsv_spin_lock(&pool->lock);
	rsv_list_add_tail(&wq->node, &pool->wqs);
	pool->nr_wqs++;
	rsv_spin_unlock(&pool->lock);
	return wq;
}

static bool barrier_done(struct wq_barrier *b)
{
	bool done;

	rsv_spin_lock(&b->pool->lock);
	done = b->done;
	rsv_spin_unlock(&b->pool->lock);
	return done;
}

/* For reports: who a flusher waits for. Only tries the pool's lock (the reporter may run
 * while the system is stuck with it held). */
static void describe_flush(const void *obj, char *buf, size_t len, struct rsv_task **holder)
{
	const struct wq_barrier *b = obj;
	const struct rsv_work *target = b->work.barrier_for;
	struct wq_pool *pool = b->pool;
	struct worker *ex = NULL;
	int n;

	n = snprintf(buf, len, "in flush_work() of %s on workqueue \"%s\"",
		     target->lock_class ? target->lock_class : "an item", wq_of(&b->work)->name);
	if (n < 0 || (size_t)n >= len || !rsv_spin_trylock(&pool->lock))
		return;
	if ((ex = find_executing(pool, target)) && ex->task) {
		*holder = ex->task;
		snprintf(buf + n, len - (size_t)n, ", run by \"%s\"", rsv_task_name(ex->task));
	} else if (pool->creating) {
		snprintf(buf + n, len - (size_t)n,
			 ", queued: no worker idle, one in the making "
			 "for %.3f s%s",
			 (double)(rsv_now() - pool->creating_since) / 1e9,
			 wq_of(&b->work)->rescuer ? "" : " (no rescuer)");
	} else {
		snprintf(buf + n, len - (size_t)n, ", queued");
	}
	rsv_spin_unlock(&pool->lock);
}

/* check_flush_dependency(): reclaim (PF_MEMALLOC), or an item of a WQ_MEM_RECLAIM workqueue,
 * that waits for work without a rescuer waits for the pool to make a worker, which may need
 * the very memory it is freeing. The kernel warns; this is counted and said as a misuse, and
 * the flush goes on. */
static void check_flush_dependency(struct wq_pool *pool, struct rsv_workqueue *target)
{
	struct rsv_task *t = rsv__task_current();
	struct rsv_workqueue *from = NULL;
	struct worker *w;

	if (!t || target->rescuer)
		return;
	rsv_spin_lock(&pool->lock);
	if ((w = current_worker(pool)) && w->current_work && !is_barrier(w->current_work))
		from = wq_of(w->current_work);
	rsv_spin_unlock(&pool->lock);
	if (rsv__task_flags(t) & RSV_PF_MEMALLOC)
		rsv__misuse(pool->sys,
			    "PF_MEMALLOC task \"%s\" is flushing !WQ_MEM_RECLAIM "
			    "workqueue \"%s\": it waits for a worker that may need "
			    "the memory it is freeing",
			    t->name, target->name);
	else if (from && from->rescuer)
		rsv__misuse(pool->sys,
			    "WQ_MEM_RECLAIM workqueue \"%s\" is flushing "
			    "!WQ_MEM_RECLAIM workqueue \"%s\": its rescue may wait "
			    "for a worker that cannot be made",
			    from->name, target->name);
}

static void barrier_fn(struct rsv_work *work)
{
	struct wq_barrier *b = rsv_container_of(work, struct wq_barrier, work);
	struct wq_pool *pool = b->pool;

	rsv_spin_lock(&pool->lock);
	b->done = true; /* from here the flusher may return and its barrier go */
	rsv_spin_unlock(&pool->lock);
	rsv_wake_up_all(&pool->flushed);
}

bool rsv_flush_work(struct rsv_work *work)
{
	struct rsv_workqueue *wq = wq_of(work);
	struct rsv_task *t = rsv__task_current();
	struct rsv_task_doing prev;
	struct wq_barrier b;
	struct wq_pool *pool;
	struct worker *ex;

	if (!wq)
		return false; /* never queued */
	pool = wq->pool;
	check_flush_dependency(pool, wq);
	rsv_init_work(&b.work, barrier_fn, NULL);
	b.work.barrier_for = work;
	atomic_store_explicit(&b.work.wq, wq, memory_order_relaxed);
	b.pool = pool;
	b.done = false;
	rsv_spin_lock(&pool->lock);
	if (atomic_load(&work->pending)) {
		/* Right behind it, wherever it waits (its other barriers, behind it too, go with
		 * it in any order: each only wakes its flusher). */
		rsv_list_add(&b.work.entry, &work->entry);
	} else if ((ex = find_executing(pool, work))) {
		if (ex == current_worker(pool)) {
			rsv_spin_unlock(&pool->lock);
			rsv__misuse(pool->sys, "flush_work() of the item its caller is running: it "
					       "would wait for itself");
			return false;
		}
		rsv_list_add(&b.work.entry, &ex->scheduled); /* next for the worker running it */
	} else {
		rsv_spin_unlock(&pool->lock);
		return false;
	}
	rsv_spin_unlock(&pool->lock);
	/* start_flush_work(): a wait for the item, and for its workqueue when that one has a
	 * rescuer (whose single thread runs the items one at a time). */
	rsv_lockdep_wait(pool->sys, work->lock_class);
	if (wq->rescuer || wq->max_active == 1)
		rsv_lockdep_wait(pool->sys, wq->lock_class);
	if (t) {
		prev = rsv__doing_begin(t, RSV_DOING_LAYER, &b);
		t->doing.describe = describe_flush;
	}
	rsv_wait_event(&pool->flushed, barrier_done(&b));
	if (t)
		t->doing = prev;
	return true;
}

bool rsv_cancel_work_sync(struct rsv_work *work)
{
	struct rsv_workqueue *wq = wq_of(work);
	struct wq_pool *pool;
	bool was_pending = false, more = false;

	if (!wq)
		return false;
	pool = wq->pool;
	rsv_spin_lock(&pool->lock);
	if (atomic_load(&work->pending)) {
		/* Where it waits: the inactive list does not count as active. */
		bool inactive = false;
		struct rsv_list *pos;

		rsv_list_for_each(pos, &wq->inactive) {
			if (pos == &work->entry) {
				inactive = true;
				break;
			}
		}
		rsv_list_del(&work->entry);
		atomic_store(&work->pending, false);
		wq->nr_in_flight--;
		if (!inactive) {
			wq->nr_active--;
			more = activate_inactive(pool, wq);
		}
		was_pending = true;
	}
	rsv_spin_unlock(&pool->lock);
	if (more)
		rsv_wake_up_all(&pool->more_work);
	if (was_pending)
		rsv_wake_up_all(&pool->flushed);
	rsv_flush_work(work); /* a running instance */
	return was_pending;
}

static bool wq_idle(struct rsv_workqueue *wq)
{
	bool idle;

	rsv_spin_lock(&wq->pool->lock);
	idle = wq->nr_in_flight == 0;
	rsv_spin_unlock(&wq->pool->lock);
	return idle;
}

static void drain(struct rsv_workqueue *wq, bool keep_draining)
{
	struct wq_pool *pool = wq->pool;

	rsv_spin_lock(&pool->lock);
	wq->draining = true;
	rsv_spin_unlock(&pool->lock);
	rsv_lockdep_wait(pool->sys, wq->lock_class);
	rsv_wait_event(&pool->flushed, wq_idle(wq));
	rsv_spin_lock(&pool->lock);
	wq->draining = keep_draining;
	rsv_spin_unlock(&pool->lock);
}

void rsv_drain_workqueue(struct rsv_workqueue *wq)
{
	drain(wq, false);
}

void rsv_destroy_workqueue(struct rsv_workqueue *wq)
{
	struct wq_pool *pool;
	struct rsv_list gone, *pos, *tmp;
	bool last;

	if (!wq)
		return;
	pool = wq->pool;
	drain(wq, true);
	if (wq->rescuer) {
		rsv_spin_lock(&pool->lock);
		rsv_list_del(&wq->rescuer->node);
		rsv_spin_unlock(&pool->lock);
		destroy_worker(wq->rescuer);
	}
	rsv_list_init(&gone);
	rsv_spin_lock(&pool->lock);
	rsv_list_del(&wq->node);
	last = --pool->nr_wqs == 0;
	/* The last workqueue takes the pool's workers with it; the pool itself stays for the
	 * next, as the system's, until the system goes. */
	if (last) {
		rsv_list_for_each_safe(pos, tmp, &pool->workers) {
			rsv_list_del(pos);
			rsv_list_add_tail(pos, &gone);
		}
		pool->nr_workers = pool->nr_idle = 0;
		pool->started = false;
	}
	rsv_spin_unlock(&pool->lock);
	free(wq);
	if (!last)
		return;
	rsv_list_for_each_safe(pos, tmp, &gone) {
		rsv_list_del(pos);
		destroy_worker(rsv_container_of(pos, struct worker, node));
	}
	if (pool->mayday_timer)
		rsv_kthread_stop(pool->mayday_timer);
	pool->mayday_timer = NULL;
}

void rsv_workqueue_stats(struct rsv_workqueue *wq, struct rsv_workqueue_stats *st)
{
	rsv_spin_lock(&wq->pool->lock);
	*st = wq->stats;
	rsv_spin_unlock(&wq->pool->lock);
}

void rsv_workqueue_pool_stats(struct rsv_system *sys, unsigned *workers,
			      unsigned long *create_failures)
{
	struct wq_pool *pool = sys->wq_pool;

	*workers = 0;
	*create_failures = 0;
	if (!pool)
		return;
	rsv_spin_lock(&pool->lock);
	*workers = pool->nr_workers;
	*create_failures = pool->create_failures;
	rsv_spin_unlock(&pool->lock);
}
