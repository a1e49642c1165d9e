/* Every scenario's parameters walked across their ranges (issue 13): a handful of points per
 * parameter, both ends included, under the policy the seed thread says fails and the one it
 * says fixes it, on eight seeds each. Beside each point is the outcome the seed threads
 * predict there and why. Where a point takes the run out of the seed's situation, the
 * scenario must say invalid-setup, never hand out a verdict; a point on the edge of the
 * situation may go either way from seed to seed, and says so. */
#include "helpers.h"

TestSuite(sweep, .timeout = 300);

#define SEEDS 8
#define V(v) (1u << (RSV_VERDICT_##v))
#define INVALID V(INVALID_SETUP)
#define D V(DEADLOCK)
#define P V(PROGRESS)
#define KILL V(NEEDLESS_OOM)

struct point {
	const char *params[3];
	const char *policy;
	unsigned verdicts;
	const char *why;
	const char *deadlock_via; /* a deadlock must name this task in its cycle (or NULL) */
};

static void sweep(const char *scenario, const struct point *pts, unsigned n)
{
	const struct rsv_scenario *s = rsv_scenario_find(scenario);
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	char err[256];

	cr_assert_not_null(s);
	for (unsigned i = 0; i < n; i++) {
		const struct point *pt = &pts[i];
		struct rsv_scenario_opts o;

		rsv_scenario_opts_init(s, &o);
		cr_assert_eq(rsv_policy_parse(&o.policy, pt->policy, err, sizeof(err)), 0, "%s",
			     err);
		for (unsigned k = 0; k < 3 && pt->params[k]; k++)
			cr_assert_eq(rsv_scenario_set_param(s, &o, pt->params[k], err, sizeof(err)),
				     0, "%s", err);
		for (o.seed = 0; o.seed < SEEDS; o.seed++) {
			cr_assert_eq(rsv_scenario_run(s, &o, r), 0, "%s", r->why);
			cr_assert(pt->verdicts & (1u << r->verdict),
				  "%s %s %s %s seed %lu: %s (%s), expected because %s\n%s",
				  scenario, pt->params[0], pt->params[1] ? pt->params[1] : "",
				  pt->policy, (unsigned long)o.seed, rsv_verdict_name(r->verdict),
				  r->why, pt->why, r->report);
			if (r->verdict == RSV_VERDICT_DEADLOCK && pt->deadlock_via)
				cr_assert(strstr(r->report, "wait-for cycle") &&
						  strstr(strstr(r->report, "wait-for cycle"),
							 pt->deadlock_via),
					  "a deadlock not through %s:\n%s", pt->deadlock_via,
					  r->report);
			/* An invalid set-up names a parameter in its reason. */
			if (r->verdict == RSV_VERDICT_INVALID_SETUP)
				cr_assert(strchr(r->why, '='), "%s", r->why);
		}
	}
	free(r);
}

#define SWEEP(name, pts) sweep(name, pts, sizeof(pts) / sizeof(pts[0]))
/* One point: parameters (up to three), the policy, the outcomes allowed, and why. */
#define PT(pol, v, reason, ...) \
	{ .params = { __VA_ARGS__ }, .policy = pol, .verdicts = v, .why = reason }

/* ---- s1: f9054c70d28b (mempool=2016) drains the reserves; upstream waits on the pool ---- */

#define S1_BOTH(p, v2016, vup, why) \
	PT("mempool=2016", v2016, why, p), PT("mempool=upstream", vup, why, p)
/* 2016's failure: the reserves drained to zero, or hogs killed while swap-outs were in
 * flight on the reserves (both Hocko's "swapout path can drain all memory reserves", July 2016). */
#define DRAINED (V(RESERVE_DEPLETED) | V(NEEDLESS_OOM))

