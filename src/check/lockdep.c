/* A lockdep-style dependency checker: lock classes, the order tasks take them in, and cycles.
 *
 * Like the kernel's lockdep it reports what could deadlock, from the orders it has seen,
 * whether or not this run deadlocked. Classes are lock names: every mutex or semaphore of a
 * name is one class, as every lock initialised at one site is in the kernel. Beside them it
 * knows pseudo-locks:
 *   fs_reclaim  held by reclaim that may enter filesystems (kswapd, and direct reclaim with
 *               __GFP_FS by a task not already PF_MEMALLOC), and taken and dropped by every
 *               allocation that could so reclaim (might_alloc()): "this lock was held while
 *               allocating";
 *   io_reclaim  the same for reclaim that may start I/O but not enter filesystems (__GFP_IO
 *               without __GFP_FS), which the kernel's lockdep has no pseudo-lock for. Reclaim
 *               with __GFP_FS may do all that reclaim with __GFP_IO alone may, so the edge
 *               fs_reclaim -> io_reclaim is there from the start;
 *   io:DEV      held by a device's worker while it serves requests, and taken and dropped by
 *               a task that waits for I/O to DEV: waiting for another task's work is, for
 *               deadlock, taking what that task holds while it works.
 * So Patocka's case A (a filesystem lock held across a GFP_NOFS allocation whose reclaim
 * writes through dm-bufio to a loop device, whose worker needs that lock) is the cycle
 * fs lock -> io_reclaim -> bufio mutex -> io:loop0 -> fs lock, seen from runs of each path
 * that did not deadlock; the kernel's lockdep misses it.
 *
 * Built with RSV_LOCKDEP=OFF (RSV_NO_LOCKDEP) the library has none of it: the allocator's
 * hooks are empty inlines, and the API below says -EOPNOTSUPP or nothing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

#ifndef RSV_NO_LOCKDEP

#define MAX_CLASSES 64
#define MAX_THREADS 256
#define MAX_HELD 16

struct held_stack {
	unsigned nr;
	unsigned char cls[MAX_HELD];
};

struct lockdep {
	struct rsv_spinlock lock;
	unsigned nr_classes;
	const char *name[MAX_CLASSES];
	bool pseudo[MAX_CLASSES];
	uint64_t after[MAX_CLASSES];          /* after[a] bit b: b was taken holding a */
	/* Where each edge was first recorded: the task and what it was doing. */
	char edge_by[MAX_CLASSES][MAX_CLASSES][64];
	struct held_stack held[MAX_THREADS];
	unsigned nr_cycles;
	char report[2048];
	_Atomic bool report_new; /* written, not yet handed to the hook (outside the lock) */
	void (*hook)(void *arg, const char *report); /* NULL: print it */
	void *hook_arg;
};

static const char fs_reclaim[] = "fs_reclaim";
static const char io_reclaim[] = "io_reclaim";

static struct lockdep *lockdep_of(struct rsv_system *sys)
{
	return sys ? sys->lockdep_data : NULL;
}

/* Locks of a class mostly share their name's string: pointers first, then the text. */
static int lookup_class(const struct lockdep *ld, const char *name)
{
	for (unsigned i = 0; i < ld->nr_classes; i++)
		if (ld->name[i] == name)
			return (int)i;
	for (unsigned i = 0; i < ld->nr_classes; i++)
		if (!strcmp(ld->name[i], name))
			return (int)i;
	return -1;
}

static int find_class(struct lockdep *ld, const char *name, bool pseudo)
{
	int c = lookup_class(ld, name);

	if (c >= 0)
		return c;
	if (ld->nr_classes == MAX_CLASSES)
		return -1;
	ld->name[ld->nr_classes] = name;
	ld->pseudo[ld->nr_classes] = pseudo;
	return (int)ld->nr_classes++;
}

static struct held_stack *my_stack(struct lockdep *ld)
{
	unsigned id = rsv_thread_id(rsv_thread_self());

	return id < MAX_THREADS ? &ld->held[id] : NULL;
}

/* Depth-first: is @to reachable from @from? Fills @path (classes, @from first). */
static bool reaches(struct lockdep *ld, unsigned from, unsigned to, uint64_t *seen,
		    unsigned *path, unsigned *len)
{
	path[(*len)++] = from;
	if (from == to)
		return true;
	*seen |= 1ull << from;
	for (unsigned b = 0; b < ld->nr_classes; b++)
		if ((ld->after[from] >> b & 1) && !(*seen >> b & 1) &&
		    reaches(ld, b, to, seen, path, len))
			return true;
	(*len)--;
	return false;
}

