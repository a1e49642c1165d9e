/* The system: one simulated machine. Creates its platform, maps its arena and page
 * descriptors, sizes its watermarks and per-task caches, and tears all of it down. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include "mm/internal.h"
#include "platform/workspace.h"
#include "common/asan.h"

static void no_wake_kswapd(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order) {}
static unsigned long no_direct_reclaim(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order)
{
	return 0;
}
static unsigned long no_reclaimable(struct rsv_system *sys) { return 0; }
static enum rsv_oom_result no_oom(struct rsv_system *sys, rsv_gfp_t gfp, unsigned order)
{
	return RSV_OOM_NONE;
}
static int nothing_to_check(struct rsv_system *sys) { return 0; }
static void nothing_to_release(struct rsv_system *sys, struct rsv_task *t) {}

/* Until a reclaim layer is installed: nothing reclaimable, nobody to kill. */
const struct rsv_reclaim_ops rsv__no_reclaim_ops = {
	.wake_kswapd = no_wake_kswapd,
	.direct_reclaim = no_direct_reclaim,
	.reclaimable_pages = no_reclaimable,
	.out_of_memory = no_oom,
	.check = nothing_to_check,
	.task_exit = nothing_to_release,
};

static void no_pool_task_exit(struct rsv_task *t) { (void)t; }
static int no_pool_check(struct rsv_system *sys) { (void)sys; return 0; }
static struct rsv_page *no_reserve(struct rsv_task *t, rsv_gfp_t gfp, unsigned order,
				   enum rsv_reservation_when when)
{
	(void)t, (void)gfp, (void)order, (void)when;
	return NULL;
}

const struct rsv_pool_ops rsv__no_pool_ops = {
	.task_exit = no_pool_task_exit,
	.check = no_pool_check,
	.reservation_alloc = no_reserve,
};

/* Why the calling thread's last rsv_system_create() failed (rsv_system_create_error()). */
static __thread char create_error[320];

static int create_failed(int err, const char *fmt, ...) RSV_PRINTF(2, 3);
static int create_failed(int err, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(create_error, sizeof(create_error), fmt, ap);
	va_end(ap);
	return err;
}

const char *rsv_system_create_error(void)
{
	return create_error;
}

static int validate(const struct rsv_system_config *c)
{
	if (c->nr_pages < RSV_MIN_ARENA_PAGES || c->nr_pages > RSV_MAX_ARENA_PAGES)
		return create_failed(-EINVAL, "nr_pages %lu is not in %lu..%lu", c->nr_pages,
				     RSV_MIN_ARENA_PAGES, RSV_MAX_ARENA_PAGES);
	if (c->watermark_scale_factor > 3000)
		return create_failed(-EINVAL, "watermark_scale_factor %u is not in 0..3000",
				     c->watermark_scale_factor);
	if (c->backend != RSV_BACKEND_OS && c->backend != RSV_BACKEND_SIM)
		return create_failed(-EINVAL, "backend %d is neither sim nor os", (int)c->backend);
	if ((unsigned)c->misuse > RSV_MISUSE_ABORT)
		return create_failed(-EINVAL, "misuse mode %d is unknown", (int)c->misuse);
	if (c->attach_flags & ~RSV_PF_IO_FLUSHER)
		return create_failed(-EINVAL,
				     "attach_flags %#x: only RSV_PF_IO_FLUSHER's bits (%#x) may be "
				     "given",
				     c->attach_flags, RSV_PF_IO_FLUSHER);
	for (int k = 0; k < RSV_NR_POLICY_KEYS; k++)
		if (c->policy.value[k] >= rsv_policy_nr_values(k))
			return create_failed(-EINVAL, "policy %s: value %u is out of range",
					     rsv_policy_key_name(k), c->policy.value[k]);
	return 0;
}

/* mlock2(MLOCK_ONFAULT) where the kernel has it (4.4): pages are locked as they are first
 * touched, so a generous arena is not committed at once; plain mlock() elsewhere. */
static int lock_range(void *addr, size_t len)
{
#ifdef MLOCK_ONFAULT
	if (!mlock2(addr, len, MLOCK_ONFAULT))
		return 0;
	if (errno != EINVAL && errno != ENOSYS)
		return -errno;
#endif
	return mlock(addr, len) ? -errno : 0;
}

