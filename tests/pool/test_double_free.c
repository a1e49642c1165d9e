/* Double frees and uses after free, wherever the freed object has gone: still in the freeing
 * task's magazine, in another task's, in the depot, back on its slab's free list. Every build
 * sees them (the free mark in release, the free poison in debug and hardened builds), and
 * nothing a user may legitimately write into an object makes a single free look like a second.
 * Return mode: each misuse is refused and counted, and the arena is whole at the end. */
#include <pthread.h>
#include "helpers.h"

TestSuite(double_free, .timeout = 30);

static struct rsv_system *sys_for(enum rsv_backend be)
{
	struct rsv_system *sys = test_system(be, 1024, 7);

	cr_assert_not_null(rsv_task_attach(sys, "user"));
	return sys;
}

static void done(struct rsv_system *sys, unsigned long misuses)
{
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), misuses, "%s", rsv_system_error(sys));
	rsv_task_detach();
	teardown_whole(sys);
}

static void expect_double_free(struct rsv_system *sys)
{
	cr_assert(strstr(rsv_system_error(sys), "double free"), "%s", rsv_system_error(sys));
}

Test(double_free, of_an_object_freed_before_others_is_named)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "objs", 64, 0, 0, NULL);
	void *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL),
	     *y = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_free(c, y); /* x is not the last freed any more */
	rsv_kmem_cache_free(c, x);
	expect_double_free(sys);
	/* Refused, not done: x is handed out once, not twice. */
	x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	y = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);
	cr_assert_neq(x, y);
	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_free(c, y);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	done(sys, 1);
}

/* Enough frees that the magazines overflow into the depot and the depot into the slabs,
 * which stay (every other object is still out): the first objects freed are on their slabs'
 * free lists, the last in the task's magazines, the rest in the depot. */
Test(double_free, of_an_object_back_on_its_slab_or_in_the_depot_is_named)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "objs", 128, 0, 0, NULL);
	enum { N = 3000 };
	static void *objs[N];
	unsigned long misuses = 0;

	for (int i = 0; i < N; i++)
		cr_assert_not_null(objs[i] = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL));
	for (int i = 0; i < N; i += 2)
		rsv_kmem_cache_free(c, objs[i]);
	for (int i = 0; i < N; i += 2 * 37, misuses++) {
		rsv_kmem_cache_free(c, objs[i]);
		expect_double_free(sys);
	}
	for (int i = 1; i < N; i += 2)
		rsv_kmem_cache_free(c, objs[i]);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	done(sys, misuses);
}

Test(double_free, through_kfree_is_named)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	void *x = rsv_kmalloc(40, RSV_GFP_KERNEL), *y = rsv_kmalloc(40, RSV_GFP_KERNEL);

	rsv_kfree(x);
	rsv_kfree(y);
	rsv_kfree(x);
	expect_double_free(sys);
	done(sys, 1);
}

static void ctor(void *obj)
{
	memset(obj, 0x3c, 40);
}

Test(double_free, in_a_cache_with_a_constructor_is_named)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "ctor", 40, 0, 0, ctor);
	void *x = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL),
	     *y = rsv_kmem_cache_alloc(c, RSV_GFP_KERNEL);

	rsv_kmem_cache_free(c, x);
	rsv_kmem_cache_free(c, y);
	rsv_kmem_cache_free(c, x);
	expect_double_free(sys);
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	done(sys, 1);
}

/* The object sits in the magazine of the task that freed it first; another frees it again. */
struct second {
	struct rsv_system *sys;
	struct rsv_kmem_cache *c;
	void *obj;
};

static void *free_again(void *arg)
{
	struct second *s = arg;

	cr_assert_not_null(rsv_task_attach(s->sys, "other"));
	rsv_kmem_cache_free(s->c, s->obj);
	rsv_task_detach();
	return NULL;
}

Test(double_free, of_an_object_in_another_tasks_magazine_is_named)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_OS);
	struct second s = { sys, rsv_kmem_cache_create(sys, "objs", 96, 0, 0, NULL), NULL };
	void *y;
	pthread_t th;

	s.obj = rsv_kmem_cache_alloc(s.c, RSV_GFP_KERNEL);
	y = rsv_kmem_cache_alloc(s.c, RSV_GFP_KERNEL);
	rsv_kmem_cache_free(s.c, s.obj);
	rsv_kmem_cache_free(s.c, y);
	cr_assert_eq(pthread_create(&th, NULL, free_again, &s), 0);
	pthread_join(th, NULL);
	expect_double_free(sys);
	cr_assert_eq(rsv_kmem_cache_destroy(s.c), 0, "%s", rsv_system_error(sys));
	done(sys, 1);
}

/* Whatever a free leaves in an object (the mark, the poison), its user may write it there
 * too: copied back into a live object, it must not make that object's free a double free. */
