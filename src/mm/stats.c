/* Statistics: per-task counters summed on read, plus the system's own. */
#include <inttypes.h>
#include "mm/internal.h"

static const char *const stat_names[] = {
#define RSV_STAT_NAME(id, name, doc) name,
	RSV_STAT_LIST(RSV_STAT_NAME)
#undef RSV_STAT_NAME
};

static const char *const stat_docs[] = {
#define RSV_STAT_DOC(id, name, doc) doc,
	RSV_STAT_LIST(RSV_STAT_DOC)
#undef RSV_STAT_DOC
};

const char *rsv_stat_name(enum rsv_stat_item item)
{
	return (unsigned)item < RSV_NR_STATS ? stat_names[item] : "?";
}

const char *rsv_stat_doc(enum rsv_stat_item item)
{
	return (unsigned)item < RSV_NR_STATS ? stat_docs[item] : "?";
}

void rsv_stats_snapshot(struct rsv_system *sys, uint64_t *out)
{
	struct rsv_list *pos;

	for (int i = 0; i < RSV_NR_STATS; i++)
		out[i] = atomic_load_explicit(&sys->stat[i], memory_order_relaxed);
	rsv_spin_lock(&sys->tasks_lock);
	rsv_list_for_each(pos, &sys->tasks) {
		struct rsv_task *t = rsv_container_of(pos, struct rsv_task, node);

		for (int i = 0; i < RSV_NR_STATS; i++)
			out[i] += atomic_load_explicit(&t->stat[i], memory_order_relaxed);
	}
	rsv_spin_unlock(&sys->tasks_lock);
}

uint64_t rsv_task_stat(const struct rsv_task *t, enum rsv_stat_item item)
{
	if (!t || (unsigned)item >= RSV_NR_STATS)
		return 0;
	return atomic_load_explicit(&t->stat[item], memory_order_relaxed);
}

uint64_t rsv_stats_get(struct rsv_system *sys, enum rsv_stat_item item)
{
	uint64_t all[RSV_NR_STATS];

	if ((unsigned)item >= RSV_NR_STATS)
		return 0;
	rsv_stats_snapshot(sys, all);
	return all[item];
}

void rsv_stats_print(struct rsv_system *sys, FILE *out, bool all)
{
	uint64_t v[RSV_NR_STATS];
	struct rsv_watermarks w;

	rsv_stats_snapshot(sys, v);
	for (int i = 0; i < RSV_NR_STATS; i++)
		if (all || v[i])
			fprintf(out, "%-24s %" PRIu64 "\n", stat_names[i], v[i]);
	rsv_system_watermarks(sys, &w);
	fprintf(out, "%-24s %lu\n%-24s %lu\n%-24s %lu\n%-24s %lu\n%-24s %lu\n", "nr_free_pages",
		rsv_system_free_pages(sys), "nr_pages", sys->nr_pages, "wmark_min", w.min,
		"wmark_low", w.low, "wmark_high", w.high);
}
