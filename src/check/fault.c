/* Fault injection: the kernel's should_fail(), per system, for the allocator's attributes.
 *
 * The allocation paths ask only when the calling task's hooks are armed (t->alloc_hooks),
 * which every task's are once any attribute is enabled or any task asked for fail-nth: a fast
 * path pays one predictable branch for all the checkers. Counters are atomics and the knobs
 * are read without a lock: they are set before the run, as the kernel's debugfs knobs are set
 * before the test. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

struct fault_attr {
	struct rsv_fault_config cfg;
	_Atomic long times;           /* what is left of cfg.times */
	_Atomic unsigned long space;  /* what is left of cfg.space */
	_Atomic unsigned long count;  /* calls that reached the interval test */
	_Atomic uint64_t calls, injected;
};

struct rsv_faults {
	struct fault_attr attr[RSV_NR_FAULT_ATTRS];
};

static const char *const attr_names[RSV_NR_FAULT_ATTRS] = {
	[RSV_FAIL_PAGE_ALLOC] = "fail_page_alloc",
	[RSV_FAIL_SLAB] = "fail_slab",
	[RSV_FAIL_MEMPOOL_ALLOC] = "fail_mempool_alloc",
	[RSV_FAIL_MEMPOOL_ALLOC_BULK] = "fail_mempool_alloc_bulk",
};

const char *rsv_fault_attr_name(enum rsv_fault_attr a)
{
	return (unsigned)a < RSV_NR_FAULT_ATTRS ? attr_names[a] : "?";
}

void rsv_fault_config_default(struct rsv_fault_config *c)
{
	*c = (struct rsv_fault_config){ .enabled = true, .probability = 100, .interval = 1,
					.times = 1, .ignore_gfp_wait = true };
}

static struct rsv_faults *faults_get(struct rsv_system *sys)
{
	if (!sys->fault_data)
		sys->fault_data = calloc(1, sizeof(struct rsv_faults));
	return sys->fault_data;
}

int rsv_fault_set(struct rsv_system *sys, enum rsv_fault_attr a, const struct rsv_fault_config *c)
{
	struct rsv_faults *f;
	struct fault_attr *fa;

	if (!sys || !c || (unsigned)a >= RSV_NR_FAULT_ATTRS || c->probability > 100 ||
	    c->times < -1 || c->verbose > 2 || c->min_order > RSV_MAX_ORDER)
		return -EINVAL;
	if (!(f = faults_get(sys)))
		return -ENOMEM;
	fa = &f->attr[a];
	fa->cfg = *c;
	atomic_store(&fa->times, c->times);
	atomic_store(&fa->space, c->space);
	atomic_store(&fa->count, 0);
	if (c->enabled)
		rsv__arm_alloc_hooks(sys);
	return 0;
}

int rsv_fault_get(struct rsv_system *sys, enum rsv_fault_attr a, struct rsv_fault_config *c)
{
	struct rsv_faults *f = sys ? sys->fault_data : NULL;

	if (!sys || !c || (unsigned)a >= RSV_NR_FAULT_ATTRS)
		return -EINVAL;
	if (f)
		*c = f->attr[a].cfg;
	else
		*c = (struct rsv_fault_config){ 0 };
	return 0;
}

uint64_t rsv_fault_calls(struct rsv_system *sys, enum rsv_fault_attr a)
{
	struct rsv_faults *f = sys ? sys->fault_data : NULL;

	return f && (unsigned)a < RSV_NR_FAULT_ATTRS ? atomic_load(&f->attr[a].calls) : 0;
}

uint64_t rsv_fault_injected(struct rsv_system *sys, enum rsv_fault_attr a)
{
	struct rsv_faults *f = sys ? sys->fault_data : NULL;

	return f && (unsigned)a < RSV_NR_FAULT_ATTRS ? atomic_load(&f->attr[a].injected) : 0;
}

int rsv_task_make_it_fail(struct rsv_task *t, bool on)
{
	if (!t)
		return -EINVAL;
	t->make_it_fail = on;
	return 0;
}

int rsv_fail_nth_set(unsigned n)
{
	struct rsv_task *t = rsv__task_current();

	if (!t)
		return -EPERM;
	t->fail_nth = n;
	if (n) {
		faults_get(t->sys);
		rsv__arm_alloc_hooks(t->sys);
	}
	return 0;
}

unsigned rsv_fail_nth_get(void)
{
	struct rsv_task *t = rsv__task_current();

	return t ? t->fail_nth : 0;
}

/* ---- the decision ---- */

/* verbose: the caller asked for these lines, as the kernel's knob asks for its printk. */
static void report(struct fault_attr *fa, enum rsv_fault_attr a, const struct rsv_task *t,
		   size_t size, bool nth)
{
	if (!fa->cfg.verbose)
		return;
	fprintf(stderr,
		"reservoir: FAULT_INJECTION: forcing a failure (%s, task \"%s\", %zu "
		"bytes%s)",
		attr_names[a], t ? t->name : "?", size, nth ? ", fail-nth" : "");
	if (fa->cfg.verbose > 1)
		fprintf(stderr, ": %lu calls, %lu injected", (unsigned long)atomic_load(&fa->calls),
			(unsigned long)atomic_load(&fa->injected));
	fputc('\n', stderr);
}

