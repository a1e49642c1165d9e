/* Timelines: one run sampled every millisecond of its (virtual) time, written as a table and
 * drawn by gnuplot: free pages against the watermarks and the mempools' fill above,
 * blocked tasks, writeback and OOM kills below. The sampler is no task, so the sampled run is
 * the run without it, trace hash and all. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "reservoir/harness.h"
#include "tool.h"

#define SAMPLE_NS RSV_NSEC_PER_MSEC

static const char header[] =
	"# time_s\tfree\tmin\tlow\thigh\tpool_fill\tpool_size\tblocked\tdirty\twriteback"
	"\toom_kills\tprogress\n";

/* The samples as written, and kept for the lanes' memory panel. */
struct sampling {
	FILE *f;
	struct rsv_scenario_sample *v;
	size_t n, cap;
};

static void print_sample(FILE *f, const struct rsv_scenario_sample *s)
{
	fprintf(f, "%.6f\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\n",
		(double)s->time_ns / 1e9, s->free, s->min, s->low, s->high, s->pool_fill,
		s->pool_size, s->blocked, s->dirty, s->writeback, s->oom_kills, s->progress);
}

static void write_sample(void *arg, const struct rsv_scenario_sample *s)
{
	struct sampling *sm = arg;

	print_sample(sm->f, s);
	if (sm->n == sm->cap) {
		size_t cap = sm->cap ? 2 * sm->cap : 1024;
		struct rsv_scenario_sample *v = realloc(sm->v, cap * sizeof(*v));

		if (!v)
			return; /* the panel then ends early; the table is whole */
		sm->v = v;
		sm->cap = cap;
	}
	sm->v[sm->n++] = *s;
}

static const char *terminal_for(const char *path)
{
	const char *dot = strrchr(path, '.');

	if (dot && !strcmp(dot, ".svg"))
		return "svg size 960,640 dynamic noenhanced background '#ffffff' font 'sans,11'";
	if (dot && !strcmp(dot, ".png"))
		return "pngcairo size 1200,800 noenhanced font 'sans,10'";
	return NULL;
}

/* gnuplot's single-quoted strings: only a quote needs doubling. */
static void quoted(FILE *f, const char *s)
{
	fputc('\'', f);
	for (; *s; s++) {
		if (*s == '\'')
			fputc('\'', f);
		fputc(*s, f);
	}
	fputc('\'', f);
}

static int plot(const char *data, const char *out, const char *title)
{
	/* Its warnings about flat series (no writeback, no pool) are noise; a failure is said. */
	FILE *g = popen("gnuplot 2>/dev/null", "w");

	if (!g) {
		fprintf(stderr, "reservoir: cannot run gnuplot: %s\n", strerror(errno));
		return 1;
	}
	fprintf(g, "set terminal %s\nset output ", terminal_for(out));
	quoted(g, out);
	fprintf(g, "\nset multiplot layout 2,1 title ");
	quoted(g, title);
	fprintf(g, "\nset grid\nset key outside right top\nset xlabel 'virtual time (s)'\n"
		   "set ylabel 'pages'\nset y2label 'pool elements'\nset ytics nomirror\n"
		   "set y2tics\nset y2range [0:*]\nd = ");
	quoted(g, data);
	/* Free pages up to four times the high watermark: the story is near the watermarks. */
	fprintf(g, "\nstats d u 5 nooutput\nset yrange [0:4 * STATS_max]\n"
		   "plot d u 1:2 w l lw 2 lc rgb '#1f77b4' t 'free', "
		   "d u 1:5 w l dt 2 lc rgb '#2ca02c' t 'high', "
		   "d u 1:4 w l dt 2 lc rgb '#ff7f0e' t 'low', "
		   "d u 1:3 w l dt 2 lc rgb '#d62728' t 'min', "
		   "d u 1:6 axes x1y2 w steps lc rgb '#9467bd' t 'pool fill'\n"
		   "set ylabel 'tasks'\nset y2label 'pages'\nset ytics 1\nset yrange [0:*]\n"
		   "plot d u 1:8 w steps lw 2 lc rgb '#d62728' t 'blocked tasks', "
		   "d u 1:11 w steps lc rgb '#000000' t 'OOM kills', "
		   "d u 1:10 axes x1y2 w l lc rgb '#8c564b' t 'writeback', "
		   "d u 1:9 axes x1y2 w l dt 3 lc rgb '#7f7f7f' t 'dirty'\n"
		   "unset multiplot\n");
	if (pclose(g)) {
		fprintf(stderr, "reservoir: gnuplot could not draw '%s' from '%s'\n", out, data);
		return 1;
	}
	return 0;
}

