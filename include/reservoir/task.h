/* reservoir/task.h: the per-thread context (the kernel's `current`) and its scoped flags.
 *
 * Every thread that allocates from a system is a task of that system: created by it with
 * rsv_task_create(), or an existing thread joined with rsv_task_attach(). The task carries the
 * PF_* flags that change how its allocations behave, the OOM-victim mark, and its per-task
 * page cache.
 *
 * Context: the calls on "the calling task" act for rsv_task_current() and return -EINVAL (or
 * do nothing) for a thread that is no task; none of them sleeps except rsv_kthread_stop(),
 * which waits for the thread to return. */
#ifndef RESERVOIR_TASK_H
#define RESERVOIR_TASK_H

#include <errno.h>
#include "defs.h"
#include "sync.h"

struct rsv_system;
struct rsv_task;

/* The fields of a task that kernel code reads and writes directly (`current->flags`,
 * `current->comm`): every struct rsv_task begins with one. The flags are the task's PF_*
 * bits, written only by the task itself (set the scope bits through the scopes below); the
 * atomic type makes `current->flags |= PF_MEMALLOC` one atomic update and a read by another
 * task (the OOM killer, a report) no data race. @comm is the name, cut at 15 bytes as the
 * kernel's TASK_COMM_LEN cuts it. */
#define RSV_TASK_COMM_LEN 16
struct rsv_task_head {
	_Atomic unsigned flags;
	char comm[RSV_TASK_COMM_LEN];
};
static inline struct rsv_task_head *rsv_task_head(struct rsv_task *t)
{
	return (struct rsv_task_head *)(void *)t;
}

/* The kernel's PF_* values. */
#define RSV_PF_WQ_WORKER 0x00000020u     /* a workqueue worker: sleeps instead of spinning */
#define RSV_PF_MEMALLOC 0x00000800u      /* "I am freeing memory": reserves, no reclaim */
#define RSV_PF_KSWAPD 0x00020000u        /* the kswapd task */
#define RSV_PF_MEMALLOC_NOFS 0x00040000u /* scope: allocations lose __GFP_FS */
#define RSV_PF_MEMALLOC_NOIO 0x00080000u /* scope: allocations lose __GFP_IO and __GFP_FS */
#define RSV_PF_LOCAL_THROTTLE 0x00100000u /* throttled only on its own device (a flusher) */
#define RSV_PF_LESS_THROTTLE RSV_PF_LOCAL_THROTTLE /* the pre-5.8 name */
#define RSV_PF_KTHREAD 0x00200000u       /* a kernel-thread-like service task */
#define RSV_PF_MEMALLOC_PIN 0x10000000u  /* scope: allocations lose __GFP_MOVABLE */

#define RSV_PF_SCOPE_MASK (RSV_PF_MEMALLOC_NOFS | RSV_PF_MEMALLOC_NOIO | RSV_PF_MEMALLOC_PIN)
/* What PR_SET_IO_FLUSHER sets (rsv_task_set_io_flusher()). */
#define RSV_PF_IO_FLUSHER (RSV_PF_MEMALLOC_NOIO | RSV_PF_LOCAL_THROTTLE)

/* Starts a task running fn(arg) on @sys's backend (on the simulator it first runs inside
 * rsv_system_run()). NULL with errno set on failure. */
RSV_API struct rsv_task *rsv_task_create(struct rsv_system *sys, const char *name,
					 int (*fn)(void *arg), void *arg);
/* Starts a service task (PF_KTHREAD): it does not keep rsv_system_run() going, and it must
 * return once rsv_kthread_should_stop() says so; rsv_system_destroy() stops it. */
RSV_API struct rsv_task *rsv_kthread_create(struct rsv_system *sys, const char *name,
					    int (*fn)(void *arg), void *arg);
RSV_API bool rsv_kthread_should_stop(void);
/* kthread_stop(): asks service task @t (of the caller's system) to return, waits until it has
 * and returns its exit code. -EPERM from a thread that is not a task; -EINVAL, the misuse
 * named, for anything but another kthread of the caller's system. */
RSV_API int rsv_kthread_stop(struct rsv_task *t);
/* Makes the calling thread a task of @sys (a daemon's own threads; on the simulator, the
 * set-up code before rsv_system_run(), which may allocate but not sleep). */
RSV_API struct rsv_task *rsv_task_attach(struct rsv_system *sys, const char *name);
/* Ends the calling thread's attachment, returning its cached pages. 0 or -EINVAL. */
RSV_API int rsv_task_detach(void);
RSV_API struct rsv_task *rsv_task_current(void);

/* A task's name, id (from 1, in creation order), system, PF_* flags, whether it has returned
 * and its return value. Any thread; a task stays readable until its system goes. */
RSV_API const char *rsv_task_name(const struct rsv_task *t);
RSV_API unsigned rsv_task_id(const struct rsv_task *t);
RSV_API struct rsv_system *rsv_task_system(const struct rsv_task *t);
RSV_API unsigned rsv_task_flags(const struct rsv_task *t);
RSV_API bool rsv_task_exited(const struct rsv_task *t);
RSV_API int rsv_task_exit_code(const struct rsv_task *t);
/* Sets and clears PF_* bits on the calling task (not for the scope bits: use the scopes). */
RSV_API int rsv_task_set_flags(unsigned set, unsigned clear);
/* The calling task's PRNG, seeded from the system seed and the task id. */
RSV_API uint64_t rsv_task_random(void);

