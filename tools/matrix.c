/* reservoir matrix: every scenario under every combination of the policies it reads and its
 * variants, over many seeds, with the worst verdict of each cell, the checker's prediction,
 * coverage, and a report with timelines; and its shards (--shard I/N), merged back by
 * reservoir merge into exactly what one unsharded run prints. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>
#include "tool.h"

/* ---- matrix ---- */

struct cell {
	const struct rsv_scenario *s;
	struct rsv_scenario_opts opts; /* policy and variant; the seed is the job's */
	unsigned long counts[RSV_NR_VERDICTS];
	enum rsv_verdict worst;              /* the failure of highest rank seen (finish_cell()) */
	int64_t first_seed[RSV_NR_VERDICTS]; /* the first seed of each verdict; -1: none */
	int64_t first_bad_seed;
	unsigned long errors; /* runs that could not be set up: no verdict */
	char error[300];      /* the first one's reason (seed, then why) */
	int64_t predicted;    /* cycles the checker found in the paths apart; -1: none run */
	unsigned long cov_runs[RSV_SCENARIO_MAX_COVERAGE]; /* runs where each item happened */
};

struct matrix {
	struct cell *cells;
	unsigned nr_cells;
	unsigned seeds;
	unsigned shard, shards; /* --shard I/N: runs the seeds s with s % N == I - 1 (1 of 1) */
	_Atomic unsigned long next, done;
	unsigned long total, errors, predict_failures;
	bool progress_bar;
	pthread_mutex_t lock;
};

/* The matrix's axes: each policy key the scenario reads, then each variant parameter. */
static unsigned nr_axes(const struct rsv_scenario *s)
{
	return rsv_scenario_nr_keys(s) + rsv_scenario_nr_params(s);
}

/* How many values axis @a takes (1 for a parameter that is not a variant). */
static unsigned axis_size(const struct rsv_scenario *s, unsigned a)
{
	const struct rsv_scenario_param *p;

	if (a < rsv_scenario_nr_keys(s))
		return rsv_policy_nr_values(rsv_scenario_key(s, a));
	p = rsv_scenario_param(s, a - rsv_scenario_nr_keys(s));
	return p->axis ? (unsigned)(p->max - p->min + 1) : 1;
}

static unsigned nr_combos(const struct rsv_scenario *s)
{
	unsigned combos = 1;

	for (unsigned a = 0; a < nr_axes(s); a++)
		combos *= axis_size(s, a);
	return combos;
}

/* Every combination of the scenario's keys and variants, upstream's defaults elsewhere. */
static void add_cells(struct matrix *m, const struct rsv_scenario *s)
{
	unsigned nkeys = rsv_scenario_nr_keys(s);

	for (unsigned c = 0; c < nr_combos(s); c++) {
		struct cell *cell = &m->cells[m->nr_cells++];
		unsigned rest = c;

		*cell = (struct cell){ .s = s, .first_bad_seed = -1, .predicted = -1 };
		for (unsigned v = 0; v < RSV_NR_VERDICTS; v++)
			cell->first_seed[v] = -1;
		rsv_scenario_opts_init(s, &cell->opts);
		for (unsigned a = 0; a < nr_axes(s); a++) {
			unsigned n = axis_size(s, a), v = rest % n;

			rest /= n;
			if (a < nkeys)
				cell->opts.policy.value[rsv_scenario_key(s, a)] = (unsigned char)v;
			else if (n > 1)
				cell->opts.params[a - nkeys] =
					rsv_scenario_param(s, a - nkeys)->min + v;
		}
	}
}

static void show_progress(struct matrix *m, unsigned long done)
{
	if (m->progress_bar && (done % 64 == 0 || done == m->total))
		fprintf(stderr, "\rmatrix: %lu/%lu runs (%3lu%%)", done, m->total,
			done * 100 / m->total);
}