/* An I/O daemon's reserves must not themselves be paged out under pressure: the arena and its
 * page descriptors are locked. Refused (RLIMIT_MEMLOCK, or no CAP_IPC_LOCK), the system is not
 * made unless the caller allowed it to go on unlocked (mlock_optional). */
static int lock_arena(struct rsv_system *sys)
{
	struct rlimit rl = { 0 };
	char limit[64] = "unknown";
	int err;

	if (!(err = lock_range(sys->arena, sys->arena_bytes)) &&
	    !(err = lock_range(sys->memmap, sys->memmap_bytes)))
		return sys->mlock_result = 1, 0;
	munlock(sys->arena, sys->arena_bytes);
	sys->mlock_result = err;
	if (sys->cfg.mlock_optional)
		return 0;
	if (!getrlimit(RLIMIT_MEMLOCK, &rl))
		snprintf(limit, sizeof(limit),
			 rl.rlim_cur == RLIM_INFINITY ? "unlimited" : "%llu KiB",
			 (unsigned long long)rl.rlim_cur / 1024);
	return create_failed(err,
			     "mlock of the arena (%zu KiB and %zu KiB of page descriptors) "
			     "failed: %s; RLIMIT_MEMLOCK is %s: raise it (ulimit -l, "
			     "LimitMEMLOCK= in a systemd unit, or CAP_IPC_LOCK), or set "
			     "mlock_optional to go on unlocked",
			     sys->arena_bytes / 1024, sys->memmap_bytes / 1024, strerror(-err),
			     limit);
}

static int map_arena(struct rsv_system *sys)
{
	bool reused;

	sys->arena_bytes = sys->nr_pages << RSV_PAGE_SHIFT;
	sys->arena = rsv__workspace_map(sys->cfg.workspace, sys->arena_bytes, RSV_WS_ARENA,
					&reused);
	if (!sys->arena)
		return -ENOMEM;
	sys->memmap_bytes = sys->nr_pages * sizeof(struct rsv_page);
	sys->memmap = rsv__workspace_map(sys->cfg.workspace, sys->memmap_bytes, RSV_WS_MEMMAP,
					 &reused);
	if (!sys->memmap)
		return -ENOMEM;
	if (reused) /* the page map starts zeroed; page contents are nobody's business */
		memset(sys->memmap, 0, sys->memmap_bytes);
	rsv__asan_poison(sys->arena, sys->arena_bytes); /* every page starts free */
	return sys->cfg.mlock ? lock_arena(sys) : 0;
}

/* The mm half of rsv_system_create(): everything up to a working page allocator. */
struct rsv_system *rsv__mm_system_create(const struct rsv_system_config *cfg)
{
	struct rsv_system_config c = cfg ? *cfg : (struct rsv_system_config){ 0 };
	struct rsv_system *sys;
	int err;

