/* Reports on blocked threads: who waits on what, who holds it, and wait-for cycles, worded
 * the way a kernel developer reads a hung-task splat. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "platform/internal.h"

void rsv__report_reset(struct rsv_platform *p)
{
	free(p->report);
	p->report = NULL;
	p->report_len = 0;
}

static void report_append(struct rsv_platform *p, const char *text, size_t len)
{
	char *n = realloc(p->report, p->report_len + len + 1);

	if (!n)
		return;
	memcpy(n + p->report_len, text, len);
	p->report_len += len;
	n[p->report_len] = '\0';
	p->report = n;
}

void rsv__platform_report_append(struct rsv_platform *p, const char *text)
{
	report_append(p, text, strlen(text));
}

void rsv__report_printf(struct rsv_platform *p, const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		report_append(p, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

/* Woken (a mutex handed over, a wake-up) but not yet run: it no longer waits on anyone. */
static bool woken(const struct rsv_thread *t)
{
	return atomic_load_explicit(&t->state, memory_order_acquire) == RSV_TASK_RUNNING;
}

void rsv__platform_set_describe_hook(struct rsv_platform *p, rsv_describe_hook_t fn, void *arg)
{
	p->describe_hook_arg = arg;
	p->describe_hook = fn;
}

/* What the upper layer knows of @t. */
static void note_of(struct rsv_thread *t, uint64_t now, struct rsv_thread_note *note)
{
	struct rsv_platform *p = t->plat;

	note->text[0] = 0;
	note->waits_for = NULL;
	if (p && p->describe_hook)
		p->describe_hook(p->describe_hook_arg, t, now, note);
}

/* The thread that must act before @t can go on: a mutex owner, or NULL when unknown. */
static struct rsv_thread *blocker_of(const struct rsv_thread *t)
{
	if (woken(t))
		return NULL;
	const void *obj = atomic_load_explicit(&t->wait_obj, memory_order_relaxed);

	switch (atomic_load_explicit(&t->wait_kind, memory_order_acquire)) {
	case RSV_WAIT_MUTEX:
		return rsv_mutex_owner(obj);
	case RSV_WAIT_SEMAPHORE:
		return ((const struct rsv_semaphore *)obj)->last_holder;
	default:
		return NULL;
	}
}

const char *rsv__wait_obj_name(int kind, const void *obj)
{
	if (!obj)
		return kind == RSV_WAIT_SLEEP ? "sleep" : NULL;
	switch (kind) {
	case RSV_WAIT_MUTEX:
		return ((const struct rsv_mutex *)obj)->name;
	case RSV_WAIT_SEMAPHORE:
		return ((const struct rsv_semaphore *)obj)->name;
	case RSV_WAIT_QUEUE:
	case RSV_WAIT_RETRY:
	case RSV_WAIT_THROTTLE:
		return ((const struct rsv_waitqueue *)obj)->name;
	case RSV_WAIT_SLEEP:
		return "sleep";
	default:
		return NULL;
	}
}

enum rsv_lane_wait rsv__lane_wait(int kind)
{
	switch (kind) {
	case RSV_WAIT_MUTEX:
		return RSV_LANE_WAIT_MUTEX;
	case RSV_WAIT_SEMAPHORE:
		return RSV_LANE_WAIT_SEMAPHORE;
	case RSV_WAIT_QUEUE:
		return RSV_LANE_WAIT_QUEUE;
	case RSV_WAIT_SLEEP:
		return RSV_LANE_WAIT_SLEEP;
	case RSV_WAIT_RETRY:
		return RSV_LANE_WAIT_RETRY;
	case RSV_WAIT_THROTTLE:
		return RSV_LANE_WAIT_THROTTLE;
	default:
		return RSV_LANE_WAIT_OTHER;
	}
}