static const struct point s1[] = {
	S1_BOTH("anon_pages=1", INVALID, INVALID, "one page to swap: the pools never run dry"),
	S1_BOTH("anon_pages=500", DRAINED, V(PROGRESS),
		"the seed's drain while swap lasts; once it is all out the kills are necessary"),
	S1_BOTH("anon_pages=3000", DRAINED, V(PROGRESS), "the seed's situation"),
	S1_BOTH("free=0", DRAINED, V(PROGRESS), "already below min: the seed's"),
	S1_BOTH("free=1000", INVALID, INVALID, "the hogs fit: no swap-out waits on a pool"),
	S1_BOTH("pool=1", DRAINED, V(PROGRESS), "one element: dry at once"),
	S1_BOTH("pool=1024", V(PROGRESS), V(PROGRESS),
		"the pools hold half of memory: 2016 dips below min but never to zero"),
	S1_BOTH("io_ms=0", INVALID | P, INVALID | P,
		"the edge: instant I/O refills the pools; where one runs dry for a moment, "
		"2016 dips below min and recovers"),
	S1_BOTH("io_ms=100", DRAINED, V(PROGRESS),
		"slow I/O: 2016's reserves are gone before the writes finish, and on most "
		"schedules the hogs are killed while swap-outs are in flight"),
	S1_BOTH("io_ms=1000", V(NEEDLESS_OOM), V(NEEDLESS_OOM),
		"a 1 s disk: every anonymous page is under writeback when the hogs give up, under "
		"any policy (the model's reclaim does not wait out writeback that slow)"),
	S1_BOTH("hogs=0", INVALID | P, INVALID | P,
		"the filler's pressure alone: kswapd may swap enough to dry a pool for a moment "
		"on some schedules, and 2016 then dips below min without reaching zero"),
	S1_BOTH("hogs=16", DRAINED, P | KILL,
		"more demand than memory and swap: necessary kills are no verdict; 16 hogs racing "
		"in reclaim may see one killed while swap-outs are still in flight"),
	S1_BOTH("hog_pages=1", DRAINED, V(PROGRESS), "the filler's pressure alone"),
	S1_BOTH("hog_pages=2000", DRAINED, V(PROGRESS),
		"hogs beyond memory: the kills that come are necessary"),
	S1_BOTH("rounds=1", DRAINED, V(PROGRESS), "one round is enough to drain"),
	S1_BOTH("rounds=1000", DRAINED, V(PROGRESS), "the same, a thousand times"),
	S1_BOTH("swap_slots=1", INVALID, INVALID, "swap full after one page: nothing to write"),
	S1_BOTH("swap_slots=100", V(PROGRESS), V(PROGRESS),
		"a small swap bounds what 2016 can put in flight: the drain stops short of zero"),
	/* The racy variant: the filler's memory comes back 200 steps after the hogs start; 2016
	 * drains the reserves only where the swap-outs took them first. */
	S1_BOTH("race=1", V(RESERVE_DEPLETED) | V(PROGRESS), V(PROGRESS), "the race"),
	PT("mempool=2016,throttle=throttle-vm-writeout", V(PROGRESS),
	   "the throttle caps what 2016 puts in flight, as without the race", "race=1"),
	PT("mempool=2016", V(PROGRESS), "one hog: too few swap-outs before the memory is back",
	   "race=1", "hogs=1"),
};

Test(sweep, s1_crypt_swap_reserves) { SWEEP("s1-crypt-swap-reserves", s1); }

/* ---- s2: throttle_vm_writeout stalls kcryptd; reclaim_throttle (v5.16) does not ---- */

#define S2_BOTH(p, vold, vnew, why)                                                                \
	PT("throttle=throttle-vm-writeout", vold, why, p),                                         \
		PT("throttle=reclaim-throttle", vnew, why, p)

