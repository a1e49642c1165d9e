/* reservoir explore: one scenario cell over many seeds under a scheduling strategy, as a bug
 * finder: how often it fails (with a 95 % interval), after how many runs first, and which
 * distinct failures it found, told apart by the signature of their blocked chain.
 *
 *   reservoir explore SCENARIO [--policy k=v,...] [--param n=v] --strategy S --runs N
 *                     [--jobs J] [--save-schedule FILE] [--format text|json]
 *   S: random | swarm | pct:d=D[,k=K]  (PCT's depth, and its k; without k, the decisions of
 *      a first random run of the cell). Under swarm each run draws the scenario's optional
 *      behaviours (rsv_scenario_swarm()), and the failure rate is printed for each at each
 *      value.
 * Run i uses seed i. --save-schedule writes the first failure's schedule (tools/schedule.c).
 * Bad input: one line naming it, exit status 2. */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <jansson.h>
#include "tool.h"

#define MAX_SIGNATURES 64
#define SIGNATURE_LEN 1024

struct failure {
	char signature[SIGNATURE_LEN]; /* verdict, then the blocked chain, numbers removed */
	char example[512];             /* the first run's why */
	enum rsv_verdict verdict;
	unsigned long count;
	uint64_t first_seed;
};

struct explore {
	const struct rsv_scenario *s;
	struct rsv_scenario_opts o;
	const char *strategy;
	unsigned long runs, ran; /* seeds 0..runs-1; ran: those this process ran */
	unsigned shard, shards;  /* --shard I/N: the seeds s with s % N == I - 1 */
	bool determinism;        /* --check-determinism: every run twice, compared */
	unsigned long diverged;  /* runs whose two runs differed */
	int64_t first_diverged;  /* the first such seed, and where (-1: none) */
	long first_diverged_at;
	_Atomic unsigned long next;
	pthread_mutex_t lock;
	unsigned long failures, invalid, errors;
	int64_t first_failing_seed;
	unsigned max_threads;
	struct failure sig[MAX_SIGNATURES];
	unsigned nr_sig;
	unsigned long other_signatures; /* failures past MAX_SIGNATURES distinct ones */
	char error[300];
	/* Coverage: runs in which each item happened, and how often in all. */
	unsigned long cov_runs[RSV_SCENARIO_MAX_COVERAGE];
	uint64_t cov_total[RSV_SCENARIO_MAX_COVERAGE];
	unsigned long prop_runs[16]; /* runs reaching each sometimes property */
	/* swarm: by parameter, runs and failures with it at its default [0] and at its
	 * alternative [1]: which optional behaviour triggers the failure, which suppresses it. */
	unsigned long opt_runs[RSV_SCENARIO_MAX_PARAMS][2], opt_fail[RSV_SCENARIO_MAX_PARAMS][2];
};

/* The parameters swarm draws in this exploration: declared swarm, not given by --param. */
static bool swarm_drawn(const struct explore *e, unsigned i)
{
	return e->o.sched.strategy == RSV_SCHED_SWARM && rsv_scenario_param(e->s, i)->swarm &&
	       !(e->o.params_given & (1u << i));
}

int rsv_tool_parse_strategy(const char *v, struct rsv_sched_config *sc, char *err, size_t len)
{
	const char *valid = "random, swarm, pct:d=D[,k=K] with D in 1..16";
	char word[64], *end;
	unsigned long long n;

	memset(sc, 0, sizeof(*sc));
	if (!strcmp(v, "random"))
		return 0;
	if (!strcmp(v, "swarm")) {
		sc->strategy = RSV_SCHED_SWARM;
		return 0;
	}
	if (strncmp(v, "pct", 3) || (v[3] && v[3] != ':')) {
		snprintf(err, len, "unknown strategy '%s' (valid: %s)", v, valid);
		return 2;
	}
	sc->strategy = RSV_SCHED_PCT;
	sc->pct_depth = 1;
	for (const char *p = v[3] ? v + 4 : v + 3; *p;) {
		size_t l = strcspn(p, ",");
		bool d;

		snprintf(word, sizeof(word), "%.*s", (int)l, p);
		d = !strncmp(word, "d=", 2);
		if (!d && strncmp(word, "k=", 2)) {
			snprintf(err, len, "unknown setting '%s' of pct (valid: d=D, k=K)", word);
			return 2;
		}
		errno = 0;
		n = word[2] >= '0' && word[2] <= '9' ? strtoull(word + 2, &end, 10) : 0;
		if (word[2] < '0' || word[2] > '9' || *end || errno || !n ||
		    n > (d ? RSV_PCT_MAX_DEPTH : UINT32_MAX)) {
			snprintf(err, len, "pct:%c: '%s' is not an integer in 1..%u", word[0],
				 word + 2, d ? RSV_PCT_MAX_DEPTH : UINT32_MAX);
			return 2;
		}
		if (d)
			sc->pct_depth = (unsigned)n;
		else
			sc->pct_steps = n;
		p += l;
		if (*p == ',')
			p++;
	}
	return 0;
}

