/* reservoir: the command-line front end.
 *
 *   reservoir list [--verbose]                 the seed scenarios, their parameters and keys
 *   reservoir run SCENARIO [options]           one run: verdict, counters, trace hash, report
 *   reservoir replay SCENARIO [options]        the same run twice: the trace hashes agree
 *   reservoir matrix [--seeds N] [--jobs J] [--format text|md|json|csv] [--out DIR]
 *                    [--shard I/N]             one shard's part, for reservoir merge
 *   reservoir merge SHARD-FILES... [--format text|md|json|csv]
 *                                              the shards as one unsharded run prints it
 *   reservoir explore SCENARIO [--policy ...] [--param ...] --strategy random|swarm|pct:d=D[,k=K]
 *                     --runs N [--jobs J] [--save-schedule FILE] [--shard I/N]
 *                     [--check-determinism] [--format text|json]
 *                                              failure rate, first failure and distinct
 *                                              failures under a scheduling strategy
 *   reservoir demo [--seed N]                  the allocator under pressure on both backends,
 *                                              and a deadlock found, explained and replayed
 *   reservoir stress [--seconds N] [--tasks N] [--seed N]
 *                                              every allocator at once on real threads, with
 *                                              injected failures, patterns and invariant checks
 *   reservoir version
 *   reservoir replay --schedule FILE [--force] [--format text|json]
 *                                              a saved schedule run again, bit for bit
 *   reservoir shrink FILE [--out FILE] [--budget SECONDS] [--force] [--format text|json]
 *                                              a failing schedule made small, failing alike
 * run and replay take --policy key=value[,...], --param name=value, --seed N,
 * --strategy random|swarm|pct:d=D[,k=K], --save-schedule FILE,
 * --backend sim|os, --timeout SECONDS (the progress watchdog's window, 30 by default),
 * --lockdep (the dependency checker on: its cycles in the counters and the report),
 * --predict (the scenario's paths run apart with the checker: what it predicts from runs that
 * cannot deadlock; the matrix's checker column) and --format text|json. Bad input: one line
 * naming it, exit status 2. */
#include <errno.h>
#include <inttypes.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir/harness.h>
#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out,
		"usage: reservoir list [--verbose]\n"
		"       reservoir run|replay SCENARIO [--policy key=value[,...]] "
		"[--param name=value] [--seed N] [--backend sim|os] [--timeout S] "
		"[--lockdep] [--predict] [--strategy S] [--save-schedule FILE] "
		"[--format text|json]\n"
		"       reservoir matrix [--seeds N] [--jobs J] [--format text|md|json|csv] "
		"[--out DIR]\n"
		"       reservoir explore SCENARIO [--policy k=v[,...]] [--param n=v] "
		"--strategy random|swarm|pct:d=D[,k=K] --runs N [--jobs J] [--save-schedule FILE] "
		"[--format text|json]\n"
		"       reservoir replay --schedule FILE [--force] [--format text|json]\n"
		"       reservoir shrink FILE [--out FILE] [--budget SECONDS] [--force] "
		"[--format text|json]\n"
		"       reservoir demo [--seed N]\n"
		"       reservoir stress [--seconds N] [--tasks N] [--seed N]\n"
		"       reservoir version | --version\n");
	return out == stderr ? 2 : 0;
}

/* Digits only (strtoull would take leading blanks and a '-', and wrap "-1" to UINT64_MAX), in
 * min..max; else one line naming the option and the word, and -1. */
int rsv_tool_parse_uint(const char *opt, const char *s, uint64_t min, uint64_t max,
			uint64_t *out)
{
	char *end;
	uint64_t v;

	errno = 0;
	v = *s >= '0' && *s <= '9' ? strtoull(s, &end, 0) : 0;
	if (*s < '0' || *s > '9' || errno || *end || v < min || v > max) {
		if (max == UINT64_MAX)
			fprintf(stderr, "reservoir: %s: '%s' is not a non-negative integer\n", opt,
				s);
		else
			fprintf(stderr,
				"reservoir: %s: '%s' is not an integer in %" PRIu64 "..%" PRIu64
				"\n",
				opt, s, min, max);
		return -1;
	}
	*out = v;
	return 0;
}

int rsv_tool_bad(const char *fmt, const char *word, const char *valid)
{
	fprintf(stderr, "reservoir: ");
	fprintf(stderr, fmt, word);
	if (valid)
		fprintf(stderr, " (valid: %s)", valid);
	fputc('\n', stderr);
	return 2;
}

int rsv_tool_parse_seed(const char *s, uint64_t *seed)
{
	return rsv_tool_parse_uint("--seed", s, 0, UINT64_MAX, seed);
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;

	/* Thousands of short runs free and take back the same few megabytes of C heap (device
	 * sectors, magazines): keep them rather than hand them to the kernel and fault them in
	 * again, run after run. */
	mallopt(M_TRIM_THRESHOLD, 256 << 20);
	mallopt(M_MMAP_THRESHOLD, 64 << 20);
	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "version") || !strcmp(argv[1], "--version")) {
		printf("reservoir %s\n", rsv_version());
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (!strcmp(argv[1], "list"))
		return rsv_tool_list(argc - 2, argv + 2);
	if (!strcmp(argv[1], "run") || !strcmp(argv[1], "replay"))
		return rsv_tool_run(argc - 2, argv + 2, !strcmp(argv[1], "replay"));
	if (!strcmp(argv[1], "matrix"))
		return rsv_tool_matrix(argc - 2, argv + 2);
	if (!strcmp(argv[1], "merge"))
		return rsv_tool_merge(argc - 2, argv + 2);
	if (!strcmp(argv[1], "explore"))
		return rsv_tool_explore(argc - 2, argv + 2);
	if (!strcmp(argv[1], "shrink"))
		return rsv_tool_shrink(argc - 2, argv + 2);
	if (!strcmp(argv[1], "stress"))
		return rsv_tool_stress(argc - 2, argv + 2);
	if (strcmp(argv[1], "demo")) {
		fprintf(stderr,
			"reservoir: unknown command '%s' (valid: list, run, replay, matrix, merge, "
			"explore, shrink, stress, demo, version, help)\n",
			argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (rsv_tool_parse_seed(argv[++i], &seed))
				return 2;
		} else {
			fprintf(stderr, "reservoir: unknown option '%s' (valid: --seed N)\n",
				argv[i]);
			return 2;
		}
	}
	return rsv_tool_demo(seed);
}
