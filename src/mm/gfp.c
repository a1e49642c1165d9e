/* GFP flags: validation, the task's scoped context, and their translation into the
 * allocator's ALLOC_* flags (gfp_to_alloc_flags, __gfp_pfmemalloc_flags). */
#include <stdio.h>
#include <string.h>
#include "mm/internal.h"

const char *rsv_gfp_check_reason(rsv_gfp_t gfp, unsigned order)
{
	if (order > RSV_MAX_ORDER)
		return "order above 10";
	if (gfp & ~RSV_GFP_VALID_MASK)
		return "unknown gfp bits";
	/* Only reclaim reads FS and IO: without direct reclaim the pair is moot (mempool's first
	 * pass clears DIRECT_RECLAIM and IO and leaves FS). */
	if ((gfp & (RSV___GFP_FS | RSV___GFP_IO | RSV___GFP_DIRECT_RECLAIM)) ==
	    (RSV___GFP_FS | RSV___GFP_DIRECT_RECLAIM))
		return "__GFP_FS without __GFP_IO (NOIO implies NOFS)";
	if ((gfp & RSV___GFP_NORETRY) && (gfp & RSV___GFP_RETRY_MAYFAIL))
		return "__GFP_NORETRY with __GFP_RETRY_MAYFAIL";
	if (gfp & RSV___GFP_NOFAIL) {
		if (!(gfp & RSV___GFP_DIRECT_RECLAIM))
			return "__GFP_NOFAIL without __GFP_DIRECT_RECLAIM cannot be honoured";
		if (gfp & (RSV___GFP_NORETRY | RSV___GFP_RETRY_MAYFAIL))
			return "__GFP_NOFAIL with a may-fail flag";
		if (order > 1)
			return "__GFP_NOFAIL above order 1";
	}
	return NULL;
}

int rsv_gfp_check(rsv_gfp_t gfp, unsigned order)
{
	return rsv_gfp_check_reason(gfp, order) ? -EINVAL : 0;
}

/* current_gfp_context() once a scope is set: NOIO wins over NOFS; PIN drops MOVABLE. */
rsv_gfp_t rsv__gfp_scoped(unsigned pf, rsv_gfp_t gfp)
{
	if (pf & RSV_PF_MEMALLOC_NOIO)
		gfp &= ~(RSV___GFP_IO | RSV___GFP_FS);
	else if (pf & RSV_PF_MEMALLOC_NOFS)
		gfp &= ~RSV___GFP_FS;
	if (pf & RSV_PF_MEMALLOC_PIN)
		gfp &= ~RSV___GFP_MOVABLE;
	return gfp;
}

rsv_gfp_t rsv_current_gfp_context(rsv_gfp_t gfp)
{
	return rsv__task_gfp_context(rsv__task_current(), gfp);
}

/* gfp_to_alloc_flags(): the slow path's starting point, at the min watermark. */
unsigned rsv__gfp_to_alloc_flags(rsv_gfp_t gfp, unsigned order)
{
	unsigned f = RSV_ALLOC_WMARK_MIN | RSV_ALLOC_CPUSET;

	if (gfp & RSV___GFP_HIGH)
		f |= RSV_ALLOC_MIN_RESERVE;
	if (gfp & RSV___GFP_KSWAPD_RECLAIM)
		f |= RSV_ALLOC_KSWAPD;
	if (!(gfp & RSV___GFP_DIRECT_RECLAIM)) {
		/* Callers that cannot sleep get a little more, unless they refuse reserves. */
		if (!(gfp & RSV___GFP_NOMEMALLOC)) {
			f |= RSV_ALLOC_NON_BLOCK;
			if (order > 0 && (f & RSV_ALLOC_MIN_RESERVE))
				f |= RSV_ALLOC_HIGHATOMIC;
		}
		if (f & RSV_ALLOC_MIN_RESERVE)
			f &= ~RSV_ALLOC_CPUSET;
	}
	return f;
}