static void *matrix_worker(void *arg)
{
	struct matrix *m = arg;
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	struct rsv_workspace *ws = rsv_workspace_create();
	unsigned long job;
	int err;

	while (r && (job = atomic_fetch_add(&m->next, 1)) < m->total) {
		bool predict = job >= (unsigned long)m->nr_cells * m->seeds;
		struct cell *cell = predict ? &m->cells[job - (unsigned long)m->nr_cells * m->seeds]
					    : &m->cells[job / m->seeds];
		struct rsv_scenario_opts o = cell->opts;

		/* The last nr_cells jobs: each cell's paths apart, with the checker (shard 1's). */
		o.seed = predict ? 1 : job % m->seeds;
		if (predict ? m->shard != 1 : o.seed % m->shards != m->shard - 1) {
			show_progress(m, atomic_fetch_add(&m->done, 1) + 1);
			continue;
		}
		o.predict = predict;
		o.workspace = ws;
		err = rsv_scenario_run(cell->s, &o, r);
		if (predict) {
			pthread_mutex_lock(&m->lock);
			if (!err && r->verdict == RSV_VERDICT_PROGRESS)
				cell->predicted = rsv_scenario_counter(r, "lockdep_cycles");
			else if (!err)
				m->predict_failures++; /* the paths apart must finish */
			else if (err != -EOPNOTSUPP)   /* a scenario without paths: no prediction */
				m->errors++;
			show_progress(m, atomic_fetch_add(&m->done, 1) + 1);
			pthread_mutex_unlock(&m->lock);
			continue;
		}
		pthread_mutex_lock(&m->lock);
		if (err) {
			if (!cell->errors++)
				snprintf(cell->error, sizeof(cell->error), "seed %" PRIu64 ": %s",
					 o.seed, r->why);
			m->errors++;
			show_progress(m, atomic_fetch_add(&m->done, 1) + 1);
			pthread_mutex_unlock(&m->lock);
			continue;
		}
		cell->counts[r->verdict]++;
		for (unsigned i = 0; i < RSV_SCENARIO_MAX_COVERAGE; i++)
			cell->cov_runs[i] += r->coverage[i] > 0;
		if (cell->first_seed[r->verdict] < 0 ||
		    (int64_t)o.seed < cell->first_seed[r->verdict])
			cell->first_seed[r->verdict] = (int64_t)o.seed;
		show_progress(m, atomic_fetch_add(&m->done, 1) + 1);
		pthread_mutex_unlock(&m->lock);
	}
	rsv_workspace_destroy(ws);
	free(r);
	return NULL;
}

static void keys_string(const struct rsv_scenario *s, const struct rsv_scenario_opts *o, char *buf,
			size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned k = 0; k < rsv_scenario_nr_keys(s) && n < len; k++) {
		enum rsv_policy_key key = rsv_scenario_key(s, k);

		n += (size_t)snprintf(buf + n, len - n, "%s%s=%s", k ? "," : "",
				      rsv_policy_key_name(key),
				      rsv_policy_value_name(key, o->policy.value[key]));
	}
}

/* The variant parameters' values, "case=1", or "" for a scenario without variants. */
static void variant_string(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			   char *buf, size_t len)
{
	size_t n = 0;

	buf[0] = 0;
	for (unsigned i = 0; i < rsv_scenario_nr_params(s) && n < len; i++) {
		const struct rsv_scenario_param *p = rsv_scenario_param(s, i);

		if (p->axis)
			n += (size_t)snprintf(buf + n, len - n, "%s%s=%ld", n ? "," : "", p->name,
					      o->params[i]);
	}
}

void rsv_tool_scenario_policy(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			      char *buf, size_t len)
{
	char variant[128];
	size_t n;

	keys_string(s, o, buf, len);
	variant_string(s, o, variant, sizeof(variant));
	n = strlen(buf);
	if (*variant && n < len)
		snprintf(buf + n, len - n, " %s", variant);
}

/* How bad a verdict is, for a cell's worst: a run out of the seed's situation (invalid-setup)
 * is no failure, so it ranks above progress and below every failure; a racy cell whose other
 * runs are invalid shows its failure. */