static const struct point s2[] = {
	S2_BOTH("pages=1", INVALID, INVALID, "one page never exceeds the limit plus 10%"),
	S2_BOTH("pages=300", V(STALL), V(PROGRESS), "writeback above 220: the seed's"),
	S2_BOTH("pages=2000", V(STALL), V(PROGRESS), "the same, longer"),
	S2_BOTH("thresh=2", V(STALL), V(PROGRESS), "a tiny limit: the throttle acts at once"),
	S2_BOTH("thresh=100", V(STALL), V(PROGRESS), "the seed's"),
	S2_BOTH("thresh=800", INVALID, INVALID,
		"below the background limit: written by periodic writeback, never above 880"),
	S2_BOTH("thresh=2000", INVALID, INVALID, "the same"),
	S2_BOTH("free=0", V(STALL), V(PROGRESS), "the seed's, harder"),
	S2_BOTH("free=300", V(STALL) | INVALID, V(PROGRESS) | INVALID,
		"the edge: memory reaches min during writeback on some schedules only"),
	S2_BOTH("free=1000", INVALID, INVALID, "memory never below min: kcryptd never reclaims"),
	S2_BOTH("pool=1", V(STALL), V(PROGRESS), "the seed's, with one bounce page"),
	S2_BOTH("pool=128", V(STALL), V(PROGRESS),
		"a larger pool still runs dry; the old floor formula called the fix a stall here"),
	S2_BOTH("pool=1024", INVALID, INVALID, "the pool covers every page: never dry"),
	S2_BOTH("io_ms=1", V(STALL), V(PROGRESS), "the seed's"),
	S2_BOTH("io_ms=50", V(STALL), V(PROGRESS),
		"63 throttle sleeps, the old floor formula called it progress"),
	S2_BOTH("io_ms=1000", V(STALL), V(PROGRESS), "the throttle still dominates"),
	PT("throttle=throttle-vm-writeout", V(LIVELOCK),
	   "a GFP_KERNEL kcryptd loops in congestion_wait until writeback drops: only it can",
	   "gfp_kernel=1"),
	PT("throttle=reclaim-throttle", V(PROGRESS), "kthreads are not throttled", "gfp_kernel=1"),
	PT("throttle=less-throttle-exempt", V(PROGRESS),
	   "Hocko's RFC 2/2: kcryptd is PF_LESS_THROTTLE", "gfp_kernel=1"),
	PT("throttle=throttle-vm-writeout", V(LIVELOCK), "the same loop, a slower disk",
	   "gfp_kernel=1", "io_ms=1000"),
	PT("throttle=throttle-vm-writeout", INVALID, "no reclaim, no throttle", "gfp_kernel=1",
	   "free=1000"),
	PT("throttle=throttle-vm-writeout,mempool=no-direct-reclaim", V(PROGRESS),
	   "NeilBrown: a mempool that never reclaims never meets the throttle", "pages=2000"),
	/* The racy variant: memory comes back as the first writes complete; kcryptd is
	 * throttled only where its next reclaim comes first. */
	PT("throttle=throttle-vm-writeout", V(STALL) | V(PROGRESS), "the race", "race=1"),
	PT("throttle=reclaim-throttle", V(PROGRESS), "no throttle for kcryptd", "race=1"),
	PT("throttle=less-throttle-exempt", V(PROGRESS), "kcryptd exempt", "race=1"),
	PT("throttle=throttle-vm-writeout", V(PROGRESS),
	   "a 1 s disk: one 100 ms throttle cannot double the writeback", "race=1", "io_ms=1000"),
	PT("throttle=throttle-vm-writeout", V(LIVELOCK),
	   "a GFP_KERNEL kcryptd loops in the throttle before the memory comes back", "race=1",
	   "gfp_kernel=1"),
	PT("throttle=throttle-vm-writeout", INVALID, "no reclaim, no throttle", "race=1",
	   "free=1000"),
};

Test(sweep, s2_writeout_throttle) { SWEEP("s2-writeout-throttle", s2); }

/* ---- s3: Rientjes' A, B, C; the reaper (or 2016's reserves) gets C out ---- */

#define S3_ALL(p, vrevert, vreaper, v2016, why)                                            \
	PT("mempool=revert,oom=no-reaper", vrevert, why, p),                               \
	PT("mempool=upstream,oom=reaper", vreaper, why, p),                                \
	PT("mempool=2016,oom=no-reaper", v2016, why, p)

