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

static void write_sample(void *arg, const struct rsv_scenario_sample *s)
{
	fprintf(arg, "%.6f\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\t%ld\n",
		(double)s->time_ns / 1e9, s->free, s->min, s->low, s->high, s->pool_fill,
		s->pool_size, s->blocked, s->dirty, s->writeback, s->oom_kills, s->progress);
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
	o->sample_ns = SAMPLE_NS;
	o->sample = write_sample;
	o->sample_arg = f;
	err = rsv_scenario_run(s, o, r);
	o->sample = NULL;
	if (fclose(f) || err)
		return 1;
	if (!plot_to)
		return 0;
	rsv_tool_scenario_policy(s, o, policy, sizeof(policy));
	snprintf(title, sizeof(title), "%s  %s  seed %" PRIu64 ": %s", rsv_scenario_name(s),
		 policy, o->seed, rsv_verdict_name(r->verdict));
	return plot(data, plot_to, title);
}
