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
#include <stdlib.h>
#include "scenario/daemon_io.h"

enum { P_BUFS, P_BURST, P_ROUNDS, P_IO_MS, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_BUFS] = { "bufs", 16, 1, 1024, "I/O buffers in the daemon's shared pool" },
	[P_BURST] = { "burst", 16, 1, 1024, "reads the resync job submits at once, each round" },
	[P_ROUNDS] = { "rounds", 4, 1, 1000, "rounds: a client read and a resync burst each" },
	[P_IO_MS] = { "io_ms", 1, 0, 1000, "disk latency, virtual ms", .swarm = true,
		      .swarm_alt = 0 },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_IOWAIT };

/* The client's work before it asks for a buffer (parsing its request, say): scheduling steps
 * during which the resync's burst may take the pool's last buffer. The race's window. */
#define RACE_STEPS 32

struct s6 {
	struct rsv__daemon
		d; /* first (rsv__daemon_pools()); channel 0: the client, 1: the resync */
	struct rsv_scenario_run *run;
	struct rsv_waitqueue client_wq, resync_wq;
	_Atomic unsigned client_reads;
};

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
		struct rsv__daemon_io io = { .d = &s->d, .ch = 0, .wq = &s->client_wq };

		round_start(s, r);
		for (int i = 0; i < RACE_STEPS; i++)
			rsv_sched_point();
		rsv__daemon_submit(&io);
		rsv__daemon_wait(&s->client_wq, &io.done);
		atomic_fetch_add(&s->client_reads, 1);
	}
	rsv__daemon_user_done(&s->d);
	return 0;
}

/* Channel 1: a burst of reads each round, all in flight together; the round ends when all
 * have completed (its own completions serve what of it was parked). */
static int resync(void *arg)
{
	struct s6 *s = arg;
	long burst = s->run->p[P_BURST];
	struct rsv__daemon_io *ios = calloc((size_t)burst, sizeof(*ios));

	for (long r = 0; ios && r < s->run->p[P_ROUNDS]; r++) {
		round_start(s, r);
		for (long i = 0; i < burst; i++) {
			ios[i] =
				(struct rsv__daemon_io){ .d = &s->d, .ch = 1, .wq = &s->resync_wq };
			rsv__daemon_submit(&ios[i]);
		}
		for (long i = 0; i < burst; i++)
			rsv__daemon_wait(&s->resync_wq, &ios[i].done);
	}
	free(ios);
	rsv__daemon_user_done(&s->d);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s6 *s = calloc(1, sizeof(*s));
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	rsv_waitqueue_init(&s->client_wq, "channel 0 read");
	rsv_waitqueue_init(&s->resync_wq, "channel 1 reads");
	if ((err = rsv__daemon_init(&s->d, run, p[P_BUFS], (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC,
				    RSV__HANDOFF_OWN_CHANNEL, 2)))
		return err;
	if ((err = rsv__scenario_task(run, "client", client, s)) ||
	    (err = rsv__scenario_task(run, "resync", resync, s)))
		return err;
	if (rsv_policy_get(rsv_system_policy(run->sys), RSV_POLICY_IOWAIT) ==
		    RSV_IOWAIT_TIMED_REPOLL &&
	    (err = rsv__scenario_task(run, "poller", rsv__daemon_poller, &s->d)))
		return err;
	return 0;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s6 *s = run->data;
	struct rsv__daemon *d = &s->d;

	rsv__scenario_counter(run, "client_reads", atomic_load(&s->client_reads));
	rsv__scenario_counter(run, "client_parked", atomic_load(&d->ch[0].parked_total));
	rsv__scenario_counter(run, "resync_parked", atomic_load(&d->ch[1].parked_total));
	rsv__scenario_counter(run, "handoffs",
			      atomic_load(&d->ch[0].handoffs) + atomic_load(&d->ch[1].handoffs));
	rsv__scenario_counter(run, "repolled", atomic_load(&d->repolled));
	rsv__scenario_counter(run, "pool_returns", atomic_load(&d->pool_returns));
	rsv__scenario_counter(run, "pool_fill", rsv_mempool_curr_nr(d->bufs));
	if (!atomic_load(&d->ch[0].parked_total)) {
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

static const struct rsv_scenario_property sometimes[] = {
	{ "a client read is parked", "client_parked" },
	{ "a completion hands its buffer to a parked read", "handoffs" },
};

const struct rsv_scenario rsv__s6_daemon_parked_io = {
	.name = "s6-daemon-parked-io",
	RSV__SCENARIO_TABLES,
	.summary = "a storage daemon retries I/Os parked for want of a buffer only when its "
		   "channel completes one (SPDK 2824, 3141): a read at queue depth 1 parked with "
		   "nothing in flight. Racy: parked only where a resync burst on another channel "
		   "takes the last buffer during the client's 32 steps of work",
	.nr_pages = 2048,
	.setup = setup,
	.judge = judge,
	.pools = rsv__daemon_pools,
	.teardown = rsv__daemon_teardown,
};