static void count_failure(struct explore *e, const struct rsv_scenario_result *r, uint64_t seed)
{
	char sig[SIGNATURE_LEN];
	unsigned i;

	rsv_tool_signature(r, sig, sizeof(sig));
	e->failures++;
	if (e->first_failing_seed < 0 || (int64_t)seed < e->first_failing_seed)
		e->first_failing_seed = (int64_t)seed;
	for (i = 0; i < e->nr_sig && strcmp(e->sig[i].signature, sig); i++)
		;
	if (i == e->nr_sig) {
		if (e->nr_sig == MAX_SIGNATURES) {
			e->other_signatures++;
			return;
		}
		e->nr_sig++;
		snprintf(e->sig[i].signature, sizeof(e->sig[i].signature), "%s", sig);
		e->sig[i].verdict = r->verdict;
		e->sig[i].first_seed = seed;
	}
	e->sig[i].count++;
	if (seed <= e->sig[i].first_seed) {
		e->sig[i].first_seed = seed;
		snprintf(e->sig[i].example, sizeof(e->sig[i].example), "%s", r->why);
	}
}

static void *explore_worker(void *arg)
{
	struct explore *e = arg;
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	struct rsv_workspace *ws = rsv_workspace_create();
	unsigned long seed;

	while (r && (seed = atomic_fetch_add(&e->next, 1)) < e->runs) {
		struct rsv_scenario_opts o = e->o;
		uint32_t alt;
		int err;

		if (seed % e->shards != e->shard - 1)
			continue;
		o.seed = seed;
		o.workspace = ws;
		alt = rsv_scenario_swarm(e->s, &o);
		if (e->determinism) {
			struct rsv_tool_divergence d;

			err = rsv_tool_determinism(e->s, &o, r, &d);
			pthread_mutex_lock(&e->lock);
			if (err > 0) {
				e->diverged++;
				if (e->first_diverged < 0 || (int64_t)seed < e->first_diverged) {
					e->first_diverged = (int64_t)seed;
					e->first_diverged_at = d.decision;
				}
				err = 0;
			}
			pthread_mutex_unlock(&e->lock);
		} else {
			err = rsv_scenario_run(e->s, &o, r);
		}
		pthread_mutex_lock(&e->lock);
		e->ran++;
		if (err) {
			if (!e->errors++)
				snprintf(e->error, sizeof(e->error), "seed %lu: %s", seed, r->why);
		} else if (r->verdict == RSV_VERDICT_INVALID_SETUP) {
			e->invalid++;
		} else if (r->verdict != RSV_VERDICT_PROGRESS) {
			count_failure(e, r, seed);
		}
		if (!err && r->threads > e->max_threads)
			e->max_threads = r->threads;
		for (unsigned i = 0; !err && i < rsv_scenario_nr_params(e->s); i++) {
			unsigned at = (alt >> i) & 1;

			if (!swarm_drawn(e, i))
				continue;
			e->opt_runs[i][at]++;
			e->opt_fail[i][at] += r->verdict != RSV_VERDICT_PROGRESS &&
					      r->verdict != RSV_VERDICT_INVALID_SETUP;
		}
		if (!err) {
			const enum rsv_stat_item *items;
			unsigned nr = rsv_scenario_coverage_items(&items);

			for (unsigned i = 0; i < nr; i++) {
				e->cov_runs[i] += r->coverage[i] > 0;
				e->cov_total[i] += r->coverage[i];
			}
			for (unsigned i = 0; i < rsv_scenario_nr_sometimes(e->s) && i < 16; i++)
				e->prop_runs[i] +=
					rsv_scenario_reached(r, rsv_scenario_sometimes(e->s, i));
		}
		pthread_mutex_unlock(&e->lock);
	}
	rsv_workspace_destroy(ws);
	free(r);
	return NULL;
}

/* Wilson's score interval for @k successes in @n trials, at 95 %. */
static void wilson(unsigned long k, unsigned long n, double *lo, double *hi)
{
	const double z = 1.959964;
	double p = (double)k / (double)n, z2n = z * z / (double)n;
	double centre = (p + z2n / 2) / (1 + z2n);
	double half = z * sqrt(p * (1 - p) / (double)n + z2n / (4 * (double)n)) / (1 + z2n);

	*lo = centre - half < 0 ? 0 : centre - half;
	*hi = centre + half > 1 ? 1 : centre + half;
}

