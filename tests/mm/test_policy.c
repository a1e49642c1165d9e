/* Policies: names, parsing with helpful errors, canonical spelling, validation. */
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(policy, .timeout = 60);
TestSuite(stats, .timeout = 60);

Test(policy, defaults_are_upstream)
{
	struct rsv_policy p = RSV_POLICY_DEFAULT;
	char buf[256];

	rsv_policy_format(&p, buf, sizeof(buf));
	cr_assert_str_eq(buf, "mempool=upstream,throttle=reclaim-throttle,bufio=workqueue,"
			      "loop=noio,oom=reaper,memdie=partial,reservation=watermarks,"
			      "iowait=timed-repoll,ioflusher=every-worker,"
			      "poolshare=oldest-first");
}

Test(policy, parse_and_format_round_trip)
{
	struct rsv_policy p = RSV_POLICY_DEFAULT, q = RSV_POLICY_DEFAULT;
	char buf[256];

	cr_assert_eq(rsv_policy_parse(&p, "mempool=2016,oom=no-reaper", NULL, 0), 0);
	cr_assert_eq(rsv_policy_get(&p, RSV_POLICY_MEMPOOL), RSV_MEMPOOL_2016);
	cr_assert_eq(rsv_policy_get(&p, RSV_POLICY_OOM), RSV_OOM_NO_REAPER);
	rsv_policy_format(&p, buf, sizeof(buf));
	cr_assert_eq(rsv_policy_parse(&q, buf, NULL, 0), 0);
	cr_assert_eq(memcmp(&p, &q, sizeof(p)), 0);
	for (int k = 0; k < RSV_NR_POLICY_KEYS; k++)
		cr_assert_gt(rsv_policy_nr_values(k), 1, "key %s", rsv_policy_key_name(k));
	cr_assert_eq(rsv_policy_nr_values(RSV_POLICY_MEMPOOL), 6);
}

Test(policy, bad_words_named_with_choices)
{
	struct rsv_policy p = RSV_POLICY_DEFAULT;
	char err[256];

	cr_assert_eq(rsv_policy_parse(&p, "mempool=2017", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "unknown policy mempool '2017' (valid: upstream, revert, 2016, "
			      "memdie-only, no-direct-reclaim, pool-first)");
	cr_assert_eq(rsv_policy_parse(&p, "mepool=2016", err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "unknown policy key 'mepool' (valid: mempool, throttle"), "%s", err);
	cr_assert_eq(rsv_policy_parse(&p, "oom", err, sizeof(err)), -EINVAL);
	cr_assert_eq(rsv_policy_parse(&p, "oom=", err, sizeof(err)), -EINVAL);
}

/* Issue 13: "mempool=2016," was taken for "mempool=2016"; an empty item is a typo, and a
 * refused text leaves the policy as it was, even when its first items were good. */
Test(policy, empty_items_and_repeated_keys_refused_and_policy_unchanged)
{
	struct rsv_policy p = RSV_POLICY_DEFAULT;
	char err[256];
	static const char *const bad[] = { "mempool=2016,",
					   ",mempool=2016",
					   "mempool=2016,,oom=reaper",
					   "",
					   "mempool=2016,mempool=revert",
					   "mempool=2016,oom=nope" };

	for (unsigned i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cr_assert_eq(rsv_policy_parse(&p, bad[i], err, sizeof(err)), -EINVAL, "'%s'",
			     bad[i]);
		cr_assert(!memcmp(&p, &RSV_POLICY_DEFAULT, sizeof(p)), "'%s' changed the policy",
			  bad[i]);
	}
	cr_assert_eq(rsv_policy_parse(&p, "mempool=2016,oom=no-reaper", err, sizeof(err)), 0);
	cr_assert_eq(p.value[RSV_POLICY_MEMPOOL], RSV_MEMPOOL_2016);
}

Test(policy, system_refuses_out_of_range_values)
{
	struct rsv_system_config c = { .backend = RSV_BACKEND_SIM };

	c.policy.value[RSV_POLICY_LOOP] = 2;
	cr_assert_null(rsv_system_create(&c));
	cr_assert_eq(errno, EINVAL);
}

Test(stats, names_docs_and_print)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct rsv_page *p;

	rsv_task_attach(sys, "setup");
	p = rsv_alloc_pages(RSV_GFP_KERNEL, 0);
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_ALLOC_FAST), 1);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_FREE), 1);
	rsv_stats_print(sys, f, false);
	fclose(f);
	cr_assert(strstr(buf, "alloc_fast               1\n"), "%s", buf);
	cr_assert(strstr(buf, "wmark_min                64\n"), "%s", buf);
	cr_assert_null(strstr(buf, "alloc_fail"), "zero counters are omitted");
	free(buf);
	for (int i = 0; i < RSV_NR_STATS; i++)
		cr_assert(rsv_stat_name(i)[0] && rsv_stat_doc(i)[0]);
	rsv_task_detach();
	teardown_whole(sys);
}

/* Critical-section reservations' key was first spelt "reserve", the word that also names the
 * zones' reserves and a mempool's elements: the old spelling is read, the new one written,
 * and giving both is the same key twice. */
Test(policy, the_reservation_key_reads_its_old_spelling_and_writes_the_new)
{
	struct rsv_policy p = RSV_POLICY_DEFAULT;
	char buf[256], err[256];

	cr_assert_eq(rsv_policy_parse(&p, "reserve=per-thread", err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(rsv_policy_get(&p, RSV_POLICY_RESERVATION), RSV_RESERVATION_PER_THREAD);
	rsv_policy_format(&p, buf, sizeof(buf));
	cr_assert(strstr(buf, ",reservation=per-thread") && !strstr(buf, "reserve="), "%s", buf);
	cr_assert_eq(rsv_policy_parse(&p, "reserve=global-pool,reservation=watermarks", err,
				      sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "'reservation' given twice"), "%s", err);
}
