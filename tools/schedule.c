/* Schedule files: a run of a scenario on the simulator written down whole, so that nothing
 * about it lives only on a command line: the build that made it, the scenario, its policy,
 * every parameter, the seed, the strategy, what it gave (verdict, trace hash), and the
 * scheduler's decisions (the thread chosen at each, run-length coded). `reservoir replay
 * --schedule FILE` runs it again; a build of another id refuses it unless --force.
 *
 *   reservoir-schedule 1
 *   build f7207afb4bce45e6
 *   scenario s5-nofs-bufio-loop
 *   policy mempool=upstream,...
 *   param case 0                      (one line per parameter)
 *   seed 11
 *   strategy pct:d=2,k=18
 *   verdict deadlock
 *   trace 55ef74ea2d69e25f
 *   decisions 116
 *   ids 3 3*5 1 2 ...                 (as many lines as it takes; ID*COUNT repeats)
 *   end */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "tool.h"

#define SCHEDULE_MAGIC "reservoir-schedule 1"

void rsv_tool_record(void *arg, const uint32_t *ids, const uint64_t *hashes, size_t n)
{
	struct rsv_tool_recording *rec = arg;

	free(rec->ids);
	free(rec->hashes);
	rec->n = 0;
	rec->ids = malloc((n ? n : 1) * sizeof(*ids));
	rec->hashes = malloc((n ? n : 1) * sizeof(*hashes));
	if (rec->ids && rec->hashes) {
		memcpy(rec->ids, ids, n * sizeof(*ids));
		memcpy(rec->hashes, hashes, n * sizeof(*hashes));
		rec->n = n;
	}
}

void rsv_tool_strategy_format(const struct rsv_sched_config *sc, char *buf, size_t len)
{
	if (sc->strategy == RSV_SCHED_PCT)
		snprintf(buf, len, "pct:d=%u,k=%" PRIu64, sc->pct_depth ? sc->pct_depth : 1,
			 sc->pct_steps ? sc->pct_steps : 10000);
	else if (sc->strategy == RSV_SCHED_SWARM)
		snprintf(buf, len, "swarm");
	else
		snprintf(buf, len, "random");
}

