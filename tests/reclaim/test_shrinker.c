/* Shrinkers: do_shrink_slab()'s arithmetic (delta, deferred work, batches), SHRINK_STOP and
 * SHRINK_EMPTY, and misuse. Driven directly through rsv_shrink_slab(). */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(shrinker, .timeout = 60);

struct fake {
	struct rsv_shrinker s;
	unsigned long objects;
	unsigned long calls, freed;
	unsigned long answer; /* 0: free what is asked; else return this */
	bool empty;
	bool scans_nothing; /* reports nr_scanned 0 and frees nothing */
};

static unsigned long fake_count(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct fake *f = (struct fake *)s;

	return f->empty ? RSV_SHRINK_EMPTY : f->objects;
}

static unsigned long fake_scan(struct rsv_shrinker *s, struct rsv_shrink_control *sc)
{
	struct fake *f = (struct fake *)s;
	unsigned long n = sc->nr_to_scan < f->objects ? sc->nr_to_scan : f->objects;

	f->calls++;
	if (f->scans_nothing) {
		sc->nr_scanned = 0;
		return 0;
	}
	if (f->answer)
		return f->answer;
	f->objects -= n; /* a real cache shrinks */
	f->freed += n;
	return n;
}

static struct rsv_system *sys_with(struct fake *f, unsigned long objects)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);

	memset(f, 0, sizeof(*f));
	f->objects = objects;
	f->s.count_objects = fake_count;
	f->s.scan_objects = fake_scan;
	f->s.name = "fake";
	cr_assert_eq(rsv_register_shrinker(sys, &f->s), 0);
	rsv_task_attach(sys, "reclaimer");
	return sys;
}

static void done(struct rsv_system *sys, struct fake *f)
{
	cr_assert_eq(rsv_unregister_shrinker(sys, &f->s), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(shrinker, delta_batches_and_deferral)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	/* priority 12: (1000 >> 12) * 4 / 2 = 0: nothing to do. */
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 12), 0);
	cr_assert_eq(f.calls, 0);
	/* priority 0: delta 2000, capped at 2 * 1000; batches of 128 while total >= 128:
	 * 15 batches (1920), and 2000 - 1920 = 80 deferred to the next pass. */
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0), 1000);
	cr_assert_eq(f.calls, 15);
	cr_assert_eq(atomic_load(&f.s.nr_deferred), 80);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_SLABS_SCANNED), 1920);
	done(sys, &f);
}

Test(shrinker, deferred_work_is_picked_up)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	atomic_store(&f.s.nr_deferred, 4096);
	/* priority 4: delta (1000 >> 4) * 2 = 124, deferred 4096 >> 4 = 256: total 380, so
	 * two batches of 128 (256) and 124 left over. */
	rsv_shrink_slab(sys, RSV_GFP_KERNEL, 4);
	cr_assert_eq(f.calls, 2);
	/* next deferred = 4096 + 124 - 256 = 3964, capped at 2 * freeable = 2000 */
	cr_assert_eq(atomic_load(&f.s.nr_deferred), 2000);
	done(sys, &f);
}

Test(shrinker, stop_defers_and_empty_skips)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	f.answer = RSV_SHRINK_STOP;
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_NOFS, 0), 0);
	cr_assert_eq(f.calls, 1, "SHRINK_STOP must end the pass");
	cr_assert_eq(atomic_load(&f.s.nr_deferred), 2000, "the unscanned work is deferred");
	f.answer = 0;
	f.empty = true;
	f.calls = 0;
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0), 0);
	cr_assert_eq(f.calls, 0, "SHRINK_EMPTY must skip the shrinker");
	done(sys, &f);
}

/* shrinker_that_scans_nothing_ends_the_pass: s7's inode shrinker, its device gone, once said
 * it scanned nothing; the pass asked it again for ever and kswapd never stopped. */
Test(shrinker, a_scan_that_looks_at_nothing_ends_the_pass, .timeout = 10)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	f.scans_nothing = true;
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0), 0);
	cr_assert_eq(f.calls, 1, "asked %lu times", f.calls);
	done(sys, &f);
}

Test(shrinker, overscan_is_counted_and_capped)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	f.answer = 500; /* more than any batch of 128 */
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0), 15 * 128, "capped at each request");
	cr_assert_gt(atomic_load(&f.s.nr_overscan), 0);
	cr_assert_gt(rsv_stats_get(sys, RSV_STAT_MISUSE), 0);
	cr_assert(strstr(rsv_system_error(sys), "freed 500 objects when asked to scan 128"), "%s",
		  rsv_system_error(sys));
	done(sys, &f);
}

Test(shrinker, register_twice_and_unknown_unregister)
{
	struct fake f, g;
	struct rsv_system *sys = sys_with(&f, 10);

	memset(&g, 0, sizeof(g));
	g.s.count_objects = fake_count;
	g.s.scan_objects = fake_scan;
	cr_assert_eq(rsv_register_shrinker(sys, &f.s), -EBUSY);
	cr_assert_eq(rsv_unregister_shrinker(sys, &g.s), -ENOENT);
	cr_assert_eq(rsv_register_shrinker(sys, &(struct rsv_shrinker){ 0 }), -EINVAL);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 2);
	done(sys, &f);
}

Test(shrinker, unregistered_is_not_called)
{
	struct fake f;
	struct rsv_system *sys = sys_with(&f, 1000);

	cr_assert_eq(rsv_unregister_shrinker(sys, &f.s), 0);
	cr_assert_eq(rsv_shrink_slab(sys, RSV_GFP_KERNEL, 0), 0);
	cr_assert_eq(f.calls, 0);
	cr_assert_eq(rsv_register_shrinker(sys, &f.s), 0, "a shrinker may come back");
	done(sys, &f);
}
