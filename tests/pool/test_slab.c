/* Slab caches and kmalloc: objects, size classes, magazines and the depot, frees from other
 * tasks, shrinking, statistics, and misuse. */
#include <stdint.h>
#include <stdlib.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(slab, .timeout = 60);

static struct rsv_system *attached(enum rsv_backend be)
{
	struct rsv_system *sys = test_system(be, 4096, 1);

	cr_assert_not_null(rsv_task_attach(sys, "test"));
	return sys;
}

static void finish(struct rsv_system *sys)
{
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	teardown_whole(sys);
}

static bool in_arena(struct rsv_system *sys, const void *p)
{
	return rsv_virt_to_page(p) != NULL;
}

Test(slab, objects_are_distinct_aligned_and_counted)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "thing", 100, 32, 0, NULL);
	void *objs[500];
	struct rsv_slabinfo i;

	cr_assert_not_null(c);
	cr_assert_eq(rsv_kmem_cache_size(c), 100);
	for (int n = 0; n < 500; n++) {
		objs[n] = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
		cr_assert_not_null(objs[n]);
		cr_assert(in_arena(sys, objs[n]));
		cr_assert_eq((uintptr_t)objs[n] % 32, 0);
		memset(objs[n], n & 0xff, 100);
	}
	for (int n = 0; n < 500; n++)
		for (int k = 0; k < 100; k++)
			cr_assert_eq(((unsigned char *)objs[n])[k], n & 0xff, "object %d overlaps",
				     n);
	rsv_kmem_cache_info(c, &i);
	cr_assert_eq(i.objsize, 128);
	cr_assert_eq(i.allocated, 500);
	cr_assert_geq(i.num_objs, 500);
	cr_assert_eq(i.num_objs, i.num_slabs * i.objperslab);
	cr_assert_eq(i.allocs, 500);
	for (int n = 0; n < 500; n++)
		rsv_kmem_cache_free(c, objs[n]);
	rsv_kmem_cache_info(c, &i);
	cr_assert_eq(i.allocated, 0);
	cr_assert_eq(i.frees, 500);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0);
	finish(sys);
}

Test(slab, destroy_refuses_while_objects_are_out)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "busy", 64, 0, 0, NULL);
	void *a = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	void *b = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, b);
	cr_assert_eq(rsv_kmem_cache_destroy(c), -EBUSY);
	cr_assert(strstr(rsv_system_error(sys), "(\"busy\"): 1 objects still allocated"), "%s",
		  rsv_system_error(sys));
	/* Still a working cache. */
	b = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	cr_assert_not_null(b);
	rsv_kmem_cache_free(c, a);
	rsv_kmem_cache_free(c, b);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0);
	cr_assert_eq(rsv_kmem_cache_destroy(NULL), 0);
	finish(sys);
}

Test(slab, bad_parameters_are_refused)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);

	cr_assert_null(rsv_kmem_cache_create(sys, "zero", 0, 0, 0, NULL));
	cr_assert_eq(errno, EINVAL);
	cr_assert_null(rsv_kmem_cache_create(sys, "align", 64, 24, 0, NULL));
	cr_assert_null(rsv_kmem_cache_create(sys, "huge", 1 << 20, 0, 0, NULL));
	cr_assert_null(rsv_kmem_cache_create(NULL, "nosys", 64, 0, 0, NULL));
	cr_assert_null(rsv_kmalloc(0, RSV_GFP_KERNEL));
	cr_assert_eq(errno, EINVAL);
	finish(sys);
}

static int ctor_calls;
static void ctor(void *obj)
{
	ctor_calls++;
	memset(obj, 0xab, 48);
}

Test(slab, the_constructor_runs_once_per_object_of_a_new_slab)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "ctor", 48, 0, 0, ctor);
	struct rsv_slabinfo i;
	unsigned char *o = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_info(c, &i);
	cr_assert_eq(ctor_calls, (int)i.objperslab);
	cr_assert_eq(o[40], 0xab);
	rsv_kmem_cache_free(c, o);
	rsv_kmem_cache_destroy(c);
	finish(sys);
}

/* The kernel's ARCH_SLAB_MINALIGN: a smaller alignment asked for is a word. */
Test(slab, an_alignment_below_a_word_is_a_word)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "odd", 13, 1, 0, NULL);
	void *o[3];

	cr_assert_not_null(c);
	for (int i = 0; i < 3; i++) {
		o[i] = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
		cr_assert_eq((uintptr_t)o[i] % sizeof(void *), 0, "%p", o[i]);
	}
	for (int i = 0; i < 3; i++)
		rsv_kmem_cache_free(c, o[i]);
	cr_assert_null(rsv_kmem_cache_create(sys, "three", 13, 3, 0, NULL));
	rsv_kmem_cache_destroy(c);
	finish(sys);
}

