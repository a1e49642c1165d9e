/* s6-daemon-parked-io (SPDK issues 2824 and 3141, "IOs waiting for a buf from pool can stack"
 * and "bdev stuck when IOs are in nomem list"; the same machinery as mempool_alloc()'s wait, in
 * a userspace storage daemon).
 *
 * A daemon serves reads on two channels from one shared pool of I/O buffers: a mempool whose
 * backing allocations fail, memory being short, so that its elements are all there is. An I/O
 * that finds the pool empty is parked on its channel's list; a completion on a channel hands
 * its buffer to the first I/O parked on that same channel, else gives it back to the pool.
 * Channel 1 runs a resync job: bursts of reads, as many as the pool holds or more. Channel 0
 * serves a client at queue depth 1. When the client's read finds the pool empty (the resync
 * took the last buffer first: only some schedules), it is parked on a channel with nothing in
 * flight, so that no completion of its own channel will ever come.
 *
 * iowait=completion-only is that: the parked read waits forever (deadlock) although the
 * resync's completions have filled the pool again. iowait=timed-repoll is the fix both issues
 * settled on: a poller looks at every channel's list on a timer (every 5 virtual s, as
 * mempool_alloc() re-polls its pool after io_schedule_timeout(5 * HZ)) and retries what is
 * parked there. The situation is the issues' only when a client read was parked; runs where
 * the client always found a buffer are out of it (invalid-setup), whatever they did. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include "common/list.h"
#include "scenario/internal.h"

enum { P_BUFS, P_BURST, P_ROUNDS, P_IO_MS, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_BUFS] = { "bufs", 16, 1, 1024, "I/O buffers in the daemon's shared pool" },
	[P_BURST] = { "burst", 16, 1, 1024, "reads the resync job submits at once, each round" },
	[P_ROUNDS] = { "rounds", 4, 1, 1000, "rounds: a client read and a resync burst each" },
	[P_IO_MS] = { "io_ms", 1, 0, 1000, "disk latency, virtual ms" },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_IOWAIT };

/* The client's work before it asks for a buffer (parsing its request, say): scheduling steps
 * during which the resync's burst may take the pool's last buffer. The race's window. */
#define RACE_STEPS 32

/* The fix's timer: mempool_alloc()'s io_schedule_timeout(5 * HZ). */
#define REPOLL_NS (5 * RSV_NSEC_PER_SEC)

#define FILL_MAX 4096

struct channel {
	struct rsv_mutex lock;  /* a mutex: the pool is asked under it, and may schedule */
	struct rsv_list parked; /* struct io, oldest first */
	unsigned nr_parked;
};

struct io {
	struct rsv_request req;
	struct s6 *s;
	unsigned ch;
	struct rsv_list node; /* on the channel's parked list */
	_Atomic bool done;
	struct rsv_waitqueue *wq; /* the submitter's, woken on completion (NULL: nobody waits) */
};

struct s6 {
	struct rsv_scenario_run *run;
	struct rsv_bdev *disk;
	struct rsv_mempool *bufs;
	struct channel ch[2];
	struct rsv_waitqueue client_wq, resync_wq, poller_wq;
	_Atomic bool client_done, resync_done;
	/* What happened, for the judge. */
	_Atomic unsigned parked[2], handoffs[2], repolled, pool_returns, client_reads;
	struct rsv_page *fill[FILL_MAX];
	unsigned nr_fill;
};

static bool timed_repoll(struct s6 *s)
{
	return rsv_policy_get(rsv_system_policy(s->run->sys), RSV_POLICY_IOWAIT) ==
	       RSV_IOWAIT_TIMED_REPOLL;
}

static void io_done(struct rsv_request *req);

/* The read into @buf. The disk refuses only a request in flight, out of range or without a
 * page, none of which this scenario makes: a refusal is its own bug, said and stopped. */
static void start(struct io *io, struct rsv_page *buf)
{
	int err;

	io->req = (struct rsv_request){ .bdev = io->s->disk,
					.op = RSV_REQ_READ,
					.sector = io->ch,
					.page = buf,
					.end_io = io_done,
					.private = io };
	if ((err = rsv_submit_request(&io->req))) {
		fprintf(stderr, "reservoir: s6-daemon-parked-io: the disk refused a read (%d)\n",
			err);
		abort();
	}
}

/* spdk_bdev_io_get_buf(): a buffer from the pool now, or the I/O waits on its channel's list,
 * behind any already there (the list is FIFO: a newcomer does not overtake). */