/* The coverage and the sometimes properties, added to @doc. */
static void coverage_json(const struct explore *e, json_t *doc)
{
	const enum rsv_stat_item *items;
	unsigned nr = rsv_scenario_coverage_items(&items);
	json_t *cov = json_object(), *props = json_object();

	for (unsigned i = 0; i < nr; i++)
		json_object_set_new(cov, rsv_stat_name(items[i]),
				    json_pack("{s:I, s:I}", "runs", (json_int_t)e->cov_runs[i],
					      "total", (json_int_t)e->cov_total[i]));
	for (unsigned i = 0; i < rsv_scenario_nr_sometimes(e->s) && i < 16; i++)
		json_object_set_new(props, rsv_scenario_sometimes(e->s, i)->what,
				    json_integer((json_int_t)e->prop_runs[i]));
	json_object_set_new(doc, "coverage", cov);
	json_object_set_new(doc, "sometimes", props);
}

static void print_coverage_text(const struct explore *e)
{
	const enum rsv_stat_item *items;
	unsigned nr = rsv_scenario_coverage_items(&items), shown = 0;

	printf("  coverage (runs where it happened / times in all):\n");
	for (unsigned i = 0; i < nr; i++) {
		if (!e->cov_runs[i])
			continue;
		printf("    %-24s %lu / %" PRIu64 "\n", rsv_stat_name(items[i]), e->cov_runs[i],
		       e->cov_total[i]);
		shown++;
	}
	if (!shown)
		printf("    none of the events counted happened\n");
	for (unsigned i = 0; i < rsv_scenario_nr_sometimes(e->s) && i < 16; i++)
		printf("  sometimes: %s: %lu runs%s\n", rsv_scenario_sometimes(e->s, i)->what,
		       e->prop_runs[i], e->prop_runs[i] ? "" : " (NEVER REACHED)");
}

/* swarm's options: the failure rate with each at its default and at its alternative. */
static void swarm_json(const struct explore *e, json_t *doc)
{
	json_t *opts = json_array();

	for (unsigned i = 0; i < rsv_scenario_nr_params(e->s); i++) {
		const struct rsv_scenario_param *p = rsv_scenario_param(e->s, i);

		if (swarm_drawn(e, i))
			json_array_append_new(opts,
					      json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I}",
							"param", p->name, "default",
							(json_int_t)p->def, "alt",
							(json_int_t)p->swarm_alt, "runs_default",
							(json_int_t)e->opt_runs[i][0],
							"failures_default",
							(json_int_t)e->opt_fail[i][0], "runs_alt",
							(json_int_t)e->opt_runs[i][1],
							"failures_alt",
							(json_int_t)e->opt_fail[i][1]));
	}
	json_object_set_new(doc, "swarm_options", opts);
}

static void print_swarm_text(const struct explore *e)
{
	bool any = false;

	for (unsigned i = 0; i < rsv_scenario_nr_params(e->s); i++) {
		const struct rsv_scenario_param *p = rsv_scenario_param(e->s, i);
		char side[2][80];

		if (!swarm_drawn(e, i))
			continue;
		if (!any)
			printf("  swarm options (failures / runs with it at each value):\n");
		any = true;
		for (unsigned at = 0; at < 2; at++)
			snprintf(side[at], sizeof(side[at]), "%s=%ld: %lu / %lu (%.3f %%)", p->name,
				 at ? p->swarm_alt : p->def, e->opt_fail[i][at], e->opt_runs[i][at],
				 e->opt_runs[i][at] ? 100.0 * (double)e->opt_fail[i][at] /
							      (double)e->opt_runs[i][at]
						    : 0.0);
		printf("    %-36s %s\n", side[0], side[1]);
	}
	if (!any && e->o.sched.strategy == RSV_SCHED_SWARM)
		printf("  swarm options: none drawn (the scenario declares none, or --param gave "
		       "them): scheduling weights only\n");
}

static int by_first_seed(const void *a, const void *b)
{
	const struct failure *x = a, *y = b;

	return x->first_seed < y->first_seed ? -1 : x->first_seed > y->first_seed;
}

/* Distinct failures in the order of their first seeds, whatever order the workers found them
 * in: the same exploration prints the same, sharded or not. */
