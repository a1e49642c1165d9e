/* Tasks: the per-thread context of a system (the kernel's `current`), its PF_* flags and
 * scopes, the OOM-victim mark, and PR_SET_IO_FLUSHER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

static void set_own_flags(struct rsv_task *t, unsigned flags)
{
	atomic_store_explicit(&t->head.flags, flags, memory_order_relaxed);
}

static struct rsv_task *task_alloc(struct rsv_system *sys, const char *name)
{
	struct rsv_task *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	t->sys = sys;
	atomic_init(&t->alloc_hooks, atomic_load(&sys->alloc_hooks));
	snprintf(t->name, sizeof(t->name), "%s", name ? name : "task");
	memcpy(t->head.comm, t->name, sizeof(t->head.comm) - 1); /* cut as TASK_COMM_LEN cuts */
	atomic_init(&t->head.flags, 0);
	atomic_init(&t->oom_victim, false);
	atomic_init(&t->started, false);
	atomic_init(&t->exited, false);
	rsv__pcp_init(&t->pcp);
	t->pcp.asym = sys->pcp_asym;
	t->reservation.pages = RSV_PFN_LIST_INIT;
	rsv_spin_lock(&sys->tasks_lock);
	t->id = ++sys->nr_tasks;
	rsv_list_add_tail(&t->node, &sys->tasks);
	rsv_spin_unlock(&sys->tasks_lock);
	/* Deterministic per task on the simulator: seed and id only. */
	rsv_rand_seed(&t->rand, sys->cfg.seed * 0x9e3779b97f4a7c15ULL + t->id);
	return t;
}

/* The task charged for an accounted page: ids are handed out in order and tasks stay on the
 * list until the system goes, so a walk finds it even after it exited. */
struct rsv_task *rsv__task_by_id(struct rsv_system *sys, unsigned id)
{
	struct rsv_task *found = NULL;
	struct rsv_list *pos;

	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);

		if (t->id == id) {
			found = t;
			break;
		}
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return found;
}

/* A task leaves nothing behind: its cached pages go back to the buddy. */
static void task_exit(struct rsv_task *t)
{
	t->sys->pool->task_exit(t);
	if (rsv__drain_pcp(t->sys, t))
		rsv__zone_wake_waiters(t->sys);
	atomic_store_explicit(&t->exited, true, memory_order_release);
}

/* A created task is a process: when it returns its memory goes (exit_mmap), and the OOM
 * killer stops waiting for it. */
static int task_main(void *arg)
{
	struct rsv_task *t = arg;

	/* Its creator may not have published it yet, but it runs: it may be chosen (by its own
	 * allocation, say). t->thread was written before the thread started. */
	atomic_store_explicit(&t->started, true, memory_order_release);
	t->exit_code = t->fn(t->arg);
	t->sys->reclaim->task_exit(t->sys, t);
	atomic_store(&t->oom_skip, true);
	atomic_store(&t->oom_victim, false);
	task_exit(t);
	return t->exit_code;
}

static struct rsv_task *task_start(struct rsv_system *sys, const char *name,
				   int (*fn)(void *arg), void *arg, bool kthread)
{
	struct rsv_task *t;

	if (!sys || !fn) {
		errno = EINVAL;
		return NULL;
	}
	t = task_alloc(sys, name);
	if (!t)
		return NULL;
	t->fn = fn;
	t->arg = arg;
	if (kthread) {
		atomic_init(&t->head.flags, RSV_PF_KTHREAD);
	} else {
		/* copy_process(): a child starts with its parent's I/O-flusher flags. */
		struct rsv_task *parent = rsv__task_current();

		if (parent && parent->sys == sys)
			atomic_init(&t->head.flags, rsv__task_flags(parent) & RSV_PF_IO_FLUSHER);
	}
	/* t->thread is set before the thread runs: the task is on the system's list already,
	 * and the OOM killer may pick it (and wake its thread) the moment it runs. */
	if (!rsv__thread_create_ctx(sys->plat, t->name, task_main, t, t,
				    kthread ? RSV_THREAD_DAEMON : 0, &t->thread)) {
		atomic_store(&t->exited, true);
		return NULL;
	}
	atomic_store_explicit(&t->started, true, memory_order_release);
	return t;
}

