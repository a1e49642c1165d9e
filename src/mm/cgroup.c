/* The memory limit cgroup v2 puts on the process (memory.max), and the default arena that
 * respects it: a daemon started in a container or a systemd unit with MemoryMax= must not make
 * an arena its cgroup cannot hold, or the kernel's OOM killer ends it for reservoir's sake.
 * Only the os backend asks: a simulated run must not depend on the host it runs on. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mm/internal.h"

/* memory.max of one cgroup directory: 0 and *@bytes (UINT64_MAX for "max"), or -errno. */
static int read_max(const char *dir, uint64_t *bytes)
{
	char path[PATH_MAX], word[64], *end;
	unsigned long long v;
	FILE *f;
	int ok;

	if (snprintf(path, sizeof(path), "%s/memory.max", dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	if (!(f = fopen(path, "re")))
		return -errno;
	ok = fscanf(f, "%63s", word) == 1;
	fclose(f);
	if (!ok)
		return -EINVAL;
	if (!strcmp(word, "max")) {
		*bytes = UINT64_MAX;
		return 0;
	}
	errno = 0;
	v = strtoull(word, &end, 10);
	if (errno || *end || word[0] == '-')
		return -EINVAL;
	*bytes = v;
	return 0;
}

int rsv_cgroup_memory_max(const char *proc_cgroup, const char *mount, uint64_t *bytes)
{
	char line[PATH_MAX], dir[PATH_MAX], *rel = NULL;
	uint64_t limit = UINT64_MAX, v = UINT64_MAX;
	bool found = false;
	FILE *f;

	if (!bytes)
		return -EINVAL;
	if (!(f = fopen(proc_cgroup ? proc_cgroup : "/proc/self/cgroup", "re")))
		return -errno;
	/* cgroup v2's line is "0::/path"; v1 controllers have their own numbers. */
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "0::", 3)) {
			rel = line + 3;
			rel[strcspn(rel, "\n")] = 0;
			break;
		}
	fclose(f);
	if (!rel)
		return -ENOENT;
	/* The tightest limit from the process's cgroup up to the root (the root has none). */
	for (;;) {
		int n = snprintf(dir, sizeof(dir), "%s%s", mount ? mount : "/sys/fs/cgroup", rel);
		char *slash;

		if (n >= (int)sizeof(dir))
			return -ENAMETOOLONG;
		if (!read_max(dir, &v)) {
			found = true;
			if (v < limit)
				limit = v;
		}
		if (!rel[0] || !strcmp(rel, "/"))
			break;
		slash = strrchr(rel, '/');
		*slash = 0; /* one level up; "" is the root */
	}
	if (!found)
		return -ENOENT;
	*bytes = limit;
	return 0;
}

unsigned long rsv_default_arena_pages(uint64_t limit)
{
	unsigned long pages = RSV_DEFAULT_ARENA_PAGES;
	uint64_t quarter = limit / 4 / RSV_PAGE_SIZE;

	if (limit != UINT64_MAX && quarter < pages)
		pages = quarter < RSV_MIN_ARENA_PAGES ? RSV_MIN_ARENA_PAGES
						      : (unsigned long)quarter;
	return pages;
}
