/* reservoir: the command-line front end.
 *
 *   reservoir demo [--seed N]   the page allocator under pressure on both backends, and the
 *                               simulator finding, explaining and replaying a deadlock
 *   reservoir version
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <reservoir.h>
#include "tool.h"

static int usage(FILE *out)
{
	fprintf(out, "usage: reservoir demo [--seed N]\n"
		     "       reservoir version\n");
	return out == stderr ? 2 : 0;
}

static int parse_seed(const char *s, uint64_t *seed)
{
	char *end;

	errno = 0;
	*seed = strtoull(s, &end, 0);
	if (errno || !*s || *end || *s == '-') {
		fprintf(stderr, "reservoir: malformed seed '%s' (want a non-negative integer)\n", s);
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t seed = 1;

	if (argc < 2)
		return usage(stderr);
	if (!strcmp(argv[1], "version")) {
		printf("reservoir %s\n", rsv_version());
		return 0;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "--help"))
		return usage(stdout);
	if (strcmp(argv[1], "demo")) {
		fprintf(stderr, "reservoir: unknown command '%s' (valid: demo, version, help)\n",
			argv[1]);
		return 2;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			if (parse_seed(argv[++i], &seed))
				return 2;
		} else {
			fprintf(stderr, "reservoir: unknown option '%s' (valid: --seed N)\n", argv[i]);
			return 2;
		}
	}
	return rsv_tool_demo(seed);
}