static const struct point s3[] = {
	S3_ALL("free=0", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(LIVELOCK) | V(DEADLOCK),
	       "nothing below min either: even 2016's reserves are empty for C"),
	S3_ALL("free=60", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(LIVELOCK) | V(DEADLOCK),
	       "below half of min: ALLOC_OOM (memdie=partial) is not enough for C"),
	S3_ALL("free=120", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "the seed's: C's reserve access is what 2016 adds"),
	S3_ALL("free=128", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(PROGRESS), "at min"),
	S3_ALL("free=129", INVALID, INVALID, INVALID,
	       "C's element comes from above min at once: memory was not exhausted"),
	S3_ALL("free=150", INVALID, INVALID, INVALID, "B needs no kill: C is never chosen"),
	S3_ALL("free=1000", INVALID, INVALID, INVALID, "the same"),
	S3_ALL("victim_pages=1", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(LIVELOCK) | V(DEADLOCK),
	       "C's one page is not enough: the next victim is A, stuck on B's mutex"),
	S3_ALL("victim_pages=100", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "the seed's"),
	S3_ALL("victim_pages=3000", V(LIVELOCK) | V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "the seed's"),
	PT("mempool=2016,oom=no-reaper,memdie=full", V(PROGRESS),
	   "memdie=full (2016's NO_WATERMARKS) lets C take what ALLOC_OOM would not", "free=60"),
	PT("mempool=memdie-only,oom=no-reaper,memdie=full", V(PROGRESS),
	   "Hocko's RFC 1/2, the same reserve access for the victim", "free=60"),
	/* The racy variant: the livelock on the schedules where B takes the mutex between A's
	 * element and A's lock; on the others A goes first and C is served at once (not the
	 * seed's situation). The fixes never livelock. */
	PT("mempool=upstream,oom=no-reaper", V(LIVELOCK) | INVALID, "the race", "race=1"),
	PT("mempool=upstream,oom=reaper", V(PROGRESS) | INVALID, "the reaper frees C's memory",
	   "race=1"),
	PT("mempool=2016,oom=no-reaper", V(PROGRESS) | INVALID, "C dips into the reserves",
	   "race=1"),
};

Test(sweep, s3_oom_mutex_livelock) { SWEEP("s3-oom-mutex-livelock", s3); }

/* ---- s4: Arcangeli's global pool against per-thread pages and zone reserves alone ---- */

#define S4_ALL(p1, p2, vwm, vglobal, vthread, why)                                                 \
	PT("reservation=watermarks", vwm, why, p1, p2),                                            \
		PT("reservation=global-pool", vglobal, why, p1, p2),                               \
		PT("reservation=per-thread", vthread, why, p1, p2)

static const struct point s4[] = {
	S4_ALL("writers=1", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "one writer"),
	S4_ALL("writers=64", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "64 x R = 512 pages fit per thread"),
	S4_ALL("writers=64", "reservation=256", V(DEADLOCK), V(PROGRESS), V(DEADLOCK),
	       "per-thread needs writers x R (16384 pages): partly filled reservations wait "
	       "for each other; the global pool needs only the largest R"),
	S4_ALL("reservation=1", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "R below need: pages submitted as they come go back before the next"),
	S4_ALL("reservation=256", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "a large R"),
	S4_ALL("need=1", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "one page a section"),
	S4_ALL("need=512", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS),
	       "more than R, but written as allocated: the pages come back"),
	S4_ALL("need=9", "hold=1", V(DEADLOCK), V(DEADLOCK), V(DEADLOCK),
	       "a section holding more than its R pages: no reservation covers it"),
	S4_ALL("sections=1", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "one section"),
	S4_ALL("sections=1000", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "many"),
	S4_ALL("io_ms=0", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "instant I/O"),
	S4_ALL("io_ms=10000", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "a 10 s disk"),
	S4_ALL("hold=1", NULL, V(DEADLOCK), V(PROGRESS), V(PROGRESS), "need = R, held: covered"),
	/* The racy variant: the hog and the writers do not wait for each other. Zone reserves
	 * alone deadlock on the schedules where the hog exhausts memory under writers inside
	 * their sections; the global pool never does; per-thread reservations are invalid-setup
	 * where the hog took the memory while a writer was still reserving. */
	PT("reservation=watermarks", V(DEADLOCK) | V(PROGRESS), "the race", "race=1"),
	PT("reservation=global-pool", V(PROGRESS), "the fix, on every schedule", "race=1"),
	PT("reservation=per-thread", V(PROGRESS) | INVALID, "the fix, or no reservation to make",
	   "race=1"),
};

