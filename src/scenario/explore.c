/* Exploration for the user's own programs (reservoir/explore.h): runs of a setup function over
 * seeds under a strategy, the first failure's schedule, and the schedule shrinker shared with
 * `reservoir shrink`; and the blocked-chain signature that tells failures apart. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "scenario/internal.h"

/* ---- signatures ---- */

/* One line of a report with its numbers folded to N (ids, times, counts). */
static void fold_numbers(const char *p, size_t l, char *d, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < l && k + 2 < len; i++) {
		if (p[i] >= '0' && p[i] <= '9') {
			if (!k || d[k - 1] != 'N')
				d[k++] = 'N';
			continue;
		}
		d[k++] = p[i];
	}
	d[k] = 0;
}

void rsv_report_signature(const char *report, char *out, size_t len)
{
	char lines[32][200], cycle[200] = "";
	unsigned nr = 0, kept = 0;
	size_t n = 0;

	for (const char *p = report; *p && nr < 32;) {
		const char *end = strchr(p, '\n');
		size_t l = end ? (size_t)(end - p) : strlen(p);

		if (!strncmp(p, "  thread \"", 10))
			fold_numbers(p + 2, l - 2, lines[nr++], sizeof(lines[0]));
		else if (!strncmp(p, "  wait-for cycle: ", 18))
			fold_numbers(p + 2, l - 2, cycle, sizeof(cycle));
		p += l + (end ? 1 : 0);
	}
	/* With a cycle, only its threads: the idle service threads around it are the same in
	 * every run, and say nothing about the failure. */
	for (unsigned i = 0; i < nr; i++) {
		char name[80];
		const char *q = strchr(lines[i] + 8, '"');

		snprintf(name, sizeof(name), "%.*s", q ? (int)(q - lines[i] - 7) : 0, lines[i] + 7);
		if (!*cycle || strstr(cycle, name))
			memmove(lines[kept++], lines[i], sizeof(lines[0]));
	}
	for (unsigned i = 1; i < kept; i++)
		for (unsigned j = i; j && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char tmp[200];

			memcpy(tmp, lines[j], sizeof(tmp));
			memcpy(lines[j], lines[j - 1], sizeof(tmp));
			memcpy(lines[j - 1], tmp, sizeof(tmp));
		}
	if (len)
		out[0] = 0;
	if (*cycle && len)
		n = (size_t)snprintf(out, len, "%s", cycle);
	for (unsigned i = 0; i < kept && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s", n ? "\n" : "", lines[i]);
}

/* ---- the shrinker ---- */

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * RSV_NSEC_PER_SEC + (uint64_t)ts.tv_nsec;
}

struct shrinker {
	rsv_shrink_try_t try;
	void *arg;
	uint32_t *ids;
	size_t n;
	uint64_t preemptions, deadline;
	unsigned long tries;
};

/* Tries a candidate; keeps what it ran if it fails alike and is smaller. A run that did not
 * fail alike, when the try handed it back, goes to *@led (NULL: freed). */
static bool try_recording(struct shrinker *sh, const uint32_t *ids, size_t n, uint32_t **led,
			  size_t *nled)
{
	uint32_t *out = NULL;
	size_t nout = 0;
	uint64_t pre = 0;
	bool kept = false, failed;

	if (mono_ns() >= sh->deadline)
		return false;
	sh->tries++;
	failed = sh->try(sh->arg, ids, n, &out, &nout, &pre);
	if (failed && (pre < sh->preemptions || (pre == sh->preemptions && nout < sh->n))) {
		free(sh->ids);
		sh->ids = out;
		out = NULL;
		sh->n = nout;
		sh->preemptions = pre;
		kept = true;
	} else if (!failed && led && out) {
		*led = out;
		*nled = nout;
		out = NULL;
	}
	free(out);
	return kept;
}

static bool try_candidate(struct shrinker *sh, const uint32_t *ids, size_t n)
{
	return try_recording(sh, ids, n, NULL, NULL);
}

