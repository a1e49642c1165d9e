/* A lockdep-style dependency checker: lock classes, the order tasks take them in, and cycles.
 *
 * Like the kernel's lockdep it reports what could deadlock, from the orders it has seen,
 * whether or not this run deadlocked. Classes are lock names: every mutex of a name is one
 * class, as every lock initialised at one site is in the kernel. Besides the mutexes it knows
 * pseudo-locks:
 *   fs_reclaim  held by reclaim that may enter filesystems (kswapd, and direct reclaim with
 *               __GFP_FS by a task not already PF_MEMALLOC), and taken and dropped by every
 *               allocation that could so reclaim (might_alloc), which records "this lock was
 *               held while allocating";
 *   io:DEV      held by a device's worker while it serves requests, and "waited for" by a
 *               task that waits on I/O to DEV.
 * Only pseudo-locks follow a wait: a task that waits for DEV's I/O while in fs_reclaim records
 * fs_reclaim -> io:DEV, but real locks held across the wait record nothing, as the kernel's
 * lockdep tracks no dependency through an I/O completion. There is no pseudo-lock for
 * __GFP_IO reclaim either. So a device worker that enters FS reclaim while FS reclaim waits
 * for its I/O is reported (the 2019 bufio/loop deadlock), and Patocka's NOFS-then-I/O
 * recursion through the filesystem lock is not: the gap spec H names. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

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
	char edge_by[MAX_CLASSES][MAX_CLASSES][24]; /* the first task to record each edge */
	struct held_stack held[MAX_THREADS];
	unsigned nr_cycles;
	char report[1024];
};

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

/* @path: how @taken already reaches @held. */
static void report_cycle(struct lockdep *ld, unsigned held, unsigned taken, const char *who,
			 const unsigned *path, unsigned len)
{
	size_t n;

	if (ld->nr_cycles++)
		return;
	n = (size_t)snprintf(ld->report, sizeof(ld->report),
			     "possible deadlock: %s takes %s while holding %s, but", who,
			     ld->name[taken], ld->name[held]);
	for (unsigned i = 0; i + 1 < len && n < sizeof(ld->report); i++)
		n += (size_t)snprintf(ld->report + n, sizeof(ld->report) - n, "%s %s took %s "
				      "holding %s", i ? ";" : "", ld->edge_by[path[i]][path[i + 1]],
				      ld->name[path[i + 1]], ld->name[path[i]]);
}

static void add_edge(struct lockdep *ld, unsigned a, unsigned b, const char *who)
{
	unsigned path[MAX_CLASSES + 1], len = 0;
	uint64_t seen = 0;

	if (a == b || (ld->after[a] >> b & 1))
		return;
	if (reaches(ld, b, a, &seen, path, &len))
		report_cycle(ld, a, b, who, path, len);
	ld->after[a] |= 1ull << b;
	snprintf(ld->edge_by[a][b], sizeof(ld->edge_by[a][b]), "%s", who);
}

/* @record: the acquisition can block, so it orders after everything held. @push: it stays
 * held until released (a wait is a take-and-drop). @only_pseudo: a wait, which only the
 * pseudo-locks follow. */
static void acquire(struct lockdep *ld, const char *name, bool pseudo, bool record, bool push,
		    bool only_pseudo)
{
	struct held_stack *h;
	int c;

	rsv_spin_lock(&ld->lock);
	h = my_stack(ld);
	c = find_class(ld, name, pseudo);
	if (h && c >= 0) {
		const char *who = rsv_thread_name(rsv_thread_self());

		for (unsigned i = 0; record && i < h->nr; i++)
			if (!only_pseudo || ld->pseudo[h->cls[i]])
				add_edge(ld, h->cls[i], (unsigned)c, who);
		if (push && h->nr < MAX_HELD)
			h->cls[h->nr++] = (unsigned char)c;
	}
	rsv_spin_unlock(&ld->lock);
}

static void release(struct lockdep *ld, const char *name)
{
	struct held_stack *h;
	int c;

	rsv_spin_lock(&ld->lock);
	h = my_stack(ld);
	c = lookup_class(ld, name);
	for (unsigned i = h && c >= 0 ? h->nr : 0; i-- > 0;) {
		if (h->cls[i] != c)
			continue;
		memmove(&h->cls[i], &h->cls[i + 1], h->nr - i - 1);
		h->nr--;
		break;
	}
	rsv_spin_unlock(&ld->lock);
}

static void lock_hook(void *arg, enum rsv_lock_event ev, const char *name, const void *lock)
{
	struct lockdep *ld = arg;

	if (ev == RSV_LOCK_RELEASE)
		release(ld, name);
	else
		acquire(ld, name, false, ev == RSV_LOCK_ACQUIRE, true, false);
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
		acquire(ld, cls, true, true, true, false);
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
		acquire(ld, cls, true, true, false, true);
}

/* ---- fs_reclaim, for the allocator and reclaim ---- */

static const char fs_reclaim[] = "fs_reclaim";

static bool fs_reclaim_context(const struct rsv_task *t, rsv_gfp_t gfp)
{
	return (gfp & RSV___GFP_DIRECT_RECLAIM) && (gfp & RSV___GFP_FS) &&
	       !(gfp & RSV___GFP_NOLOCKDEP) && !(rsv__task_flags(t) & RSV_PF_MEMALLOC);
}

void rsv__lockdep_might_alloc(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp)
{
	struct lockdep *ld = lockdep_of(sys);

	if (ld && fs_reclaim_context(t, gfp)) {
		acquire(ld, fs_reclaim, true, true, true, false);
		release(ld, fs_reclaim);
	}
}

bool rsv__lockdep_reclaim_enter(struct rsv_system *sys, struct rsv_task *t, rsv_gfp_t gfp)
{
	struct lockdep *ld = lockdep_of(sys);

	if (!ld || !((rsv__task_flags(t) & RSV_PF_KSWAPD) || fs_reclaim_context(t, gfp)))
		return false;
	acquire(ld, fs_reclaim, true, true, true, false);
	return true;
}

void rsv__lockdep_reclaim_exit(struct rsv_system *sys, bool entered)
{
	if (entered)
		release(lockdep_of(sys), fs_reclaim);
}

void rsv__lockdep_exit(struct rsv_system *sys)
{
	if (!sys->lockdep_data)
		return;
	rsv__platform_set_lock_hook(sys->plat, NULL, NULL);
	free(sys->lockdep_data);
	sys->lockdep_data = NULL;
}
