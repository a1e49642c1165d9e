/* The words a blocked-chain report gives a task, beyond what the platform sees (a mutex, a
 * wait queue, a sleep): that it is in the page allocator and with which gfp, whose OOM kill
 * it waits on, which mempool it waits for and who took the elements, which device's I/O it
 * waits for and which task serves it. The thread it names as waited for extends the chain. */
#include <stdio.h>
#include "mm/internal.h"

/* A victim the OOM killer is waiting for: alive and not yet reaped. */
static struct rsv_task *live_victim(struct rsv_system *sys)
{
	struct rsv_task *victim = NULL;
	struct rsv_list *pos;

	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);

		if (atomic_load(&t->oom_victim) && !atomic_load(&t->exited) &&
		    !atomic_load(&t->oom_skip)) {
			victim = t;
			break;
		}
	}
	rsv_spin_unlock(&sys->tasks_lock);
	return victim;
}

static void describe_alloc(struct rsv_system *sys, struct rsv_task *t, uint64_t now,
			   struct rsv_thread_note *note)
{
	char gfp[96];
	struct rsv_task *victim = live_victim(sys);
	size_t n;

	rsv_gfp_format(t->doing.gfp, gfp, sizeof(gfp));
	n = (size_t)snprintf(note->text, sizeof(note->text),
			     "in the page allocator (%s, order %u) for %.3f s", gfp, t->doing.order,
			     now > t->doing.since ? (double)(now - t->doing.since) / 1e9 : 0.0);
	if (victim && victim != t && n < sizeof(note->text)) {
		snprintf(note->text + n, sizeof(note->text) - n,
			 ": the OOM killer waits for its victim \"%s\" (#%u) to exit", victim->name,
			 victim->id);
		note->waits_for = victim->thread;
	}
}

void rsv__describe_task(void *arg, struct rsv_thread *thread, uint64_t now,
			struct rsv_thread_note *note)
{
	struct rsv_system *sys = arg;
	struct rsv_task *t = rsv__thread_context(thread), *holder = NULL;
	const struct rsv_bdev *dev;

	if (!t || t->sys != sys)
		return;
	switch (t->doing.what) {
	case RSV_DOING_ALLOC:
		describe_alloc(sys, t, now, note);
		break;
	case RSV_DOING_MEMPOOL:
		if (sys->pool->describe_wait) {
			sys->pool->describe_wait(t->doing.obj, t, note->text, sizeof(note->text),
						 &holder);
			note->waits_for = holder ? holder->thread : NULL;
		}
		break;
	case RSV_DOING_LAYER:
		t->doing.describe(t->doing.obj, note->text, sizeof(note->text), &holder);
		note->waits_for = holder ? holder->thread : NULL;
		break;
	case RSV_DOING_IO:
		dev = t->doing.obj;
		snprintf(note->text, sizeof(note->text), "for I/O to \"%s\"%s%s%s", dev->name,
			 dev->worker ? ", served by \"" : "",
			 dev->worker ? dev->worker->name : "", dev->worker ? "\"" : "");
		note->waits_for = dev->worker ? dev->worker->thread : NULL;
		break;
	default:
		break;
	}
	if (atomic_load(&t->oom_victim) && note->text[0] == 0)
		snprintf(note->text, sizeof(note->text), "an OOM victim");
}