Test(slab, kmalloc_size_classes_and_large_blocks)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	static const size_t sizes[][2] = { { 1, 8 },       { 8, 8 },       { 9, 16 },
					   { 33, 64 },     { 65, 96 },     { 97, 128 },
					   { 129, 192 },   { 193, 256 },   { 257, 512 },
					   { 1000, 1024 }, { 2048, 2048 }, { 4097, 8192 },
					   { 8192, 8192 }, { 8193, 16384 }, { 100000, 131072 } };

	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		char *p = rsv_kmalloc(sizes[i][0], RSV_GFP_KERNEL);

		cr_assert_not_null(p, "kmalloc(%zu)", sizes[i][0]);
		cr_assert_eq(rsv_ksize(p), sizes[i][1], "kmalloc(%zu) gave %zu", sizes[i][0],
			     rsv_ksize(p));
		memset(p, 0x5a, sizes[i][0]);
		rsv_kfree(p);
	}
	cr_assert_eq(rsv_kmem_cache_size(rsv_kmalloc_cache(sys, 100)), 128);
	cr_assert_null(rsv_kmalloc_cache(sys, 8193));
	{
		unsigned char *z = rsv_kzalloc(300, RSV_GFP_KERNEL);

		for (int k = 0; k < 300; k++)
			cr_assert_eq(z[k], 0);
		rsv_kfree(z);
	}
	rsv_kfree(NULL);
	finish(sys);
}

Test(slab, misuse_is_named_and_nothing_is_lost)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *a = rsv_kmem_cache_create(sys, "apples", 64, 0, 0, NULL);
	struct rsv_kmem_cache *b = rsv_kmem_cache_create(sys, "pears", 64, 0, 0, NULL);
	void *x = rsv_kmem_cache_alloc(a, RSV_GFP_KERNEL);
	char local[64];

	rsv_kmem_cache_free(b, x);
	cr_assert(strstr(rsv_system_error(sys), "an object of another cache"), "%s",
		  rsv_system_error(sys));
	rsv_kmem_cache_free(a, (char *)x + 8);
	cr_assert(strstr(rsv_system_error(sys), "not the start of an object"));
	rsv_kmem_cache_free(a, local);
	cr_assert(strstr(rsv_system_error(sys), "not an address in the system's arena"));
	rsv_kfree(local);
	cr_assert(strstr(rsv_system_error(sys), "rsv_kfree"));
	rsv_kmem_cache_free(a, x); /* the right cache still takes it */
	rsv_kmem_cache_free(a, x);
	cr_assert(strstr(rsv_system_error(sys), "double free"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 5);
	cr_assert_eq(rsv_kmem_cache_destroy(a), 0, "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_kmem_cache_destroy(b), 0);
	finish(sys);
}

Test(slab, poisoning_catches_a_write_after_free)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "poisoned", 64, 0,
							  RSV_SLAB_POISON, NULL);
	char *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x);
	x[20] = 1; /* use after free */
	cr_assert_eq(rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL), x, "LIFO: the same object back");
	cr_assert(strstr(rsv_system_error(sys), "written after it was freed"), "%s",
		  rsv_system_error(sys));
	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_destroy(c);
	finish(sys);
}

Test(slab, a_destroyed_caches_id_is_reused_safely)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *a = rsv_kmem_cache_create(sys, "first", 64, 0, 0, NULL);
	struct rsv_kmem_cache *b;
	void *o;

	rsv_kmem_cache_free(a, rsv_kmem_cache_alloc(a, RSV_GFP_KERNEL)); /* a magazine of a */
	cr_assert_eq(rsv_kmem_cache_destroy(a), 0);
	b = rsv_kmem_cache_create(sys, "second", 256, 0, 0, NULL);
	o = rsv_kmem_cache_alloc(b, RSV_GFP_KERNEL);
	cr_assert_eq(rsv_ksize(o), 256, "an object of the new cache, not a stale one");
	rsv_kmem_cache_free(b, o);
	rsv_kmem_cache_destroy(b);
	finish(sys);
}

Test(slab, empty_slabs_go_back_through_the_shrinker)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "big", 1024, 0, 0, NULL);
	enum { N = 2000 };
	void **objs = malloc(N * sizeof(void *));
	unsigned long free_before = rsv_system_free_pages(sys), freed;
	struct rsv_slabinfo i;

	cr_assert_eq(rsv_kmem_cache_alloc_bulk(c, RSV_GFP_KERNEL, N, objs), N);
	cr_assert_leq(rsv_system_free_pages(sys), free_before - N / 4);
	rsv_kmem_cache_free_bulk(c, N, objs);
	rsv_kmem_cache_info(c, &i);
	cr_assert_eq(i.allocated, 0);
	freed = rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0);
	cr_assert_gt(freed, 0);
	rsv_kmem_cache_info(c, &i);
	cr_assert_gt(i.slabs_freed, 0);
	free(objs);
	rsv_kmem_cache_destroy(c);
	finish(sys);
}

/* ---- another task frees: the I/O completion pattern ---- */

#define RING 256

struct handoff {
	struct rsv_kmem_cache *c;
	void *ring[RING];
	_Atomic unsigned long head, tail; /* produced, consumed */
	unsigned long total;
	unsigned long bad;
};