/* A new edge @held -> @taken closes a cycle: @path says how @taken already reaches @held.
 * Both chains go in the report, each edge with who recorded it first and how. */
static void report_cycle(struct lockdep *ld, unsigned held, unsigned taken, const char *by,
			 const unsigned *path, unsigned len)
{
	size_t n;

	if (ld->nr_cycles++)
		return;
	n = (size_t)snprintf(ld->report, sizeof(ld->report),
			     "possible deadlock: %s -> %s (%s), but %s already leads to %s:",
			     ld->name[held], ld->name[taken], by, ld->name[taken], ld->name[held]);
	for (unsigned i = 0; i + 1 < len && n < sizeof(ld->report); i++)
		n += (size_t)snprintf(ld->report + n, sizeof(ld->report) - n, "%s %s -> %s (%s)",
				      i ? ";" : "", ld->name[path[i]], ld->name[path[i + 1]],
				      ld->edge_by[path[i]][path[i + 1]]);
	atomic_store_explicit(&ld->report_new, true, memory_order_relaxed);
}

/* Who recorded an edge and how: words made only for an edge that is new, since almost every
 * acquisition repeats an edge already known and must not pay for formatting. */
struct edge_why {
	const char *how; /* after the recording thread's name */
	bool with_gfp;   /* instead: "allocated with" and @gfp in words */
	rsv_gfp_t gfp;
	bool bare; /* @how alone: an edge no thread recorded */
};

static void add_edge(struct lockdep *ld, unsigned a, unsigned b, const struct edge_why *why)
{
	unsigned path[MAX_CLASSES + 1], len = 0;
	uint64_t seen = 0;
	char by[64], flags[32];

	if (a == b || (ld->after[a] >> b & 1))
		return;
	if (why->with_gfp) {
		rsv_gfp_format(why->gfp, flags, sizeof(flags));
		snprintf(by, sizeof(by), "%s allocated with %s", rsv_thread_name(rsv_thread_self()),
			 flags);
	} else if (why->bare) {
		snprintf(by, sizeof(by), "%s", why->how);
	} else {
		snprintf(by, sizeof(by), "%s %s", rsv_thread_name(rsv_thread_self()), why->how);
	}
	if (reaches(ld, b, a, &seen, path, &len))
		report_cycle(ld, a, b, by, path, len);
	ld->after[a] |= 1ull << b;
	snprintf(ld->edge_by[a][b], sizeof(ld->edge_by[a][b]), "%s", by);
}

/* Hands a new report to the hook, or prints it: outside the lock, the hook may do anything. */
static void deliver(struct lockdep *ld)
{
	char report[sizeof(ld->report)];
	bool fresh;

	if (rsv_likely(!atomic_load_explicit(&ld->report_new, memory_order_relaxed)))
		return; /* the common case: no lock taken twice per acquisition */
	rsv_spin_lock(&ld->lock);
	fresh = atomic_exchange_explicit(&ld->report_new, false, memory_order_relaxed);
	if (fresh)
		memcpy(report, ld->report, sizeof(report));
	rsv_spin_unlock(&ld->lock);
	if (!fresh)
		return;
	if (ld->hook)
		ld->hook(ld->hook_arg, report);
	else
		fprintf(stderr, "reservoir: lockdep: %s\n", report);
}

/* @record: the acquisition can block, so it orders after everything held. @push: it stays
 * held until released (a wait is a take-and-drop). @how: what the task did, for the report
 * ("took it", "waited for it", "allocated with GFP_NOFS"). */
static void acquire(struct lockdep *ld, const char *name, bool pseudo, bool record, bool push,
		    const struct edge_why *why)
{
	struct held_stack *h;
	int c;

	rsv_spin_lock(&ld->lock);
	h = my_stack(ld);
	c = find_class(ld, name, pseudo);
	if (h && c >= 0) {
		for (unsigned i = 0; record && i < h->nr; i++)
			add_edge(ld, h->cls[i], (unsigned)c, why);
		if (push && h->nr < MAX_HELD)
			h->cls[h->nr++] = (unsigned char)c;
	}
	rsv_spin_unlock(&ld->lock);
	deliver(ld);
}

static bool pop_class(struct held_stack *h, int c)
{
	for (unsigned i = h->nr; i-- > 0;) {
		if (h->cls[i] != c)
			continue;
		memmove(&h->cls[i], &h->cls[i + 1], h->nr - i - 1);
		h->nr--;
		return true;
	}
	return false;
}

