/* reservoir shrink FILE: a failing schedule made small while it keeps failing the same way,
 * with the same verdict and the same blocked-chain signature (rsv_tool_signature()).
 *
 *   reservoir shrink FILE [--out FILE] [--plot FILE.svg|png] [--budget SECONDS] [--force]
 *                         [--format text|json]
 *
 * First the shortest prefix of the schedule that still fails alike with no preemption after
 * it; then fewer preemptions: at each switch of the schedule the thread that ran before is
 * kept on instead, and the rest of the schedule follows as far as it fits. Then fewer decisions:
 * delta debugging (Zeller and Hildebrandt, "Simplifying and isolating failure-inducing input",
 * TSE 2002) over the schedule's entries. A candidate is replayed with replay_skip (an entry
 * whose thread cannot run is passed over; past the end the thread that ran last runs on while
 * it can, replay_sticky), what the run then did is recorded, and it becomes the schedule when it
 * fails the same way with fewer preemptions, or as many and fewer decisions. The shrunk schedule is
 * that recorded run, so a plain replay of it reproduces it exactly. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <jansson.h>
#include "tool.h"

struct shrink {
	struct rsv_tool_schedule sch;
	char target[1024]; /* the failure's signature */
	struct rsv_scenario_result *r;
	/* The best so far: its schedule and what its run did. */
	uint32_t *ids;
	size_t n;
	uint64_t preemptions, virtual_ns;
	unsigned long tries, accepted;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Runs @ids leniently, recording what the run did in @rec and its result in sh->r: 0 or the
 * error of a run that could not be set up. */
static int run_leniently(struct shrink *sh, const uint32_t *ids, size_t n,
			 struct rsv_tool_recording *rec)
{
	struct rsv_scenario_opts o = sh->sch.o;

	o.sched.replay = ids;
	o.sched.nr_replay = n;
	o.sched.replay_skip = true;
	o.sched.replay_sticky = true;
	o.sched.record = true;
	o.schedule = rsv_tool_record;
	o.schedule_arg = rec;
	sh->tries++;
	return rsv_scenario_run(sh->sch.s, &o, sh->r);
}

/* True if @ids, run leniently, fails as the original did. */
static bool same_failure(struct shrink *sh, const uint32_t *ids, size_t n,
			 struct rsv_tool_recording *rec)
{
	char sig[1024];

	if (run_leniently(sh, ids, n, rec))
		return false;
	rsv_tool_signature(sh->r, sig, sizeof(sig));
	return !strcmp(sig, sh->target);
}

/* rsv_shrink_schedule()'s candidate: fails alike, and what the run did. */
static bool scenario_try(void *arg, const uint32_t *ids, size_t n, uint32_t **out, size_t *nout,
			 uint64_t *preemptions)
{
	struct shrink *sh = arg;
	struct rsv_tool_recording rec = { 0 };

	if (!same_failure(sh, ids, n, &rec)) {
		free(rec.hashes);
		*out = rec.ids; /* what it led to instead, for the shrinker's next candidates */
		*nout = rec.n;
		return false;
	}
	free(rec.hashes);
	*out = rec.ids;
	*nout = rec.n;
	*preemptions = sh->r->preemptions;
	return true;
}

/* How many of the shrunk schedule's first decisions decide the failure: the shortest prefix
 * that, run on without preemption past it (replay_sticky), still fails alike; by bisection,
 * as the shrinker's first pass. The rest of the run only plays out what they set up. */
static size_t deciding_prefix(struct shrink *sh, const uint32_t *ids, size_t n)
{
	size_t lo = 0, hi = n;

	while (hi - lo > 1) {
		size_t mid = lo + (hi - lo) / 2;
		struct rsv_tool_recording rec = { 0 };

		if (same_failure(sh, ids, mid, &rec))
			hi = mid;
		else
			lo = mid;
		free(rec.ids);
		free(rec.hashes);
	}
	return hi;
}