static void submit_io(struct io *io)
{
	struct channel *c = &io->s->ch[io->ch];
	struct rsv_page *buf = NULL;

	rsv_mutex_lock(&c->lock);
	if (rsv_list_empty(&c->parked))
		buf = rsv_mempool_alloc(io->s->bufs, RSV_GFP_NOWAIT);
	if (!buf) {
		rsv_list_add_tail(&io->node, &c->parked);
		c->nr_parked++;
		atomic_fetch_add(&io->s->parked[io->ch], 1);
	}
	rsv_mutex_unlock(&c->lock);
	if (buf)
		start(io, buf);
}

/* Runs in the disk's completing task. The buffer goes to the first I/O parked on this
 * channel, or back to the pool: never to another channel's list (the issues' bug, which the
 * fix keeps, adding the poller instead). */
static void io_done(struct rsv_request *req)
{
	struct io *io = req->private;
	struct s6 *s = io->s;
	struct channel *c = &s->ch[io->ch];
	struct io *next = NULL;
	struct rsv_waitqueue *wq = io->wq;

	rsv_mutex_lock(&c->lock);
	if (!rsv_list_empty(&c->parked)) {
		next = rsv_container_of(c->parked.next, struct io, node);
		rsv_list_del(&next->node);
		c->nr_parked--;
	}
	rsv_mutex_unlock(&c->lock);
	if (next) {
		atomic_fetch_add(&s->handoffs[io->ch], 1);
		start(next, req->page);
	} else {
		atomic_fetch_add(&s->pool_returns, 1);
		rsv_mempool_free(req->page, s->bufs);
	}
	rsv_progress_inc(&s->run->progress);
	atomic_store(&io->done, true);
	if (wq)
		rsv_wake_up(wq);
}

static void wait_until(struct rsv_waitqueue *wq, _Atomic bool *flag)
{
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(wq, &we, RSV_TASK_UNINTERRUPTIBLE);
		if (atomic_load(flag))
			break;
		rsv_schedule();
	}
	rsv_finish_wait(wq, &we);
}

/* Round @r's start: both channels begin their round at the same virtual instant, so that
 * which of them reaches the pool first is the scheduler's choice. */
static void round_start(struct s6 *s, long r)
{
	uint64_t at = (uint64_t)r * (uint64_t)(s->run->p[P_IO_MS] + 1) * RSV_NSEC_PER_MSEC;
	uint64_t now = rsv_now();

	if (now < at)
		rsv_sleep_ns(at - now);
}

/* Channel 0: one read at a time, each after some work of its own. */
static int client(void *arg)
{
	struct s6 *s = arg;

	for (long r = 0; r < s->run->p[P_ROUNDS]; r++) {
		struct io io = { .s = s, .ch = 0, .wq = &s->client_wq };

		round_start(s, r);
		for (int i = 0; i < RACE_STEPS; i++)
			rsv_sched_point();
		submit_io(&io);
		wait_until(&s->client_wq, &io.done);
		atomic_fetch_add(&s->client_reads, 1);
	}
	atomic_store(&s->client_done, true);
	rsv_wake_up(&s->poller_wq);
	return 0;
}

/* Channel 1: a burst of reads each round, all in flight together; the round ends when all
 * have completed (its own completions serve what of it was parked). */
static int resync(void *arg)
{
	struct s6 *s = arg;
	long burst = s->run->p[P_BURST];
	struct io *ios = calloc((size_t)burst, sizeof(*ios));

	for (long r = 0; ios && r < s->run->p[P_ROUNDS]; r++) {
		round_start(s, r);
		for (long i = 0; i < burst; i++) {
			ios[i] = (struct io){ .s = s, .ch = 1, .wq = &s->resync_wq };
			submit_io(&ios[i]);
		}
		for (long i = 0; i < burst; i++)
			wait_until(&s->resync_wq, &ios[i].done);
	}
	free(ios);
	atomic_store(&s->resync_done, true);
	rsv_wake_up(&s->poller_wq);
	return 0;
}