Test(sweep, s4_global_reserve_pool) { SWEEP("s4-global-reserve-pool", s4); }

/* ---- s5: case A (Patocka: NOFS into the bufio shrinker) and case B (Junxiao Bi) ---- */

/* In case A the loop=plain worker allocates GFP_KERNEL, so two things may happen beside
 * case A's own outcome, on some schedules: under gfp-fs kswapd may take the bufio mutex and
 * wait on loop while the worker reclaims into the shrinker (case B's cycle, through kswapd:
 * D beside P), and under the workqueue the worker may get nothing from the deferred shrinker
 * and kill the filler (KILL beside P). */
#define S5A(p1, p2, vio, vfs_noio, vfs_plain, vwq, reason)                                    \
	PT("bufio=gfp-io,loop=noio", vio, reason, "case=0", p1, p2),                          \
	PT("bufio=gfp-fs,loop=noio", vfs_noio, reason, "case=0", p1, p2),                     \
	{ .params = { "case=0", p1, p2 }, .policy = "bufio=gfp-fs,loop=plain",             \
	  .verdicts = (vfs_plain) | ((vfs_plain) & P ? D : 0), .why = reason,                 \
	  .deadlock_via = "kswapd0" },                                                     \
	PT("bufio=workqueue,loop=plain", (vwq) | ((vwq) & P ? KILL : 0), reason, "case=0", p1, p2)

#define S5B(p1, p2, vfs_plain, vfs_noio, vio_noio, vwq, why)                               \
	PT("bufio=gfp-fs,loop=plain", vfs_plain, why, "case=1", p1, p2),                   \
	PT("bufio=gfp-fs,loop=noio", vfs_noio, why, "case=1", p1, p2),                     \
	PT("bufio=gfp-io,loop=noio", vio_noio, why, "case=1", p1, p2),                     \
	PT("bufio=workqueue,loop=plain", (vwq) | ((vwq) & KILL ? P : 0), why, "case=1", p1, p2)

