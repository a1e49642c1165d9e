/* Lanes: one line per thread of a simulated run, coloured by what it was doing at each
 * scheduling decision (running, runnable, or asleep on a named mutex, semaphore, wait queue,
 * throttle or timer), with free memory above and the events that matter marked. The x axis
 * counts decisions, not virtual time: on the simulator running takes no time and waiting
 * takes all of it, so decisions spend the width where things happen; virtual time labels the
 * ticks. Written as data blocks for gnuplot beside the sampled table. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "reservoir/harness.h"
#include "tool.h"

#define MAX_LANES 128
#define MAX_LABELS 48

enum state { S_NONE, S_RUNNABLE, S_RUNNING, S_BLOCKED, S_EXITED };

static const struct {
	const char *name;
	unsigned rgb;
} wait_style[] = {
	[RSV_LANE_WAIT_OTHER] = { "asleep", 0x7f7f7f },
	[RSV_LANE_WAIT_MUTEX] = { "mutex", 0xd62728 },
	[RSV_LANE_WAIT_SEMAPHORE] = { "semaphore", 0xff7f0e },
	[RSV_LANE_WAIT_QUEUE] = { "wait queue (pool, I/O, memory)", 0x1f77b4 },
	[RSV_LANE_WAIT_SLEEP] = { "sleeping", 0xaec7e8 },
	[RSV_LANE_WAIT_RETRY] = { "retrying", 0x9467bd },
	[RSV_LANE_WAIT_THROTTLE] = { "throttled", 0xbcbd22 },
};
#define RUNNING_RGB 0x2ca02c
#define RUNNABLE_RGB 0xdddddd

void rsv_tool_lanes_record(void *arg, const struct rsv_lane_event *ev, size_t n,
			   const uint32_t *ids, const uint64_t *times, size_t decisions)
{
	struct rsv_tool_lanes *l = arg;

	free(l->ev);
	free(l->ids);
	free(l->times);
	memset(l, 0, sizeof(*l));
	l->ev = malloc((n ? n : 1) * sizeof(*ev));
	l->ids = malloc((decisions ? decisions : 1) * sizeof(*ids));
	l->times = malloc((decisions ? decisions : 1) * sizeof(*times));
	if (!l->ev || !l->ids || !l->times || (decisions && !times))
		return; /* nothing recorded: no lanes drawn (said by the writer) */
	memcpy(l->ev, ev, n * sizeof(*ev));
	memcpy(l->ids, ids, decisions * sizeof(*ids));
	memcpy(l->times, times, decisions * sizeof(*times));
	l->n = n;
	l->decisions = decisions;
}

void rsv_tool_lanes_free(struct rsv_tool_lanes *l)
{
	free(l->ev);
	free(l->ids);
	free(l->times);
	memset(l, 0, sizeof(*l));
}

/* The first decision at or after @t (decisions when none is). */
size_t rsv_tool_lanes_at(const struct rsv_tool_lanes *l, uint64_t t)
{
	size_t lo = 0, hi = l->decisions;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->times[mid] < t)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct lane {
	uint32_t thread;
	char name[40];
	enum state state; /* from the events */
	unsigned char kind;
	char what[38];
	/* The segment being drawn. */
	enum state seg_state;
	unsigned char seg_kind;
	char seg_what[38];
	size_t seg_start;
};

struct drawing {
	struct lane lanes[MAX_LANES];
	unsigned nr;
	FILE *out;
	FILE *labels; /* gnuplot commands, for the long waits' names */
	unsigned nr_labels;
	size_t min_label_width;
};

static struct lane *lane_of(struct drawing *d, uint32_t thread)
{
	for (unsigned i = 0; i < d->nr; i++)
		if (d->lanes[i].thread == thread)
			return &d->lanes[i];
	if (d->nr == MAX_LANES)
		return NULL;
	d->lanes[d->nr] = (struct lane){ .thread = thread, .seg_state = S_NONE };
	return &d->lanes[d->nr++];
}

static unsigned rgb_of(enum state s, unsigned char kind)
{
	if (s == S_RUNNING)
		return RUNNING_RGB;
	if (s == S_RUNNABLE)
		return RUNNABLE_RGB;
	return wait_style[kind < sizeof(wait_style) / sizeof(wait_style[0]) ? kind : 0].rgb;
}