static void print_explore(struct explore *e, bool json)
{
	qsort(e->sig, e->nr_sig, sizeof(e->sig[0]), by_first_seed);
	char policy[256], strategy[64];
	double lo, hi, bound = -1;
	const struct rsv_sched_config *sc = &e->o.sched;
	/* A run out of the seed's situation (invalid-setup) did not fail: it counts as a pass. */
	unsigned long judged = e->ran - e->errors;

	rsv_tool_scenario_policy(e->s, &e->o, policy, sizeof(policy));
	if (sc->strategy == RSV_SCHED_PCT) {
		snprintf(strategy, sizeof(strategy), "pct:d=%u,k=%" PRIu64, sc->pct_depth,
			 sc->pct_steps);
		bound = 1.0 / (double)(e->max_threads ? e->max_threads : 1);
		for (unsigned i = 1; i < sc->pct_depth; i++)
			bound /= (double)sc->pct_steps;
	} else {
		rsv_tool_strategy_format(sc, strategy, sizeof(strategy));
	}
	wilson(e->failures, judged ? judged : 1, &lo, &hi);
	if (json) {
		json_t *doc =
			json_pack("{s:s, s:s, s:s, s:I, s:I, s:I, s:I, s:f, s:[f, f], s:I, s:I}",
				  "scenario", rsv_scenario_name(e->s), "policy", policy, "strategy",
				  strategy, "runs", (json_int_t)e->ran, "failures",
				  (json_int_t)e->failures, "invalid_setup", (json_int_t)e->invalid,
				  "errors", (json_int_t)e->errors, "rate",
				  judged ? (double)e->failures / (double)judged : 0.0, "interval95",
				  lo, hi, "runs_to_first_failure",
				  (json_int_t)(e->first_failing_seed < 0
						       ? -1
						       : e->first_failing_seed + 1),
				  "threads", (json_int_t)e->max_threads);
		json_t *distinct = json_array();

		if (bound >= 0)
			json_object_set_new(doc, "pct_bound", json_real(bound));
		for (unsigned i = 0; i < e->nr_sig; i++)
			json_array_append_new(distinct,
					      json_pack("{s:s, s:I, s:I, s:s, s:s}", "verdict",
							rsv_verdict_name(e->sig[i].verdict),
							"count", (json_int_t)e->sig[i].count,
							"first_seed",
							(json_int_t)e->sig[i].first_seed, "why",
							e->sig[i].example, "signature",
							e->sig[i].signature));
		json_object_set_new(doc, "distinct", distinct);
		coverage_json(e, doc);
		swarm_json(e, doc);
		json_dumpf(doc, stdout, JSON_REAL_PRECISION(9));
		putchar('\n');
		json_decref(doc);
		return;
	}
	printf("%s [%s] under %s: %lu runs\n", rsv_scenario_name(e->s), policy, strategy, e->ran);
	printf("  failures      %lu (%.3f %%, 95 %% interval %.3f..%.3f %%)\n", e->failures,
	       judged ? 100.0 * (double)e->failures / (double)judged : 0.0, 100 * lo, 100 * hi);
	if (e->first_failing_seed >= 0)
		printf("  first failure at run %" PRId64 " (seed %" PRId64 ")\n",
		       e->first_failing_seed + 1, e->first_failing_seed);
	if (bound >= 0)
		printf("  PCT bound     1/(n k^(d-1)) = %.3g %% (n = %u threads, k = %" PRIu64
		       ", d = %u)\n",
		       100 * bound, e->max_threads, sc->pct_steps, sc->pct_depth);
	if (e->invalid)
		printf("  invalid-setup %lu (not the seed thread's situation: no verdict)\n",
		       e->invalid);
	printf("  distinct failures: %u%s\n", e->nr_sig,
	       e->other_signatures ? " (and more, not kept)" : "");
	for (unsigned i = 0; i < e->nr_sig; i++) {
		const char *chain = strchr(e->sig[i].signature, '\n');

		printf("    %s x%lu, first seed %" PRIu64 ": %s\n",
		       rsv_verdict_name(e->sig[i].verdict), e->sig[i].count, e->sig[i].first_seed,
		       e->sig[i].example);
		for (const char *p = chain; p && *p;) {
			const char *end = strchr(p + 1, '\n');

			printf("      %.*s\n", (int)(end ? end - p - 1 : (long)strlen(p + 1)),
			       p + 1);
			p = end;
		}
	}
	print_coverage_text(e);
	print_swarm_text(e);
}