static unsigned verdict_rank(enum rsv_verdict v)
{
	return v == RSV_VERDICT_PROGRESS ? 0 : v == RSV_VERDICT_INVALID_SETUP ? 1 : 2 + (unsigned)v;
}

/* The cell's worst verdict and its first seed, from the counts (after the runs or a merge). */
static void finish_cell(struct cell *c)
{
	c->worst = RSV_VERDICT_PROGRESS;
	for (unsigned v = 0; v < RSV_NR_VERDICTS; v++)
		if (c->counts[v] && verdict_rank((enum rsv_verdict)v) > verdict_rank(c->worst))
			c->worst = (enum rsv_verdict)v;
	c->first_bad_seed = c->worst == RSV_VERDICT_PROGRESS ? -1 : c->first_seed[c->worst];
}

/* What the checker made of the cell's paths apart: for a failing cell, whether it predicted
 * the failure (found a cycle in a fixed interleaving that did not fail); for one that
 * progressed, whether it stayed silent or warned. */
static const char *checker_word(const struct cell *c)
{
	bool failing = c->worst != RSV_VERDICT_PROGRESS && c->worst != RSV_VERDICT_INVALID_SETUP;

	if (c->predicted < 0)
		return "-";
	if (failing)
		return c->predicted ? "predicted" : "missed";
	/* A cycle no seed of the cell ran into: a false alarm, or a race these seeds missed. */
	return c->predicted ? "warned" : "silent";
}

static void write_matrix(FILE *out, const struct matrix *m, const char *format)
{
	bool md = !strcmp(format, "md"), json = !strcmp(format, "json"),
	     csv = !strcmp(format, "csv");
	const enum rsv_stat_item *cov;
	unsigned nr_cov = rsv_scenario_coverage_items(&cov);
	json_t *arr = NULL;
	char policy[256], variant[128], name[192];

	if (md)
		fprintf(out, "| scenario | policy | verdict | runs | first bad seed | checker |\n"
			     "|---|---|---|---|---|---|\n");
	else if (csv)
		fprintf(out, "scenario,variant,policy,verdict,runs,first_bad_seed,checker\n");
	else if (json)
		arr = json_array();
	for (unsigned i = 0; i < m->nr_cells; i++) {
		const struct cell *c = &m->cells[i];

		keys_string(c->s, &c->opts, policy, sizeof(policy));
		variant_string(c->s, &c->opts, variant, sizeof(variant));
		snprintf(name, sizeof(name), "%s%s%s", rsv_scenario_name(c->s), *variant ? " " : "",
			 variant);
		if (json) {
			json_t *o = json_pack("{s:s, s:s, s:s, s:I}", "scenario",
					      rsv_scenario_name(c->s), "variant", variant, "policy",
					      policy, "runs", (json_int_t)m->seeds),
			       *coverage = json_object();

			for (unsigned v = 0; v < RSV_NR_VERDICTS; v++)
				json_object_set_new(o, rsv_verdict_name(v),
						    json_integer((json_int_t)c->counts[v]));
			for (unsigned k = 0; k < nr_cov; k++)
				json_object_set_new(coverage, rsv_stat_name(cov[k]),
						    json_integer((json_int_t)c->cov_runs[k]));
			json_object_update_new(o,
					       json_pack("{s:I, s:s, s:I, s:s, s:I, s:o}", "errors",
							 (json_int_t)c->errors, "verdict",
							 c->errors ? "error"
								   : rsv_verdict_name(c->worst),
							 "first_bad_seed",
							 (json_int_t)c->first_bad_seed, "checker",
							 checker_word(c), "checker_cycles",
							 (json_int_t)c->predicted, "coverage",
							 coverage));
			json_array_append_new(arr, o);
		} else if (md) {
			fprintf(out, "| %s | `%s` | %s | %u |", name, policy,
				c->errors ? "error" : rsv_verdict_name(c->worst), m->seeds);
			if (c->first_bad_seed >= 0)
				fprintf(out, " %" PRId64 " |", c->first_bad_seed);
			else
				fprintf(out, " |");
			fprintf(out, " %s |\n", checker_word(c));
		} else if (csv) {
			fprintf(out, "%s,%s,\"%s\",%s,%u,%" PRId64 ",%s\n", rsv_scenario_name(c->s),
				variant, policy, c->errors ? "error" : rsv_verdict_name(c->worst),
				m->seeds, c->first_bad_seed, checker_word(c));
		} else {
			fprintf(out, "%-33s %-58s %-16s %-11s", name, policy,
				c->errors ? "error" : rsv_verdict_name(c->worst), checker_word(c));
			if (c->errors)
				fprintf(out, " %lu/%u runs could not be set up (%s)", c->errors,
					m->seeds, c->error);
			else if (c->worst != RSV_VERDICT_PROGRESS)
				fprintf(out, " %lu/%u runs; first seed %" PRId64,
					c->worst == RSV_VERDICT_INVALID_SETUP
						? c->counts[RSV_VERDICT_INVALID_SETUP]
						: m->seeds - c->counts[RSV_VERDICT_PROGRESS] -
							  c->counts[RSV_VERDICT_INVALID_SETUP],
					m->seeds, c->first_bad_seed);
			fputc('\n', out);
		}
	}
	if (json) {
		json_dumpf(arr, out, JSON_INDENT(1));
		fputc('\n', out);
		json_decref(arr);
	}
}