/* Fatal signals, as SIGKILL: the OOM killer sends one to its victim. Killable waits return
 * early with -EINTR; the allocator stops retrying for a victim once it may use the reserves. */
RSV_API void rsv_task_kill(struct rsv_task *t);
RSV_API bool rsv_fatal_signal_pending(void);
/* The OOM killer's view of a task: pages charged to it, and its adjustment (-1000 exempts).
 * Tasks created with rsv_task_create() are the processes it may kill; service tasks and
 * attached threads (the host process's own) are never chosen. */
RSV_API long rsv_task_rss(const struct rsv_task *t);
RSV_API int rsv_task_set_oom_score_adj(struct rsv_task *t, int adj);

/* wait_event_killable(): 0 once @cond holds, -EINTR if a fatal signal came first. */
#define rsv_wait_event_killable(wq, cond)                                            \
	({                                                                           \
		struct rsv_wait_entry __we;                                          \
		int __ret = 0;                                                       \
		rsv_wait_entry_init(&__we);                                          \
		for (;;) {                                                           \
			rsv_prepare_to_wait((wq), &__we, RSV_TASK_KILLABLE);         \
			if (cond)                                                    \
				break;                                               \
			if (rsv_fatal_signal_pending()) {                            \
				__ret = -EINTR;                                      \
				break;                                               \
			}                                                            \
			rsv_schedule();                                              \
		}                                                                    \
		rsv_finish_wait((wq), &__we);                                        \
		__ret;                                                               \
	})

/* OOM-victim mark (TIF_MEMDIE / tsk_is_oom_victim). */
RSV_API void rsv_task_mark_oom_victim(struct rsv_task *t);
RSV_API void rsv_task_exit_oom_victim(struct rsv_task *t);
RSV_API bool rsv_task_is_oom_victim(const struct rsv_task *t);

/* Scoped flags with the kernel's nesting rule: save returns the bits of @flags that were not
 * already set, and restore clears exactly those, so an inner scope never ends an outer one. */
RSV_API unsigned rsv_memalloc_flags_save(unsigned flags);
RSV_API void rsv_memalloc_flags_restore(unsigned saved);

static inline unsigned rsv_memalloc_noio_save(void)
{
	return rsv_memalloc_flags_save(RSV_PF_MEMALLOC_NOIO);
}
static inline void rsv_memalloc_noio_restore(unsigned s) { rsv_memalloc_flags_restore(s); }
static inline unsigned rsv_memalloc_nofs_save(void)
{
	return rsv_memalloc_flags_save(RSV_PF_MEMALLOC_NOFS);
}
static inline void rsv_memalloc_nofs_restore(unsigned s) { rsv_memalloc_flags_restore(s); }
static inline unsigned rsv_memalloc_noreclaim_save(void)
{
	return rsv_memalloc_flags_save(RSV_PF_MEMALLOC);
}
static inline void rsv_memalloc_noreclaim_restore(unsigned s) { rsv_memalloc_flags_restore(s); }
static inline unsigned rsv_memalloc_pin_save(void)
{
	return rsv_memalloc_flags_save(RSV_PF_MEMALLOC_PIN);
}
static inline void rsv_memalloc_pin_restore(unsigned s) { rsv_memalloc_flags_restore(s); }

/* PR_SET_IO_FLUSHER for the calling task: sets (or clears) PF_MEMALLOC_NOIO and
 * PF_LOCAL_THROTTLE, and on the os backend asks the Linux kernel for the same with
 * prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0). Returns 0 once the task's flags are set (-EINVAL
 * without a task). *kernel_err, if given, gets 0 when the kernel agreed, -errno when it
 * refused (EPERM without CAP_SYS_RESOURCE), or -ENOSYS when it was not asked (simulator, or
 * not Linux): reservoir's own flags are set either way.
 *
 * The setting is inherited, as the kernel's copy_process() copies the flags: a task that
 * rsv_task_create() makes starts with its creator's I/O-flusher flags, and a thread
 * rsv_task_attach() adopts starts with the system's attach_flags (reservoir/system.h), for
 * the worker threads a daemon's own thread pool makes. */
RSV_API int rsv_task_set_io_flusher(bool on, int *kernel_err);
/* 1 if the calling task has both flags, 0 if not, -EINVAL without a task. */
RSV_API int rsv_task_get_io_flusher(void);
/* The calling task serves the I/O path @what (a device, a queue, a daemon's channel; named in
 * reports, cut to 31 characters): from now on an allocation it makes that may reclaim by
 * issuing I/O (a blocking gfp with __GFP_IO that no NOIO scope or I/O-flusher flag masks) is a
 * misuse, named once per task, before the reclaim that could wait on that very path: the
 * worker whose PR_SET_IO_FLUSHER was cleared (ublksrv's prctl(PR_SET_IO_FLUSHER, 0)) becomes a
 * report, not a hang. NULL: it serves none. 0, or -EINVAL without a task. */
RSV_API int rsv_task_serve_io(const char *what);

#endif
