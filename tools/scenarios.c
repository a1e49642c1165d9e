/* reservoir list | run | replay: the seed scenarios from the command line (the matrix is
 * matrix.c's). */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include <reservoir/harness.h>
#include "tool.h"

/* ---- options ---- */

struct run_args {
	const struct rsv_scenario *s;
	struct rsv_scenario_opts o;
	const char *format;
	const char *trace, *plot;
	const char *save; /* --save-schedule */
	bool determinism; /* --check-determinism */
};

static void scenario_names(char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < rsv_scenario_count() && n < len; i++)
		n += (size_t)snprintf(buf + n, len - n, "%s%s", i ? ", " : "",
				      rsv_scenario_name(rsv_scenario_at(i)));
}

const struct rsv_scenario *rsv_tool_find_scenario(const char *name)
{
	const struct rsv_scenario *s = rsv_scenario_find(name);
	char names[512];

	if (!s) {
		scenario_names(names, sizeof(names));
		rsv_tool_bad("unknown scenario '%s'", name, names);
	}
	return s;
}

int rsv_tool_scenario_option(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
			     const char *opt, const char *val)
{
	char err[512];

	if (!strcmp(opt, "--policy")) {
		if (rsv_policy_parse(&o->policy, val, err, sizeof(err)))
			return rsv_tool_bad("%s", err, NULL);
		return 0;
	}
	if (!strcmp(opt, "--param")) {
		if (rsv_scenario_set_param(s, o, val, err, sizeof(err)))
			return rsv_tool_bad("%s", err, NULL);
		return 0;
	}
	return -1;
}

/* Parses what follows "run SCENARIO"; 0 or an exit status. */
static int parse_run(int argc, char **argv, struct run_args *a)
{
	char err[512];
	uint64_t n;
	int r;

	if (argc < 1)
		return rsv_tool_bad("%s", "run needs a scenario", NULL);
	if (!(a->s = rsv_tool_find_scenario(argv[0])))
		return 2;
	rsv_scenario_opts_init(a->s, &a->o);
	a->format = "text";
	a->trace = a->plot = a->save = NULL;
	a->determinism = false;
	for (int i = 1; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "--lockdep") || !strcmp(opt, "--predict")) { /* flags */
			*(opt[2] == 'l' ? &a->o.lockdep : &a->o.predict) = true;
			continue;
		}
		if (!strcmp(opt, "--check-determinism")) {
			a->determinism = true;
			continue;
		}
		if (!val)
			return rsv_tool_bad("option '%s' needs a value", opt, NULL);
		i++;
		if ((r = rsv_tool_scenario_option(a->s, &a->o, opt, val)) >= 0) {
			if (r)
				return r;
		} else if (!strcmp(opt, "--seed")) {
			if (rsv_tool_parse_seed(val, &a->o.seed))
				return 2;
		} else if (!strcmp(opt, "--strategy")) {
			if (rsv_tool_parse_strategy(val, &a->o.sched, err, sizeof(err)))
				return rsv_tool_bad("--strategy: %s", err, NULL);
		} else if (!strcmp(opt, "--save-schedule")) {
			if (rsv_tool_check_writable("--save-schedule", val))
				return 2;
			a->save = val;
		} else if (!strcmp(opt, "--backend")) {
			if (!strcmp(val, "sim"))
				a->o.backend = RSV_BACKEND_SIM;
			else if (!strcmp(val, "os"))
				a->o.backend = RSV_BACKEND_OS;
			else
				return rsv_tool_bad("unknown backend '%s'", val, "sim, os");
		} else if (!strcmp(opt, "--timeout")) {
			if (rsv_tool_parse_uint("--timeout", val, 1, 3600, &n))
				return 2;
			a->o.progress_timeout_ns = n * RSV_NSEC_PER_SEC;
		} else if (!strcmp(opt, "--format")) {
			if (strcmp(val, "text") && strcmp(val, "json"))
				return rsv_tool_bad("unknown format '%s'", val, "text, json");
			a->format = val;
		} else if (!strcmp(opt, "--trace")) {
			if (rsv_tool_check_writable("--trace", val))
				return 2;
			a->trace = val;
		} else if (!strcmp(opt, "--plot")) {
			if (rsv_tool_check_plot_path(val))
				return 2;
			a->plot = val;
		} else {
			return rsv_tool_bad(
				"unknown option '%s'", opt,
				"--policy key=value, --param name=value, --seed N, "
				"--backend sim|os, --timeout SECONDS, --lockdep, --predict, "
				"--strategy S, --save-schedule FILE, --check-determinism, "
				"--trace FILE, --plot FILE.svg|.png, --format text|json");
		}
	}
	if (rsv_scenario_check(a->s, &a->o, err, sizeof(err)))
		return rsv_tool_bad("%s", err, NULL);
	/* --strategy swarm: this seed's optional behaviours, drawn as explore draws them. */
	rsv_scenario_swarm(a->s, &a->o);
	if ((a->save || a->o.sched.strategy || a->determinism) && a->o.backend != RSV_BACKEND_SIM)
		return rsv_tool_bad(
			"%s",
			"--strategy, --save-schedule and --check-determinism need the simulator "
			"(--backend sim)",
			NULL);
	return 0;
}

