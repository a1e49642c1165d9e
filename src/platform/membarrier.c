/* Asymmetric fences: a fast side that uses only compiler barriers, and a rare slow side that
 * makes every running thread of the process execute a full memory barrier, through
 * membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED). This is the userspace form of the IPI the
 * kernel once used to drain other CPUs' page lists. */
#include <linux/membarrier.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "platform/internal.h"

static pthread_once_t once = PTHREAD_ONCE_INIT;
static bool available;

static void probe(void)
{
	long cmds = syscall(__NR_membarrier, MEMBARRIER_CMD_QUERY, 0, 0);

	if (cmds < 0 || !(cmds & MEMBARRIER_CMD_PRIVATE_EXPEDITED))
		return;
	available = !syscall(__NR_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0);
}

bool rsv__membarrier_available(void)
{
	pthread_once(&once, probe);
	return available;
}

/* Only called after registration succeeded; a failure now would silently void the fast
 * side's assumptions, so it is fatal. */
void rsv__membarrier(void)
{
	if (syscall(__NR_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0)) {
		perror("reservoir: membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)");
		abort();
	}
}