/* The report's wait-for cycle line, or "". */
static void cycle_of(const char *report, char *buf, size_t len)
{
	const char *c = strstr(report, "wait-for cycle: ");
	size_t n;

	buf[0] = 0;
	if (!c)
		return;
	c += strlen("wait-for cycle: ");
	n = strcspn(c, "\n");
	snprintf(buf, len, "wait-for cycle: %.*s", (int)(n < len ? n : len - 1), c);
}

/* Marks an event across the lanes at decision @x. */
static void mark(FILE *g, size_t x, const char *what, unsigned *n)
{
	if (*n >= 24)
		return;
	(*n)++;
	fprintf(g,
		"set arrow from %zu, graph 0 to %zu, graph 1 nohead dt 2 lw 1.5 "
		"lc rgb '#000000' front\n"
		"set label \"%s\" at %zu, graph 1.015 center font ',9' front\n",
		x, x, what, x);
}

/* The lanes below, free memory and the pool above, on one axis of decisions. */
/* The blocks of the plot's table: 0 the samples as sampled, then these two. */
enum { SAMPLES_BY_DECISION = 1, LANES = 2 };

/* @text inside a gnuplot double-quoted string, whose \\n breaks a line. */
static void dquoted_body(FILE *g, const char *text)
{
	for (; *text; text++)
		fprintf(g, *text == '"' || *text == '\\' ? "\\%c" : "%c", *text);
}