/* ---- list ---- */

int rsv_tool_list(int argc, char **argv)
{
	bool verbose = argc > 0 && !strcmp(argv[0], "--verbose");

	if (argc > (verbose ? 1 : 0))
		return rsv_tool_bad("unknown option '%s'", argv[verbose], "--verbose");
	for (unsigned i = 0; i < rsv_scenario_count(); i++) {
		const struct rsv_scenario *s = rsv_scenario_at(i);

		printf("%-26s %s\n", rsv_scenario_name(s), rsv_scenario_summary(s));
		if (!verbose)
			continue;
		printf("    policy keys:");
		for (unsigned k = 0; k < rsv_scenario_nr_keys(s); k++) {
			enum rsv_policy_key key = rsv_scenario_key(s, k);

			printf(" %s (", rsv_policy_key_name(key));
			for (unsigned v = 0; v < rsv_policy_nr_values(key); v++)
				printf("%s%s", v ? "|" : "", rsv_policy_value_name(key, v));
			printf(")");
		}
		printf("\n");
		for (unsigned p = 0; p < rsv_scenario_nr_params(s); p++) {
			const struct rsv_scenario_param *pp = rsv_scenario_param(s, p);

			printf("    --param %s=%ld   %s (%ld..%ld)", pp->name, pp->def, pp->doc,
			       pp->min, pp->max);
			if (pp->swarm)
				printf(" [swarm option: also %ld]", pp->swarm_alt);
			printf("\n");
		}
		for (unsigned p = 0; p < rsv_scenario_nr_sometimes(s); p++)
			printf("    sometimes: %s (%s > 0)\n", rsv_scenario_sometimes(s, p)->what,
			       rsv_scenario_sometimes(s, p)->counter);
	}
	return 0;
}

/* ---- run, replay ---- */

/* @again: the replay's result, or NULL for a plain run. */
static void print_result(const struct run_args *a, const struct rsv_scenario_result *r,
			 const struct rsv_scenario_result *again)
{
	char policy[256];

	rsv_policy_format(&a->o.policy, policy, sizeof(policy));
	if (!strcmp(a->format, "json")) {
		json_t *counters = json_object(), *doc;
		char hash[20], hash2[20];

		for (unsigned i = 0; i < r->nr_counters; i++)
			json_object_set_new(counters, r->counters[i].name,
					    json_integer(r->counters[i].value));
		snprintf(hash, sizeof(hash), "%016" PRIx64, r->trace_hash);
		doc = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:o, s:s}",
				"scenario", rsv_scenario_name(a->s), "policy", policy, "seed",
				(json_int_t)a->o.seed, "backend",
				a->o.backend == RSV_BACKEND_SIM ? "sim" : "os", "verdict",
				rsv_verdict_name(r->verdict), "why", r->why, "trace_hash", hash,
				"virtual_s", (double)r->virtual_ns / 1e9, "decisions",
				(json_int_t)r->decisions, "preemptions", (json_int_t)r->preemptions,
				"counters", counters, "report", r->report);
		if (again) {
			snprintf(hash2, sizeof(hash2), "%016" PRIx64, again->trace_hash);
			json_object_set_new(doc, "replay",
					    json_pack("{s:s, s:b}", "trace_hash", hash2,
						      "identical",
						      r->trace_hash == again->trace_hash));
		}
		json_dumpf(doc, stdout, JSON_REAL_PRECISION(9));
		putchar('\n');
		json_decref(doc);
		return;
	}
	printf("%s [%s] seed %" PRIu64 " on %s: %s (%s)\n", rsv_scenario_name(a->s), policy,
	       a->o.seed, a->o.backend == RSV_BACKEND_SIM ? "sim" : "os",
	       rsv_verdict_name(r->verdict), r->why);
	for (unsigned i = 0; i < r->nr_counters; i++)
		printf("  %-22s %" PRId64 "\n", r->counters[i].name, r->counters[i].value);
	if (a->o.backend == RSV_BACKEND_SIM)
		printf("  %.6f virtual s, %" PRIu64 " scheduling decisions, trace hash %016" PRIx64
		       "\n", (double)r->virtual_ns / 1e9, r->decisions, r->trace_hash);
	else
		printf("  %.3f s of real time\n", (double)r->virtual_ns / 1e9);
	if (r->report[0])
		printf("\n%s", r->report);
	if (again)
		printf("replayed: trace hash %016" PRIx64 " then %016" PRIx64 " (%s)\n",
		       r->trace_hash, again->trace_hash,
		       r->trace_hash == again->trace_hash ? "identical" : "DIFFERENT");
}

/* reservoir replay --schedule FILE [--force] [--format text|json]: the recorded run again,
 * by its schedule; 0 if it gives the same trace, 1 if not, 2 for a bad file or option. */