/* Ends @ln's segment at @x; draws it if it showed anything. */
static void close_segment(struct drawing *d, struct lane *ln, size_t x)
{
	unsigned idx = (unsigned)(ln - d->lanes);

	if (x > ln->seg_start && ln->seg_state != S_NONE && ln->seg_state != S_EXITED) {
		fprintf(d->out, "%zu\t%u\t%zu\t%u\n", ln->seg_start, idx, x - ln->seg_start,
			rgb_of(ln->seg_state, ln->seg_kind));
		if (ln->seg_state == S_BLOCKED && ln->seg_what[0] &&
		    x - ln->seg_start >= d->min_label_width && d->nr_labels < MAX_LABELS) {
			d->nr_labels++;
			fprintf(d->labels,
				"set label %u \"%s\" at %zu,%u.38 font ',8' tc rgb '#333333'\n",
				100 + d->nr_labels, ln->seg_what, ln->seg_start, idx);
		}
	}
}

/* @ln shows @s (@kind, @what) from @x on. */
static void show(struct drawing *d, struct lane *ln, size_t x, enum state s, unsigned char kind,
		 const char *what)
{
	if (ln->seg_state == s &&
	    (s != S_BLOCKED || (ln->seg_kind == kind && !strcmp(ln->seg_what, what))))
		return;
	close_segment(d, ln, x);
	ln->seg_state = s;
	ln->seg_kind = kind;
	snprintf(ln->seg_what, sizeof(ln->seg_what), "%s", what ? what : "");
	for (char *c = ln->seg_what; *c; c++)
		if (*c == '"' || *c == '\\')
			*c = '\'';
	ln->seg_start = x;
}

static void apply(struct drawing *d, const struct rsv_lane_event *e)
{
	struct lane *ln = lane_of(d, e->thread);

	if (!ln)
		return;
	switch (e->type) {
	case RSV_LANE_START:
		snprintf(ln->name, sizeof(ln->name), "%s", e->what);
		ln->state = S_RUNNABLE;
		break;
	case RSV_LANE_RUNNABLE:
		ln->state = S_RUNNABLE;
		break;
	case RSV_LANE_BLOCK:
		ln->state = S_BLOCKED;
		ln->kind = e->kind;
		snprintf(ln->what, sizeof(ln->what), "%s", e->what);
		break;
	default:
		ln->state = S_EXITED;
		break;
	}
}

int rsv_tool_lanes_write(const struct rsv_tool_lanes *l, FILE *out, FILE *labels, char *ytics,
			 size_t ytics_len)
{
	struct drawing *d = calloc(1, sizeof(*d));
	size_t e = 0;
	int n;

	if (!d)
		return -ENOMEM;
	d->out = out;
	d->labels = labels;
	d->min_label_width = l->decisions / 25 + 1;
	fputs("# lanes: first decision, lane, decisions, colour\n", out);
	for (size_t x = 0; x <= l->decisions; x++) {
		/* Events logged with decision x happened while decision x's thread ran. */
		for (; e < l->n && l->ev[e].decision <= x; e++)
			apply(d, &l->ev[e]);
		for (unsigned i = 0; i < d->nr; i++) {
			struct lane *ln = &d->lanes[i];

			if (x < l->decisions && l->ids[x] == ln->thread)
				show(d, ln, x, S_RUNNING, 0, NULL);
			else
				show(d, ln, x, ln->state, ln->kind, ln->what);
		}
	}
	for (unsigned i = 0; i < d->nr; i++)
		close_segment(d, &d->lanes[i], l->decisions);
	n = snprintf(ytics, ytics_len, "(");
	for (unsigned i = 0; i < d->nr && n > 0 && (size_t)n < ytics_len; i++)
		n += snprintf(ytics + n, ytics_len - (size_t)n, "%s\"%s\" %u", i ? ", " : "",
			      d->lanes[i].name[0] ? d->lanes[i].name : "?", i);
	if (n > 0 && (size_t)n < ytics_len)
		snprintf(ytics + n, ytics_len - (size_t)n, ")");
	n = (int)d->nr;
	free(d);
	return n;
}

void rsv_tool_lanes_legend(FILE *g)
{
	fprintf(g,
		"NaN w l lw 8 lc rgb '#%06x' t 'running', NaN w l lw 8 lc rgb '#%06x' "
		"t 'runnable'",
		RUNNING_RGB, RUNNABLE_RGB);
	for (size_t k = 1; k < sizeof(wait_style) / sizeof(wait_style[0]); k++)
		fprintf(g, ", NaN w l lw 8 lc rgb '#%06x' t '%s'", wait_style[k].rgb,
			wait_style[k].name);
}
