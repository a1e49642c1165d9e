/* Private to the storage-daemon scenarios (s6, s8): a daemon's reads on channels that share one
 * pool of I/O buffers, SPDK's bdev layer in miniature. */
#ifndef RSV_SCENARIO_DAEMON_IO_H
#define RSV_SCENARIO_DAEMON_IO_H

#include "common/list.h"
#include "scenario/internal.h"

#define RSV__DAEMON_MAX_CH 2

/* Where a completed read's buffer goes. */
enum rsv__daemon_handoff {
	/* To the oldest read parked on the completing channel, else back to the pool: SPDK's
	 * bdev_io and buffer pools (nothing looks at another channel's list). */
	RSV__HANDOFF_OWN_CHANNEL,
	/* To the oldest read parked on any channel, else back to the pool: one FIFO across
	 * channels, as mempool_free() wakes whoever waits on the pool. A new read takes from
	 * the pool only when none is parked anywhere, and the choice between parking and taking
	 * is made under the same lock as the choice between handing off and returning, as
	 * mempool_alloc() decides to wait under pool->lock: without that a read could park just
	 * after a completion found nobody parked and put its buffer back, and the buffer would
	 * sit in the pool, for the next newcomer, while the read waited (found by swarm: a
	 * stall on 73 of 1,000 seeds of s8). */
	RSV__HANDOFF_OLDEST,
};

struct rsv__daemon_channel {
	struct rsv_mutex lock;  /* a mutex: the pool is asked under it, and may schedule */
	struct rsv_list parked; /* struct rsv__daemon_io, oldest first */
	_Atomic unsigned parked_total, handoffs, completed;
	_Atomic unsigned started; /* reads that got a buffer and went to the disk */
};

struct rsv__daemon {
	struct rsv_scenario_run *run;
	struct rsv_bdev *disk;
	struct rsv_mempool *bufs;
	enum rsv__daemon_handoff handoff;
	bool count_overtaking; /* rsv__daemon_io.overtaken kept (locks each start: s8 only) */
	struct rsv__daemon_channel ch[RSV__DAEMON_MAX_CH];
	/* RSV__HANDOFF_OLDEST: held across each decision between the pool and the parked lists
	 * (taken before a channel's lock); nr_parked, the reads parked on all channels, under
	 * it. With it held, the pool has a buffer only if no read is parked. */
	struct rsv_mutex share;
	unsigned nr_parked;
	_Atomic uint64_t tickets; /* parking order, across channels */
	_Atomic uint64_t seqs;    /* submission order, across channels */
	struct rsv_waitqueue poller_wq;
	_Atomic unsigned users; /* tasks still submitting: the poller stops at 0 */
	_Atomic unsigned repolled, pool_returns;
};

struct rsv__daemon_io {
	struct rsv_request req;
	struct rsv__daemon *d;
	unsigned ch;
	struct rsv_list node; /* on the channel's parked list */
	uint64_t ticket;
	uint64_t seq;               /* when it was submitted */
	_Atomic unsigned overtaken; /* reads submitted after it that started while it was parked */
	_Atomic bool done;
	struct rsv_waitqueue *wq; /* the submitter's, woken on completion (NULL: nobody waits) */
};

/* A disk of @io_ns latency, a pool of @bufs buffers named @name, memory then taken below min
 * (half of it free) so that the pool's GFP_NOWAIT backing allocations fail; @users tasks will
 * submit. 0, or -errno with the run's reason set. */
int rsv__daemon_init(struct rsv__daemon *d, struct rsv_scenario_run *run, long bufs, uint64_t io_ns,
		     enum rsv__daemon_handoff handoff, unsigned users);
/* A buffer from the pool now, or @io waits on its channel's list, behind any already there
 * (FIFO: a newcomer does not overtake). */
void rsv__daemon_submit(struct rsv__daemon_io *io);
/* Sleeps on @wq until *@flag. */
void rsv__daemon_wait(struct rsv_waitqueue *wq, _Atomic bool *flag);
/* A submitting task is done; the last one stops the poller. */
void rsv__daemon_user_done(struct rsv__daemon *d);
/* The fix's task: every @arg->repoll (5 s, as mempool_alloc()'s io_schedule_timeout(5 * HZ)),
 * each channel's parked reads get what the pool has, oldest first. */
int rsv__daemon_poller(void *arg);
/* The scenario's teardown, for a scenario whose run data starts with its struct rsv__daemon
 * (the pool goes, then the run data). */
void rsv__daemon_teardown(struct rsv_scenario_run *run);
/* The scenario's .pools, for a scenario whose run data starts with its struct rsv__daemon. */
void rsv__daemon_pools(struct rsv_scenario_run *run, long *fill, long *size);

#endif