static int replay_schedule(int argc, char **argv)
{
	const char *path = NULL;
	struct run_args a = { .format = "text" };
	struct rsv_tool_schedule sch;
	struct rsv_scenario_result *r;
	bool force = false, same;
	int status;

	for (int i = 0; i < argc; i++) {
		if (!strcmp(argv[i], "--force")) {
			force = true;
		} else if (i + 1 < argc && !strcmp(argv[i], "--schedule")) {
			path = argv[++i];
		} else if (i + 1 < argc && !strcmp(argv[i], "--format")) {
			a.format = argv[++i];
			if (strcmp(a.format, "text") && strcmp(a.format, "json"))
				return rsv_tool_bad("unknown format '%s'", a.format, "text, json");
		} else {
			return rsv_tool_bad("unknown option '%s' of replay --schedule", argv[i],
					    "--schedule FILE, --force, --format text|json");
		}
	}
	if (!path)
		return rsv_tool_bad("%s", "replay needs a scenario, or --schedule FILE", NULL);
	if ((status = rsv_tool_schedule_read(path, &sch, force)))
		return status;
	if (!(r = malloc(sizeof(*r)))) {
		free(sch.ids);
		return 1;
	}
	a.s = sch.s;
	a.o = sch.o;
	a.o.sched.replay = sch.ids;
	a.o.sched.nr_replay = sch.n;
	if (rsv_scenario_run(a.s, &a.o, r)) {
		fprintf(stderr, "reservoir: replay: %s\n", r->why);
		free(r);
		free(sch.ids);
		return 1;
	}
	same = r->trace_hash == sch.trace_hash &&
	       !strcmp(rsv_verdict_name(r->verdict), sch.verdict);
	print_result(&a, r, NULL);
	if (!strcmp(a.format, "text"))
		printf("schedule: %zu of %zu decisions followed%s; recorded %s, "
		       "trace hash %016" PRIx64 " (%s)\n",
		       r->replayed, sch.n,
		       r->replayed < r->decisions ? ", then the seed's strategy" : "", sch.verdict,
		       sch.trace_hash, same ? "identical" : "DIFFERENT");
	else {
		char hash[20];
		json_t *doc;

		snprintf(hash, sizeof(hash), "%016" PRIx64, sch.trace_hash);
		doc = json_pack("{s:{s:I, s:I, s:s, s:s, s:b}}", "schedule", "followed",
				(json_int_t)r->replayed, "recorded", (json_int_t)sch.n, "verdict",
				sch.verdict, "trace_hash", hash, "identical", same);
		json_dumpf(doc, stdout, 0);
		putchar('\n');
		json_decref(doc);
	}
	free(r);
	free(sch.ids);
	return same ? 0 : 1;
}

int rsv_tool_run(int argc, char **argv, bool replay)
{
	struct run_args a;
	struct rsv_scenario_result *r, *again;
	struct rsv_tool_recording rec = { 0 };
	int status;

	if (replay && argc > 0 && !strcmp(argv[0], "--schedule"))
		return replay_schedule(argc, argv);
	r = malloc(sizeof(*r));
	again = malloc(sizeof(*again));
	status = parse_run(argc, argv, &a);
	if (status || !r || !again)
		goto out;
	if (a.determinism) {
		struct rsv_tool_divergence d;
		int e = rsv_tool_determinism(a.s, &a.o, r, &d);

		if (e < 0) {
			fprintf(stderr, "reservoir: %s\n", r->why);
			status = 1;
		} else if (e) {
			printf("determinism: the two runs differ at decision %ld: the first "
			       "ran thread #%u, the second #%u (%zu and %zu decisions in "
			       "all). Something outside the run decided: the wall clock, an "
			       "unseeded PRNG, an address, or state left by an earlier run\n",
			       d.decision, d.thread[0], d.thread[1], d.n[0], d.n[1]);
			status = 1;
		} else {
			printf("determinism: two runs, the same %zu decisions and trace hash "
			       "%016" PRIx64 "\n",
			       d.n[0], r->trace_hash);
		}
		goto out;
	}
	if (a.save) {
		a.o.sched.record = true;
		a.o.schedule = rsv_tool_record;
		a.o.schedule_arg = &rec;
	}
	if (replay && a.o.backend != RSV_BACKEND_SIM) {
		status = rsv_tool_bad("%s", "replay needs the simulator (--backend sim)", NULL);
		goto out;
	}
	if (a.trace || a.plot ? rsv_tool_timeline_run(a.s, &a.o, r, a.trace, a.plot)
			      : rsv_scenario_run(a.s, &a.o, r)) {
		fprintf(stderr, "reservoir: %s\n", r->why[0] ? r->why : "the timeline failed");
		status = 1;
		goto out;
	}
	if (replay && rsv_scenario_run(a.s, &a.o, again)) {
		fprintf(stderr, "reservoir: replay: %s\n", again->why);
		status = 1;
		goto out;
	}
	print_result(&a, r, replay ? again : NULL);
	if (replay)
		status = r->trace_hash != again->trace_hash;
	if (a.save && !status)
		status = rsv_tool_schedule_write(a.save, a.s, &a.o, r, rec.ids, rec.n);
out:
	free(rec.ids);
	free(rec.hashes);
	free(r);
	free(again);
	return status;
}
