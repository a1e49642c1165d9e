/* reservoir/kernel/workqueue.h: the kernel's workqueue API (linux/workqueue.h) over
 * reservoir/workqueue.h, with its forward-progress guarantee: a workqueue made with
 * WQ_MEM_RECLAIM has a rescuer that runs its work when no worker can be made. Part of
 * reservoir/kernel.h: include that.
 *
 * Every workqueue runs in its system's one unbound pool: the flags that bind, prioritise or
 * freeze are accepted and change nothing. Lock classes for the checker come from the call
 * site, as the kernel's static lock_class_keys do: the format of alloc_workqueue() and the
 * function of INIT_WORK(). */
#ifndef RESERVOIR_KERNEL_WORKQUEUE_H
#define RESERVOIR_KERNEL_WORKQUEUE_H

#ifndef RESERVOIR_KERNEL_H
#error "include <reservoir/kernel.h>, which includes this"
#endif

#include "../workqueue.h"

struct work_struct;
typedef void (*work_func_t)(struct work_struct *work);

struct work_struct {
	struct rsv_work rsv;
	work_func_t func;
};

struct workqueue_struct; /* the kernel's name for a struct rsv_workqueue */

static inline struct rsv_workqueue *wq_to_rsv(struct workqueue_struct *wq)
{
	return (struct rsv_workqueue *)(void *)wq;
}

static inline void __kwork_run(struct rsv_work *rw)
{
	struct work_struct *w = container_of(rw, struct work_struct, rsv);

	w->func(w);
}

#define INIT_WORK(_work, _func)                                                                    \
	do {                                                                                       \
		rsv_init_work(&(_work)->rsv, __kwork_run, "(work)" #_func);                        \
		(_work)->func = (_func);                                                           \
	} while (0)
#define DECLARE_WORK(n, f)                                                                         \
	struct work_struct n = { .rsv = { .entry = { &(n).rsv.entry, &(n).rsv.entry },             \
					  .func = __kwork_run,                                     \
					  .lock_class = "(work)" #f },                             \
				 .func = (f) }

#define WQ_UNBOUND RSV_WQ_UNBOUND
#define WQ_FREEZABLE RSV_WQ_FREEZABLE
#define WQ_MEM_RECLAIM RSV_WQ_MEM_RECLAIM
#define WQ_HIGHPRI RSV_WQ_HIGHPRI
#define WQ_CPU_INTENSIVE RSV_WQ_CPU_INTENSIVE
#define WQ_SYSFS RSV_WQ_SYSFS
#define WQ_POWER_EFFICIENT RSV_WQ_POWER_EFFICIENT
#define WQ_MAX_ACTIVE RSV_WQ_MAX_ACTIVE
#define WQ_DFL_ACTIVE RSV_WQ_DFL_ACTIVE

static inline RSV_PRINTF(3, 0) struct workqueue_struct *__kalloc_workqueue_va(
	const char *lock_class, unsigned int flags, const char *fmt, int max_active, va_list ap)
{
	char name[32];

	vsnprintf(name, sizeof(name), fmt, ap);
	/* wq_clamp_max_active(): out of range is warned about and clamped, not refused. */
	if (max_active < 0 || max_active > WQ_MAX_ACTIVE) {
		pr_warn("workqueue: max_active %d requested for %s is out of range, clamping "
			"between %d and %d\n",
			max_active, name, 1, WQ_MAX_ACTIVE);
		max_active = max_active < 0 ? 1 : WQ_MAX_ACTIVE;
	}
	return (struct workqueue_struct *)(void *)
		rsv_alloc_workqueue(rsv_task_system(rsv_task_current()), name, flags, max_active,
				    lock_class);
}

static inline RSV_PRINTF(4, 5) struct workqueue_struct *__kalloc_workqueue(const char *lock_class,
									   unsigned int flags,
									   int max_active,
									   const char *fmt, ...)
{
	struct workqueue_struct *wq;
	va_list ap;

	va_start(ap, fmt);
	wq = __kalloc_workqueue_va(lock_class, flags, fmt, max_active, ap);
	va_end(ap);
	return wq;
}

/* NULL when it cannot be made, as the kernel's. */
#define alloc_workqueue(fmt, flags, max_active, ...)                                               \
	__kalloc_workqueue("(wq)" #fmt, (flags), (max_active), fmt, ##__VA_ARGS__)
/* One item at a time, in queue order. */
#define alloc_ordered_workqueue(fmt, flags, ...)                                                   \
	__kalloc_workqueue("(wq)" #fmt, WQ_UNBOUND | (flags), 1, fmt, ##__VA_ARGS__)

static inline void destroy_workqueue(struct workqueue_struct *wq)
{
	rsv_destroy_workqueue(wq_to_rsv(wq));
}
static inline void drain_workqueue(struct workqueue_struct *wq)
{
	rsv_drain_workqueue(wq_to_rsv(wq));
}
static inline bool queue_work(struct workqueue_struct *wq, struct work_struct *work)
{
	return rsv_queue_work(wq_to_rsv(wq), &work->rsv);
}
static inline bool flush_work(struct work_struct *work)
{
	return rsv_flush_work(&work->rsv);
}
static inline bool cancel_work_sync(struct work_struct *work)
{
	return rsv_cancel_work_sync(&work->rsv);
}
static inline bool work_pending(struct work_struct *work)
{
	return rsv_work_pending(&work->rsv);
}

#endif