/* __gfp_pfmemalloc_flags(): who may go below min, in precedence order. NOMEMALLOC refuses
 * all reserves; __GFP_MEMALLOC and PF_MEMALLOC ignore watermarks; OOM victims get the
 * partial ALLOC_OOM reserve, or everything under policy memdie=full (the 2016 kernel). */
unsigned rsv__gfp_pfmemalloc_flags(const struct rsv_system *sys, const struct rsv_task *tsk,
				   rsv_gfp_t gfp)
{
	if (gfp & RSV___GFP_NOMEMALLOC)
		return 0;
	if (gfp & RSV___GFP_MEMALLOC)
		return RSV_ALLOC_NO_WATERMARKS;
	if (!tsk)
		return 0;
	if (rsv__task_flags(tsk) & RSV_PF_MEMALLOC)
		return RSV_ALLOC_NO_WATERMARKS;
	if (atomic_load_explicit(&tsk->oom_victim, memory_order_relaxed))
		return rsv_policy_get(&sys->policy, RSV_POLICY_MEMDIE) == RSV_MEMDIE_FULL
			       ? RSV_ALLOC_NO_WATERMARKS
			       : RSV_ALLOC_OOM;
	return 0;
}

static const struct {
	rsv_gfp_t mask;
	const char *name;
} gfp_names[] = {
	/* Composites first, widest first, so that the shortest spelling wins. */
	{ RSV_GFP_USER, "GFP_USER" },
	{ RSV_GFP_KERNEL, "GFP_KERNEL" },
	{ RSV_GFP_NOFS, "GFP_NOFS" },
	{ RSV_GFP_ATOMIC, "GFP_ATOMIC" },
	{ RSV_GFP_NOWAIT, "GFP_NOWAIT" },
	{ RSV_GFP_NOIO, "GFP_NOIO" },
	{ RSV___GFP_MOVABLE, "__GFP_MOVABLE" },
	{ RSV___GFP_RECLAIMABLE, "__GFP_RECLAIMABLE" },
	{ RSV___GFP_HIGH, "__GFP_HIGH" },
	{ RSV___GFP_IO, "__GFP_IO" },
	{ RSV___GFP_FS, "__GFP_FS" },
	{ RSV___GFP_ZERO, "__GFP_ZERO" },
	{ RSV___GFP_DIRECT_RECLAIM, "__GFP_DIRECT_RECLAIM" },
	{ RSV___GFP_KSWAPD_RECLAIM, "__GFP_KSWAPD_RECLAIM" },
	{ RSV___GFP_NOWARN, "__GFP_NOWARN" },
	{ RSV___GFP_RETRY_MAYFAIL, "__GFP_RETRY_MAYFAIL" },
	{ RSV___GFP_NOFAIL, "__GFP_NOFAIL" },
	{ RSV___GFP_NORETRY, "__GFP_NORETRY" },
	{ RSV___GFP_MEMALLOC, "__GFP_MEMALLOC" },
	{ RSV___GFP_NOMEMALLOC, "__GFP_NOMEMALLOC" },
	{ RSV___GFP_ACCOUNT, "__GFP_ACCOUNT" },
	{ RSV___GFP_NOLOCKDEP, "__GFP_NOLOCKDEP" },
};

int rsv_gfp_format(rsv_gfp_t gfp, char *buf, size_t len)
{
	rsv_gfp_t left = gfp;
	int n = 0;

	if (len)
		buf[0] = '\0';
	for (size_t i = 0; i < sizeof(gfp_names) / sizeof(gfp_names[0]); i++) {
		if ((left & gfp_names[i].mask) != gfp_names[i].mask || !gfp_names[i].mask)
			continue;
		n += snprintf(buf + ((size_t)n < len ? (size_t)n : len),
			      (size_t)n < len ? len - (size_t)n : 0, "%s%s", n ? "|" : "",
			      gfp_names[i].name);
		left &= ~gfp_names[i].mask;
	}
	if (left)
		n += snprintf(buf + ((size_t)n < len ? (size_t)n : len),
			      (size_t)n < len ? len - (size_t)n : 0, "%s%#x", n ? "|" : "", left);
	if (!n)
		n = snprintf(buf, len, "0");
	return n;
}