/* At each switch the thread before it runs on instead; over again after each success. */
static void fewer_preemptions(struct shrinker *sh)
{
	bool again = true;

	while (again && mono_ns() < sh->deadline) {
		uint32_t *cand = malloc((sh->n ? sh->n : 1) * sizeof(*cand));

		again = false;
		for (size_t i = 1; cand && i < sh->n && !again; i++) {
			if (sh->ids[i] == sh->ids[i - 1])
				continue;
			memcpy(cand, sh->ids, sh->n * sizeof(*cand));
			cand[i] = cand[i - 1];
			again = try_candidate(sh, cand, sh->n);
		}
		free(cand);
	}
}

/* The shortest prefix that still fails alike, the run going on without preemptions past it
 * (the candidates run with sched.replay_sticky): by bisection, as if failing were monotone in
 * the prefix's length, which it mostly is (a race once lost stays lost). A random walk's
 * failure preempts at most decisions; one prefix can drop nearly all of them at once, where
 * taking them out one by one meets a failure that needs several of them gone together. */
static void shortest_prefix(struct shrinker *sh)
{
	size_t lo = 0, hi = sh->n;
	uint32_t *orig = malloc((sh->n ? sh->n : 1) * sizeof(*orig));

	if (!orig)
		return;
	memcpy(orig, sh->ids, sh->n * sizeof(*orig));
	while (hi - lo > 1 && mono_ns() < sh->deadline) {
		size_t mid = lo + (hi - lo) / 2;

		if (try_candidate(sh, orig, mid))
			hi = mid;
		else
			lo = mid;
	}
	free(orig);
}

/* The run without any preemption, then each run that deviates from it once: at decision i,
 * another thread than the one it chose (a bug of depth 1 needs no more), earliest decision
 * first. At most half the time left, so that the passes after it still get theirs. Needs a
 * try that hands back a run that did not fail alike; without one it does nothing. */
static void one_deviation(struct shrinker *sh)
{
	uint64_t start = mono_ns(), stop;
	uint32_t *base = NULL, *cand = NULL, *threads = NULL, max_id = 0;
	size_t nbase = 0, nthreads = 0;
	bool *seen = NULL;

	if (sh->preemptions <= 1 || start >= sh->deadline)
		return;
	stop = start + (sh->deadline - start) / 2;
	if (try_recording(sh, NULL, 0, &base, &nbase) || !base) {
		free(base);
		return; /* no preemption at all fails alike (kept), or no run to deviate from */
	}
	/* The threads that ran, each once, in the order they first did. */
	for (size_t i = 0; i < nbase; i++)
		max_id = base[i] > max_id ? base[i] : max_id;
	seen = calloc((size_t)max_id + 1, sizeof(*seen));
	threads = malloc(((size_t)max_id + 1) * sizeof(*threads));
	for (size_t i = 0; seen && threads && i < nbase; i++)
		if (!seen[base[i]]) {
			seen[base[i]] = true;
			threads[nthreads++] = base[i];
		}
	cand = seen && threads ? malloc((nbase + 1) * sizeof(*cand)) : NULL;
	for (size_t i = 0; cand && i < nbase && mono_ns() < stop; i++) {
		bool kept = false;

		memcpy(cand, base, i * sizeof(*cand));
		for (size_t k = 0; k < nthreads && !kept && mono_ns() < stop; k++) {
			if (threads[k] == base[i])
				continue;
			cand[i] = threads[k];
			kept = try_candidate(sh, cand, i + 1) && sh->preemptions <= 1;
		}
		if (kept)
			break;
	}
	free(cand);
	free(threads);
	free(seen);
	free(base);
}

/* ddmin over the entries: leave out one of @parts chunks; on success go on with one part
 * fewer, else split finer, until single entries fail to go. */