/* The cell to draw as failing: the worst of the scenario's cells. */
static const struct cell *worst_cell(const struct matrix *m, const struct rsv_scenario *s)
{
	const struct cell *w = NULL;

	for (unsigned i = 0; i < m->nr_cells; i++)
		if (m->cells[i].s == s && !m->cells[i].errors &&
		    (!w || verdict_rank(m->cells[i].worst) > verdict_rank(w->worst)))
			w = &m->cells[i];
	return w;
}

/* ...and as fixed: upstream's policy for the failing cell's variant, else any cell of that
 * variant that never failed and progressed on some seed (a racy scenario's fixed cell is
 * out of the situation on most seeds: it is drawn at its first seed that progressed). */
static const struct cell *fixed_cell(const struct matrix *m, const struct cell *bad)
{
	const struct cell *any = NULL;

	for (unsigned i = 0; i < m->nr_cells; i++) {
		const struct cell *c = &m->cells[i];
		bool same_variant = !memcmp(c->opts.params, bad->opts.params,
					    sizeof(c->opts.params));

		if (c->s != bad->s || !same_variant || c->errors ||
		    (c->worst != RSV_VERDICT_PROGRESS && c->worst != RSV_VERDICT_INVALID_SETUP) ||
		    !c->counts[RSV_VERDICT_PROGRESS])
			continue;
		if (!memcmp(&c->opts.policy, &RSV_POLICY_DEFAULT, sizeof(c->opts.policy)))
			return c;
		if (!any)
			any = c;
	}
	return any;
}

static int draw(const struct cell *c, uint64_t seed, const char *dir, const char *label)
{
	struct rsv_scenario_opts o = c->opts;
	struct rsv_scenario_result *r = malloc(sizeof(*r));
	char path[4096];
	int err;

	if (!r)
		return 1;
	o.seed = seed;
	snprintf(path, sizeof(path), "%s/%s-%s.svg", dir, rsv_scenario_name(c->s), label);
	err = rsv_tool_timeline_run(c->s, &o, r, NULL, path);
	free(r);
	return err;
}

/* One timeline per scenario for a failing policy and one for a fixed one. */
static int draw_timelines(const struct matrix *m, const char *dir)
{
	int status = 0;

	for (unsigned i = 0; i < rsv_scenario_count(); i++) {
		const struct cell *bad = worst_cell(m, rsv_scenario_at(i)), *good;

		if (!bad || bad->worst == RSV_VERDICT_PROGRESS)
			continue;
		status |= draw(bad, (uint64_t)bad->first_bad_seed, dir, "failing");
		if ((good = fixed_cell(m, bad)))
			status |= draw(good, (uint64_t)good->first_seed[RSV_VERDICT_PROGRESS], dir,
				       "fixed");
	}
	return status;
}

