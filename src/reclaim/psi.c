/* Early kswapd wake-ups from the Linux kernel's pressure-stall information (PSI,
 * Documentation/accounting/psi.rst). A service task arms a trigger on /proc/pressure/memory,
 * "some 100000 2000000" (some task stalled on memory for 100 ms within 2 s; 2 s is the
 * smallest window an unprivileged process may ask for), and polls it. When it fires, the
 * machine is short of memory: kswapd is woken with its target raised past the high watermark
 * by the kernel's default watermark_boost_factor (150 % of high, as boost_watermark() raises
 * it on fragmentation events), so the arena's caches are reclaimed before the daemon's own
 * allocations meet the low watermark. Where PSI is missing (a kernel without CONFIG_PSI, one
 * booted with psi=0, one older than 5.2, the simulator, whose runs must not hear the host) the
 * system goes on without it and rsv_system_psi() says why. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "reclaim/internal.h"

#define PSI_PATH "/proc/pressure/memory"
#define PSI_TRIGGER "some 100000 2000000"
#define POLL_MS 100 /* how soon the monitor notices it should stop */
#define BOOST_PERCENT 150

static int psi_main(void *arg)
{
	struct rsv_system *sys = arg;
	struct rsv_reclaim *r = rsv__reclaim(sys);
	int fd = (int)(intptr_t)r->psi_monitor_fd;

	while (!rsv_kthread_should_stop()) {
		struct pollfd p = { .fd = fd, .events = POLLPRI };
		int n = poll(&p, 1, POLL_MS);

		if (n < 0 && errno != EINTR)
			break;
		if (n <= 0)
			continue;
		if (p.revents & (POLLERR | POLLNVAL))
			break; /* the trigger went away: the monitor ends, the system goes on */
		if (p.revents & POLLPRI) {
			atomic_fetch_add(&r->psi_events, 1);
			rsv__psi_boost(sys);
		}
	}
	close(fd);
	return 0;
}

void rsv__psi_boost(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);

	atomic_store(&r->boost, sys->zone.wmark[RSV_WMARK_HIGH] * BOOST_PERCENT / 100);
	rsv__wakeup_kswapd(sys, RSV_GFP_KERNEL, 0);
}

static void unavailable(struct rsv_reclaim *r, int err, const char *fmt, const char *path)
{
	r->psi_state = err;
	snprintf(r->psi_why, sizeof(r->psi_why), fmt, path, strerror(-err));
}

void rsv__psi_start(struct rsv_system *sys)
{
	struct rsv_reclaim *r = rsv__reclaim(sys);
	const char *path = sys->cfg.psi_path ? sys->cfg.psi_path : PSI_PATH;
	int fd;

	if (!sys->cfg.psi)
		return;
	if (sys->cfg.backend != RSV_BACKEND_OS) {
		r->psi_state = -EOPNOTSUPP;
		snprintf(r->psi_why, sizeof(r->psi_why),
			 "the simulator does not hear the host's memory pressure");
		return;
	}
	if ((fd = open(path, O_RDWR | O_NONBLOCK | O_CLOEXEC)) < 0) {
		unavailable(r, -errno,
			    "%s: %s (no PSI: a kernel without CONFIG_PSI, booted with psi=0, or "
			    "older than 5.2); kswapd is woken by allocations only",
			    path);
		return;
	}
	if (write(fd, PSI_TRIGGER, strlen(PSI_TRIGGER) + 1) < 0) {
		unavailable(r, -errno,
			    "%s: the trigger \"" PSI_TRIGGER "\" was refused: %s; kswapd is woken "
			    "by allocations only",
			    path);
		close(fd);
		return;
	}
	r->psi_monitor_fd = (void *)(intptr_t)fd;
	if (!(r->psi_monitor = rsv_kthread_create(sys, "psi_monitor", psi_main, sys))) {
		unavailable(r, -ENOMEM, "%s: no monitor task: %s", path);
		close(fd);
		return;
	}
	r->psi_state = 1;
	snprintf(r->psi_why, sizeof(r->psi_why), "%s: \"%s\" armed", path, PSI_TRIGGER);
}

int rsv_system_psi(const struct rsv_system *sys, uint64_t *events, const char **why)
{
	struct rsv_reclaim *r = rsv__reclaim((struct rsv_system *)sys);

	if (events)
		*events = atomic_load(&r->psi_events);
	if (why)
		*why = r->psi_why;
	return r->psi_state;
}