static void fewer_decisions(struct shrinker *sh)
{
	size_t parts = 2;

	while (sh->n >= 2 && mono_ns() < sh->deadline) {
		size_t chunk = (sh->n + parts - 1) / parts;
		uint32_t *cand = malloc(sh->n * sizeof(*cand));
		bool reduced = false;

		for (size_t start = 0; cand && start < sh->n && !reduced; start += chunk) {
			size_t end = start + chunk < sh->n ? start + chunk : sh->n;

			memcpy(cand, sh->ids, start * sizeof(*cand));
			memcpy(cand + start, sh->ids + end, (sh->n - end) * sizeof(*cand));
			reduced = try_candidate(sh, cand, sh->n - (end - start));
		}
		free(cand);
		if (reduced)
			parts = parts > 2 ? parts - 1 : 2;
		else if (parts < sh->n)
			parts = parts * 2 < sh->n ? parts * 2 : sh->n;
		else
			break;
	}
}

unsigned long rsv_shrink_schedule(rsv_shrink_try_t try, void *arg, uint32_t **ids, size_t *n,
				  uint64_t *preemptions, uint64_t deadline_ns)
{
	struct shrinker sh = { .try = try,
			       .arg = arg,
			       .ids = *ids,
			       .n = *n,
			       .preemptions = *preemptions,
			       .deadline = deadline_ns };

	shortest_prefix(&sh);
	one_deviation(&sh);
	fewer_preemptions(&sh);
	fewer_decisions(&sh);
	fewer_preemptions(&sh);
	*ids = sh.ids;
	*n = sh.n;
	*preemptions = sh.preemptions;
	return sh.tries;
}

/* ---- exploring a user's program ---- */

struct recorded {
	uint32_t *ids;
	size_t n;
};

/* One run of @cfg at @seed under @sched; its outcome in @res (failures 0 or 1). */
static int run_once(const struct rsv_explore_config *cfg, uint64_t seed,
		    struct rsv_sched_config sched, struct rsv_explore_result *res,
		    struct recorded *rec)
{
	struct rsv_system_config sc = cfg->system;
	struct rsv_system *sys;
	enum rsv_run_result run;
	bool failed;
	int err;

	sc.backend = RSV_BACKEND_SIM;
	sc.seed = seed;
	sched.record = true;
	sc.sched = sched;
	if (!(sys = rsv_system_create(&sc)))
		return -errno;
	rsv_task_attach(sys, "setup");
	err = cfg->setup(sys, cfg->arg);
	rsv_task_detach();
	if (err) {
		rsv_system_destroy(sys);
		return err;
	}
	run = rsv_system_run(sys);
	failed = cfg->failed ? cfg->failed(sys, run, cfg->arg) : run != RSV_RUN_DONE;
	res->runs++;
	if (failed) {
		const uint32_t *ids;
		size_t n = rsv_platform_schedule(rsv_system_platform(sys), &ids);

		res->failures++;
		free(rec->ids);
		rec->n = 0;
		if ((rec->ids = malloc((n ? n : 1) * sizeof(*ids)))) {
			memcpy(rec->ids, ids, n * sizeof(*ids));
			rec->n = n;
		}
		res->run = run;
		res->trace_hash = rsv_platform_trace_hash(rsv_system_platform(sys));
		res->preemptions = rsv_platform_preemptions(rsv_system_platform(sys));
		snprintf(res->report, sizeof(res->report), "%s",
			 rsv_platform_report(rsv_system_platform(sys)));
	}
	if (cfg->teardown) {
		rsv_task_attach(sys, "teardown");
		cfg->teardown(sys, cfg->arg);
		rsv_task_detach();
	}
	rsv_system_destroy(sys);
	return 0;
}

static void take_schedule(struct rsv_explore_result *res, struct recorded *rec)
{
	free(res->schedule);
	res->schedule = rec->ids;
	res->nr_schedule = rec->n;
	rec->ids = NULL;
	rec->n = 0;
}

