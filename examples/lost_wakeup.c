/* A program with a deliberately racy bug, found, replayed and shrunk by reservoir's explorer
 * (reservoir/explore.h) - what a user does with a test of their own.
 *
 * A consumer waits for a producer's buffer. It checks the flag, then queues itself on the wait
 * queue and sleeps: the classic lost wake-up. If the producer sets the flag and wakes the queue
 * between the check and the queueing, nobody is on the queue to wake, and the consumer sleeps
 * for ever. The right order (prepare_to_wait first, then the check, as wait_event() does) has
 * no such window; run with --fixed to see the explorer find nothing.
 *
 * Exit status: 0 when the bug was found (or, with --fixed, when none was), replayed to the
 * same trace, and shrunk; 1 otherwise. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir/harness.h>

struct channel {
	struct rsv_waitqueue wq;
	_Atomic bool ready;
	bool fixed;
};

static int consumer(void *arg)
{
	struct channel *c = arg;
	struct rsv_wait_entry we;

	rsv_wait_entry_init(&we);
	if (c->fixed) {
		rsv_wait_event(&c->wq, atomic_load(&c->ready));
		return 0;
	}
	if (!atomic_load(&c->ready)) {
		rsv_sched_point(); /* anything here: a log line, a lock, an allocation */
		rsv_prepare_to_wait(&c->wq, &we, RSV_TASK_UNINTERRUPTIBLE);
		rsv_schedule(); /* the bug: the flag is not looked at again once queued */
		rsv_finish_wait(&c->wq, &we);
	}
	return 0;
}

static int producer(void *arg)
{
	struct channel *c = arg;

	rsv_sched_point();
	atomic_store(&c->ready, true);
	rsv_wake_up(&c->wq);
	return 0;
}

static struct channel chan;

static int setup(struct rsv_system *sys, void *arg)
{
	struct channel *c = arg;

	atomic_store(&c->ready, false);
	rsv_waitqueue_init(&c->wq, "buffer ready");
	if (!rsv_task_create(sys, "consumer", consumer, c) ||
	    !rsv_task_create(sys, "producer", producer, c))
		return -ENOMEM;
	return 0;
}

int main(int argc, char **argv)
{
	struct rsv_explore_config cfg = {
		.system = { .nr_pages = 256,
			    .sched = { .strategy = RSV_SCHED_PCT,
				       .pct_depth = 2,
				       .pct_steps = 16 } },
		.runs = 1000,
		.setup = setup,
		.arg = &chan,
	};
	struct rsv_explore_result res, again;
	size_t before;
	uint64_t before_pre;
	int err;

	chan.fixed = argc > 1 && !strcmp(argv[1], "--fixed");
	if ((err = rsv_explore(&cfg, &res))) {
		fprintf(stderr, "lost_wakeup: explore: %s\n", rsv_strerror(err));
		return 1;
	}
	if (chan.fixed) {
		printf("lost_wakeup --fixed: %lu runs under PCT d=2, %lu failures\n", res.runs,
		       res.failures);
		return res.failures ? 1 : 0;
	}
	if (!res.failures) {
		printf("lost_wakeup: the bug was not found in %lu runs\n", res.runs);
		return 1;
	}
	printf("lost_wakeup: found at run %lu (seed %lld): %s, %zu decisions, %llu preemptions\n",
	       res.runs, (long long)res.first_failing_seed, rsv_run_result_name(res.run),
	       res.nr_schedule, (unsigned long long)res.preemptions);
	/* Its schedule reproduces it exactly. */
	if ((err = rsv_explore_replay(&cfg, (uint64_t)res.first_failing_seed, res.schedule,
				      res.nr_schedule, &again)) ||
	    !again.failures || again.trace_hash != res.trace_hash) {
		printf("lost_wakeup: the schedule did not replay the failure\n");
		return 1;
	}
	rsv_explore_result_free(&again);
	before = res.nr_schedule;
	before_pre = res.preemptions;
	if ((err = rsv_explore_shrink(&cfg, &res, 10000))) {
		fprintf(stderr, "lost_wakeup: shrink: %s\n", rsv_strerror(err));
		return 1;
	}
	printf("lost_wakeup: shrunk from %zu decisions and %llu preemptions to %zu and %llu\n%s",
	       before, (unsigned long long)before_pre, res.nr_schedule,
	       (unsigned long long)res.preemptions, res.report);
	rsv_explore_result_free(&res);
	return 0;
}
