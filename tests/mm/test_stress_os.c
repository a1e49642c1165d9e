/* Real threads: several tasks allocating, filling, handing blocks to each other and freeing,
 * under pressure; then the conservation check. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(stress, .timeout = 60);

#define TASKS 4
#define OPS 400000
#define HANDOFF 64
#define SLOTS 1024 /* about 1900 pages held per task: any 3 at once overfill 4096 */

struct stress {
	struct rsv_mutex lock;
	struct rsv_page *mailbox[HANDOFF];
	unsigned mailbox_order[HANDOFF];
	_Atomic unsigned long allocs, frees, failures, corrupt;
	struct rsv_waitqueue gate; /* all tasks start together, so they overlap */
	_Atomic int arrived;
};

/* A pattern from the block's address, so a block handed to another task can be verified. */
static uint64_t pattern(const void *addr, unsigned i)
{
	return ((uintptr_t)addr >> 12) * 0x9e3779b97f4a7c15ULL + i;
}

static void fill(struct rsv_page *p, unsigned order)
{
	uint64_t *w = rsv_page_address(p);

	for (unsigned i = 0; i < (RSV_PAGE_SIZE << order) / 8; i += 61)
		w[i] = pattern(w, i);
}

static bool intact(struct rsv_page *p, unsigned order)
{
	uint64_t *w = rsv_page_address(p);

	for (unsigned i = 0; i < (RSV_PAGE_SIZE << order) / 8; i += 61)
		if (w[i] != pattern(w, i))
			return false;
	return true;
}

static void release(struct stress *s, struct rsv_page *p, unsigned order)
{
	if (!intact(p, order))
		s->corrupt++;
	rsv_free_pages(p, order);
	s->frees++;
}

static int stress_task(void *arg)
{
	struct stress *s = arg;
	struct rsv_page *held[SLOTS] = { 0 };
	unsigned order[SLOTS];

	if (atomic_fetch_add(&s->arrived, 1) + 1 == TASKS)
		rsv_wake_up_all(&s->gate);
	rsv_wait_event(&s->gate, atomic_load(&s->arrived) >= TASKS);
	for (int i = 0; i < OPS; i++) {
		unsigned slot = (unsigned)(rsv_task_random() % SLOTS);

		if (held[slot]) {
			unsigned box = (unsigned)(rsv_task_random() % HANDOFF);
			struct rsv_page *old;
			unsigned old_order;

			/* Swap through the mailbox: frees of blocks another task allocated. */
			rsv_mutex_lock(&s->lock);
			old = s->mailbox[box];
			old_order = s->mailbox_order[box];
			s->mailbox[box] = held[slot];
			s->mailbox_order[box] = order[slot];
			rsv_mutex_unlock(&s->lock);
			held[slot] = NULL;
			if (old)
				release(s, old, old_order);
			continue;
		}
		order[slot] = (unsigned)(rsv_task_random() % 4);
		/* At the arena's limit on purpose: failures are expected, so the blocking requests
		 * say they may fail (a plain GFP_KERNEL would go to the OOM killer, then panic). */
		held[slot] = rsv_alloc_pages(i % 3 ? RSV_GFP_KERNEL | RSV___GFP_RETRY_MAYFAIL
					   : RSV_GFP_ATOMIC, order[slot]);
		if (!held[slot]) {
			s->failures++;
			continue;
		}
		s->allocs++;
		fill(held[slot], order[slot]);
	}
	for (int i = 0; i < SLOTS; i++)
		if (held[i])
			release(s, held[i], order[i]);
	return 0;
}

static int drain_mailbox(void *arg)
{
	struct stress *s = arg;

	for (int i = 0; i < HANDOFF; i++)
		if (s->mailbox[i])
			release(s, s->mailbox[i], s->mailbox_order[i]);
	return 0;
}

static void stress_run(bool locked)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 4096, .backend = RSV_BACKEND_OS, .seed = 11, .pcp_locked = locked,
		.misuse = RSV_MISUSE_RETURN });
	struct stress *s = calloc(1, sizeof(*s));

	cr_assert_not_null(sys);
	rsv_mutex_init(&s->lock, "mailbox");
	rsv_waitqueue_init(&s->gate, "start gate");
	for (int i = 0; i < TASKS; i++)
		cr_assert_not_null(rsv_task_create(sys, "stress", stress_task, s));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_create(sys, "drain", drain_mailbox, s);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(s->corrupt, 0, "%lu blocks were overwritten while allocated", s->corrupt);
	cr_assert_eq(s->allocs, s->frees);
	cr_assert_gt(s->failures, 0, "the workload never reached the watermarks");
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_ALLOC_SLOW), 0);
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_DRAIN_ALL), 0, "no remote drain raced the owners");
	free(s);
	teardown_whole(sys);
}

/* Both cache protocols: drains from failing allocations race with owners' fast paths. */
Test(stress, os_tasks_under_pressure, .timeout = 120) { stress_run(false); }
Test(stress, os_tasks_under_pressure_locked_caches, .timeout = 120) { stress_run(true); }