static void describe_thread(struct rsv_thread *t, uint64_t now, FILE *out)
{
	const void *obj = atomic_load_explicit(&t->wait_obj, memory_order_relaxed);
	int kind = atomic_load_explicit(&t->wait_kind, memory_order_acquire);
	uint64_t since = atomic_load_explicit(&t->wait_since, memory_order_relaxed);
	struct rsv_thread *holder = blocker_of(t);
	double waited = now > since ? (double)(now - since) / 1e9 : 0.0;
	struct rsv_thread_note note;

	fprintf(out, "  thread \"%s\" (#%u) ", t->name, t->id);
	if (kind != RSV_WAIT_NONE && woken(t))
		kind = RSV_WAIT_NONE; /* about to run */
	switch (kind) {
	case RSV_WAIT_MUTEX:
		fprintf(out, "waits for mutex \"%s\", held by ",
			((const struct rsv_mutex *)obj)->name);
		if (holder)
			fprintf(out, "\"%s\" (#%u)", holder->name, holder->id);
		else
			fprintf(out, "nobody");
		break;
	case RSV_WAIT_SEMAPHORE: {
		const struct rsv_semaphore *s = obj;

		fprintf(out, "waits for semaphore \"%s\" (count %ld)", s->name, s->count);
		if (holder)
			fprintf(out, ", last taken by \"%s\" (#%u)", holder->name, holder->id);
		break;
	}
	case RSV_WAIT_QUEUE:
		fprintf(out, "waits on \"%s\"", ((const struct rsv_waitqueue *)obj)->name);
		break;
	case RSV_WAIT_SLEEP:
		fprintf(out, "sleeps");
		break;
	case RSV_WAIT_RETRY:
		fprintf(out, "retries, waiting on \"%s\"",
			((const struct rsv_waitqueue *)obj)->name);
		break;
	case RSV_WAIT_THROTTLE:
		fprintf(out, "is throttled on \"%s\"", ((const struct rsv_waitqueue *)obj)->name);
		break;
	default:
		fprintf(out, "is runnable");
		break;
	}
	if (kind != RSV_WAIT_NONE)
		fprintf(out, " for %.3f s", waited);
	note_of(t, now, &note);
	if (note.text[0])
		fprintf(out, ", %s", note.text);
	fputc('\n', out);
}

/* A mutex names its one holder for certain, and so does the upper layer when it names whom a
 * thread waits for (the task serving its I/O); a semaphore's last taker may have released it
 * since, so it is not followed. */
static struct rsv_thread *mutex_holder_of(struct rsv_thread *t)
{
	struct rsv_thread_note note;

	if (atomic_load_explicit(&t->wait_kind, memory_order_acquire) == RSV_WAIT_MUTEX)
		return blocker_of(t);
	note_of(t, 0, &note);
	return note.waits_for;
}

/* Follows "waits for a mutex held by" from @start; prints the cycle if the walk comes back to a
 * thread already on it and @start is the cycle's lowest id (so each cycle prints once). */
static void describe_cycle(struct rsv_thread *start, unsigned max_len, FILE *out)
{
	struct rsv_thread *t = start;
	unsigned steps = 0;

	do {
		t = mutex_holder_of(t);
		if (!t || atomic_load(&t->exited) || t->id < start->id || ++steps > max_len)
			return;
	} while (t != start);
	fprintf(out, "  wait-for cycle: \"%s\"", start->name);
	t = start;
	do {
		t = mutex_holder_of(t);
		fprintf(out, " -> \"%s\"", t->name);
	} while (t != start);
	fprintf(out, "\n");
}

void rsv_platform_dump_threads(struct rsv_platform *p, FILE *out)
{
	struct rsv_thread *self = rsv__self;
	uint64_t now = self && self->plat == p ? self->ops->now(self) : 0;
	struct rsv_list *pos;

	rsv_spin_lock(&p->threads_lock);
	rsv_list_for_each(pos, &p->threads) {
		struct rsv_thread *t = rsv_container_of(pos, struct rsv_thread, node);

		if (!now)
			now = t->ops->now(t);
		if (!atomic_load(&t->exited) && t->fn)
			describe_thread(t, now, out);
	}
	rsv_list_for_each(pos, &p->threads) {
		struct rsv_thread *t = rsv_container_of(pos, struct rsv_thread, node);

		if (!atomic_load(&t->exited) && t->fn)
			describe_cycle(t, p->nr_threads, out);
	}
	rsv_spin_unlock(&p->threads_lock);
}

void rsv__report_blocked(struct rsv_platform *p)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	if (!f)
		return;
	rsv_platform_dump_threads(p, f);
	fclose(f);
	report_append(p, buf, len);
	free(buf);
}