static const struct point s5[] = {
	/* Case A: gfp-io deadlocks (F's NOFS reclaim writes to loop under the fs lock); gfp-fs
	 * and the workqueue pass; with loop=plain kswapd can still close case B's cycle. */
	S5A("buffers=1", "dirty=1", D, P, P, P, "one dirty buffer is enough for the cycle"),
	S5A("buffers=1024", NULL, INVALID, INVALID, INVALID, INVALID,
	    "992 clean buffers satisfy reclaim: no dirty one is ever needed"),
	S5A("dirty=0", NULL, INVALID, INVALID, INVALID, INVALID, "nothing to write to loop"),
	S5A("dirty=8", NULL, D, P, D, P,
	    "on every schedule here, with loop=plain kswapd takes the bufio mutex, writes to "
	    "loop and waits; the loop worker's GFP_KERNEL reclaim wants that mutex"),
	S5A("dirty=64", NULL, D, P, P, P, "every buffer dirty"),
	S5A("free=0", NULL, D, P, P, P, "the seed's, harder"),
	S5A("free=1000", NULL, INVALID, INVALID, INVALID, INVALID, "no reclaim at all"),
	S5A("need=1", NULL, D, P, P, P, "one page for F is enough"),
	S5A("need=512", NULL, D, P, P, P, "the seed's"),
	S5A("hold_ms=1", NULL, D | P | INVALID, P | INVALID, P | INVALID, P | INVALID,
	    "the edge: memory comes back within a millisecond, before F's reclaim needs a dirty "
	    "buffer on most schedules (gfp-io deadlocks on those where it does)"),
	S5A("hold_ms=20000", NULL, D, P, P, P, "the seed's, for longer"),
	S5A("io_ms=0", NULL, D, P, P, P, "instant I/O does not break a cycle"),
	S5A("io_ms=1000", NULL, D, P, P, P, "nor does slow I/O"),
	/* Case B: a reclaimer holding the bufio mutex waits on loop, whose worker reclaims into
	 * the same shrinker: only loop=noio or the workqueue break it. The workqueue's direct
	 * reclaim frees nothing itself and, unless the worker is quick enough on that schedule,
	 * kills the filler while the cache still holds buffers (KILL, with P beside it). */
	S5B("buffers=1", "dirty=1", D, P, P, KILL, "one dirty buffer is enough"),
	S5B("buffers=1024", NULL, INVALID, INVALID, INVALID, INVALID, "clean buffers suffice"),
	S5B("dirty=0", NULL, INVALID, INVALID, INVALID, INVALID, "nothing to write"),
	S5B("dirty=8", NULL, D, P, P, KILL, "the seed's"),
	S5B("dirty=64", NULL, D, P, P, KILL, "every buffer dirty"),
	S5B("free=0", NULL, D, P, P, KILL, "the seed's, harder"),
	S5B("free=1000", NULL, INVALID, INVALID, INVALID, INVALID, "no reclaim"),
	S5B("need=1", NULL, D, P, P, KILL, "one page for P1"),
	S5B("need=512", NULL, D, P, P, KILL, "the seed's"),
	S5B("hold_ms=1", NULL, D | P | INVALID, P | INVALID, P | INVALID, KILL | INVALID,
	    "the edge: memory is back before the loop worker must reclaim on most schedules "
	    "(gfp-fs with loop=plain deadlocks on those where it must)"),
	S5B("hold_ms=20000", NULL, D, P, P, KILL, "the seed's, for longer"),
	S5B("io_ms=0", NULL, D, P, P, KILL, "instant I/O"),
	S5B("io_ms=1000", NULL, D, P, P, KILL, "slow I/O"),
	/* Case 2: case A racing kswapd, memory 6 pages above min (free is not read): gfp-io
	 * deadlocks only on the schedules where F's transaction outruns kswapd; the fixes never
	 * do, and loop=plain under gfp-fs may close case B's cycle through kswapd, as in case A. */
	PT("bufio=gfp-io,loop=noio", D | P, "the race", "case=2"),
	PT("bufio=gfp-fs,loop=noio", P, "the fix holds on every schedule", "case=2"),
	PT("bufio=workqueue,loop=noio", P, "the fix holds on every schedule", "case=2"),
	PT("bufio=gfp-io,loop=noio", D | P, "the race, with one page", "case=2", "need=1"),
	PT("bufio=gfp-io,loop=noio", D | P, "the race, with every buffer dirty", "case=2",
	   "dirty=64"),
};

Test(sweep, s5_nofs_bufio_loop) { SWEEP("s5-nofs-bufio-loop", s5); }

/* ---- s6: SPDK's parked I/Os, retried by their own channel's completions or on a timer ---- */

#define S6_BOTH(p1, p2, vbug, vfix, why)                                                           \
	PT("iowait=completion-only", vbug, why, p1, p2),                                           \
		PT("iowait=timed-repoll", vfix, why, p1, p2)

/* The scenario is racy throughout: on the schedules where the client finds a buffer nothing
 * is parked (invalid-setup); where it does not, completion-only deadlocks and the poller
 * brings it back. Where the race cannot be lost, every run is invalid-setup. */
static const struct point s6[] = {
	S6_BOTH(NULL, NULL, D | INVALID, P | INVALID, "the race at the defaults"),
	S6_BOTH("bufs=1", NULL, D | INVALID, P | INVALID,
		"one buffer: the resync's first read takes it"),
	S6_BOTH("bufs=1024", NULL, INVALID, INVALID,
		"a burst of 16 never empties 1024 buffers: nothing is parked"),
	S6_BOTH("burst=1", NULL, INVALID, INVALID, "one read leaves 15 buffers"),
	S6_BOTH("burst=1024", NULL, D | INVALID, P | INVALID,
		"the resync's own reads parked too; its completions serve only them"),
	S6_BOTH("rounds=1", NULL, D | INVALID, P | INVALID, "one chance"),
	S6_BOTH("rounds=1000", NULL, D | INVALID, P | INVALID, "a thousand chances"),
	S6_BOTH("io_ms=0", NULL, INVALID, INVALID,
		"instant reads: the burst's first completions refill the pool before it empties"),
	S6_BOTH("io_ms=1000", NULL, D | INVALID, P | INVALID, "a slow disk"),
	S6_BOTH("bufs=1024", "burst=1024", D | INVALID, P | INVALID,
		"the whole pool in one burst of 1024 reads"),
};

