/* The failure side of rsv_assert() (common/assert.h): a contract of the library broken. */
#include <stdio.h>
#include <stdlib.h>
#include "common/assert.h"
#include <reservoir/platform.h>

void rsv__assert_fail(const char *what, const char *file, int line, const char *func)
{
	const struct rsv_thread *self = rsv_thread_self();

	fprintf(stderr,
		"reservoir: bug: assertion \"%s\" failed in %s() at %s:%d (thread \"%s\")\n", what,
		func, file, line, rsv_thread_name(self));
	abort();
}