/* --check-determinism's verdict: 1 (said) if any run parted from its repeat. */
static int report_determinism(const struct explore *e, bool quiet)
{
	if (!e->determinism)
		return 0;
	if (e->diverged) {
		fprintf(stderr,
			"reservoir: explore: %lu runs were not deterministic; the first, seed "
			"%" PRId64 ", parted at decision %ld (reservoir run ... --seed %" PRId64
			" --check-determinism)\n",
			e->diverged, e->first_diverged, e->first_diverged_at, e->first_diverged);
		return 1;
	}
	if (!quiet)
		printf("  determinism: every run repeated the same decisions\n");
	return 0;
}

/* An exploration that never reached one of the scenario's sometimes properties says so. */
static int check_sometimes(const struct explore *e)
{
	int status = 0;

	for (unsigned i = 0; i < rsv_scenario_nr_sometimes(e->s) && i < 16; i++)
		if (!e->prop_runs[i] && e->ran > e->errors) {
			fprintf(stderr, "reservoir: explore: \"%s\" never happened in %lu runs\n",
				rsv_scenario_sometimes(e->s, i)->what, e->ran);
			status = 1;
		}
	return status;
}

/* ---- shards ---- */

static void params_json(const struct explore *e, json_t *doc)
{
	json_t *params = json_object();
	char policy[256], strategy[64];

	for (unsigned i = 0; i < rsv_scenario_nr_params(e->s); i++)
		json_object_set_new(params, rsv_scenario_param(e->s, i)->name,
				    json_integer(e->o.params[i]));
	rsv_policy_format(&e->o.policy, policy, sizeof(policy));
	rsv_tool_strategy_format(&e->o.sched, strategy, sizeof(strategy));
	json_object_set_new(doc, "scenario", json_string(rsv_scenario_name(e->s)));
	json_object_set_new(doc, "policy", json_string(policy));
	json_object_set_new(doc, "params", params);
	/* Which came from --param: swarm draws the others, and the merge must know. */
	json_object_set_new(doc, "params_given", json_integer(e->o.params_given));
	json_object_set_new(doc, "strategy", json_string(strategy));
}

static int write_shard(const struct explore *e)
{
	json_t *doc = json_pack("{s:s, s:s}", "format", RSV_TOOL_EXPLORE_SHARD, "build",
				rsv_build_id()),
	       *sigs = json_array(), *cov = json_array(), *props = json_array(),
	       *swarm = json_array();
	const enum rsv_stat_item *items;
	unsigned nr = rsv_scenario_coverage_items(&items);
	int err;

	params_json(e, doc);
	for (unsigned i = 0; i < e->nr_sig; i++)
		json_array_append_new(sigs,
				      json_pack("{s:s, s:s, s:i, s:I, s:I}", "signature",
						e->sig[i].signature, "example", e->sig[i].example,
						"verdict", (int)e->sig[i].verdict, "count",
						(json_int_t)e->sig[i].count, "first_seed",
						(json_int_t)e->sig[i].first_seed));
	for (unsigned i = 0; i < nr; i++)
		json_array_append_new(cov, json_pack("[I, I]", (json_int_t)e->cov_runs[i],
						     (json_int_t)e->cov_total[i]));
	for (unsigned i = 0; i < rsv_scenario_nr_sometimes(e->s) && i < 16; i++)
		json_array_append_new(props, json_integer((json_int_t)e->prop_runs[i]));
	for (unsigned i = 0; i < rsv_scenario_nr_params(e->s); i++)
		json_array_append_new(swarm,
				      json_pack("[I, I, I, I]", (json_int_t)e->opt_runs[i][0],
						(json_int_t)e->opt_fail[i][0],
						(json_int_t)e->opt_runs[i][1],
						(json_int_t)e->opt_fail[i][1]));
	json_object_set_new(doc, "swarm", swarm);
	json_object_update_new(
		doc,
		json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:s, s:I, s:I, s:I, s:o, "
			  "s:o, s:o}",
			  "runs", (json_int_t)e->runs, "shard", (json_int_t)e->shard, "of",
			  (json_int_t)e->shards, "ran", (json_int_t)e->ran, "failures",
			  (json_int_t)e->failures, "invalid", (json_int_t)e->invalid, "errors",
			  (json_int_t)e->errors, "error", e->error, "first_failing_seed",
			  (json_int_t)e->first_failing_seed, "threads", (json_int_t)e->max_threads,
			  "other_signatures", (json_int_t)e->other_signatures, "signatures", sigs,
			  "coverage", cov, "sometimes", props));
	err = json_dumpf(doc, stdout, JSON_INDENT(1)) || fputc('\n', stdout) == EOF;
	json_decref(doc);
	return err;
}