struct rsv_task *rsv_task_create(struct rsv_system *sys, const char *name,
				 int (*fn)(void *arg), void *arg)
{
	return task_start(sys, name, fn, arg, false);
}

struct rsv_task *rsv_kthread_create(struct rsv_system *sys, const char *name,
				    int (*fn)(void *arg), void *arg)
{
	return task_start(sys, name, fn, arg, true);
}

bool rsv_kthread_should_stop(void)
{
	struct rsv_task *t = rsv__task_current();

	return t && (atomic_load(&t->sys->kthreads_stop) || atomic_load(&t->should_stop));
}

/* kthread_stop(): tells @t to return, wakes it out of any sleep until it has, and returns
 * what it returned. The caller, a task of the same system, sleeps meanwhile (a millisecond
 * at a time: the kthread may be between its check and its sleep when first woken). */
int rsv_kthread_stop(struct rsv_task *t)
{
	struct rsv_task *self = rsv__task_current();

	if (!self)
		return -EPERM;
	if (!t || t->sys != self->sys || t == self || !(rsv__task_flags(t) & RSV_PF_KTHREAD)) {
		rsv__misuse(self->sys, "rsv_kthread_stop() by task \"%s\": %s", self->name,
			    !t || t->sys != self->sys ? "not a task of its system"
			    : t == self               ? "a kthread cannot stop itself"
						      : "not a kthread");
		return -EINVAL;
	}
	atomic_store(&t->should_stop, true);
	while (!atomic_load(&t->exited)) {
		if (atomic_load(&t->started))
			rsv_wake_thread(t->thread, RSV_TASK_UNINTERRUPTIBLE | RSV_TASK_KILLABLE);
		rsv_msleep(1);
	}
	return t->exit_code;
}

static bool wake_kthreads(struct rsv_system *sys)
{
	struct rsv_list *pos;
	bool running = false;

	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);

		if (!(rsv__task_flags(t) & RSV_PF_KTHREAD) || atomic_load(&t->exited))
			continue;
		running = true;
		rsv_wake_thread(t->thread, RSV_TASK_UNINTERRUPTIBLE | RSV_TASK_KILLABLE);
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return running;
}

/* kthread_stop() for all of them. On real threads, waits until each has returned: the
 * layers that own them free their state next. A kthread that checked the flag just before it
 * was set may go to sleep after this wake-up, hence the repeated waking. On the simulator a
 * service task never runs again once the run is over, so there is nothing to wait for. */
void rsv__kthreads_stop(struct rsv_system *sys)
{
	atomic_store(&sys->kthreads_stop, true);
	if (rsv_platform_backend(sys->plat) == RSV_BACKEND_SIM) {
		wake_kthreads(sys);
		return;
	}
	while (wake_kthreads(sys))
		rsv__os_sleep_ns(RSV_NSEC_PER_MSEC / 10);
}

/* The record of an adopted thread that detached, made ready for the calling thread, or NULL.
 * Under tasks_lock, which every walker of the task list takes: none sees it half reset. What
 * it counted stays (its statistics, the mempool elements it took, the pages charged to it), as
 * the kernel keeps a process's counts across its threads; what it was doing goes. Only on real
 * threads, where adopted threads come and go: a simulated run adopts only its set-up code. */
static struct rsv_task *reuse_spare(struct rsv_system *sys, const char *name)
{
	struct rsv_task *t = NULL;

	if (sys->cfg.backend != RSV_BACKEND_OS)
		return NULL;
	rsv_spin_lock(&sys->tasks_lock);
	if (!rsv_list_empty(&sys->spare_tasks)) {
		t = rsv_container_of(sys->spare_tasks.next, struct rsv_task, spare_node);
		rsv_list_del(&t->spare_node);
		snprintf(t->name, sizeof(t->name), "%s", name ? name : "task");
		memset(t->head.comm, 0, sizeof(t->head.comm));
		memcpy(t->head.comm, t->name, sizeof(t->head.comm) - 1);
		set_own_flags(t, 0);
		atomic_store(&t->fatal_signal, false);
		atomic_store(&t->oom_skip, false);
		atomic_store(&t->oom_score_adj, 0);
		t->nr_dirtied = 0;
		t->io_path[0] = 0;
		t->io_path_named = false;
		t->exit_code = 0;
		t->reservation = (struct rsv_task_reservation){ .pages = RSV_PFN_LIST_INIT };
		memset(&t->doing, 0, sizeof(t->doing));
		atomic_store(&t->alloc_hooks, atomic_load(&sys->alloc_hooks));
		t->make_it_fail = false;
		t->fail_nth = 0;
		t->oom_naps = 0;
		t->alloc_cost = NULL;
		rsv__thread_reuse(t->thread, t->name);
		atomic_store_explicit(&t->exited, false, memory_order_release);
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return t;
}

struct rsv_task *rsv_task_attach(struct rsv_system *sys, const char *name)
{
	struct rsv_thread *th;
	struct rsv_task *t;