static const char *const report_formats[] = { "md", "json", "csv" };

/* Before any run: the report's directory exists (made if need be) and takes its files. */
static int prepare_report(const char *dir)
{
	char path[4096];
	struct stat st;

	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "reservoir: --out: cannot create '%s': %s\n", dir, strerror(errno));
		return 2;
	}
	if (stat(dir, &st) || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "reservoir: --out: '%s' is not a directory\n", dir);
		return 2;
	}
	for (unsigned f = 0; f < 3; f++) {
		snprintf(path, sizeof(path), "%s/matrix.%s", dir, report_formats[f]);
		if (rsv_tool_check_writable("--out", path))
			return 2;
	}
	return 0;
}

static int write_report(const struct matrix *m, const char *dir)
{
	const char *const *formats = report_formats;
	char path[4096];

	for (unsigned f = 0; f < 3; f++) {
		FILE *out;

		snprintf(path, sizeof(path), "%s/matrix.%s", dir, formats[f]);
		if (!(out = fopen(path, "w"))) {
			fprintf(stderr, "reservoir: cannot write '%s': %s\n", path,
				strerror(errno));
			return 1;
		}
		write_matrix(out, m, formats[f]);
		fclose(out);
	}
	return draw_timelines(m, dir);
}

/* ---- shards ---- */

#define SHARD_MAGIC "reservoir-matrix-shard"

/* What one shard knows of a cell, for reservoir merge. */
static json_t *cell_shard_json(const struct matrix *m, const struct cell *c)
{
	char policy[256], variant[128];
	json_t *counts = json_array(), *cov = json_array(), *firsts = json_array();
	const enum rsv_stat_item *items;
	unsigned nr_cov = rsv_scenario_coverage_items(&items);

	keys_string(c->s, &c->opts, policy, sizeof(policy));
	variant_string(c->s, &c->opts, variant, sizeof(variant));
	for (unsigned v = 0; v < RSV_NR_VERDICTS; v++) {
		json_array_append_new(counts, json_integer((json_int_t)c->counts[v]));
		json_array_append_new(firsts, json_integer((json_int_t)c->first_seed[v]));
	}
	for (unsigned k = 0; k < nr_cov; k++)
		json_array_append_new(cov, json_integer((json_int_t)c->cov_runs[k]));
	(void)m;
	return json_pack("{s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:I, s:o}", "scenario",
			 rsv_scenario_name(c->s), "variant", variant, "policy", policy, "counts",
			 counts, "errors", (json_int_t)c->errors, "error", c->error, "first_seeds",
			 firsts, "predicted", (json_int_t)c->predicted, "coverage", cov);
}

static int write_shard(const struct matrix *m, const struct rsv_scenario *only)
{
	json_t *cells = json_array(), *doc;
	int err;

	for (unsigned i = 0; i < m->nr_cells; i++)
		json_array_append_new(cells, cell_shard_json(m, &m->cells[i]));
	doc = json_pack("{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:o}", "format", SHARD_MAGIC,
			"build", rsv_build_id(), "seeds", (json_int_t)m->seeds, "shard",
			(json_int_t)m->shard, "of", (json_int_t)m->shards, "only",
			only ? rsv_scenario_name(only) : "", "errors", (json_int_t)m->errors,
			"predict_failures", (json_int_t)m->predict_failures, "cells", cells);
	err = !doc || json_dumpf(doc, stdout, JSON_INDENT(1)) || fputc('\n', stdout) == EOF;
	json_decref(doc);
	return err;
}

int rsv_tool_parse_shard(const char *v, unsigned *shard, unsigned *shards)
{
	unsigned long i, n;
	char *end, *slash;

	errno = 0;
	i = *v >= '0' && *v <= '9' ? strtoul(v, &slash, 10) : 0;
	if (*v < '0' || *v > '9' || *slash != '/' || slash[1] < '0' || slash[1] > '9')
		return rsv_tool_bad("--shard: '%s' is not I/N", v,
				    "1/2, 2/2, ... with 1 <= I <= N");
	n = strtoul(slash + 1, &end, 10);
	if (*end || errno || !i || !n || i > n || n > 1000)
		return rsv_tool_bad("--shard: '%s' is not I/N with 1 <= I <= N <= 1000", v, NULL);
	*shard = (unsigned)i;
	*shards = (unsigned)n;
	return 0;
}