/* A semaphore may be released by another task than the one that took it (the up() of a
 * completion-like use): then the class leaves the stack of a task that holds it. */
static void release(struct lockdep *ld, const char *name)
{
	struct held_stack *h;
	int c;

	rsv_spin_lock(&ld->lock);
	h = my_stack(ld);
	c = lookup_class(ld, name);
	if (c >= 0 && !(h && pop_class(h, c)))
		for (unsigned t = 0; t < MAX_THREADS && !pop_class(&ld->held[t], c); t++)
			;
	rsv_spin_unlock(&ld->lock);
}

static void lock_hook(void *arg, enum rsv_lock_event ev, const char *name, const void *lock)
{
	struct lockdep *ld = arg;

	if (ev == RSV_LOCK_RELEASE)
		release(ld, name);
	else
		acquire(ld, name, false, ev == RSV_LOCK_ACQUIRE, true,
			&(struct edge_why){ .how = "took it" });
}

int rsv_lockdep_enable(struct rsv_system *sys)
{
	struct lockdep *ld;

	if (!sys)
		return -EINVAL;
	if (sys->lockdep_data)
		return -EBUSY;
	if (!(ld = calloc(1, sizeof(*ld))))
		return -ENOMEM;
	rsv_spin_init(&ld->lock);
	find_class(ld, fs_reclaim, true);
	find_class(ld, io_reclaim, true);
	add_edge(ld, 0, 1,
		 &(struct edge_why){ .how = "reclaim with __GFP_FS may do all that __GFP_IO "
					    "reclaim does",
				     .bare = true });
	sys->lockdep_data = ld;
	rsv__platform_set_lock_hook(sys->plat, lock_hook, ld);
	rsv__arm_alloc_hooks(sys); /* might_alloc() on every allocation */
	return 0;
}

unsigned rsv_lockdep_report(struct rsv_system *sys, char *buf, size_t len)
{
	struct lockdep *ld = lockdep_of(sys);
	unsigned n;

	if (!ld) {
		if (len)
			buf[0] = 0;
		return 0;
	}
	rsv_spin_lock(&ld->lock);
	n = ld->nr_cycles;
	if (len)
		snprintf(buf, len, "%s", ld->report);
	rsv_spin_unlock(&ld->lock);
	return n;
}

bool rsv_lockdep_ordered(struct rsv_system *sys, const char *before, const char *after)
{
	struct lockdep *ld = lockdep_of(sys);
	unsigned path[MAX_CLASSES + 1], len = 0;
	uint64_t seen = 0;
	int a = -1, b = -1;
	bool found;

	if (!ld || !before || !after)
		return false;
	rsv_spin_lock(&ld->lock);
	for (unsigned i = 0; i < ld->nr_classes; i++) {
		if (!strcmp(ld->name[i], before))
			a = (int)i;
		if (!strcmp(ld->name[i], after))
			b = (int)i;
	}
	found = a >= 0 && b >= 0 && a != b &&
		reaches(ld, (unsigned)a, (unsigned)b, &seen, path, &len);
	rsv_spin_unlock(&ld->lock);
	return found;
}

void rsv_lockdep_acquire(struct rsv_system *sys, const char *cls)
{
	struct lockdep *ld = lockdep_of(sys);

	if (ld && cls)
		acquire(ld, cls, true, true, true, &(struct edge_why){ .how = "held it" });
}

void rsv_lockdep_release(struct rsv_system *sys, const char *cls)
{
	struct lockdep *ld = lockdep_of(sys);

	if (ld && cls)
		release(ld, cls);
}

void rsv_lockdep_wait(struct rsv_system *sys, const char *cls)
{
	struct lockdep *ld = lockdep_of(sys);

	if (ld && cls)
		acquire(ld, cls, true, true, false, &(struct edge_why){ .how = "waited for it" });
}

void rsv_lockdep_set_report_hook(struct rsv_system *sys, void (*fn)(void *arg, const char *report),
				 void *arg)
{
	struct lockdep *ld = lockdep_of(sys);

	if (!ld)
		return;
	rsv_spin_lock(&ld->lock);
	ld->hook = fn;
	ld->hook_arg = arg;
	rsv_spin_unlock(&ld->lock);
}

/* ---- fs_reclaim and io_reclaim, for the allocator and reclaim ---- */

/* The pseudo-lock reclaim in context @gfp holds, or NULL: none without direct reclaim or for
 * a task already in reclaim (PF_MEMALLOC), fs_reclaim with __GFP_FS, io_reclaim with only
 * __GFP_IO. @gfp has the task's scopes applied. */