/* One part into @e (the first sets it up); 0, or 2 with the reason said. */
static int merge_part(struct explore *e, const char *path, json_t *doc, bool first, bool *seen)
{
	const char *fmt, *build, *scen, *policy, *strategy, *error;
	json_int_t runs, shard, of, ran, failures, invalid, errors, ffs, threads, others;
	json_t *params, *sigs, *cov, *props, *swarm;
	json_error_t jerr;
	char err[300], mine[256];

	if (json_unpack_ex(doc, &jerr, 0,
			   "{s:s, s:s, s:s, s:s, s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
			   "s:s, s:I, s:I, s:I, s:o, s:o, s:o}",
			   "format", &fmt, "build", &build, "scenario", &scen, "policy", &policy,
			   "params", &params, "strategy", &strategy, "runs", &runs, "shard", &shard,
			   "of", &of, "ran", &ran, "failures", &failures, "invalid", &invalid,
			   "errors", &errors, "error", &error, "first_failing_seed", &ffs,
			   "threads", &threads, "other_signatures", &others, "signatures", &sigs,
			   "coverage", &cov, "sometimes", &props) ||
	    strcmp(fmt, RSV_TOOL_EXPLORE_SHARD) || shard < 1 || shard > of) {
		fprintf(stderr, "reservoir: merge: '%s' is not an exploration shard (%s)\n", path,
			jerr.text[0] ? jerr.text : "bad fields");
		return 2;
	}
	if (first) {
		const char *key;
		json_t *val;

		if (!(e->s = rsv_tool_find_scenario(scen)))
			return 2;
		rsv_scenario_opts_init(e->s, &e->o);
		if (rsv_policy_parse(&e->o.policy, policy, err, sizeof(err)) ||
		    rsv_tool_parse_strategy(strategy, &e->o.sched, err, sizeof(err))) {
			fprintf(stderr, "reservoir: merge: '%s': %s\n", path, err);
			return 2;
		}
		json_object_foreach(params, key, val)
		{
			char kv[160];

			snprintf(kv, sizeof(kv), "%s=%lld", key,
				 (long long)json_integer_value(val));
			if (rsv_scenario_set_param(e->s, &e->o, kv, err, sizeof(err))) {
				fprintf(stderr, "reservoir: merge: '%s': %s\n", path, err);
				return 2;
			}
		}
		e->o.params_given = (uint32_t)json_integer_value(
			json_object_get(doc, "params_given"));
		e->runs = (unsigned long)runs;
		e->shards = (unsigned)of;
		e->first_failing_seed = -1;
	}
	rsv_policy_format(&e->o.policy, mine, sizeof(mine));
	if (strcmp(scen, rsv_scenario_name(e->s)) || strcmp(policy, mine) ||
	    (unsigned long)runs != e->runs || (unsigned)of != e->shards) {
		fprintf(stderr,
			"reservoir: merge: '%s' is a shard of a different run (%s, %lld "
			"runs, %lld shards; the first: %s, %lu runs, %u shards)\n",
			path, scen, (long long)runs, (long long)of, rsv_scenario_name(e->s),
			e->runs, e->shards);
		return 2;
	}
	if (seen[shard]) {
		fprintf(stderr, "reservoir: merge: shard %lld/%u given twice ('%s')\n",
			(long long)shard, e->shards, path);
		return 2;
	}
	seen[shard] = true;
	e->ran += (unsigned long)ran;
	e->failures += (unsigned long)failures;
	e->invalid += (unsigned long)invalid;
	if (errors && !e->errors)
		snprintf(e->error, sizeof(e->error), "%s", error);
	e->errors += (unsigned long)errors;
	if (ffs >= 0 && (e->first_failing_seed < 0 || ffs < e->first_failing_seed))
		e->first_failing_seed = ffs;
	if ((unsigned)threads > e->max_threads)
		e->max_threads = (unsigned)threads;
	e->other_signatures += (unsigned long)others;
	for (size_t i = 0; i < json_array_size(sigs); i++) {
		json_t *js = json_array_get(sigs, i);
		const char *sig = json_string_value(json_object_get(js, "signature"));
		json_int_t count = json_integer_value(json_object_get(js, "count"));
		json_int_t seed = json_integer_value(json_object_get(js, "first_seed"));
		unsigned k;

		if (!sig)
			continue;
		for (k = 0; k < e->nr_sig && strcmp(e->sig[k].signature, sig); k++)
			;
		if (k == e->nr_sig) {
			if (e->nr_sig == MAX_SIGNATURES) {
				e->other_signatures += (unsigned long)count;
				continue;
			}
			e->nr_sig++;
			snprintf(e->sig[k].signature, sizeof(e->sig[k].signature), "%s", sig);
			e->sig[k].verdict = (enum rsv_verdict)json_integer_value(
				json_object_get(js, "verdict"));
			e->sig[k].first_seed = (uint64_t)seed;
			e->sig[k].count = 0;
			e->sig[k].example[0] = 0;
		}
		e->sig[k].count += (unsigned long)count;
		if ((uint64_t)seed <= e->sig[k].first_seed || !e->sig[k].example[0]) {
			e->sig[k].first_seed = (uint64_t)seed;
			snprintf(e->sig[k].example, sizeof(e->sig[k].example), "%s",
				 json_string_value(json_object_get(js, "example")));
		}
	}
	for (size_t i = 0; i < json_array_size(cov) && i < RSV_SCENARIO_MAX_COVERAGE; i++) {
		e->cov_runs[i] += (unsigned long)json_integer_value(
			json_array_get(json_array_get(cov, i), 0));
		e->cov_total[i] += (uint64_t)json_integer_value(
			json_array_get(json_array_get(cov, i), 1));
	}
	for (size_t i = 0; i < json_array_size(props) && i < 16; i++)
		e->prop_runs[i] += (unsigned long)json_integer_value(json_array_get(props, i));
	/* "swarm" came later than the rest: a shard without it adds nothing. */
	swarm = json_object_get(doc, "swarm");
	for (size_t i = 0; i < json_array_size(swarm) && i < RSV_SCENARIO_MAX_PARAMS; i++) {
		json_t *a = json_array_get(swarm, i);

		for (unsigned at = 0; at < 2; at++) {
			e->opt_runs[i][at] += (unsigned long)json_integer_value(
				json_array_get(a, 2 * at));
			e->opt_fail[i][at] += (unsigned long)json_integer_value(
				json_array_get(a, 2 * at + 1));
		}
	}
	return 0;
}