/* reservoir merge FILES... [--format text|md|json|csv]: the shards of one matrix run, printed
 * as that run unsharded would have. Shards of different runs (seeds, scenario, number of
 * shards, build), one missing or one twice: one line, exit status 2. */
int rsv_tool_merge(int argc, char **argv)
{
	struct matrix m = { .shard = 1, .shards = 1 };
	const char *format = "text", *first = NULL;
	const struct rsv_scenario *only = NULL;
	bool *seen = NULL;
	unsigned max_cells = 0, nr_files = 0;
	int status = 0;

	for (int i = 0; i < argc; i++)
		if (!strcmp(argv[i], "--format")) {
			if (i + 1 >= argc)
				return rsv_tool_bad("option '%s' needs a value", argv[i], NULL);
			format = argv[++i];
			if (strcmp(format, "text") && strcmp(format, "md") &&
			    strcmp(format, "json") && strcmp(format, "csv"))
				return rsv_tool_bad("unknown format '%s'", format,
						    "text, md, json, csv");
		} else if (argv[i][0] == '-' && argv[i][1]) {
			return rsv_tool_bad("unknown option '%s' of merge", argv[i],
					    "--format text|md|json|csv, then shard files");
		} else {
			nr_files++;
		}
	if (!nr_files)
		return rsv_tool_bad("%s",
				    "merge needs the shard files (reservoir matrix --shard I/N)",
				    NULL);
	for (unsigned i = 0; i < rsv_scenario_count(); i++)
		max_cells += nr_combos(rsv_scenario_at(i));
	if (!(m.cells = calloc(max_cells, sizeof(*m.cells))))
		return 1;
	for (int a = 0; a < argc && !status; a++) {
		json_error_t jerr;
		json_t *doc, *cells;
		const char *fmt = NULL, *build = NULL, *only_name = NULL;
		json_int_t seeds = 0, shard = 0, of = 0, errors = 0, pfail = 0;

		if (!strcmp(argv[a], "--format")) {
			a++;
			continue;
		}
		if (!(doc = json_load_file(argv[a], 0, &jerr))) {
			fprintf(stderr,
				"reservoir: merge: '%s' is not a matrix shard: line %d: %s\n",
				argv[a], jerr.line, jerr.text);
			status = 2;
			break;
		}
		if (!first && json_is_string(json_object_get(doc, "format")) &&
		    !strcmp(json_string_value(json_object_get(doc, "format")),
			    RSV_TOOL_EXPLORE_SHARD)) {
			json_decref(doc);
			free(m.cells);
			return rsv_tool_explore_merge(argc, argv, format);
		}
		if (json_unpack_ex(doc, &jerr, 0, "{s:s, s:s, s:I, s:I, s:I, s:s, s:I, s:I, s:o}",
				   "format", &fmt, "build", &build, "seeds", &seeds, "shard",
				   &shard, "of", &of, "only", &only_name, "errors", &errors,
				   "predict_failures", &pfail, "cells", &cells) ||
		    strcmp(fmt, SHARD_MAGIC) || !json_is_array(cells) || seeds < 1 || of < 1 ||
		    shard < 1 || shard > of) {
			fprintf(stderr, "reservoir: merge: '%s' is not a matrix shard (%s)\n",
				argv[a], jerr.text[0] ? jerr.text : "bad fields");
			json_decref(doc);
			status = 2;
			break;
		}
		if (!first) {
			first = argv[a];
			m.seeds = (unsigned)seeds;
			m.shards = (unsigned)of;
			if (*only_name && !(only = rsv_tool_find_scenario(only_name))) {
				json_decref(doc);
				status = 2;
				break;
			}
			if (strcmp(build, rsv_build_id()))
				fprintf(stderr,
					"reservoir: merge: the shards were made by build %s, "
					"this is %s: the cells are matched by name\n",
					build, rsv_build_id());
			for (unsigned i = 0; i < rsv_scenario_count(); i++)
				if (!only || only == rsv_scenario_at(i))
					add_cells(&m, rsv_scenario_at(i));
			seen = calloc(m.shards + 1, sizeof(*seen));
		}
		if ((unsigned)seeds != m.seeds || (unsigned)of != m.shards ||
		    strcmp(only_name, only ? rsv_scenario_name(only) : "") ||
		    json_array_size(cells) != m.nr_cells) {
			fprintf(stderr,
				"reservoir: merge: '%s' and '%s' are shards of different runs "
				"(seeds %u and %lld, %u and %lld shards, scenario '%s' and '%s')\n",
				first, argv[a], m.seeds, (long long)seeds, m.shards, (long long)of,
				only ? rsv_scenario_name(only) : "all",
				*only_name ? only_name : "all");
			json_decref(doc);
			status = 2;
			break;
		}
		if (!seen || seen[shard]) {
			fprintf(stderr, "reservoir: merge: shard %lld/%u given twice ('%s')\n",
				(long long)shard, m.shards, argv[a]);
			json_decref(doc);
			status = 2;
			break;
		}
		seen[shard] = true;
		m.errors += (unsigned long)errors;
		m.predict_failures += (unsigned long)pfail;
		for (unsigned i = 0; i < m.nr_cells && !status; i++) {
			struct cell *c = &m.cells[i];
			json_t *jc = json_array_get(cells, i), *counts, *cov, *firsts;
			const char *scen = NULL, *variant = NULL, *policy = NULL, *error = NULL;
			json_int_t cerr = 0, pred = -1;
			char p[256], v[128];

			keys_string(c->s, &c->opts, p, sizeof(p));
			variant_string(c->s, &c->opts, v, sizeof(v));
			if (json_unpack(jc, "{s:s, s:s, s:s, s:o, s:I, s:s, s:o, s:I, s:o}",
					"scenario", &scen, "variant", &variant, "policy", &policy,
					"counts", &counts, "errors", &cerr, "error", &error,
					"first_seeds", &firsts, "predicted", &pred, "coverage",
					&cov) ||
			    strcmp(scen, rsv_scenario_name(c->s)) || strcmp(variant, v) ||
			    strcmp(policy, p) || json_array_size(counts) != RSV_NR_VERDICTS ||
			    json_array_size(firsts) != RSV_NR_VERDICTS) {
				fprintf(stderr,
					"reservoir: merge: '%s': cell %u is not %s %s [%s] of "
					"this build\n",
					argv[a], i, rsv_scenario_name(c->s), v, p);
				status = 2;
				break;
			}
			for (unsigned k = 0; k < RSV_NR_VERDICTS; k++) {
				unsigned long n = (unsigned long)json_integer_value(
					json_array_get(counts, k));

				json_int_t f = json_integer_value(json_array_get(firsts, k));

				c->counts[k] += n;
				if (f >= 0 && (c->first_seed[k] < 0 || f < c->first_seed[k]))
					c->first_seed[k] = f;
			}
			for (unsigned k = 0;
			     k < json_array_size(cov) && k < RSV_SCENARIO_MAX_COVERAGE; k++)
				c->cov_runs[k] += (unsigned long)json_integer_value(
					json_array_get(cov, k));
			if (cerr && !c->errors)
				snprintf(c->error, sizeof(c->error), "%s", error);
			c->errors += (unsigned long)cerr;
			if (pred >= 0)
				c->predicted = pred;
		}
		json_decref(doc);
	}
	for (unsigned i = 1; !status && i <= m.shards; i++)
		if (!seen[i]) {
			fprintf(stderr, "reservoir: merge: shard %u/%u is missing\n", i, m.shards);
			status = 2;
		}
	if (!status) {
		m.total = (unsigned long)m.nr_cells * (m.seeds + 1);
		for (unsigned i = 0; i < m.nr_cells; i++)
			finish_cell(&m.cells[i]);
		write_matrix(stdout, &m, format);
	}
	free(seen);
	free(m.cells);
	return status;
}