/* The fix: every REPOLL_NS, each channel's parked I/Os get what the pool has, oldest first. */
static int poller(void *arg)
{
	struct s6 *s = arg;
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	for (;;) {
		rsv_prepare_to_wait(&s->poller_wq, &we, RSV_TASK_UNINTERRUPTIBLE);
		if (atomic_load(&s->client_done) && atomic_load(&s->resync_done))
			break;
		rsv_schedule_timeout(REPOLL_NS);
		rsv_finish_wait(&s->poller_wq, &we);
		for (unsigned ch = 0; ch < 2; ch++) {
			struct channel *c = &s->ch[ch];

			for (;;) {
				struct io *io = NULL;
				struct rsv_page *buf = NULL;

				rsv_mutex_lock(&c->lock);
				if (!rsv_list_empty(&c->parked) &&
				    (buf = rsv_mempool_alloc(s->bufs, RSV_GFP_NOWAIT))) {
					io = rsv_container_of(c->parked.next, struct io, node);
					rsv_list_del(&io->node);
					c->nr_parked--;
				}
				rsv_mutex_unlock(&c->lock);
				if (!io)
					break;
				atomic_fetch_add(&s->repolled, 1);
				start(io, buf);
			}
		}
	}
	rsv_finish_wait(&s->poller_wq, &we);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s6 *s = calloc(1, sizeof(*s));
	struct rsv_watermarks wm;
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	for (unsigned ch = 0; ch < 2; ch++) {
		rsv_mutex_init(&s->ch[ch].lock, ch ? "channel 1" : "channel 0");
		rsv_list_init(&s->ch[ch].parked);
	}
	rsv_waitqueue_init(&s->client_wq, "channel 0 read");
	rsv_waitqueue_init(&s->resync_wq, "channel 1 reads");
	rsv_waitqueue_init(&s->poller_wq, "nomem poller");
	/* Reads land in the buffers; the disk keeps nothing (null_blk), reads return zeros. */
	s->disk = rsv_ramdev_create(run->sys, "disk", 16, (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC,
				    RSV_RAMDEV_NULL);
	if (!s->disk || !(s->bufs = rsv_mempool_create_page_pool(run->sys, (int)p[P_BUFS], 0)))
		return rsv__scenario_setup_error(run, -ENOMEM,
						 "setup: the disk or the pool of "
						 "bufs=%ld buffers",
						 p[P_BUFS]);
	rsv_mempool_set_name(s->bufs, "daemon buffers");
	/* Memory short, half the min watermark free: the pool's backing allocations
	 * (GFP_NOWAIT) fail, its elements are all the daemon has. */
	rsv_system_watermarks(run->sys, &wm);
	s->nr_fill = rsv__scenario_exhaust(run->sys, wm.min / 2, s->fill, FILL_MAX, true);
	if ((err = rsv__scenario_task(run, "client", client, s)) ||
	    (err = rsv__scenario_task(run, "resync", resync, s)))
		return err;
	if (timed_repoll(s) && (err = rsv__scenario_task(run, "poller", poller, s)))
		return err;
	return 0;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s6 *s = run->data;
	struct rsv_mempool_stats ms;

	rsv_mempool_stats(s->bufs, &ms);
	rsv__scenario_counter(run, "client_reads", atomic_load(&s->client_reads));
	rsv__scenario_counter(run, "client_parked", atomic_load(&s->parked[0]));
	rsv__scenario_counter(run, "resync_parked", atomic_load(&s->parked[1]));
	rsv__scenario_counter(run, "handoffs",
			      atomic_load(&s->handoffs[0]) + atomic_load(&s->handoffs[1]));
	rsv__scenario_counter(run, "repolled", atomic_load(&s->repolled));
	rsv__scenario_counter(run, "pool_returns", atomic_load(&s->pool_returns));
	rsv__scenario_counter(run, "pool_fill", rsv_mempool_curr_nr(s->bufs));
	if (!atomic_load(&s->parked[0])) {
		rsv__scenario_invalid(run,
				      "the client's reads always found a buffer (%u of them; "
				      "bufs=%ld, burst=%ld, rounds=%ld): none was parked",
				      atomic_load(&s->client_reads), run->p[P_BUFS],
				      run->p[P_BURST], run->p[P_ROUNDS]);
		return;
	}
	if (run->res->verdict == RSV_VERDICT_DEADLOCK)
		rsv__scenario_note(run,
				   "the client's read is parked on channel 0, which has "
				   "nothing in flight to complete; the pool holds buffers again");
}

static void pools(struct rsv_scenario_run *run, long *fill, long *size)
{
	struct s6 *s = run->data;

	if (!s->bufs)
		return;
	*fill = rsv_mempool_curr_nr(s->bufs);
	*size = rsv_mempool_min_nr(s->bufs);
}

static void teardown(struct rsv_scenario_run *run)
{
	free(run->data);
}

static const struct rsv_scenario_property sometimes[] = {
	{ "a client read is parked", "client_parked" },
	{ "a completion hands its buffer to a parked read", "handoffs" },
};

const struct rsv_scenario rsv__s6_daemon_parked_io = {
	.name = "s6-daemon-parked-io",
	.summary = "a storage daemon retries I/Os parked for want of a buffer only when its "
		   "channel completes one (SPDK 2824, 3141): a read at queue depth 1 parked with "
		   "nothing in flight. Racy: parked only where a resync burst on another channel "
		   "takes the last buffer during the client's 32 steps of work",
	.params = params,
	.nr_params = NR_P,
	.keys = keys,
	.nr_keys = sizeof(keys) / sizeof(keys[0]),
	.nr_pages = 2048,
	.setup = setup,
	.judge = judge,
	.pools = pools,
	.teardown = teardown,
	.sometimes = sometimes,
	.nr_sometimes = sizeof(sometimes) / sizeof(sometimes[0]),
};
