/* The system object, assembled: the mm layer first, then each layer above it installs itself
 * (filling in the interfaces through which the lower layers reach it), and teardown runs the
 * other way. The only file that knows every layer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "mm/internal.h"
#include "reclaim/internal.h"
#include "pool/internal.h"

/* RSV_FAIL, as the kernel's fault-injection knobs are set from debugfs before a test. A bad
 * setting is the user's error: it is said, once, and the system is not made. */
static int fault_from_env(struct rsv_system *sys)
{
	const char *spec = getenv("RSV_FAIL");
	char err[256];
	int e;

	if (!spec || !*spec)
		return 0;
	if ((e = rsv_fault_parse(sys, spec, err, sizeof(err))) == -EINVAL)
		fprintf(stderr, "reservoir: RSV_FAIL: %s\n", err);
	return e;
}

struct rsv_system *rsv_system_create(const struct rsv_system_config *cfg)
{
	struct rsv_system *sys = rsv__mm_system_create(cfg);
	int err;

	if (!sys)
		return NULL;
	rsv_list_init(&sys->objects);
	err = rsv__reclaim_init(sys);
	if (!err)
		err = rsv__pool_init(sys);
	if (!err)
		err = fault_from_env(sys);
	if (err) {
		rsv__fault_exit(sys);
		rsv__pool_exit(sys);
		rsv__kthreads_stop(sys);
		rsv__reclaim_exit(sys);
		rsv__mm_system_destroy(sys);
		errno = -err;
		return NULL;
	}
	return sys;
}

void rsv_system_add_object(struct rsv_system *sys, struct rsv_system_object *o)
{
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_add_tail(&o->node, &sys->objects);
	rsv_spin_unlock(&sys->tasks_lock);
}

/* Newest first: an object may sit on an older one. */
static void destroy_objects(struct rsv_system *sys)
{
	while (!rsv_list_empty(&sys->objects)) {
		struct rsv_system_object *o =
			rsv_container_of(sys->objects.prev, struct rsv_system_object, node);

		rsv_list_del(&o->node);
		o->destroy(o);
	}
}

bool rsv_system_abandoned(const struct rsv_system *sys)
{
	return sys && atomic_load(&sys->plat->halted);
}

void rsv_system_destroy(struct rsv_system *sys)
{
	if (!sys)
		return;
	rsv__platform_set_monitor(sys->plat, 0, NULL, NULL); /* the watchdogs stop looking */
	/* Its frozen tasks still point into every part of it (their stacks, the arena, the
	 * objects they wait on): it is left as it is, for the process's exit to reclaim. */
	if (rsv_system_abandoned(sys))
		return;
	rsv__kthreads_stop(sys);
	destroy_objects(sys);
	rsv__pool_exit(sys);
	rsv__reclaim_exit(sys);
	rsv__watchdog_exit(sys);
	rsv__lockdep_exit(sys);
	rsv__fault_exit(sys);
	rsv__mm_system_destroy(sys);
}
