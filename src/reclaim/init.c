/* The reclaim layer's place in a system: its state, the hooks it gives the page allocator,
 * kswapd and the flusher. */
#include <stdlib.h>
#include "reclaim/internal.h"

static const struct rsv_reclaim_ops reclaim_ops = {
	.wake_kswapd = rsv__wakeup_kswapd,
	.direct_reclaim = rsv__try_to_free_pages,
	.reclaimable_pages = rsv__reclaimable_pages,
	.out_of_memory = rsv__out_of_memory,
	.check = rsv__reclaim_check,
	.task_exit = rsv__mappings_release_task, /* exit_mmap(): a task's memory goes with it */
};

static const char *const vm_counter_names[RSV_NR_VM_COUNTERS] = {
	[RSV_NR_FILE] = "nr_file_pages", [RSV_NR_ANON] = "nr_anon_pages",
	[RSV_NR_DIRTY] = "nr_dirty", [RSV_NR_WRITEBACK] = "nr_writeback",
	[RSV_NR_SWAPPED] = "nr_swapped", [RSV_NR_ISOLATED] = "nr_isolated",
};

const char *rsv_vm_counter_name(enum rsv_vm_counter c)
{
	return (unsigned)c < RSV_NR_VM_COUNTERS ? vm_counter_names[c] : "?";
}

long rsv_vm_counter(struct rsv_system *sys, enum rsv_vm_counter c)
{
	return (unsigned)c < RSV_NR_VM_COUNTERS ? rsv__vm_get(rsv__reclaim(sys), c) : 0;
}

int rsv__reclaim_init(struct rsv_system *sys)
{
	struct rsv_reclaim *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	r->sys = sys;
	rsv_spin_init(&r->lru_lock);
	for (int t = 0; t < RSV_NR_LRU; t++) {
		r->lru[t].list = (struct rsv_pfn_list)RSV_PFN_LIST_INIT;
		atomic_init(&r->lru[t].nr, 0);
	}
	for (int c = 0; c < RSV_NR_VM_COUNTERS; c++)
		atomic_init(&r->vm[c], 0);
	rsv_waitqueue_init(&r->writeback_wait, "writeback");
	rsv_spin_init(&r->shrinker_lock);
	rsv_list_init(&r->shrinkers);
	rsv_waitqueue_init(&r->shrinker_idle, "shrinker idle");
	rsv_spin_init(&r->objects_lock);
	rsv_list_init(&r->mappings);
	rsv_list_init(&r->bdevs);
	rsv_list_init(&r->wb_inflight);
	rsv_waitqueue_init(&r->kswapd_wait, "kswapd_wait");
	rsv_waitqueue_init(&r->pfmemalloc_wait, "pfmemalloc_wait");
	atomic_init(&r->kswapd_woken, false);
	atomic_init(&r->kswapd_sleeping, false);
	atomic_init(&r->kswapd_failures, 0);
	sys->reclaim_data = r;
	sys->reclaim = &reclaim_ops;
	rsv__throttle_init(sys);
	if (rsv__kswapd_start(sys) || rsv__flusher_start(sys))
		return -ENOMEM;
	if ((err = rsv__oom_reaper_start(sys)))
		return err;
	rsv__psi_start(sys); /* it wakes kswapd: after it */
	return 0;
}

/* After the service tasks have stopped. */
void rsv__reclaim_exit(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	if (!r)
		return;
	rsv__mappings_destroy_all(sys);
	rsv__bdevs_destroy_all(sys);
	rsv__writeback_requests_free(r);
	sys->reclaim = &rsv__no_reclaim_ops;
	sys->reclaim_data = NULL;
	free(r);
}
