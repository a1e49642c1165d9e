/* libFuzzer harness: an input is a stream of API operations on a fresh simulated system,
 * checked against a trivial reference model (what is held, its size and its fill) and by the
 * invariant checker after every operation. Misuse (frees of what is not held) is part of the
 * stream: it must be refused and counted, never corrupt anything.
 *
 * Operations never block (the harness runs as an attached task, which may not sleep on the
 * simulator): GFP_NOWAIT and GFP_ATOMIC allocations, non-blocking mempool calls. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "reservoir/harness.h"

#define SLOTS 64

enum kind { FREE_SLOT, PAGES, KMALLOC, CACHE, POOL };

struct slot {
	enum kind kind;
	unsigned order;
	size_t size;
	unsigned char *addr;
	struct rsv_page *page;
	unsigned char fill;
};

struct model {
	struct rsv_system *sys;
	struct rsv_kmem_cache *cache;
	struct rsv_mempool *pool;
	struct slot slot[SLOTS];
	uint64_t misuse_expected;
	const uint8_t *in;
	size_t len, pos;
};

static unsigned next(struct model *m)
{
	return m->pos < m->len ? m->in[m->pos++] : 0;
}

static void require(int cond)
{
	if (!cond)
		__builtin_trap();
}

static void check_fill(const struct slot *s)
{
	size_t n = s->size < 256 ? s->size : 256;

	for (size_t i = 0; i < n; i++)
		require(s->addr[i] == s->fill);
}

static void take(struct model *m, struct slot *s, unsigned a, unsigned b)
{
	rsv_gfp_t gfp = (b & 1) ? RSV_GFP_ATOMIC : RSV_GFP_NOWAIT;

	memset(s, 0, sizeof(*s));
	s->kind = (enum kind)(PAGES + a % 4);
	switch (s->kind) {
	case PAGES:
		s->order = b % 4;
		s->page = rsv_alloc_pages(gfp | ((b & 2) ? RSV___GFP_ZERO : 0), s->order);
		s->addr = s->page ? rsv_page_address(s->page) : NULL;
		s->size = (size_t)RSV_PAGE_SIZE << s->order;
		if (s->page && (b & 2))
			require(s->addr[s->size - 1] == 0 && s->addr[0] == 0);
		break;
	case KMALLOC:
		s->size = 1 + (size_t)b * 37 % 12000;
		s->addr = rsv_kmalloc(s->size, gfp);
		if (s->addr)
			require(rsv_ksize(s->addr) >= s->size);
		break;
	case CACHE:
		s->size = rsv_kmem_cache_size(m->cache);
		s->addr = rsv_kmem_cache_alloc(m->cache, gfp);
		break;
	default:
		s->size = 200;
		s->addr = rsv_mempool_alloc(m->pool, RSV_GFP_NOWAIT);
		break;
	}
	if (!s->addr) {
		s->kind = FREE_SLOT;
		return;
	}
	s->fill = (unsigned char)(a ^ b);
	memset(s->addr, s->fill, s->size < 256 ? s->size : 256);
}

static void give_back(struct model *m, struct slot *s)
{
	if (s->kind == FREE_SLOT)
		return;
	check_fill(s);
	switch (s->kind) {
	case PAGES:
		rsv_free_pages(s->page, s->order);
		break;
	case KMALLOC:
		rsv_kfree(s->addr);
		break;
	case CACHE:
		rsv_kmem_cache_free(m->cache, s->addr);
		break;
	case POOL:
		rsv_mempool_free(s->addr, m->pool);
		break;
	default:
		break;
	}
	s->kind = FREE_SLOT;
}

/* A free of something not held: a page or object just given back, or the middle of one. */
static void misuse(struct model *m, struct slot *s, unsigned b)
{
	if (s->kind != KMALLOC || s->size < 64)
		return;
	rsv_kfree(s->addr + 8 + (b % 8) * 8);
	m->misuse_expected++;
}

static void step(struct model *m)
{
	unsigned op = next(m), a = next(m), b = next(m);
	struct slot *s = &m->slot[a % SLOTS];

	switch (op % 8) {
	case 0:
	case 1:
	case 2:
		if (s->kind == FREE_SLOT)
			take(m, s, a / SLOTS + op, b);
		else
			give_back(m, s);
		break;
	case 3:
		misuse(m, s, b);
		break;
	case 4:
		rsv_mempool_resize(m->pool, 1 + (int)(b % 6)); /* may shrink; never blocks */
		break;
	case 5:
		rsv_drain_local_pages();
		break;
	case 6:
		rsv_kmem_cache_shrink(m->cache);
		break;
	default:
		rsv_fail_nth_set(b % 4); /* the next few allocations may be failed */
		break;
	}
	require(rsv_system_check(m->sys, 0) == 0);
	require(rsv_stats_get(m->sys, RSV_STAT_MISUSE) == m->misuse_expected);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
	static struct model m;

	memset(&m, 0, sizeof(m));
	m.in = data;
	m.len = len;
	m.sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = 512, .backend = RSV_BACKEND_SIM, .seed = len,
		.misuse = RSV_MISUSE_RETURN });
	require(m.sys != NULL);
	rsv_task_attach(m.sys, "fuzz");
	m.cache = rsv_kmem_cache_create(m.sys, "fuzz", 96, 0, 0, NULL);
	m.pool = rsv_mempool_create_kmalloc_pool(m.sys, 3, 200);
	require(m.cache && m.pool);
	while (m.pos < m.len)
		step(&m);
	rsv_fail_nth_set(0);
	for (unsigned i = 0; i < SLOTS; i++)
		give_back(&m, &m.slot[i]);
	rsv_mempool_destroy(m.pool);
	require(rsv_kmem_cache_destroy(m.cache) == 0);
	rsv_slab_shrink_all(m.sys);
	rsv_task_detach();
	rsv_drain_all_pages(m.sys);
	require(rsv_system_check(m.sys, RSV_CHECK_WHOLE) == 0);
	rsv_system_destroy(m.sys);
	return 0;
}
