/* Workspaces: mappings a caller lends to the systems it creates one after another (a matrix
 * worker runs thousands), so that arenas, page maps and simulator stacks stay mapped, and
 * their pages faulted in, from one system to the next. Mapping, touching and unmapping 16 MiB
 * and a dozen stacks per run cost more than many short runs themselves.
 *
 * A workspace holds a few idle mappings keyed by size. It is not locked: one thread uses it,
 * for one system at a time. */
#include <stdlib.h>
#include <sys/mman.h>
#include "platform/internal.h"

#define WORKSPACE_SLOTS 48

struct rsv_workspace {
	struct {
		void *addr;
		size_t bytes;
		int kind; /* a stack keeps its guard page: mappings are reused by their kind only */
	} idle[WORKSPACE_SLOTS];
	unsigned nr_idle;
};

struct rsv_workspace *rsv_workspace_create(void)
{
	return calloc(1, sizeof(struct rsv_workspace));
}

void rsv_workspace_destroy(struct rsv_workspace *w)
{
	if (!w)
		return;
	while (w->nr_idle--)
		munmap(w->idle[w->nr_idle].addr, w->idle[w->nr_idle].bytes);
	free(w);
}

void *rsv__workspace_map(struct rsv_workspace *w, size_t bytes, int kind, bool *reused)
{
	void *addr;

	*reused = false;
	for (unsigned i = 0; w && i < w->nr_idle; i++) {
		if (w->idle[i].bytes != bytes || w->idle[i].kind != kind)
			continue;
		addr = w->idle[i].addr;
		w->idle[i] = w->idle[--w->nr_idle];
		*reused = true;
		return addr;
	}
	addr = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return addr == MAP_FAILED ? NULL : addr;
}

void rsv__workspace_unmap(struct rsv_workspace *w, void *addr, size_t bytes, int kind)
{
	if (!addr)
		return;
	if (w && w->nr_idle < WORKSPACE_SLOTS) {
		w->idle[w->nr_idle].addr = addr;
		w->idle[w->nr_idle].bytes = bytes;
		w->idle[w->nr_idle++].kind = kind;
		return;
	}
	munmap(addr, bytes);
}