int rsv_tool_explore_merge(int argc, char **argv, const char *format)
{
	struct explore *e = calloc(1, sizeof(*e));
	bool seen[1001] = { false }, first = true;
	int status = 0;

	if (!e)
		return 1;
	if (strcmp(format, "text") && strcmp(format, "json")) {
		free(e);
		return rsv_tool_bad("unknown format '%s' for an exploration", format, "text, json");
	}
	for (int a = 0; a < argc && !status; a++) {
		json_error_t jerr;
		json_t *doc;

		if (!strcmp(argv[a], "--format")) {
			a++;
			continue;
		}
		if (!(doc = json_load_file(argv[a], 0, &jerr))) {
			fprintf(stderr,
				"reservoir: merge: '%s' is not an exploration shard: line %d: %s\n",
				argv[a], jerr.line, jerr.text);
			status = 2;
			break;
		}
		status = merge_part(e, argv[a], doc, first, seen);
		first = false;
		json_decref(doc);
	}
	for (unsigned i = 1; !status && i <= e->shards; i++)
		if (!seen[i]) {
			fprintf(stderr, "reservoir: merge: shard %u/%u is missing\n", i, e->shards);
			status = 2;
		}
	if (!status) {
		print_explore(e, !strcmp(format, "json"));
		status = check_sometimes(e);
	}
	free(e);
	return status;
}

