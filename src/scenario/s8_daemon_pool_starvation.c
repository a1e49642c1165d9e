/* s8-daemon-pool-starvation (SPDK issue 3055, "Stuck IO on multi-thread big queue depth
 * scenarios"; the same machinery as mempool_free() handing an element to a waiter, in a
 * userspace storage daemon).
 *
 * A daemon's channels share one pool of I/O buffers (a mempool whose backing allocations fail,
 * memory being short). Channel 1 runs a bulk reader that keeps `qd` reads in flight, as many
 * as the pool holds; channel 0 serves a client's reads, one at a time, each after some think
 * time. A read that finds the pool empty is parked on its channel; the daemon's poller retries
 * parked reads every 5 virtual s. With `qd` at least `bufs` (SPDK's "big queue depth") the
 * pool is empty whenever the client asks: its read is parked on every schedule (at qd=17, on
 * about four in five; below bufs, never).
 *
 * poolshare=own-channel is SPDK's: a completion's buffer goes to its own channel's parked reads,
 * else back to the pool, where the bulk reader's next read takes it; the client's read waits
 * for the poller while the bulk reader starts read after read on the buffers that come back:
 * starved. poolshare=oldest-first hands a completion's buffer to the read parked longest on any
 * channel, as mempool_free() wakes a waiter of the pool: the client waits for one completion.
 * The verdict comes from the run: a stall when, while a client read was parked, the bulk reader
 * started more reads than the pool has buffers (a FIFO pool would have served the client
 * before that many). The situation is the only when a client read was parked. */
#include <errno.h>
#include <stdlib.h>
#include "scenario/daemon_io.h"

enum { P_BUFS, P_QD, P_IOS, P_READS, P_THINK_MS, P_IO_MS, NR_P };

static const struct rsv_scenario_param params[NR_P] = {
	[P_BUFS] = { "bufs", 16, 1, 1024, "I/O buffers in the daemon's shared pool" },
	[P_QD] = { "qd", 32, 1, 1024,
		   "reads the bulk reader keeps submitted (in flight or parked)" },
	[P_IOS] = { "ios", 2000, 1, 100000, "reads the bulk reader makes in all" },
	[P_READS] = { "reads", 4, 1, 1000, "the client's reads, one at a time" },
	[P_THINK_MS] = { "think_ms", 5, 0, 1000, "virtual ms the client thinks before a read",
			 .swarm = true, .swarm_alt = 0 },
	[P_IO_MS] = { "io_ms", 1, 1, 1000, "disk latency, virtual ms" },
};

static const enum rsv_policy_key keys[] = { RSV_POLICY_POOLSHARE };

struct s8 {
	struct rsv__daemon d; /* first (rsv__daemon_pools()); channel 0: the client, 1: bulk */
	struct rsv_scenario_run *run;
	struct rsv_waitqueue client_wq, bulk_wq;
	_Atomic unsigned client_reads;
	/* The worst parked client read: how long, and the bulk reads started meanwhile. */
	uint64_t worst_wait_ns;
	unsigned worst_overtaken;
};

/* Channel 0: one read at a time; a parked one is timed and its overtakers counted. */
static int client(void *arg)
{
	struct s8 *s = arg;
	struct rsv__daemon *d = &s->d;

	for (long r = 0; r < s->run->p[P_READS]; r++) {
		struct rsv__daemon_io io = { .d = d, .ch = 0, .wq = &s->client_wq };
		unsigned parked = atomic_load(&d->ch[0].parked_total);
		uint64_t t0;

		rsv_msleep((unsigned)s->run->p[P_THINK_MS]);
		t0 = rsv_now();
		rsv__daemon_submit(&io);
		rsv__daemon_wait(&s->client_wq, &io.done);
		if (atomic_load(&d->ch[0].parked_total) != parked) {
			if (rsv_now() - t0 > s->worst_wait_ns)
				s->worst_wait_ns = rsv_now() - t0;
			if (atomic_load(&io.overtaken) > s->worst_overtaken)
				s->worst_overtaken = atomic_load(&io.overtaken);
		}
		atomic_fetch_add(&s->client_reads, 1);
	}
	rsv__daemon_user_done(d);
	return 0;
}

/* Channel 1: `qd` reads in flight until `ios` have been made, each slot refilled as it
 * completes. */