static int plot_lanes(const char *data, const char *out, const char *title,
		      const struct sampling *sm, const struct rsv_tool_lanes *l,
		      const struct rsv_scenario_result *r)
{
	char ytics[8192], cycle[512], *label_text = NULL;
	size_t label_len = 0;
	FILE *f, *labels = open_memstream(&label_text, &label_len), *g;
	int nl;
	unsigned marks = 0;
	bool below_min = false, closed;
	long kills = 0;

	if (!labels || !(f = fopen(data, "a"))) {
		fprintf(stderr, "reservoir: cannot write '%s': %s\n", data, strerror(errno));
		if (labels)
			fclose(labels);
		free(label_text);
		return 1;
	}
	fprintf(f, "\n\n# samples: decision, free, min, low, pool_fill\n");
	for (size_t i = 0; i < sm->n; i++)
		fprintf(f, "%zu\t%ld\t%ld\t%ld\t%ld\n", rsv_tool_lanes_at(l, sm->v[i].time_ns),
			sm->v[i].free, sm->v[i].min, sm->v[i].low, sm->v[i].pool_fill);
	fprintf(f, "\n\n");
	nl = rsv_tool_lanes_write(l, f, labels, ytics, sizeof(ytics));
	/* The long waits' names, kept for the script: they come after the top panel's unset. */
	closed = !fclose(labels);
	closed = !fclose(f) && closed;
	if (!closed || nl <= 0) {
		fprintf(stderr, "reservoir: cannot write the lanes to '%s'\n", data);
		free(label_text);
		return 1;
	}
	if (!(g = popen("gnuplot 2>/dev/null", "w"))) {
		fprintf(stderr, "reservoir: cannot run gnuplot: %s\n", strerror(errno));
		free(label_text);
		return 1;
	}
	cycle_of(r->report, cycle, sizeof(cycle));
	fprintf(g, "set terminal %s\nset output ", terminal_for(out));
	quoted(g, out);
	/* Two lines: gnuplot's double-quoted string, whose \\n breaks the line. */
	fprintf(g, "\nset multiplot title \"");
	dquoted_body(g, title);
	if (cycle[0])
		fprintf(g, "\\n");
	dquoted_body(g, cycle);
	fprintf(g, "\"\nd = ");
	quoted(g, data);
	fprintf(g, "\nset lmargin 20\nset rmargin 34\nset xrange [0:%zu]\n", l->decisions);
	/* Top: memory and the pool, on the same axis. */
	fprintf(g,
		"set size 1,0.28\nset origin 0,0.68\nset format x ''\nset grid\n"
		"set key outside right top font ',9'\nset ylabel 'pages'\n"
		"set y2label 'pool'\nset ytics nomirror\nset y2tics\nset yrange [0:*]\n"
		"set y2range [0:*]\n"
		"plot d index %d u 1:2 w steps lw 2 lc rgb '#1f77b4' t 'free', "
		"d index %d u 1:4 w steps dt 2 lc rgb '#ff7f0e' t 'low', "
		"d index %d u 1:3 w steps dt 2 lc rgb '#d62728' t 'min', "
		"d index %d u 1:5 axes x1y2 w steps lc rgb '#9467bd' t 'pool fill'\n",
		SAMPLES_BY_DECISION, SAMPLES_BY_DECISION, SAMPLES_BY_DECISION, SAMPLES_BY_DECISION);
	/* Bottom: the lanes, with what happened marked. */
	fprintf(g,
		"unset label\nset size 1,0.66\nset origin 0,0.02\nunset y2tics\n"
		"unset y2label\nset format x '%%g'\nset ylabel ''\nset grid x\n"
		"set ytics %s font ',9'\nset yrange [%d.6:-0.6]\n"
		"set xlabel 'scheduling decisions (virtual time below each)'\n",
		ytics, nl - 1);
	fprintf(g, "set xtics (");
	for (int i = 0; i <= 6 && l->decisions; i++) {
		size_t x = (size_t)((double)l->decisions * i / 6);
		uint64_t t = l->times[x < l->decisions ? x : l->decisions - 1];

		fprintf(g, "%s\"%zu\\n%.3f s\" %zu", i ? ", " : "", x, (double)t / 1e9, x);
	}
	fprintf(g, ") font ',9'\n");
	for (size_t i = 0; i < sm->n; i++) {
		if (!below_min && sm->v[i].free < sm->v[i].min) {
			below_min = true;
			mark(g, rsv_tool_lanes_at(l, sm->v[i].time_ns), "below min", &marks);
		}
		if (sm->v[i].oom_kills > kills) {
			kills = sm->v[i].oom_kills;
			mark(g, rsv_tool_lanes_at(l, sm->v[i].time_ns), "OOM kill", &marks);
		}
	}
	if (r->verdict != RSV_VERDICT_PROGRESS)
		mark(g, l->decisions, rsv_verdict_name(r->verdict), &marks);
	fputs(label_text, g);
	fprintf(g,
		"plot d index %d u 1:2:3:(0):4 w vectors nohead lw %d lc rgb variable "
		"notitle, ",
		LANES,
		nl > 40   ? 3
		: nl > 20 ? 6
			  : 10);
	rsv_tool_lanes_legend(g);
	fprintf(g, "\nunset multiplot\n");
	free(label_text);
	if (pclose(g)) {
		fprintf(stderr, "reservoir: gnuplot could not draw '%s' from '%s'\n", out, data);
		return 1;
	}
	return 0;
}

/* Can @path be written? Tried by opening it for appending (a file that was not there is
 * removed again), since access() says yes to root whatever the file system says. */