	create_error[0] = 0;
	if (!c.nr_pages) {
		uint64_t limit = UINT64_MAX;

		/* Only real threads hear the host: a simulated run is the same everywhere. */
		if (c.backend == RSV_BACKEND_OS)
			rsv_cgroup_memory_max(NULL, NULL, &limit);
		c.nr_pages = rsv_default_arena_pages(limit);
	}
	err = validate(&c);
	if (err || !(sys = calloc(1, sizeof(*sys)))) {
		errno = err ? -err : ENOMEM;
		return NULL;
	}
	sys->cfg = c;
	sys->policy = c.policy;
#if defined(RSV_DEBUG) || defined(RSV_HARDENED)
	sys->misuse = c.misuse == RSV_MISUSE_DEFAULT ? RSV_MISUSE_ABORT : c.misuse;
#else
	sys->misuse = c.misuse == RSV_MISUSE_DEFAULT ? RSV_MISUSE_RETURN : c.misuse;
#endif
	sys->nr_pages = c.nr_pages;
	sys->reclaim = &rsv__no_reclaim_ops;
	sys->pool = &rsv__no_pool_ops;
	rsv_spin_init(&sys->tasks_lock);
	rsv_spin_init(&sys->error_lock);
	rsv_list_init(&sys->tasks);
	rsv_list_init(&sys->spare_tasks);
	rsv_mutex_init(&sys->oom_lock, "oom_lock");
	rsv_mutex_init(&sys->drain_lock, "pcpu_drain_mutex");
	rsv_spin_init(&sys->zone.lock);
	rsv_waitqueue_init(&sys->zone.free_wait, "zone free pages");
	sys->plat = rsv_platform_create(
		&(struct rsv_platform_config){ .backend = c.backend,
					       .seed = c.seed,
					       .time_limit_ns = c.time_limit_ns,
					       .workspace = c.workspace,
					       .sched = c.sched });
	if (!sys->plat || (err = map_arena(sys))) {
		int e = sys->plat ? -err : errno; /* a bad strategy is EINVAL */

		if (!sys->plat)
			create_failed(e, "the platform: %s", strerror(e));
		else if (!create_error[0])
			create_failed(e, "mapping an arena of %lu pages: %s", sys->nr_pages,
				      strerror(e));
		rsv__mm_system_destroy(sys);
		errno = e;
		return NULL;
	}
	rsv__platform_set_describe_hook(sys->plat, rsv__describe_task, sys);
	sys->zone.managed = sys->nr_pages;
	rsv__buddy_init(sys);
	rsv__setup_watermarks(sys);
	rsv__pcp_setup(sys);
	return sys;
}

void rsv__mm_system_destroy(struct rsv_system *sys)
{
	if (!sys)
		return;
	/* A thread still attached must not keep pointing into what is freed below. */
	if (rsv__self && rsv__self->plat == sys->plat)
		rsv__self = NULL;
	/* Threads go first: on the os backend this joins them, so no task is still running. */
	rsv_platform_destroy(sys->plat);
	rsv__task_free_all(sys);
	if (sys->arena)
		rsv__asan_unpoison(sys->arena, sys->arena_bytes);
	rsv__workspace_unmap(sys->cfg.workspace, sys->arena, sys->arena_bytes, RSV_WS_ARENA);
	rsv__workspace_unmap(sys->cfg.workspace, sys->memmap, sys->memmap_bytes, RSV_WS_MEMMAP);
	free(sys);
}

enum rsv_run_result rsv_system_run(struct rsv_system *sys)
{
	return rsv_platform_run(sys->plat);
}

struct rsv_platform *rsv_system_platform(struct rsv_system *sys) { return sys->plat; }
const struct rsv_policy *rsv_system_policy(const struct rsv_system *sys) { return &sys->policy; }
const struct rsv_system_config *rsv_system_config(const struct rsv_system *sys)
{
	return &sys->cfg;
}

void *rsv_system_arena(const struct rsv_system *sys, size_t *bytes)
{
	if (bytes)
		*bytes = sys->arena_bytes;
	return sys->arena;
}
unsigned long rsv_system_nr_pages(const struct rsv_system *sys) { return sys->nr_pages; }
int rsv_system_mlocked(const struct rsv_system *sys) { return sys->mlock_result; }

unsigned long rsv_system_free_pages(const struct rsv_system *sys)
{
	long f = rsv__zone_free(&sys->zone);

	return f > 0 ? (unsigned long)f : 0;
}

void rsv_system_watermarks(const struct rsv_system *sys, struct rsv_watermarks *out)
{
	out->min = sys->zone.wmark[RSV_WMARK_MIN];
	out->low = sys->zone.wmark[RSV_WMARK_LOW];
	out->high = sys->zone.wmark[RSV_WMARK_HIGH];
	out->managed = sys->zone.managed;
	out->min_free_kbytes = sys->min_free_kbytes;
}

int rsv_system_set_watermarks(struct rsv_system *sys, unsigned long min, unsigned long low,
			      unsigned long high)
{
	if (min > low || low > high || high > sys->zone.managed)
		return -EINVAL;
	sys->zone.wmark[RSV_WMARK_MIN] = min;
	sys->zone.wmark[RSV_WMARK_LOW] = low;
	sys->zone.wmark[RSV_WMARK_HIGH] = high;
	return 0;
}