static const char *reclaim_class(const struct rsv_task *t, rsv_gfp_t gfp)
{
	if (!(gfp & RSV___GFP_DIRECT_RECLAIM) || (gfp & RSV___GFP_NOLOCKDEP) ||
	    (rsv__task_flags(t) & RSV_PF_MEMALLOC))
		return NULL;
	return gfp & RSV___GFP_FS ? fs_reclaim : gfp & RSV___GFP_IO ? io_reclaim : NULL;
}

/* might_alloc(): at every allocation's entry (pages, slab objects, mempool elements), after
 * the task's scopes, which it applies itself as the kernel's fs_reclaim_acquire() does. */
void rsv__lockdep_might_alloc(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp)
{
	struct lockdep *ld = lockdep_of(sys);
	const char *cls;

	if (!ld)
		return;
	gfp = rsv__task_gfp_context(t, gfp);
	cls = reclaim_class(t, gfp);
	if (cls) {
		acquire(ld, cls, true, true, true,
			&(struct edge_why){ .with_gfp = true, .gfp = gfp });
		release(ld, cls);
	}
}

/* What reclaim by @t in context @gfp holds: kswapd always reclaims with FS. */
static const char *reclaim_held(const struct rsv_task *t, rsv_gfp_t gfp)
{
	return (rsv__task_flags(t) & RSV_PF_KSWAPD) ? fs_reclaim : reclaim_class(t, gfp);
}

const char *rsv__lockdep_reclaim_enter(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp)
{
	struct lockdep *ld = lockdep_of(sys);
	const char *cls = ld ? reclaim_held(t, gfp) : NULL;

	if (cls)
		acquire(ld, cls, true, true, true, &(struct edge_why){ .how = "reclaimed" });
	return cls;
}

void rsv__lockdep_reclaim_exit(struct rsv_system *sys, const char *held)
{
	if (held)
		release(lockdep_of(sys), held);
}

void rsv_might_alloc(rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();

	if (t)
		rsv__lockdep_might_alloc(t->sys, t, gfp);
}

/* The kernel's fs_reclaim_acquire()/release() pair, for code that reclaims by itself: the
 * pseudo-lock reclaim in the calling task's context @gfp would hold. */
void rsv_reclaim_acquire(rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();

	if (t)
		rsv__lockdep_reclaim_enter(t->sys, t, rsv__task_gfp_context(t, gfp));
}

void rsv_reclaim_release(rsv_gfp_t gfp)
{
	struct rsv_task *t = rsv__task_current();

	if (t && lockdep_of(t->sys))
		rsv__lockdep_reclaim_exit(t->sys, reclaim_held(t, rsv__task_gfp_context(t, gfp)));
}

void rsv__lockdep_exit(struct rsv_system *sys)
{
	if (!sys->lockdep_data)
		return;
	rsv__platform_set_lock_hook(sys->plat, NULL, NULL);
	free(sys->lockdep_data);
	sys->lockdep_data = NULL;
}

#else /* RSV_NO_LOCKDEP: compiled out */

int rsv_lockdep_enable(struct rsv_system *sys)
{
	return sys ? -EOPNOTSUPP : -EINVAL;
}

unsigned rsv_lockdep_report(struct rsv_system *sys, char *buf, size_t len)
{
	(void)sys;
	if (buf && len)
		buf[0] = 0;
	return 0;
}

bool rsv_lockdep_ordered(struct rsv_system *sys, const char *before, const char *after)
{
	(void)sys, (void)before, (void)after;
	return false;
}

void rsv_lockdep_acquire(struct rsv_system *sys, const char *cls)
{
	(void)sys, (void)cls;
}

void rsv_lockdep_release(struct rsv_system *sys, const char *cls)
{
	(void)sys, (void)cls;
}

void rsv_lockdep_wait(struct rsv_system *sys, const char *cls)
{
	(void)sys, (void)cls;
}

void rsv_lockdep_set_report_hook(struct rsv_system *sys, void (*fn)(void *arg, const char *report),
				 void *arg)
{
	(void)sys, (void)fn, (void)arg;
}

void rsv_might_alloc(rsv_gfp_t gfp)
{
	(void)gfp;
}

void rsv_reclaim_acquire(rsv_gfp_t gfp)
{
	(void)gfp;
}

void rsv_reclaim_release(rsv_gfp_t gfp)
{
	(void)gfp;
}

#endif
