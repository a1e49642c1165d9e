/* panic(): what a system does where the kernel would panic. Today one cause: an allocation
 * that may not fail finds nothing the OOM killer may kill (out_of_memory()'s "Out of memory
 * and no killable processes"), where returning NULL would hand the caller a failure the
 * kernel never gives it.
 *
 * The message is kept (rsv_system_panicked()) and reported, the owner's callback hears it
 * once, and the run stops as a panicked machine does: the platform is stopped (on real
 * threads the other tasks freeze at their next sleep, see os.c), and the panicking task
 * stays here for good, as a panicked CPU spins in panic(). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "mm/internal.h"

const char *rsv_system_panicked(const struct rsv_system *sys)
{
	return sys && atomic_load_explicit(&sys->panicked, memory_order_acquire) ? sys->panic_msg
										    : NULL;
}

void rsv__panic(struct rsv_system *sys, const char *fmt, ...)
{
	struct rsv_thread *self = rsv__thread_self_or_adopt();
	char line[300];
	va_list ap;

	if (!atomic_exchange(&sys->panicking, true)) {
		va_start(ap, fmt);
		vsnprintf(sys->panic_msg, sizeof(sys->panic_msg), fmt, ap);
		va_end(ap);
		atomic_store_explicit(&sys->panicked, true, memory_order_release);
		snprintf(line, sizeof(line), "panic: %s\n", sys->panic_msg);
		rsv__platform_report_append(sys->plat, line);
		if (!sys->cfg.panic) {
			fprintf(stderr, "reservoir: panic: %s\n", sys->panic_msg);
			abort();
		}
		sys->cfg.panic(sys->cfg.panic_arg, sys->panic_msg);
		rsv_platform_stop(sys->plat);
	}
	/* A second panicking task stops here too, without a second message. */
	rsv__set_waiting(self, RSV_WAIT_SLEEP, NULL);
	for (;;) {
		atomic_store_explicit(&self->state, RSV_TASK_UNINTERRUPTIBLE, memory_order_relaxed);
		rsv__sleep_until(self, 0);
	}
}