Test(sweep, s6_daemon_parked_io)
{
	SWEEP("s6-daemon-parked-io", s6);
}

/* ---- s7: a ublk daemon's late worker without PR_SET_IO_FLUSHER ---- */

#define S7_BOTH(p1, p2, vbug, vfix, why)                                                           \
	PT("ioflusher=late-cleared", vbug, why, p1, p2),                                           \
		PT("ioflusher=every-worker", vfix, why, p1, p2)

/* Racy throughout: a run where the late worker took no request while memory was short is out
 * of the situation (invalid-setup). Where it took one, late-cleared deadlocks on its own queue
 * and every-worker waits for the filler. */
static const struct point s7[] = {
	S7_BOTH(NULL, NULL, D | INVALID, P | INVALID, "the race at the defaults"),
	S7_BOTH("workers=1", NULL, D, P, "the late worker is the only one: every request is its"),
	S7_BOTH("workers=64", NULL, D | INVALID, P | INVALID, "one chance in 64 a request"),
	S7_BOTH("ios=1000", NULL, D | INVALID, P | INVALID,
		"the writes after the filler's release find memory"),
	S7_BOTH("inodes=0", NULL, P | INVALID, P | INVALID,
		"no dirty inode: the late worker's reclaim has nothing to wait on"),
	S7_BOTH("inodes=1024", NULL, D | INVALID, P | INVALID, "many dirty inodes"),
	S7_BOTH("hold_ms=1", NULL, INVALID, INVALID,
		"memory is back before the client's first write"),
	S7_BOTH("hold_ms=20000", NULL, D | INVALID, P | INVALID, "a 20 s shortage"),
	S7_BOTH("io_ms=0", NULL, D | INVALID, P | INVALID, "an instant backing disk"),
	S7_BOTH("io_ms=1000", NULL, D | INVALID, P | INVALID, "a 1 s backing disk"),
};

Test(sweep, s7_daemon_io_flusher)
{
	SWEEP("s7-daemon-io-flusher", s7);
}

/* ---- s8: SPDK 3055, a bulk reader starving a client of the shared pool ---- */

#define S8_BOTH(p1, p2, vbug, vfix, why)                                                           \
	PT("poolshare=own-channel", vbug, why, p1, p2),                                            \
		PT("poolshare=oldest-first", vfix, why, p1, p2)

#define STALL V(STALL)

static const struct point s8[] = {
	S8_BOTH(NULL, NULL, STALL, P, "qd 32 on 16 buffers: the client always parks"),
	S8_BOTH("qd=8", NULL, INVALID, INVALID, "half the pool stays free"),
	S8_BOTH("qd=17", NULL, STALL | INVALID, P | INVALID, "the client parks on some schedules"),
	S8_BOTH("qd=1024", NULL, STALL, P, "1008 bulk reads parked ahead of the client"),
	S8_BOTH("bufs=1", "qd=1", STALL, P, "one buffer"),
	S8_BOTH("bufs=1024", NULL, INVALID, INVALID, "a pool far above the queue depth"),
	S8_BOTH("ios=1", NULL, INVALID, INVALID, "the bulk reader is gone before the client reads"),
	S8_BOTH("ios=100000", NULL, STALL, P, "a long bulk job"),
	S8_BOTH("reads=1", NULL, STALL, P, "one client read"),
	S8_BOTH("reads=1000", NULL, STALL, P, "the client outlasts the bulk job"),
	S8_BOTH("think_ms=0", NULL, STALL | INVALID, P | INVALID,
		"no think time: under own-channel the client's first read beats the bulk reader "
		"and each completion gives it its own buffer back"),
	S8_BOTH("think_ms=1000", NULL, INVALID, INVALID,
		"the bulk job (2000 reads at 32 deep) is over before the client's first read"),
	S8_BOTH("io_ms=1000", NULL, STALL, P, "a 1 s disk"),
};