int rsv_tool_shrink(int argc, char **argv)
{
	const char *in = NULL, *out = NULL, *format = "text", *plot = NULL;
	char outbuf[4096];
	uint64_t budget = 60, n;
	bool force = false, json;
	struct shrink sh = { 0 };
	struct rsv_tool_recording rec = { 0 };
	uint64_t before_pre, before_ns;
	size_t before_n, decided = 0;
	double start;
	int status = 0;

	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "--force")) {
			force = true;
		} else if (opt[0] != '-' && !in) {
			in = opt;
		} else if (!val) {
			fprintf(stderr, "reservoir: option '%s' needs a value\n", opt);
			return 2;
		} else if (!strcmp(opt, "--out")) {
			if (rsv_tool_check_writable("--out", val))
				return 2;
			out = val;
			i++;
		} else if (!strcmp(opt, "--plot")) {
			if (rsv_tool_check_plot_path(val))
				return 2;
			plot = val;
			i++;
		} else if (!strcmp(opt, "--budget")) {
			if (rsv_tool_parse_uint("--budget", val, 1, 86400, &budget))
				return 2;
			i++;
		} else if (!strcmp(opt, "--format")) {
			if (strcmp(val, "text") && strcmp(val, "json")) {
				fprintf(stderr,
					"reservoir: unknown format '%s' (valid: text, json)\n",
					val);
				return 2;
			}
			format = val;
			i++;
		} else {
			fprintf(stderr,
				"reservoir: unknown option '%s' of shrink (valid: --out FILE, "
				"--plot FILE.svg|png, --budget SECONDS, --force, --format "
				"text|json)\n",
				opt);
			return 2;
		}
	}
	if (!in) {
		fprintf(stderr, "reservoir: shrink needs a schedule file (reservoir run ... "
				"--save-schedule FILE)\n");
		return 2;
	}
	json = !strcmp(format, "json");
	if (!out) {
		snprintf(outbuf, sizeof(outbuf), "%s.shrunk", in);
		out = outbuf;
	}
	if ((status = rsv_tool_schedule_read(in, &sh.sch, force)))
		return status;
	if (!(sh.r = malloc(sizeof(*sh.r)))) {
		free(sh.sch.ids);
		return 1;
	}
	/* The failure to keep: the schedule replayed as it is. */
	if (run_leniently(&sh, sh.sch.ids, sh.sch.n, &rec)) {
		fprintf(stderr, "reservoir: shrink: %s\n", sh.r->why);
		status = 1;
		goto out;
	}
	rsv_tool_signature(sh.r, sh.target, sizeof(sh.target));
	if (sh.r->verdict == RSV_VERDICT_PROGRESS || sh.r->verdict == RSV_VERDICT_INVALID_SETUP) {
		fprintf(stderr, "reservoir: schedule '%s' does not fail (%s): nothing to shrink\n",
			in, rsv_verdict_name(sh.r->verdict));
		status = 2;
		goto out;
	}
	sh.ids = rec.ids;
	sh.n = rec.n;
	rec.ids = NULL;
	sh.preemptions = before_pre = sh.r->preemptions;
	sh.virtual_ns = before_ns = sh.r->virtual_ns;
	before_n = sh.n;
	start = now_s();
	{
		size_t kept_n = sh.n;

		sh.tries += rsv_shrink_schedule(scenario_try, &sh, &sh.ids, &kept_n,
						&sh.preemptions,
						(uint64_t)((start + (double)budget) * 1e9));
		sh.accepted = kept_n != sh.n || sh.preemptions != before_pre;
		sh.n = kept_n;
	}
	decided = deciding_prefix(&sh, sh.ids, sh.n);
	/* The shrunk run once more, plainly, for its report and to write it down. */
	{
		struct rsv_scenario_opts o = sh.sch.o;

		o.sched.replay = sh.ids;
		o.sched.nr_replay = sh.n;
		/* With --plot, drawn as it runs: the lanes record changes nothing in it. */
		if ((plot ? rsv_tool_timeline_run(sh.sch.s, &o, sh.r, NULL, plot)
			  : rsv_scenario_run(sh.sch.s, &o, sh.r)) ||
		    rsv_tool_schedule_write(out, sh.sch.s, &sh.sch.o, sh.r, sh.ids, sh.n)) {
			status = 1;
			goto out;
		}
	}
	n = (uint64_t)((now_s() - start) * 1000);
	if (json) {
		json_t *doc =
			json_pack("{s:s, s:{s:I, s:I, s:f}, s:{s:I, s:I, s:I, s:f}, s:I, s:b, s:I, "
				  "s:s}",
				  "verdict", rsv_verdict_name(sh.r->verdict), "before",
				  "preemptions", (json_int_t)before_pre, "decisions",
				  (json_int_t)before_n, "virtual_s", (double)before_ns / 1e9,
				  "after", "preemptions", (json_int_t)sh.r->preemptions,
				  "decisions", (json_int_t)sh.n, "deciding", (json_int_t)decided,
				  "virtual_s", (double)sh.r->virtual_ns / 1e9, "candidates",
				  (json_int_t)sh.tries, "shrunk", (int)sh.accepted, "ms",
				  (json_int_t)n, "out", out);

		json_dumpf(doc, stdout, JSON_REAL_PRECISION(9));
		putchar('\n');
		json_decref(doc);
	} else {
		printf("shrink %s seed %" PRIu64 ": %s\n", rsv_scenario_name(sh.sch.s),
		       sh.sch.o.seed, rsv_verdict_name(sh.r->verdict));
		printf("  before  %" PRIu64 " preemptions, %zu decisions, %.6f virtual s\n",
		       before_pre, before_n, (double)before_ns / 1e9);
		printf("  after   %" PRIu64 " preemptions, %zu decisions, %.6f virtual s "
		       "(%lu candidates in %.1f s)\n",
		       sh.r->preemptions, sh.n, (double)sh.r->virtual_ns / 1e9, sh.tries,
		       (double)n / 1000);
		printf("  the first %zu decisions decide it (%.1f %% of the %zu before); the rest "
		       "runs on without preemption\n",
		       decided, before_n ? 100.0 * (double)decided / (double)before_n : 0.0,
		       before_n);
		printf("  written to %s\n", out);
		if (sh.r->report[0])
			printf("\n%s", sh.r->report);
	}
out:
	free(rec.ids);
	free(rec.hashes);
	free(sh.ids);
	free(sh.sch.ids);
	free(sh.r);
	return status;
}
