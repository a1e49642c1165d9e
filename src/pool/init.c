/* The pool layer's place in a system: its state (struct rsv_pool_layer), the hooks it gives
 * the page allocator, and the order in which its parts come up and go down: reservations,
 * the slab shrinker, kmalloc's caches. Mempools need nothing here beyond the id table. */
#include <stdlib.h>
#include "pool/internal.h"

static void pool_task_exit(struct rsv_task *t)
{
	rsv__reservation_task_exit(t);
	rsv__slab_task_exit(t);
}

static int pool_check(struct rsv_system *sys)
{
	int err = rsv__slab_check(sys);

	return err ? err : rsv__reservation_check(sys);
}

static const struct rsv_pool_ops pool_ops = {
	.task_exit = pool_task_exit,
	.check = pool_check,
	.reservation_alloc = rsv__reservation_alloc,
	.describe_wait = rsv__pool_describe_wait,
};

int rsv__pool_init(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = calloc(1, sizeof(*pl));

	if (!pl)
		return -ENOMEM;
	rsv_spin_init(&pl->lock);
	rsv_list_init(&pl->caches);
	sys->pool_data = pl;
	rsv__reservation_init(sys);
	sys->pool = &pool_ops;
	pl->shrinker = (struct rsv_shrinker){ .count_objects = rsv__slab_shrink_count,
					      .scan_objects = rsv__slab_shrink_scan, .seeks = 1,
					      .name = "slab", .private_data = sys };
	if (rsv_register_shrinker(sys, &pl->shrinker))
		return -ENOMEM;
	return rsv__kmalloc_init(sys);
}

/* At system teardown, after every task has stopped; also after a failed rsv__pool_init(). */
void rsv__pool_exit(struct rsv_system *sys)
{
	struct rsv_pool_layer *pl = rsv__pool_layer(sys);
	struct rsv_list *pos;

	if (!pl)
		return;
	rsv_unregister_shrinker(sys, &pl->shrinker);
	rsv__reservation_exit(sys);
	rsv__slab_exit(sys);
	rsv_list_for_each(pos, &sys->tasks)
		rsv__pool_counts_free(rsv_container_of(pos, struct rsv_task, node));
	free(pl);
	sys->pool = &rsv__no_pool_ops;
	sys->pool_data = NULL;
}