int rsv_tool_matrix(int argc, char **argv)
{
	struct matrix m = { .seeds = 100, .shard = 1, .shards = 1, .progress_bar = isatty(2) };
	bool sharded = false;
	const char *format = "text", *dir = NULL;
	const struct rsv_scenario *only = NULL;
	unsigned jobs = (unsigned)sysconf(_SC_NPROCESSORS_ONLN), max_cells = 0;
	pthread_t *threads;
	uint64_t n;
	int status = 0;

	for (int i = 0; i < argc; i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!val)
			return rsv_tool_bad("option '%s' needs a value", opt, NULL);
		i++;
		if (!strcmp(opt, "--seeds") || !strcmp(opt, "--jobs")) {
			if (rsv_tool_parse_uint(opt, val, 1, 1000000, &n))
				return 2;
			*(strcmp(opt, "--seeds") ? &jobs : &m.seeds) = (unsigned)n;
		} else if (!strcmp(opt, "--format")) {
			if (strcmp(val, "text") && strcmp(val, "md") && strcmp(val, "json") &&
			    strcmp(val, "csv"))
				return rsv_tool_bad("unknown format '%s'", val,
						    "text, md, json, csv");
			format = val;
		} else if (!strcmp(opt, "--out")) {
			dir = val;
		} else if (!strcmp(opt, "--scenario")) {
			if (!(only = rsv_tool_find_scenario(val)))
				return 2;
		} else if (!strcmp(opt, "--shard")) {
			if ((status = rsv_tool_parse_shard(val, &m.shard, &m.shards)))
				return status;
			sharded = true;
		} else {
			return rsv_tool_bad(
				"unknown option '%s'", opt,
				"--seeds N, --jobs J, --scenario NAME, --format text|md|json|csv, "
				"--out DIR, --shard I/N");
		}
	}
	if (sharded && (dir || strcmp(format, "text")))
		return rsv_tool_bad("%s",
				    "--shard prints its part for reservoir merge, which "
				    "takes --format and the report's directory",
				    NULL);
	if (dir && (status = prepare_report(dir)))
		return status;
	for (unsigned i = 0; i < rsv_scenario_count(); i++)
		max_cells += nr_combos(rsv_scenario_at(i));
	m.cells = calloc(max_cells, sizeof(*m.cells));
	threads = calloc(jobs ? jobs : 1, sizeof(*threads));
	if (!m.cells || !threads)
		return 1;
	for (unsigned i = 0; i < rsv_scenario_count(); i++)
		if (!only || only == rsv_scenario_at(i))
			add_cells(&m, rsv_scenario_at(i));
	m.total = (unsigned long)m.nr_cells * (m.seeds + 1);
	pthread_mutex_init(&m.lock, NULL);
	for (unsigned j = 0; j < jobs; j++)
		pthread_create(&threads[j], NULL, matrix_worker, &m);
	for (unsigned j = 0; j < jobs; j++)
		pthread_join(threads[j], NULL);
	if (m.progress_bar)
		fputc('\n', stderr);
	for (unsigned i = 0; i < m.nr_cells; i++)
		finish_cell(&m.cells[i]);
	if (sharded)
		status = write_shard(&m, only);
	else
		write_matrix(stdout, &m, format);
	if (dir)
		status = write_report(&m, dir);
	if (m.errors) {
		fprintf(stderr,
			"reservoir: matrix: %lu of %lu runs could not be set up; their "
			"cells say error\n",
			m.errors, m.total);
		status = 1;
	}
	if (m.predict_failures) {
		fprintf(stderr,
			"reservoir: matrix: %lu cells' paths apart did not finish; their "
			"checker column says -\n",
			m.predict_failures);
		status = 1;
	}
	free(threads);
	free(m.cells);
	return status;
}