int rsv_tool_check_writable(const char *opt, const char *path)
{
	struct stat st;
	bool existed = !stat(path, &st);
	int fd;

	if (existed && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "reservoir: %s: '%s' is a directory\n", opt, path);
		return 2;
	}
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0) {
		fprintf(stderr, "reservoir: %s: cannot write '%s': %s\n", opt, path,
			strerror(errno));
		return 2;
	}
	close(fd);
	if (!existed)
		unlink(path);
	return 0;
}

/* The picture, and the table beside it that gnuplot draws it from. */
int rsv_tool_check_plot_path(const char *path)
{
	char data[4096];

	if (!terminal_for(path)) {
		fprintf(stderr, "reservoir: --plot: '%s': want a file ending in .svg or .png\n",
			path);
		return 2;
	}
	if (snprintf(data, sizeof(data), "%s.tsv", path) >= (int)sizeof(data)) {
		fprintf(stderr, "reservoir: --plot: path too long\n");
		return 2;
	}
	return rsv_tool_check_writable("--plot", path) || rsv_tool_check_writable("--plot", data)
		       ? 2 : 0;
}

int rsv_tool_timeline_run(const struct rsv_scenario *s, struct rsv_scenario_opts *o,
			  struct rsv_scenario_result *r, const char *trace, const char *plot_to)
{
	char data[4096], title[512], policy[256];
	struct sampling sm = { 0 };
	struct rsv_tool_lanes lanes = { 0 };
	FILE *f;
	int err;

	snprintf(data, sizeof(data), "%s", trace ? trace : plot_to);
	if (!trace)
		snprintf(data + strlen(data), sizeof(data) - strlen(data), ".tsv");
	if (!(f = fopen(data, "w"))) {
		fprintf(stderr, "reservoir: cannot write '%s': %s\n", data, strerror(errno));
		return 1;
	}
	fputs(header, f);
	sm.f = f;
	o->sample_ns = SAMPLE_NS;
	o->sample = write_sample;
	o->sample_arg = &sm;
	/* On the simulator, the lanes too: recording changes nothing in the run. */
	if (plot_to && o->backend == RSV_BACKEND_SIM) {
		o->sched.record = true;
		o->sched.record_lanes = true;
		o->lanes = rsv_tool_lanes_record;
		o->lanes_arg = &lanes;
	}
	err = rsv_scenario_run(s, o, r);
	o->sample = NULL;
	o->lanes = NULL;
	o->sched.record_lanes = false;
	if (fclose(f) || err) {
		free(sm.v);
		rsv_tool_lanes_free(&lanes);
		return 1;
	}
	if (!plot_to) {
		free(sm.v);
		return 0;
	}
	rsv_tool_scenario_policy(s, o, policy, sizeof(policy));
	snprintf(title, sizeof(title), "%s  %s  seed %" PRIu64 ": %s", rsv_scenario_name(s),
		 policy, o->seed, rsv_verdict_name(r->verdict));
	/* Lanes where the simulator recorded them; the sampled panels on real threads. The
	 * lanes' blocks go after the samples in the table, which must then be the plot's own. */
	if (lanes.decisions && trace) {
		/* The trace keeps its one table: the lanes' go to PLOT.tsv, the samples again
		 * first, so that the blocks are where plot_lanes() reads them. */
		snprintf(data, sizeof(data), "%s.tsv", plot_to);
		if (!(f = fopen(data, "w"))) {
			fprintf(stderr, "reservoir: cannot write '%s': %s\n", data,
				strerror(errno));
			err = 1;
			goto out;
		}
		fputs(header, f);
		for (size_t i = 0; i < sm.n; i++)
			print_sample(f, &sm.v[i]);
		if (fclose(f)) {
			err = 1;
			goto out;
		}
	}
	if (lanes.decisions)
		err = plot_lanes(data, plot_to, title, &sm, &lanes, r);
	else
		err = plot(data, plot_to, title);
out:
	free(sm.v);
	rsv_tool_lanes_free(&lanes);
	return err;
}