	if (!sys) {
		errno = EINVAL;
		return NULL;
	}
	if (rsv__task_current()) {
		errno = EBUSY;
		return NULL;
	}
	if ((t = reuse_spare(sys, name))) {
		rsv__self = t->thread;
		goto adopted;
	}
	t = task_alloc(sys, name);
	if (!t)
		return NULL;
	th = sys->plat->backend->thread_attach(sys->plat, t->name);
	if (!th) {
		atomic_store(&t->exited, true);
		return NULL;
	}
	th->ctx = t;
	rsv__platform_add_thread(sys->plat, th);
	t->thread = th;
	t->attached = true;
	rsv__self = th;
adopted:
	if ((sys->cfg.attach_flags & RSV_PF_IO_FLUSHER) == RSV_PF_IO_FLUSHER)
		rsv_task_set_io_flusher(true, NULL);
	else if (sys->cfg.attach_flags)
		set_own_flags(t, sys->cfg.attach_flags);
	return t;
}

int rsv_task_detach(void)
{
	struct rsv_task *t = rsv__task_current();

	if (!t || !t->attached)
		return -EINVAL;
	task_exit(t);
	atomic_store(&t->thread->exited, true);
	rsv__self = NULL;
	/* Its record waits for the next thread adopted (reuse_spare()), unless something may
	 * still look for this task as it was: an OOM victim the killer waits on, a reservation
	 * misused across the exit. */
	if (t->sys->cfg.backend == RSV_BACKEND_OS && !atomic_load(&t->oom_victim) &&
	    !t->reservation.depth && !t->reservation.nr) {
		rsv_spin_lock(&t->sys->tasks_lock);
		rsv_list_add_tail(&t->spare_node, &t->sys->spare_tasks);
		rsv_spin_unlock(&t->sys->tasks_lock);
	}
	return 0;
}

struct rsv_task *rsv_task_current(void) { return rsv__task_current(); }
const char *rsv_task_name(const struct rsv_task *t) { return t ? t->name : "(none)"; }
unsigned rsv_task_id(const struct rsv_task *t) { return t ? t->id : 0; }
struct rsv_system *rsv_task_system(const struct rsv_task *t) { return t ? t->sys : NULL; }
unsigned rsv_task_flags(const struct rsv_task *t) { return t ? rsv__task_flags(t) : 0; }
bool rsv_task_exited(const struct rsv_task *t) { return atomic_load(&t->exited); }
int rsv_task_exit_code(const struct rsv_task *t) { return t->exit_code; }

int rsv_task_set_flags(unsigned set, unsigned clear)
{
	struct rsv_task *t = rsv__task_current();

	if (!t || ((set | clear) & RSV_PF_SCOPE_MASK))
		return -EINVAL;
	set_own_flags(t, (rsv__task_flags(t) & ~clear) | set);
	return 0;
}

uint64_t rsv_task_random(void)
{
	struct rsv_task *t = rsv__task_current();

	return t ? rsv_rand_next(&t->rand) : 0;
}

/* mark_oom_victim(): the victim's allocations get reserves per policy memdie, and a sleeper
 * in a killable wait is woken so that it can notice and unwind. */
void rsv_task_mark_oom_victim(struct rsv_task *t)
{
	if (atomic_exchange(&t->oom_victim, true))
		return;
	if (t->thread)
		rsv_wake_thread(t->thread, RSV_TASK_KILLABLE);
}

void rsv_task_exit_oom_victim(struct rsv_task *t)
{
	atomic_store(&t->oom_victim, false);
}

/* SIGKILL: seen by rsv_fatal_signal_pending() and by killable waits, which it interrupts. */
void rsv_task_kill(struct rsv_task *t)
{
	atomic_store(&t->fatal_signal, true);
	if (t->thread)
		rsv_wake_thread(t->thread, RSV_TASK_KILLABLE);
}

bool rsv_fatal_signal_pending(void)
{
	struct rsv_task *t = rsv__task_current();

	return t && atomic_load_explicit(&t->fatal_signal, memory_order_relaxed);
}

int rsv_task_set_oom_score_adj(struct rsv_task *t, int adj)
{
	if (!t || adj < -1000 || adj > 1000)
		return -EINVAL;
	t->oom_score_adj = adj;
	return 0;
}

long rsv_task_rss(const struct rsv_task *t)
{
	return t ? atomic_load(&t->rss) : 0;
}

bool rsv_task_is_oom_victim(const struct rsv_task *t)
{
	return t && atomic_load(&t->oom_victim);
}

unsigned rsv_memalloc_flags_save(unsigned flags)
{
	struct rsv_task *t = rsv__task_current();
	unsigned cur;

	if (!t)
		return 0;
	cur = rsv__task_flags(t);
	set_own_flags(t, cur | flags);
	return ~cur & flags;
}

void rsv_memalloc_flags_restore(unsigned saved)
{
	struct rsv_task *t = rsv__task_current();

	if (t)
		set_own_flags(t, rsv__task_flags(t) & ~saved);
}

int rsv_task_set_io_flusher(bool on, int *kernel_err)
{
	struct rsv_task *t = rsv__task_current();
	int kerr;

	if (!t)
		return -EINVAL;
	if (on)
		set_own_flags(t, rsv__task_flags(t) | RSV_PF_IO_FLUSHER);
	else
		set_own_flags(t, rsv__task_flags(t) & ~RSV_PF_IO_FLUSHER);
	kerr = rsv__platform_io_flusher(t->sys->plat, on);
	if (kernel_err)
		*kernel_err = kerr;
	return 0;
}

int rsv_task_serve_io(const char *what)
{
	struct rsv_task *t = rsv__task_current();

	if (!t)
		return -EINVAL;
	snprintf(t->io_path, sizeof(t->io_path), "%s", what ? what : "");
	t->io_path_named = false;
	/* Only this task's allocations go past the checkers for it. */
	if (t->io_path[0])
		atomic_store_explicit(&t->alloc_hooks, true, memory_order_relaxed);
	return 0;
}

void rsv__io_path_check(struct rsv_task *t, rsv_gfp_t gfp)
{
	gfp = rsv__task_gfp_context(t, gfp);
	if (t->io_path_named || !(gfp & RSV___GFP_DIRECT_RECLAIM) || !(gfp & RSV___GFP_IO))
		return;
	t->io_path_named = true;
	rsv__misuse(t->sys,
		    "task \"%s\" serves the I/O path \"%s\" and allocates with gfp %#x, whose "
		    "reclaim may issue I/O and wait on that path: make it an I/O flusher "
		    "(rsv_task_set_io_flusher(), PR_SET_IO_FLUSHER) or allocate GFP_NOIO",
		    t->name, t->io_path, gfp);
}

int rsv_task_get_io_flusher(void)
{
	struct rsv_task *t = rsv__task_current();

	if (!t)
		return -EINVAL;
	return (rsv__task_flags(t) & RSV_PF_IO_FLUSHER) == RSV_PF_IO_FLUSHER;
}

void rsv__task_free_all(struct rsv_system *sys)
{
	struct rsv_list *pos, *tmp;

	rsv_list_for_each_safe(pos, tmp, &sys->tasks)
		free(rsv_container_of(pos, struct rsv_task, node));
	rsv_list_init(&sys->tasks);
}

void rsv__arm_alloc_hooks(struct rsv_system *sys)
{
	struct rsv_list *pos;

	atomic_store(&sys->alloc_hooks, true);
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks)
		atomic_store_explicit(&rsv_container_of(pos, struct rsv_task, node)->alloc_hooks,
				      true, memory_order_relaxed);
	rsv_spin_unlock(&sys->tasks_lock);
}
