/* Misuse reports: a double free, a foreign pointer, a bad order. The message is kept in the
 * system for rsv_system_error(), counted, and, in abort mode, printed before abort(): a clear
 * message naming the misuse beats silent corruption. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include "mm/internal.h"

static void vset_error(struct rsv_system *sys, const char *fmt, va_list ap)
{
	rsv_spin_lock(&sys->error_lock);
	vsnprintf(sys->error, sizeof(sys->error), fmt, ap);
	rsv_spin_unlock(&sys->error_lock);
}

void rsv__set_error(struct rsv_system *sys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_error(sys, fmt, ap);
	va_end(ap);
}

int rsv__misuse(struct rsv_system *sys, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vset_error(sys, fmt, ap);
	va_end(ap);
	rsv__count_misuse(sys);
	if (sys->misuse == RSV_MISUSE_ABORT) {
		fprintf(stderr, "reservoir: misuse: %s\n", sys->error);
		abort();
	}
	return -EINVAL;
}

const char *rsv_system_error(const struct rsv_system *sys)
{
	return sys->error;
}