Test(double_free, an_object_holding_what_a_free_leaves_frees_cleanly)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *c = rsv_kmem_cache_create(sys, "objs", 64, 0, 0, NULL);
	struct rsv_kmem_cache *p = rsv_kmem_cache_create(sys, "poisoned", 64, 0, RSV_SLAB_POISON,
							 NULL);
	struct rsv_kmem_cache *caches[] = { c, p };

	for (int i = 0; i < 2; i++) {
		unsigned char image[64];
		unsigned char *x = rsv_kmem_cache_alloc(caches[i], RSV_GFP_KERNEL);

		rsv_kmem_cache_free(caches[i], x);
		memcpy(image, x, sizeof(image)); /* what a free object holds, on purpose */
		cr_assert_eq(rsv_kmem_cache_alloc(caches[i], RSV_GFP_KERNEL), x);
		memcpy(x, image, sizeof(image));
		rsv_kmem_cache_free(caches[i], x);
	}
	cr_assert_eq(rsv_kmem_cache_destroy(c), 0, "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_kmem_cache_destroy(p), 0, "%s", rsv_system_error(sys));
	done(sys, 0);
}

Test(double_free, an_object_filled_with_the_poison_byte_frees_cleanly)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	struct rsv_kmem_cache *p = rsv_kmem_cache_create(sys, "poisoned", 64, 0, RSV_SLAB_POISON,
							 NULL);
	void *x = rsv_kmem_cache_alloc(p, RSV_GFP_KERNEL);

	memset(x, 0x6b, 64);
	rsv_kmem_cache_free(p, x);
	cr_assert_eq(rsv_kmem_cache_destroy(p), 0, "%s", rsv_system_error(sys));
	done(sys, 0);
}

Test(double_free, ksize_of_a_freed_object_is_a_use_after_free)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_SIM);
	void *x = rsv_kmalloc(100, RSV_GFP_KERNEL), *y = rsv_kmalloc(100, RSV_GFP_KERNEL);

	cr_assert_eq(rsv_ksize(x), 128);
	rsv_kfree(x);
	rsv_kfree(y);
	cr_assert_eq(rsv_ksize(x), 0);
	cr_assert(strstr(rsv_system_error(sys), "use after free"), "%s", rsv_system_error(sys));
	done(sys, 1);
}

/* Tasks allocating and freeing while another's double frees are searched for: the search
 * freezes everyone's magazines, and nothing may be lost or handed out twice meanwhile. The
 * double-freeing task frees no more than it allocated, so that its objects stay in its own
 * two magazines: an object that had moved on to another task could be handed out again, and
 * its second free would be a free of that task's object, which no allocator can tell. */
struct churn {
	struct rsv_system *sys;
	struct rsv_kmem_cache *c;
	_Atomic uint32_t next_id;
	_Atomic unsigned long bad;
};

enum { ROUNDS = 300, BATCH = 64, DOUBLES = 8 };

static void *churner(void *arg)
{
	struct churn *ch = arg;
	uint32_t id = atomic_fetch_add(&ch->next_id, 1);
	int n = id == 0 ? DOUBLES : BATCH;
	uint64_t *objs[BATCH];

	cr_assert_not_null(rsv_task_attach(ch->sys, "churn"));
	for (uint32_t round = 0; round < ROUNDS; round++) {
		uint64_t tag = (uint64_t)id << 32 | round;

		for (int i = 0; i < n; i++) {
			objs[i] = rsv_kmem_cache_alloc(ch->c, RSV_GFP_KERNEL);
			cr_assert_not_null(objs[i]);
			objs[i][7] = tag; /* the last word: no free mark, no link */
		}
		for (int i = 0; i < n; i++) {
			if (objs[i][7] != tag) /* another task was handed it too */
				atomic_fetch_add(&ch->bad, 1);
			rsv_kmem_cache_free(ch->c, objs[i]);
		}
		for (int i = 0; id == 0 && i < n - 1; i++) /* not the last freed: a search */
			rsv_kmem_cache_free(ch->c, objs[i]);
	}
	rsv_task_detach();
	return NULL;
}

Test(double_free, searches_beside_busy_tasks_lose_nothing)
{
	struct rsv_system *sys = sys_for(RSV_BACKEND_OS);
	struct churn ch = { sys, rsv_kmem_cache_create(sys, "objs", 64, 0, 0, NULL), 0, 0 };
	pthread_t th[4];

	for (int i = 0; i < 4; i++)
		cr_assert_eq(pthread_create(&th[i], NULL, churner, &ch), 0);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	cr_assert_eq(atomic_load(&ch.bad), 0, "an object was handed out twice");
	cr_assert_eq(rsv_kmem_cache_destroy(ch.c), 0, "%s", rsv_system_error(sys));
	done(sys, ROUNDS * (DOUBLES - 1));
}