static int producer(void *arg)
{
	struct handoff *h = arg;

	for (unsigned long n = 0; n < h->total; n++) {
		uint64_t *o = rsv_kmem_cache_alloc(h->c, RSV_GFP_KERNEL);

		if (!o) {
			h->bad++;
			continue;
		}
		*o = n;
		while (atomic_load(&h->head) - atomic_load(&h->tail) == RING)
			rsv_yield();
		h->ring[atomic_load(&h->head) % RING] = o;
		atomic_fetch_add(&h->head, 1);
	}
	return 0;
}

static int consumer(void *arg)
{
	struct handoff *h = arg;

	for (unsigned long n = 0; n < h->total - h->bad;) {
		uint64_t *o;

		if (atomic_load(&h->tail) == atomic_load(&h->head)) {
			rsv_yield();
			continue;
		}
		o = h->ring[atomic_load(&h->tail) % RING];
		atomic_fetch_add(&h->tail, 1);
		if (*o != n++)
			h->bad++;
		rsv_kmem_cache_free(h->c, o);
	}
	return 0;
}

static void handoff(enum rsv_backend be, unsigned long total)
{
	struct rsv_system *sys = test_system(be, 4096, 7);
	struct handoff *h = calloc(1, sizeof(*h));
	struct rsv_slabinfo i;

	h->total = total;
	rsv_task_attach(sys, "setup");
	h->c = rsv_kmem_cache_create(sys, "bio", 200, 0, 0, NULL);
	rsv_task_detach();
	rsv_task_create(sys, "submitter", producer, h);
	rsv_task_create(sys, "completion", consumer, h);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(h->bad, 0);
	rsv_kmem_cache_info(h->c, &i);
	cr_assert_eq(i.allocs, total);
	cr_assert_eq(i.frees, total);
	cr_assert_eq(i.allocated, 0);
	cr_assert_gt(i.magazine_hits, total / 2, "most allocations hit a magazine");
	/* The objects went round through the depot: a few slabs did for all of them. */
	cr_assert_lt(i.slabs_created, 64, "%lu slabs", (unsigned long)i.slabs_created);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	teardown_whole(sys);
	free(h);
}

Test(slab, frees_by_another_task_come_back_sim)
{
	handoff(RSV_BACKEND_SIM, 20000);
}

Test(slab, frees_by_another_task_come_back_os)
{
	handoff(RSV_BACKEND_OS, 200000);
}

/* ---- stress: random sizes, several tasks, some frees by others ---- */

#define STRESS_TASKS 4
#define STRESS_SLOTS 512

struct stress {
	void *_Atomic slots[STRESS_SLOTS];
	unsigned long ops;
	_Atomic unsigned long failures;
};

static int stresser(void *arg)
{
	struct stress *s = arg;

	for (unsigned long n = 0; n < s->ops; n++) {
		unsigned slot = (unsigned)(rsv_task_random() % STRESS_SLOTS);
		size_t size = 1 + rsv_task_random() % (rsv_task_random() % 8 ? 512 : 20000);
		void *p = atomic_exchange(&s->slots[slot], NULL);

		if (p) {
			rsv_kfree(p);
			continue;
		}
		p = rsv_kmalloc(size, RSV_GFP_KERNEL | RSV___GFP_NORETRY);
		if (!p) {
			atomic_fetch_add(&s->failures, 1);
			continue;
		}
		memset(p, 0x11, size < 64 ? size : 64);
		p = atomic_exchange(&s->slots[slot], p);
		rsv_kfree(p);
	}
	return 0;
}

static void stress(enum rsv_backend be, unsigned long ops)
{
	struct rsv_system *sys = test_system(be, 4096, 3);
	struct stress *s = calloc(1, sizeof(*s));

	s->ops = ops;
	for (int i = 0; i < STRESS_TASKS; i++)
		rsv_task_create(sys, "stress", stresser, s);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	rsv_task_attach(sys, "cleanup");
	for (int i = 0; i < STRESS_SLOTS; i++)
		rsv_kfree(s->slots[i]);
	cr_assert_eq(rsv_system_check(sys, 0), 0, "%s", rsv_system_error(sys));
	rsv_task_detach();
	teardown_whole(sys);
	free(s);
}

Test(slab, stress_sim)
{
	stress(RSV_BACKEND_SIM, 20000);
}

Test(slab, stress_os)
{
	stress(RSV_BACKEND_OS, 200000);
}

Test(slab, a_cache_knows_its_name_and_size)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_kmem_cache *c;

	rsv_task_attach(sys, "t");
	c = rsv_kmem_cache_create(sys, "dentry", 192, 0, 0, NULL);
	cr_assert_str_eq(rsv_kmem_cache_name(c), "dentry");
	cr_assert_eq(rsv_kmem_cache_size(c), 192);
	cr_assert_str_eq(rsv_kmem_cache_name(NULL), "(null)");
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0);
	rsv_task_detach();
	teardown_whole(sys);
}