/* should_fail_ex(), after the caller's own exemptions (NOFAIL, ignore_gfp_wait, min_order). */
static bool should_fail(struct fault_attr *fa, struct rsv_task *t, size_t size)
{
	unsigned long space;
	long times;

	if (!fa->cfg.enabled || !fa->cfg.probability)
		return false;
	if (fa->cfg.task_filter && !(t && t->make_it_fail))
		return false;
	if (!atomic_load(&fa->times))
		return false;
	space = atomic_load(&fa->space);
	while (space > size) {
		if (atomic_compare_exchange_weak(&fa->space, &space, space - size))
			return false;
	}
	if (fa->cfg.interval > 1 && (atomic_fetch_add(&fa->count, 1) + 1) % fa->cfg.interval)
		return false;
	if (fa->cfg.probability < 100 &&
	    (!t || rsv_rand_below(&t->rand, 100) >= fa->cfg.probability))
		return false;
	times = atomic_load(&fa->times);
	while (times > 0 && !atomic_compare_exchange_weak(&fa->times, &times, times - 1))
		;
	return times != 0;
}

bool rsv__should_fail(struct rsv_system *sys, struct rsv_task *t, enum rsv_fault_attr a,
		      rsv_gfp_t gfp, unsigned order, size_t size)
{
	struct rsv_faults *f = sys->fault_data;
	struct fault_attr *fa;
	bool fail, nth = false;

	if (!f || (gfp & RSV___GFP_NOFAIL))
		return false;
	fa = &f->attr[a];
	if (a == RSV_FAIL_PAGE_ALLOC && order < fa->cfg.min_order)
		return false;
	if (fa->cfg.ignore_gfp_wait && (gfp & RSV___GFP_DIRECT_RECLAIM) &&
	    a != RSV_FAIL_MEMPOOL_ALLOC && a != RSV_FAIL_MEMPOOL_ALLOC_BULK)
		return false;
	atomic_fetch_add(&fa->calls, 1);
	/* fail-nth counts this task's fault sites and alone decides while it is set. */
	if (t && t->fail_nth) {
		if (--t->fail_nth)
			return false;
		fail = nth = true;
	} else {
		fail = should_fail(fa, t, size);
	}
	if (fail) {
		atomic_fetch_add(&fa->injected, 1);
		report(fa, a, t, size, nth);
	}
	return fail;
}

/* ---- "attr:knob=value,...;attr:..." ---- */

static int parse_knob(struct rsv_fault_config *c, const char *name, const char *val,
		      char *err, size_t errlen)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(val, &end, 10);
	if (errno || !*val || *end) {
		snprintf(err, errlen, "fault knob %s: '%s' is not an integer", name, val);
		return -EINVAL;
	}
	if (!strcmp(name, "probability") && v >= 0 && v <= 100)
		c->probability = (unsigned)v;
	else if (!strcmp(name, "interval") && v >= 0)
		c->interval = (unsigned long)v;
	else if (!strcmp(name, "times") && v >= -1)
		c->times = v;
	else if (!strcmp(name, "space") && v >= 0)
		c->space = (unsigned long)v;
	else if (!strcmp(name, "verbose") && v >= 0 && v <= 2)
		c->verbose = (unsigned)v;
	else if (!strcmp(name, "ignore_gfp_wait") && (v == 0 || v == 1))
		c->ignore_gfp_wait = v;
	else if (!strcmp(name, "min_order") && v >= 0 && v <= RSV_MAX_ORDER)
		c->min_order = (unsigned)v;
	else if (!strcmp(name, "task_filter") && (v == 0 || v == 1))
		c->task_filter = v;
	else {
		snprintf(err, errlen, "fault knob '%s=%s': unknown or out of range (valid: "
			 "probability=0..100, interval>=0, times>=-1, space>=0, verbose=0..2, "
			 "ignore_gfp_wait=0|1, min_order=0..%d, task_filter=0|1)", name, val,
			 RSV_MAX_ORDER);
		return -EINVAL;
	}
	return 0;
}

static int parse_attr(struct rsv_system *sys, char *text, char *err, size_t errlen)
{
	char *colon = strchr(text, ':'), *knob, *save = NULL;
	struct rsv_fault_config c;
	unsigned a;

	if (colon)
		*colon = 0;
	for (a = 0; a < RSV_NR_FAULT_ATTRS && strcmp(attr_names[a], text); a++)
		;
	if (a == RSV_NR_FAULT_ATTRS) {
		snprintf(err, errlen, "unknown fault attribute '%s' (valid: fail_page_alloc, "
			 "fail_slab, fail_mempool_alloc, fail_mempool_alloc_bulk)", text);
		return -EINVAL;
	}
	rsv_fault_config_default(&c);
	for (knob = colon ? strtok_r(colon + 1, ",", &save) : NULL; knob;
	     knob = strtok_r(NULL, ",", &save)) {
		char *eq = strchr(knob, '=');
		int e;

		if (!eq) {
			snprintf(err, errlen, "fault knob '%s': want name=value", knob);
			return -EINVAL;
		}
		*eq = 0;
		if ((e = parse_knob(&c, knob, eq + 1, err, errlen)))
			return e;
	}
	return rsv_fault_set(sys, (enum rsv_fault_attr)a, &c);
}

int rsv_fault_parse(struct rsv_system *sys, const char *spec, char *err, size_t errlen)
{
	char *copy, *part, *save = NULL;
	int e = 0;

	if (!sys || !spec)
		return -EINVAL;
	if (!(copy = strdup(spec)))
		return -ENOMEM;
	for (part = strtok_r(copy, ";", &save); part && !e; part = strtok_r(NULL, ";", &save))
		e = parse_attr(sys, part, err, errlen);
	free(copy);
	return e;
}

void rsv__fault_exit(struct rsv_system *sys)
{
	free(sys->fault_data);
	sys->fault_data = NULL;
}