int rsv_tool_schedule_write(const char *path, const struct rsv_scenario *s,
			    const struct rsv_scenario_opts *o, const struct rsv_scenario_result *r,
			    const uint32_t *ids, size_t n)
{
	char policy[256], strategy[64];
	FILE *f = fopen(path, "w");
	size_t col = 0;

	if (!f) {
		fprintf(stderr, "reservoir: cannot write schedule '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	rsv_policy_format(&o->policy, policy, sizeof(policy));
	rsv_tool_strategy_format(&o->sched, strategy, sizeof(strategy));
	fprintf(f, "%s\nbuild %s\nscenario %s\npolicy %s\n", SCHEDULE_MAGIC, rsv_build_id(),
		rsv_scenario_name(s), policy);
	for (unsigned i = 0; i < rsv_scenario_nr_params(s); i++)
		fprintf(f, "param %s %ld\n", rsv_scenario_param(s, i)->name, o->params[i]);
	fprintf(f,
		"seed %" PRIu64 "\nstrategy %s\nverdict %s\ntrace %016" PRIx64 "\ndecisions %zu\n",
		o->seed, strategy, rsv_verdict_name(r->verdict), r->trace_hash, n);
	for (size_t i = 0; i < n;) {
		size_t run = 1;
		char tok[32];
		int len;

		while (i + run < n && ids[i + run] == ids[i])
			run++;
		len = run > 1 ? snprintf(tok, sizeof(tok), "%" PRIu32 "*%zu", ids[i], run)
			      : snprintf(tok, sizeof(tok), "%" PRIu32, ids[i]);
		if (col && col + (size_t)len + 1 > 96) {
			fputc('\n', f);
			col = 0;
		}
		fprintf(f, "%s%s", col ? " " : "ids ", tok);
		col += (size_t)len + (col ? 1 : 4);
		i += run;
	}
	fprintf(f, "%send\n", col ? "\n" : "");
	if (fclose(f)) {
		fprintf(stderr, "reservoir: cannot write schedule '%s': %s\n", path,
			strerror(errno));
		return 1;
	}
	return 0;
}

static int malformed(const char *path, unsigned line, const char *what, const char *word)
{
	fprintf(stderr, "reservoir: schedule '%s', line %u: %s%s%s%s\n", path, line, what,
		word ? " '" : "", word ? word : "", word ? "'" : "");
	return 2;
}

static int add_ids(struct rsv_tool_schedule *sch, const char *path, unsigned line, char *rest)
{
	for (char *tok = strtok(rest, " "); tok; tok = strtok(NULL, " ")) {
		char *star = strchr(tok, '*'), *end;
		unsigned long long id, count = 1;

		errno = 0;
		id = strtoull(tok, &end, 10);
		if (end == tok || (star ? end != star : *end) || errno || id > UINT32_MAX)
			return malformed(path, line, "not a thread id", tok);
		if (star) {
			count = strtoull(star + 1, &end, 10);
			if (end == star + 1 || *end || errno || !count || count > 100000000)
				return malformed(path, line, "not a repeat count", tok);
		}
		if (sch->n + count > sch->expected)
			return malformed(path, line, "more decisions than the header's", tok);
		for (unsigned long long k = 0; k < count; k++)
			sch->ids[sch->n++] = (uint32_t)id;
	}
	return 0;
}

int rsv_tool_schedule_read(const char *path, struct rsv_tool_schedule *sch, bool force)
{
	FILE *f = fopen(path, "r");
	char buf[4096], err[300];
	unsigned line = 0;
	bool ended = false, have_seed = false, have_decisions = false;
	int status = 0;

	memset(sch, 0, sizeof(*sch));
	if (!f) {
		fprintf(stderr, "reservoir: cannot read schedule '%s': %s\n", path,
			strerror(errno));
		return 2;
	}
	while (!status && fgets(buf, sizeof(buf), f)) {
		char *key = buf, *val;

		line++;
		if (!strchr(buf, '\n') && !feof(f)) {
			status = malformed(path, line, "line too long", NULL);
			break;
		}
		buf[strcspn(buf, "\n")] = 0;
		if (line == 1) {
			if (strcmp(buf, SCHEDULE_MAGIC))
				status = malformed(
					path, line,
					"not a reservoir schedule (expected '" SCHEDULE_MAGIC "')",
					NULL);
			continue;
		}
		if (ended) {
			status = malformed(path, line, "text after 'end'", NULL);
			break;
		}
		if (!strcmp(buf, "end")) {
			ended = true;
			continue;
		}
		if (!(val = strchr(buf, ' '))) {
			status = malformed(path, line, "a key without a value", buf);
			break;
		}
		*val++ = 0;
		if (!strcmp(key, "build")) {
			snprintf(sch->build, sizeof(sch->build), "%s", val);
		} else if (!strcmp(key, "scenario")) {
			if (!(sch->s = rsv_scenario_find(val)))
				status = malformed(path, line, "unknown scenario", val);
			else
				rsv_scenario_opts_init(sch->s, &sch->o);
		} else if (!sch->s) {
			status = malformed(path, line, "expected the scenario before", key);
		} else if (!strcmp(key, "policy")) {
			if (rsv_policy_parse(&sch->o.policy, val, err, sizeof(err)))
				status = malformed(path, line, err, NULL);
		} else if (!strcmp(key, "param")) {
			char *sp = strchr(val, ' ');

			if (sp)
				*sp = '=';
			if (!sp || rsv_scenario_set_param(sch->s, &sch->o, val, err, sizeof(err)))
				status = malformed(path, line,
						   sp ? err : "expected 'param NAME VALUE'", NULL);
		} else if (!strcmp(key, "seed")) {
			char *end;

			errno = 0;
			sch->o.seed = strtoull(val, &end, 10);
			if (*end || errno || *val < '0' || *val > '9')
				status = malformed(path, line, "not a seed", val);
			have_seed = true;
		} else if (!strcmp(key, "strategy")) {
			if (rsv_tool_parse_strategy(val, &sch->o.sched, err, sizeof(err)))
				status = malformed(path, line, err, NULL);
		} else if (!strcmp(key, "verdict")) {
			snprintf(sch->verdict, sizeof(sch->verdict), "%s", val);
		} else if (!strcmp(key, "trace")) {
			char *end;

			sch->trace_hash = strtoull(val, &end, 16);
			if (*end || !*val)
				status = malformed(path, line, "not a trace hash", val);
		} else if (!strcmp(key, "decisions")) {
			char *end;

			errno = 0;
			sch->expected = strtoull(val, &end, 10);
			if (*end || errno || *val < '0' || *val > '9' || sch->expected > 100000000)
				status = malformed(path, line, "not a decision count", val);
			else if (!(sch->ids = calloc(sch->expected ? sch->expected : 1,
						     sizeof(*sch->ids))))
				status = malformed(path, line, "out of memory for", val);
			have_decisions = true;
		} else if (!strcmp(key, "ids")) {
			if (!have_decisions)
				status = malformed(path, line, "ids before the 'decisions' line",
						   NULL);
			else
				status = add_ids(sch, path, line, val);
		} else {
			status = malformed(path, line, "unknown key", key);
		}
	}
	fclose(f);
	if (!status && line == 0)
		status = malformed(path, 1, "empty: not a reservoir schedule", NULL);
	else if (!status && !ended)
		status = malformed(path, line, "truncated: no 'end' line", NULL);
	else if (!status && (!sch->s || !have_seed || !have_decisions || !sch->build[0]))
		status = malformed(path, line,
				   "incomplete: it needs build, scenario, seed and "
				   "decisions",
				   NULL);
	else if (!status && sch->n != sch->expected)
		status = malformed(path, line, "fewer decisions than the header's", NULL);
	else if (!status && strcmp(sch->build, rsv_build_id()) && !force) {
		fprintf(stderr,
			"reservoir: schedule '%s' was recorded by build %s, this is build "
			"%s: its decisions may not fit this code (--force replays it anyway)\n",
			path, sch->build, rsv_build_id());
		status = 2;
	}
	if (status) {
		free(sch->ids);
		sch->ids = NULL;
	}
	return status;
}

int rsv_tool_determinism(const struct rsv_scenario *s, const struct rsv_scenario_opts *o,
			 struct rsv_scenario_result *r, struct rsv_tool_divergence *d)
{
	struct rsv_tool_recording rec[2] = { { 0 } };
	struct rsv_scenario_opts twice = *o;
	int err = 0;

	memset(d, 0, sizeof(*d));
	d->decision = -1;
	twice.sched.record = true;
	twice.schedule = rsv_tool_record;
	for (unsigned i = 0; i < 2 && !err; i++) {
		twice.schedule_arg = &rec[i];
		err = rsv_scenario_run(s, &twice, r);
		d->n[i] = rec[i].n;
	}
	if (!err) {
		size_t n = rec[0].n < rec[1].n ? rec[0].n : rec[1].n, i;

		for (i = 0; i < n && rec[0].hashes[i] == rec[1].hashes[i]; i++)
			;
		if (i < n || rec[0].n != rec[1].n) {
			d->decision = (long)i + 1;
			d->thread[0] = i < rec[0].n ? rec[0].ids[i] : 0;
			d->thread[1] = i < rec[1].n ? rec[1].ids[i] : 0;
		}
	}
	for (unsigned i = 0; i < 2; i++) {
		free(rec[i].ids);
		free(rec[i].hashes);
	}
	return err ? err : d->decision >= 0;
}

/* What tells failures apart: the verdict, then the blocked chain (rsv_report_signature()),
 * or without one the why with its numbers folded. */
void rsv_tool_signature(const struct rsv_scenario_result *r, char *out, size_t len)
{
	size_t n = (size_t)snprintf(out, len, "%s\n", rsv_verdict_name(r->verdict));

	if (n >= len)
		return;
	rsv_report_signature(r->report, out + n, len - n);
	if (!out[n]) {
		size_t k = n;

		for (const char *p = r->why; *p && k + 2 < len; p++) {
			if (*p >= '0' && *p <= '9') {
				if (out[k - 1] != 'N')
					out[k++] = 'N';
				continue;
			}
			out[k++] = *p;
		}
		out[k] = 0;
	}
}
