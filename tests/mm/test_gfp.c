/* GFP rules: validation, scoped context, gfp_to_alloc_flags and who gets reserves. */
#include <string.h>
#include "helpers.h"
#include "mm/internal.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(gfp, .timeout = 60);

Test(gfp, composites_match_the_kernel)
{
	cr_assert_eq(RSV_GFP_KERNEL, 0xcc0u);
	cr_assert_eq(RSV_GFP_NOFS, 0xc40u);
	cr_assert_eq(RSV_GFP_NOIO, 0xc00u);
	cr_assert_eq(RSV_GFP_ATOMIC, 0x820u);
	cr_assert_eq(RSV_GFP_NOWAIT, 0x2800u);
	cr_assert(rsv_gfpflags_allow_blocking(RSV_GFP_NOIO));
	cr_assert(!rsv_gfpflags_allow_blocking(RSV_GFP_ATOMIC));
}

Test(gfp, valid_masks_accepted)
{
	static const rsv_gfp_t ok[] = {
		0, RSV_GFP_KERNEL, RSV_GFP_NOFS, RSV_GFP_NOIO, RSV_GFP_ATOMIC, RSV_GFP_NOWAIT,
		RSV_GFP_USER, RSV_GFP_KERNEL | RSV___GFP_NOFAIL,
		RSV_GFP_NOIO | RSV___GFP_NORETRY | RSV___GFP_NOWARN | RSV___GFP_NOMEMALLOC,
		RSV_GFP_KERNEL | RSV___GFP_RETRY_MAYFAIL | RSV___GFP_ZERO,
		RSV_GFP_ATOMIC | RSV___GFP_MEMALLOC | RSV___GFP_NOMEMALLOC,
		/* mempool's first pass: FS without IO is moot without direct reclaim */
		(RSV_GFP_KERNEL & ~(RSV___GFP_DIRECT_RECLAIM | RSV___GFP_IO)) | RSV___GFP_NORETRY |
			RSV___GFP_NOWARN | RSV___GFP_NOMEMALLOC,
	};

	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		cr_assert_eq(rsv_gfp_check(ok[i], 0), 0, "%#x: %s", ok[i],
			     rsv_gfp_check_reason(ok[i], 0));
	cr_assert_eq(rsv_gfp_check(RSV_GFP_KERNEL, 10), 0);
	cr_assert_eq(rsv_gfp_check(RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 1), 0);
}

