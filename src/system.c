/* The system object, assembled: the mm layer first, then each layer above it installs itself
 * (filling in the interfaces through which the lower layers reach it), and teardown runs the
 * other way. The only file that knows every layer. */
#include <errno.h>
#include "mm/internal.h"
#include "reclaim/internal.h"
#include "pool/internal.h"

struct rsv_system *rsv_system_create(const struct rsv_system_config *cfg)
{
	struct rsv_system *sys = rsv__mm_system_create(cfg);
	int err;

	if (!sys)
		return NULL;
	err = rsv__reclaim_init(sys);
	if (!err)
		err = rsv__slab_init(sys);
	if (err) {
		rsv__slab_exit(sys);
		rsv__kthreads_stop(sys);
		rsv__reclaim_exit(sys);
		rsv__mm_system_destroy(sys);
		errno = -err;
		return NULL;
	}
	return sys;
}

void rsv_system_destroy(struct rsv_system *sys)
{
	if (!sys)
		return;
	rsv_platform_set_monitor(sys->plat, 0, NULL, NULL); /* the watchdogs stop looking */
	rsv__kthreads_stop(sys);
	rsv__slab_exit(sys);
	rsv__reclaim_exit(sys);
	rsv__watchdog_exit(sys);
	rsv__mm_system_destroy(sys);
}