int rsv_explore(const struct rsv_explore_config *cfg, struct rsv_explore_result *res)
{
	struct recorded rec = { 0 };

	memset(res, 0, sizeof(*res));
	res->first_failing_seed = -1;
	if (!cfg || !cfg->setup || !cfg->runs)
		return -EINVAL;
	for (unsigned long i = 0; i < cfg->runs; i++) {
		struct rsv_sched_config sched = cfg->system.sched;
		int err;

		sched.replay = NULL;
		sched.nr_replay = 0;
		err = run_once(cfg, cfg->first_seed + i, sched, res, &rec);
		if (err) {
			free(rec.ids);
			return err;
		}
		if (res->failures) {
			res->first_failing_seed = (int64_t)(cfg->first_seed + i);
			take_schedule(res, &rec);
			break;
		}
	}
	return 0;
}

int rsv_explore_replay(const struct rsv_explore_config *cfg, uint64_t seed,
		       const uint32_t *schedule, size_t n, struct rsv_explore_result *res)
{
	struct rsv_sched_config sched = cfg->system.sched;
	struct recorded rec = { 0 };
	int err;

	memset(res, 0, sizeof(*res));
	res->first_failing_seed = -1;
	if (!cfg->setup)
		return -EINVAL;
	sched.replay = schedule;
	sched.nr_replay = n;
	if ((err = run_once(cfg, seed, sched, res, &rec)))
		return err;
	if (res->failures) {
		res->first_failing_seed = (int64_t)seed;
		take_schedule(res, &rec);
	}
	return 0;
}

struct user_try {
	const struct rsv_explore_config *cfg;
	uint64_t seed;
	char signature[1024];
	struct rsv_explore_result last;
};

static bool user_try(void *arg, const uint32_t *ids, size_t n, uint32_t **out, size_t *nout,
		     uint64_t *preemptions)
{
	struct user_try *u = arg;
	struct rsv_sched_config sched = u->cfg->system.sched;
	struct recorded rec = { 0 };
	char sig[1024];

	memset(&u->last, 0, sizeof(u->last));
	sched.replay = ids;
	sched.nr_replay = n;
	sched.replay_skip = true;
	sched.replay_sticky = true;
	if (run_once(u->cfg, u->seed, sched, &u->last, &rec)) {
		free(rec.ids);
		return false;
	}
	rsv_report_signature(u->last.report, sig, sizeof(sig));
	if (!u->last.failures || strcmp(sig, u->signature)) {
		*out = rec.ids; /* what the candidate led to, for the shrinker's next ones */
		*nout = rec.n;
		return false;
	}
	*out = rec.ids;
	*nout = rec.n;
	*preemptions = u->last.preemptions;
	return true;
}

int rsv_explore_shrink(const struct rsv_explore_config *cfg, struct rsv_explore_result *res,
		       uint64_t budget_ms)
{
	struct user_try u = { .cfg = cfg };
	uint32_t *ids;
	size_t n;
	uint64_t pre;

	if (!cfg->setup || res->first_failing_seed < 0 || !res->schedule)
		return -EINVAL;
	u.seed = (uint64_t)res->first_failing_seed;
	rsv_report_signature(res->report, u.signature, sizeof(u.signature));
	if (!(ids = malloc((res->nr_schedule ? res->nr_schedule : 1) * sizeof(*ids))))
		return -ENOMEM;
	memcpy(ids, res->schedule, res->nr_schedule * sizeof(*ids));
	n = res->nr_schedule;
	pre = res->preemptions;
	rsv_shrink_schedule(user_try, &u, &ids, &n, &pre,
			    mono_ns() + budget_ms * RSV_NSEC_PER_MSEC);
	/* The smallest kept, replayed plainly, is the result: it reproduces itself. */
	{
		struct rsv_explore_result again;
		int err = rsv_explore_replay(cfg, u.seed, ids, n, &again);

		free(ids);
		if (err)
			return err;
		if (!again.failures) {
			rsv_explore_result_free(&again);
			return -EAGAIN; /* cannot happen for a deterministic program */
		}
		again.runs = res->runs;
		again.failures = res->failures;
		rsv_explore_result_free(res);
		*res = again;
	}
	return 0;
}

void rsv_explore_result_free(struct rsv_explore_result *res)
{
	free(res->schedule);
	res->schedule = NULL;
	res->nr_schedule = 0;
}