Test(gfp, unknown_and_contradictory_refused)
{
	static const struct {
		rsv_gfp_t gfp;
		unsigned order;
		const char *why;
	} bad[] = {
		{ 0x1, 0, "unknown" },
		{ 0x200, 0, "unknown" },
		{ 0x40000000u, 0, "unknown" },
		{ RSV___GFP_FS | RSV___GFP_DIRECT_RECLAIM, 0, "__GFP_FS without __GFP_IO" },
		{ RSV_GFP_NOIO | RSV___GFP_FS, 0, "__GFP_FS without __GFP_IO" },
		{ RSV_GFP_ATOMIC | RSV___GFP_NOFAIL, 0, "without __GFP_DIRECT_RECLAIM" },
		{ RSV_GFP_KERNEL | RSV___GFP_NOFAIL | RSV___GFP_NORETRY, 0, "may-fail" },
		{ RSV_GFP_KERNEL | RSV___GFP_NOFAIL | RSV___GFP_RETRY_MAYFAIL, 0, "may-fail" },
		{ RSV_GFP_KERNEL | RSV___GFP_NOFAIL, 2, "above order 1" },
		{ RSV_GFP_KERNEL | RSV___GFP_NORETRY | RSV___GFP_RETRY_MAYFAIL, 0,
		  "__GFP_NORETRY with" },
		{ RSV_GFP_KERNEL, 11, "order above 10" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *why = rsv_gfp_check_reason(bad[i].gfp, bad[i].order);

		cr_assert_eq(rsv_gfp_check(bad[i].gfp, bad[i].order), -EINVAL, "row %zu", i);
		cr_assert(why && strstr(why, bad[i].why), "row %zu: %s", i, why ? why : "(null)");
	}
}

Test(gfp, format_names_composites)
{
	char buf[128];

	rsv_gfp_format(RSV_GFP_NOFS | RSV___GFP_NOWARN, buf, sizeof(buf));
	cr_assert_str_eq(buf, "GFP_NOFS|__GFP_NOWARN");
	rsv_gfp_format(RSV_GFP_KERNEL, buf, sizeof(buf));
	cr_assert_str_eq(buf, "GFP_KERNEL");
	rsv_gfp_format(0x1, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0x1");
	rsv_gfp_format(0, buf, sizeof(buf));
	cr_assert_str_eq(buf, "0");
}

/* gfp_to_alloc_flags(): the kernel's slow-path rules, row by row. */
Test(gfp, to_alloc_flags_table)
{
	const unsigned base = RSV_ALLOC_WMARK_MIN | RSV_ALLOC_CPUSET;
	static const struct {
		rsv_gfp_t gfp;
		unsigned order;
		unsigned expect_extra;
		bool drop_cpuset;
	} rows[] = {
		{ RSV_GFP_KERNEL, 0, RSV_ALLOC_KSWAPD, false },
		{ RSV_GFP_NOIO, 0, RSV_ALLOC_KSWAPD, false },
		{ RSV___GFP_DIRECT_RECLAIM, 0, 0, false },
		{ RSV_GFP_KERNEL | RSV___GFP_HIGH, 0, RSV_ALLOC_KSWAPD | RSV_ALLOC_MIN_RESERVE,
		  false },
		{ RSV_GFP_NOWAIT, 0, RSV_ALLOC_KSWAPD | RSV_ALLOC_NON_BLOCK, false },
		{ RSV_GFP_ATOMIC, 0, RSV_ALLOC_KSWAPD | RSV_ALLOC_NON_BLOCK | RSV_ALLOC_MIN_RESERVE,
		  true },
		{ RSV_GFP_ATOMIC, 2,
		  RSV_ALLOC_KSWAPD | RSV_ALLOC_NON_BLOCK | RSV_ALLOC_MIN_RESERVE |
			  RSV_ALLOC_HIGHATOMIC,
		  true },
		{ RSV_GFP_NOWAIT, 2, RSV_ALLOC_KSWAPD | RSV_ALLOC_NON_BLOCK, false },
		/* NOMEMALLOC removes the non-blocking bonus (and with it HIGHATOMIC) */
		{ RSV_GFP_NOWAIT | RSV___GFP_NOMEMALLOC, 0, RSV_ALLOC_KSWAPD, false },
		{ RSV_GFP_ATOMIC | RSV___GFP_NOMEMALLOC, 2,
		  RSV_ALLOC_KSWAPD | RSV_ALLOC_MIN_RESERVE, true },
		{ 0, 0, RSV_ALLOC_NON_BLOCK, false },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		unsigned expect = (base | rows[i].expect_extra) &
				  ~(rows[i].drop_cpuset ? RSV_ALLOC_CPUSET : 0u);
		unsigned got = rsv__gfp_to_alloc_flags(rows[i].gfp, rows[i].order);

		cr_assert_eq(got, expect, "row %zu: gfp %#x order %u: got %#x want %#x", i,
			     rows[i].gfp, rows[i].order, got, expect);
	}
}

/* __gfp_pfmemalloc_flags(): NOMEMALLOC beats MEMALLOC beats PF_MEMALLOC; victims get
 * ALLOC_OOM, or NO_WATERMARKS under memdie=full. */
Test(gfp, pfmemalloc_precedence)
{
	static const struct {
		rsv_gfp_t gfp;
		bool pf_memalloc, victim, memdie_full;
		unsigned expect;
	} rows[] = {
		{ RSV_GFP_KERNEL, false, false, false, 0 },
		{ RSV_GFP_KERNEL | RSV___GFP_MEMALLOC, false, false, false,
		  RSV_ALLOC_NO_WATERMARKS },
		{ RSV_GFP_KERNEL | RSV___GFP_MEMALLOC | RSV___GFP_NOMEMALLOC, false, false, false,
		  0 },
		{ RSV_GFP_KERNEL, true, false, false, RSV_ALLOC_NO_WATERMARKS },
		{ RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC, true, false, false, 0 },
		{ RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC | RSV___GFP_MEMALLOC, true, true, true, 0 },
		{ RSV_GFP_KERNEL, false, true, false, RSV_ALLOC_OOM },
		{ RSV_GFP_KERNEL, false, true, true, RSV_ALLOC_NO_WATERMARKS },
		{ RSV_GFP_KERNEL, true, true, false, RSV_ALLOC_NO_WATERMARKS },
		{ RSV_GFP_KERNEL | RSV___GFP_NOMEMALLOC, false, true, false, 0 },
		{ RSV_GFP_ATOMIC | RSV___GFP_MEMALLOC, false, true, false,
		  RSV_ALLOC_NO_WATERMARKS },
	};

	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
			.backend = RSV_BACKEND_SIM,
			.policy.value[RSV_POLICY_MEMDIE] =
				rows[i].memdie_full ? RSV_MEMDIE_FULL : RSV_MEMDIE_PARTIAL });
		struct rsv_task *t = rsv_task_attach(sys, "ctx");
		unsigned got;

		if (rows[i].pf_memalloc)
			rsv_memalloc_noreclaim_save();
		if (rows[i].victim)
			rsv_task_mark_oom_victim(t);
		got = rsv__gfp_pfmemalloc_flags(sys, t, rows[i].gfp);
		cr_assert_eq(got, rows[i].expect, "row %zu: got %#x want %#x", i, got,
			     rows[i].expect);
		rsv_task_detach();
		teardown_whole(sys);
	}
}