Test(sweep, s8_daemon_pool_starvation)
{
	SWEEP("s8-daemon-pool-starvation", s8);
}

/* ---- the keys a scenario reads ---- */

/* Every policy key that changes a scenario's outcome is one it lists, so that list --verbose
 * shows it and the matrix crosses it (issue 13: memdie decided s3, throttle decided s1, and
 * neither was listed). In every cell of each scenario's matrix, at the default parameters,
 * each value of each key it does not list leaves the verdict as it was. */
static void cell_policy(const struct rsv_scenario *s, unsigned cell, struct rsv_policy *p)
{
	*p = RSV_POLICY_DEFAULT;
	for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++) {
		enum rsv_policy_key key = rsv_scenario_key(s, k);

		p->value[key] = (unsigned char)(cell % rsv_policy_nr_values(key));
		cell /= rsv_policy_nr_values(key);
	}
}

static bool listed(const struct rsv_scenario *s, enum rsv_policy_key key)
{
	for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++)
		if (rsv_scenario_key(s, k) == key)
			return true;
	return false;
}

static void unlisted_keys_change_nothing(const char *name, const char *variant)
{
	const struct rsv_scenario *s = rsv_scenario_find(name);
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	unsigned cells = 1;
	char err[128];

	for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++)
		cells *= rsv_policy_nr_values(rsv_scenario_key(s, k));
	for (unsigned c = 0; c < cells; c++) {
		struct rsv_scenario_opts o;
		enum rsv_verdict base;

		rsv_scenario_opts_init(s, &o);
		if (variant)
			cr_assert_eq(rsv_scenario_set_param(s, &o, variant, err, sizeof(err)), 0);
		cell_policy(s, c, &o.policy);
		cr_assert_eq(rsv_scenario_run(s, &o, r), 0, "%s", r->why);
		base = r->verdict;
		for (unsigned key = 0; key < RSV_NR_POLICY_KEYS; key++) {
			struct rsv_policy cell = o.policy;

			if (listed(s, key))
				continue;
			for (unsigned v = 1; v < rsv_policy_nr_values(key); v++) {
				char policy[256];

				o.policy = cell;
				o.policy.value[key] = (unsigned char)v;
				cr_assert_eq(rsv_scenario_run(s, &o, r), 0, "%s", r->why);
				rsv_policy_format(&o.policy, policy, sizeof(policy));
				cr_assert_eq(r->verdict, base,
					     "%s %s [%s]: %s, %s without %s=%s: key %s "
					     "changes the outcome but the scenario does not "
					     "list it",
					     name, variant ? variant : "", policy,
					     rsv_verdict_name(r->verdict), rsv_verdict_name(base),
					     rsv_policy_key_name(key),
					     rsv_policy_value_name(key, v),
					     rsv_policy_key_name(key));
			}
			o.policy = cell;
		}
	}
	free(r);
}

Test(sweep, s1_reads_every_key_that_decides_it)
{
	unlisted_keys_change_nothing("s1-crypt-swap-reserves", NULL);
}

Test(sweep, s2_reads_every_key_that_decides_it)
{
	unlisted_keys_change_nothing("s2-writeout-throttle", "gfp_kernel=0");
	unlisted_keys_change_nothing("s2-writeout-throttle", "gfp_kernel=1");
}

Test(sweep, s3_reads_every_key_that_decides_it)
{
	unlisted_keys_change_nothing("s3-oom-mutex-livelock", NULL);
}

Test(sweep, s4_reads_every_key_that_decides_it)
{
	unlisted_keys_change_nothing("s4-global-reserve-pool", NULL);
}

Test(sweep, s5_reads_every_key_that_decides_it)
{
	unlisted_keys_change_nothing("s5-nofs-bufio-loop", "case=0");
	unlisted_keys_change_nothing("s5-nofs-bufio-loop", "case=1");
}