static int bulk(void *arg)
{
	struct s8 *s = arg;
	long qd = s->run->p[P_QD], ios = s->run->p[P_IOS], issued = 0;
	struct rsv__daemon_io *slot = calloc((size_t)qd, sizeof(*slot));

	for (long i = 0; slot && i < qd && issued < ios; i++, issued++) {
		slot[i] = (struct rsv__daemon_io){ .d = &s->d, .ch = 1, .wq = &s->bulk_wq };
		rsv__daemon_submit(&slot[i]);
	}
	while (slot && issued < ios) {
		struct rsv_wait_entry we;
		long i;

		rsv_wait_entry_init(&we);
		for (;;) {
			rsv_prepare_to_wait(&s->bulk_wq, &we, RSV_TASK_UNINTERRUPTIBLE);
			for (i = 0; i < qd && !atomic_load(&slot[i].done); i++)
				;
			if (i < qd)
				break;
			rsv_schedule();
		}
		rsv_finish_wait(&s->bulk_wq, &we);
		slot[i] = (struct rsv__daemon_io){ .d = &s->d, .ch = 1, .wq = &s->bulk_wq };
		rsv__daemon_submit(&slot[i]);
		issued++;
	}
	for (long i = 0; slot && i < qd && i < ios; i++)
		rsv__daemon_wait(&s->bulk_wq, &slot[i].done);
	free(slot);
	rsv__daemon_user_done(&s->d);
	return 0;
}

static int setup(struct rsv_scenario_run *run)
{
	const long *p = run->p;
	struct s8 *s = calloc(1, sizeof(*s));
	bool oldest = rsv_policy_get(rsv_system_policy(run->sys), RSV_POLICY_POOLSHARE) ==
		      RSV_POOLSHARE_OLDEST_FIRST;
	int err;

	if (!s)
		return -ENOMEM;
	run->data = s;
	s->run = run;
	rsv_waitqueue_init(&s->client_wq, "channel 0 read");
	rsv_waitqueue_init(&s->bulk_wq, "channel 1 reads");
	if ((err = rsv__daemon_init(&s->d, run, p[P_BUFS], (uint64_t)p[P_IO_MS] * RSV_NSEC_PER_MSEC,
				    oldest ? RSV__HANDOFF_OLDEST : RSV__HANDOFF_OWN_CHANNEL, 2)))
		return err;
	s->d.count_overtaking = true;
	if ((err = rsv__scenario_task(run, "client", client, s)) ||
	    (err = rsv__scenario_task(run, "bulk reader", bulk, s)) ||
	    (err = rsv__scenario_task(run, "poller", rsv__daemon_poller, &s->d)))
		return err;
	return 0;
}

static void judge(struct rsv_scenario_run *run)
{
	struct s8 *s = run->data;
	struct rsv__daemon *d = &s->d;

	rsv__scenario_counter(run, "client_reads", atomic_load(&s->client_reads));
	rsv__scenario_counter(run, "client_parked", atomic_load(&d->ch[0].parked_total));
	rsv__scenario_counter(run, "bulk_reads", atomic_load(&d->ch[1].completed));
	rsv__scenario_counter(run, "handoffs_to_client", atomic_load(&d->ch[0].handoffs));
	rsv__scenario_counter(run, "bulk_parked", atomic_load(&d->ch[1].parked_total));
	rsv__scenario_counter(run, "repolled", atomic_load(&d->repolled));
	rsv__scenario_counter(run, "worst_wait_ms",
			      (int64_t)(s->worst_wait_ns / RSV_NSEC_PER_MSEC));
	rsv__scenario_counter(run, "worst_overtaken", s->worst_overtaken);
	if (!atomic_load(&d->ch[0].parked_total)) {
		rsv__scenario_invalid(run,
				      "the client's reads always found a buffer (%u of them; "
				      "bufs=%ld, qd=%ld, reads=%ld): none was parked",
				      atomic_load(&s->client_reads), run->p[P_BUFS], run->p[P_QD],
				      run->p[P_READS]);
		return;
	}
	if (run->res->verdict != RSV_VERDICT_PROGRESS)
		return;
	/* One may slip by where a buffer went back to the pool as the client parked (the
	 * completion looked at the lists first); more is the policy's doing. */
	if (s->worst_overtaken > 1)
		rsv__scenario_verdict(run, RSV_VERDICT_STALL,
				      "a client read waited %.3f s parked while the bulk reader "
				      "started %u reads submitted after it (a FIFO pool lets none "
				      "by; bufs=%ld)",
				      (double)s->worst_wait_ns / 1e9, s->worst_overtaken,
				      run->p[P_BUFS]);
	else
		rsv__scenario_verdict(run, RSV_VERDICT_PROGRESS,
				      "the parked client read waited %.3f s, overtaken by %u bulk "
				      "reads",
				      (double)s->worst_wait_ns / 1e9, s->worst_overtaken);
}

static const struct rsv_scenario_property sometimes[] = {
	{ "a client read is parked", "client_parked" },
	{ "the bulk reader's own reads are parked too", "bulk_parked" },
};

const struct rsv_scenario rsv__s8_daemon_pool_starvation = {
	.name = "s8-daemon-pool-starvation",
	RSV__SCENARIO_TABLES,
	.summary = "a bulk reader keeps a storage daemon's shared buffer pool drained and its "
		   "completions' buffers go back to it (SPDK 3055): is the client parked behind "
		   "it starved? Not racy at qd >= bufs: the client is parked on every schedule",
	.nr_pages = 2048,
	.setup = setup,
	.judge = judge,
	.pools = rsv__daemon_pools,
	.teardown = rsv__daemon_teardown,
};