int rsv_tool_explore(int argc, char **argv)
{
	struct explore *e;
	const char *format = "text", *save = NULL;
	bool sharded = false;
	unsigned jobs = (unsigned)sysconf(_SC_NPROCESSORS_ONLN);
	bool have_strategy = false, have_runs = false;
	pthread_t *threads;
	uint64_t n;
	int status = 0;

	if (argc < 1) {
		fprintf(stderr, "reservoir: explore needs a scenario\n");
		return 2;
	}
	if (!(e = calloc(1, sizeof(*e))))
		return 1;
	e->first_failing_seed = -1;
	e->shard = e->shards = 1;
	e->first_diverged = -1;
	if (!(e->s = rsv_tool_find_scenario(argv[0]))) {
		free(e);
		return 2;
	}
	rsv_scenario_opts_init(e->s, &e->o);
	for (int i = 1; i < argc && !status; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		int r;

		if (!strcmp(opt, "--check-determinism")) { /* the one flag without a value */
			e->determinism = true;
			continue;
		}
		if (!val) {
			fprintf(stderr, "reservoir: option '%s' needs a value\n", opt);
			status = 2;
			break;
		}
		i++;
		if ((r = rsv_tool_scenario_option(e->s, &e->o, opt, val)) >= 0) {
			status = r;
		} else if (!strcmp(opt, "--strategy")) {
			if ((status = rsv_tool_parse_strategy(val, &e->o.sched, e->error,
							      sizeof(e->error))))
				fprintf(stderr, "reservoir: --strategy: %s\n", e->error);
			e->strategy = val;
			have_strategy = true;
		} else if (!strcmp(opt, "--runs") || !strcmp(opt, "--jobs")) {
			if (rsv_tool_parse_uint(opt, val, 1, 100000000, &n))
				status = 2;
			else if (!strcmp(opt, "--runs"))
				e->runs = n, have_runs = true;
			else
				jobs = (unsigned)n;
		} else if (!strcmp(opt, "--save-schedule")) {
			if (rsv_tool_check_writable("--save-schedule", val))
				status = 2;
			save = val;
		} else if (!strcmp(opt, "--shard")) {
			status = rsv_tool_parse_shard(val, &e->shard, &e->shards);
			sharded = true;
		} else if (!strcmp(opt, "--format")) {
			if (strcmp(val, "text") && strcmp(val, "json")) {
				fprintf(stderr,
					"reservoir: unknown format '%s' (valid: text, json)\n",
					val);
				status = 2;
			}
			format = val;
		} else {
			fprintf(stderr,
				"reservoir: unknown option '%s' (valid: --policy key=value, "
				"--param name=value, --strategy S, --runs N, --jobs J, "
				"--save-schedule FILE, --shard I/N, --check-determinism, "
				"--format text|json)\n",
				opt);
			status = 2;
		}
	}
	if (!status && (!have_strategy || !have_runs)) {
		fprintf(stderr, "reservoir: explore needs %s\n",
			!have_strategy ? "--strategy random|swarm|pct:d=D[,k=K]" : "--runs N");
		status = 2;
	}
	if (!status && sharded && (save || strcmp(format, "text"))) {
		fprintf(stderr, "reservoir: --shard prints its part for reservoir merge, which "
				"takes --format; --save-schedule a failing seed's run\n");
		status = 2;
	}
	if (!status && rsv_scenario_check(e->s, &e->o, e->error, sizeof(e->error))) {
		fprintf(stderr, "reservoir: %s\n", e->error);
		status = 2;
	}
	if (status) {
		free(e);
		return status;
	}
	/* PCT's k, if not given: the length of a first run of the cell. */
	if (e->o.sched.strategy == RSV_SCHED_PCT && !e->o.sched.pct_steps) {
		struct rsv_scenario_opts first = e->o;
		struct rsv_scenario_result *r = malloc(sizeof(*r));

		first.sched = (struct rsv_sched_config){ 0 };
		first.seed = 0;
		if (!r || rsv_scenario_run(e->s, &first, r)) {
			fprintf(stderr,
				"reservoir: explore: the first run could not be set up: %s\n",
				r ? r->why : "out of memory");
			free(r);
			free(e);
			return 1;
		}
		e->o.sched.pct_steps = r->decisions ? r->decisions : 1;
		free(r);
	}
	pthread_mutex_init(&e->lock, NULL);
	threads = calloc(jobs, sizeof(*threads));
	for (unsigned j = 0; threads && j < jobs; j++)
		pthread_create(&threads[j], NULL, explore_worker, e);
	for (unsigned j = 0; threads && j < jobs; j++)
		pthread_join(threads[j], NULL);
	if (sharded) {
		status = write_shard(e);
		status = report_determinism(e, true) ?: status;
		goto out;
	}
	print_explore(e, !strcmp(format, "json"));
	/* The first failure, run again to record its schedule. */
	if (save && e->first_failing_seed >= 0) {
		struct rsv_tool_recording rec = { 0 };
		struct rsv_scenario_opts o = e->o;
		struct rsv_scenario_result *r = malloc(sizeof(*r));

		o.seed = (uint64_t)e->first_failing_seed;
		rsv_scenario_swarm(e->s, &o);
		o.sched.record = true;
		o.schedule = rsv_tool_record;
		o.schedule_arg = &rec;
		if (!r || rsv_scenario_run(e->s, &o, r) ||
		    rsv_tool_schedule_write(save, e->s, &o, r, rec.ids, rec.n))
			status = 1;
		else if (strcmp(format, "json"))
			printf("  schedule of the first failure (seed %" PRIu64 ") written to %s\n",
			       o.seed, save);
		free(rec.ids);
		free(rec.hashes);
		free(r);
	}
	if (e->errors) {
		fprintf(stderr, "reservoir: explore: %lu runs could not be set up (%s)\n",
			e->errors, e->error);
		status = 1;
	}
	status = report_determinism(e, !strcmp(format, "json")) ?: status;
	status = check_sometimes(e) ?: status;
out:
	free(threads);
	free(e);
	return status;
}
