/* What the Linux kernel gives a storage daemon, and how reservoir uses it: the arena locked in
 * memory or a refusal that names RLIMIT_MEMLOCK, PR_SET_IO_FLUSHER inherited by the threads a
 * daemon makes later and a report for the worker that runs without it, PSI triggers waking
 * kswapd early, and a default arena that fits the cgroup's memory.max. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include "helpers.h"
#include "reclaim/internal.h"

TestSuite(host, .timeout = 60);

/* ---- mlock ---- */

/* A limit of 64 KiB, and no CAP_IPC_LOCK to pass it (root gives it up by becoming nobody; the
 * test runs in its own process). */
static void lower_memlock_limit(void)
{
	struct rlimit rl = { 64 << 10, 64 << 10 };

	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	if (getuid() == 0)
		cr_assert_eq(setuid(65534), 0, "dropping root: %s", strerror(errno));
}

Test(host, mlock_refused_names_the_limit_and_makes_no_system)
{
	struct rsv_system_config c = { .backend = RSV_BACKEND_SIM,
				       .nr_pages = 1024,
				       .mlock = true };

	lower_memlock_limit();
	cr_assert_null(rsv_system_create(&c));
	cr_assert(errno == ENOMEM || errno == EPERM || errno == EAGAIN, "errno %d", errno);
	cr_assert(strstr(rsv_system_create_error(), "RLIMIT_MEMLOCK is 64 KiB") &&
			  strstr(rsv_system_create_error(), "ulimit -l") &&
			  strstr(rsv_system_create_error(), "mlock_optional"),
		  "%s", rsv_system_create_error());
}

Test(host, mlock_optional_goes_on_unlocked_and_says_why)
{
	struct rsv_system_config c = {
		.backend = RSV_BACKEND_OS, .nr_pages = 1024, .mlock = true, .mlock_optional = true
	};
	struct rsv_system *sys;
	int r;

	lower_memlock_limit();
	cr_assert_not_null(sys = rsv_system_create(&c), "%s", rsv_system_create_error());
	r = rsv_system_mlocked(sys);
	cr_assert(r == -ENOMEM || r == -EPERM || r == -EAGAIN, "mlocked %d", r);
	teardown_whole(sys);
}

Test(host, mlock_within_the_limit_locks_arena_and_descriptors)
{
	struct rsv_system_config c = { .backend = RSV_BACKEND_OS, .nr_pages = 64, .mlock = true };
	struct rlimit rl = { 4 << 20, 4 << 20 };
	struct rsv_system *sys;

	cr_assert_eq(setrlimit(RLIMIT_MEMLOCK, &rl), 0);
	cr_assert_not_null(sys = rsv_system_create(&c), "%s", rsv_system_create_error());
	cr_assert_eq(rsv_system_mlocked(sys), 1);
	teardown_whole(sys);
}

Test(host, a_bad_config_is_named_by_create_error)
{
	struct rsv_system_config c = { .backend = RSV_BACKEND_SIM, .nr_pages = 8 };

	cr_assert_null(rsv_system_create(&c));
	cr_assert_eq(errno, EINVAL);
	cr_assert(strstr(rsv_system_create_error(), "nr_pages 8 is not in 16.."), "%s",
		  rsv_system_create_error());
	c.nr_pages = 64;
	c.attach_flags = RSV_PF_MEMALLOC;
	cr_assert_null(rsv_system_create(&c));
	cr_assert(strstr(rsv_system_create_error(), "attach_flags"), "%s",
		  rsv_system_create_error());
	c.attach_flags = 0;
	struct rsv_system *sys = rsv_system_create(&c);

	cr_assert_not_null(sys);
	cr_assert_str_eq(rsv_system_create_error(), "", "a success clears it");
	teardown_whole(sys);
}

/* ---- PR_SET_IO_FLUSHER, inherited and checked ---- */

struct inherit {
	int child, kthread;
};

static int report_flusher(void *arg)
{
	*(int *)arg = rsv_task_get_io_flusher();
	return 0;
}

static int parent(void *arg)
{
	struct inherit *in = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	rsv_task_set_io_flusher(true, NULL);
	cr_assert_not_null(rsv_task_create(sys, "worker", report_flusher, &in->child));
	cr_assert_not_null(rsv_kthread_create(sys, "kworker", report_flusher, &in->kthread));
	return 0;
}

/* copy_process() copies the flags: a daemon's later worker is an I/O flusher if the thread
 * that made it was; a kernel thread starts clean. */
Test(host, io_flusher_is_inherited_by_created_tasks_not_kthreads)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct inherit in = { -1, -1 };

	cr_assert_not_null(rsv_task_create(sys, "daemon", parent, &in));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(in.child, 1, "the child inherits PR_SET_IO_FLUSHER");
	cr_assert_eq(in.kthread, 0, "a kthread does not");
	teardown_whole(sys);
}

/* A daemon's own thread pool (nbdkit's, say) adopts its threads with rsv_task_attach(). */
Test(host, attach_flags_make_every_adopted_thread_an_io_flusher)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.backend = RSV_BACKEND_OS, .nr_pages = 256, .attach_flags = RSV_PF_IO_FLUSHER });

	cr_assert_not_null(sys, "%s", rsv_system_create_error());
	rsv_task_attach(sys, "pool thread");
	cr_assert_eq(rsv_task_get_io_flusher(), 1);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_NOIO);
	rsv_task_detach();
	teardown_whole(sys);
}

/* The ublksrv mistake, prctl(PR_SET_IO_FLUSHER, 0) in a worker of the I/O path: its first
 * allocation whose reclaim may issue I/O is named, once; NOIO ones and an I/O flusher's are
 * not. */
Test(host, a_worker_of_an_io_path_allocating_with_io_is_named_once)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_page *p;

	rsv_task_attach(sys, "late worker");
	cr_assert_eq(rsv_task_serve_io("ublk0 queue 3"), 0);
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_NOIO, 0));
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0, "GFP_NOIO is fine");
	rsv_task_set_io_flusher(true, NULL);
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_KERNEL, 0));
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 0, "an I/O flusher's GFP_KERNEL is NOIO");
	rsv_task_set_io_flusher(false, NULL); /* prctl(PR_SET_IO_FLUSHER, 0) */
	cr_assert_not_null(p = rsv_alloc_pages(RSV_GFP_KERNEL, 0));
	rsv_free_pages(p, 0);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 1);
	cr_assert(strstr(rsv_system_error(sys), "\"late worker\" serves the I/O path \"ublk0 queue "
						"3\"") &&
			  strstr(rsv_system_error(sys), "rsv_task_set_io_flusher()"),
		  "%s", rsv_system_error(sys));
	void *obj = rsv_kmalloc(64, RSV_GFP_KERNEL);

	rsv_kfree(obj);
	cr_assert_eq(rsv_stats_get(sys, RSV_STAT_MISUSE), 1, "named once per task");
	cr_assert_eq(rsv_task_serve_io(NULL), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

/* ---- PSI ---- */

Test(host, psi_is_armed_where_the_kernel_has_it_and_explained_where_not)
{
	struct rsv_system_config c = { .backend = RSV_BACKEND_OS, .nr_pages = 256, .psi = true };
	struct rsv_system *sys;
	const char *why;
	int state;

	cr_assert_not_null(sys = rsv_system_create(&c));
	state = rsv_system_psi(sys, NULL, &why);
	/* Unprivileged triggers need a 5.10-or-so kernel; an older one refuses the write. */
	if (access("/proc/pressure/memory", W_OK) == 0)
		cr_assert(state == 1 || (state < 0 && strstr(why, "refused")), "%d: %s", state,
			  why);
	else
		cr_assert(state < 0 && strstr(why, "kswapd is woken by allocations only"), "%s",
			  why);
	teardown_whole(sys);
	c.psi_path = "/nonexistent/pressure/memory";
	cr_assert_not_null(sys = rsv_system_create(&c), "no PSI never fails the system");
	cr_assert_eq(rsv_system_psi(sys, NULL, &why), -ENOENT);
	cr_assert(strstr(why, "/nonexistent/pressure/memory") && strstr(why, "CONFIG_PSI"), "%s",
		  why);
	teardown_whole(sys);
	c.backend = RSV_BACKEND_SIM;
	c.psi_path = NULL;
	cr_assert_not_null(sys = rsv_system_create(&c));
	cr_assert_eq(rsv_system_psi(sys, NULL, &why), -EOPNOTSUPP, "%s", why);
	teardown_whole(sys);
	sys = test_system(RSV_BACKEND_SIM, 256, 1);
	cr_assert_eq(rsv_system_psi(sys, NULL, NULL), 0, "not asked");
	teardown_whole(sys);
}

struct boost {
	struct rsv_mapping *cache;
	unsigned long before, after;
};

static int pressure_reported(void *arg)
{
	struct boost *b = arg;
	struct rsv_system *sys = rsv_task_system(rsv_task_current());

	b->before = rsv_system_free_pages(sys);
	rsv__psi_boost(sys); /* what the monitor does when the trigger fires */
	rsv_msleep(1000);
	b->after = rsv_system_free_pages(sys);
	return 0;
}

/* A trigger firing makes kswapd reclaim the arena's cache past the high watermark, by the
 * kernel's watermark_boost_factor, while nothing in the arena asked for memory. */
Test(host, memory_pressure_makes_kswapd_reclaim_past_high)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 1024, 1);
	struct rsv_watermarks wm;
	struct boost b = { 0 };

	rsv_system_watermarks(sys, &wm);
	rsv_task_attach(sys, "setup");
	b.cache = rsv_mapping_create(sys, RSV_MAPPING_FILE, "cache", NULL, 0);
	while (rsv_system_free_pages(sys) > wm.high + 20)
		cr_assert_not_null(rsv_mapping_add_page(b.cache, RSV_GFP_KERNEL,
							rsv_mapping_nr_pages(b.cache)));
	rsv_task_detach();
	cr_assert_not_null(rsv_task_create(sys, "psi", pressure_reported, &b));
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_leq(b.before, wm.high + 20);
	cr_assert_geq(b.after, wm.high + wm.high * 150 / 100, "free %lu after, high %lu", b.after,
		      wm.high);
	cr_assert_eq(atomic_load(&rsv__reclaim(sys)->boost), 0, "the boost is gone");
	rsv_task_attach(sys, "teardown");
	rsv_mapping_destroy(b.cache);
	rsv_task_detach();
	teardown_whole(sys);
}

/* ---- cgroup v2 memory.max ---- */

static void write_file(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "%s", path);
	fputs(text, f);
	fclose(f);
}

/* A fake /proc/self/cgroup and hierarchy: the tightest memory.max from the process's cgroup
 * up to the root counts. */
Test(host, cgroup_memory_max_is_the_tightest_up_to_the_root)
{
	char dir[] = "/tmp/rsv_cgroupXXXXXX", path[256], self[256];
	uint64_t limit = 0;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/system.slice", dir);
	mkdir(path, 0755);
	snprintf(path, sizeof(path), "%s/system.slice/nbd.service", dir);
	mkdir(path, 0755);
	snprintf(self, sizeof(self), "%s/self_cgroup", dir);
	write_file(self, "12:memory:/ignored/v1\n0::/system.slice/nbd.service\n");
	snprintf(path, sizeof(path), "%s/system.slice/memory.max", dir);
	write_file(path, "268435456\n"); /* 256 MiB on the slice */
	snprintf(path, sizeof(path), "%s/system.slice/nbd.service/memory.max", dir);
	write_file(path, "max\n");
	cr_assert_eq(rsv_cgroup_memory_max(self, dir, &limit), 0);
	cr_assert_eq(limit, 268435456ULL);
	write_file(path, "33554432\n"); /* 32 MiB on the service */
	cr_assert_eq(rsv_cgroup_memory_max(self, dir, &limit), 0);
	cr_assert_eq(limit, 33554432ULL);
	cr_assert_eq(rsv_default_arena_pages(limit), 2048, "a quarter of 32 MiB");
	cr_assert_eq(rsv_default_arena_pages(UINT64_MAX), RSV_DEFAULT_ARENA_PAGES);
	cr_assert_eq(rsv_default_arena_pages(1 << 20), 64, "a quarter of 1 MiB");
	cr_assert_eq(rsv_default_arena_pages(128 << 10), RSV_MIN_ARENA_PAGES,
		     "never below the minimum");
	cr_assert_eq(rsv_default_arena_pages(1ULL << 40), RSV_DEFAULT_ARENA_PAGES);
	write_file(self, "4:memory:/only/v1\n");
	cr_assert_eq(rsv_cgroup_memory_max(self, dir, &limit), -ENOENT, "cgroup v1 only");
	write_file(path, "lots\n");
	write_file(self, "0::/system.slice/nbd.service\n");
	snprintf(path, sizeof(path), "%s/system.slice/memory.max", dir);
	write_file(path, "max\n");
	cr_assert_eq(rsv_cgroup_memory_max(self, dir, &limit), 0, "a bad file is passed over");
	cr_assert_eq(limit, UINT64_MAX);
	snprintf(path, sizeof(path), "rm -rf %s", dir);
	cr_assert_eq(system(path), 0);
}

/* This machine's own cgroup (v1 here: no memory.max): the os default is the plain default. */
Test(host, default_arena_on_this_machine_respects_its_cgroup)
{
	struct rsv_system *sys = rsv_system_create(
		&(struct rsv_system_config){ .backend = RSV_BACKEND_OS });
	uint64_t limit = UINT64_MAX;

	cr_assert_not_null(sys);
	rsv_cgroup_memory_max(NULL, NULL, &limit);
	cr_assert_eq(rsv_system_nr_pages(sys), rsv_default_arena_pages(limit));
	teardown_whole(sys);
	sys = rsv_system_create(&(struct rsv_system_config){ .backend = RSV_BACKEND_SIM });
	cr_assert_eq(rsv_system_nr_pages(sys), RSV_DEFAULT_ARENA_PAGES, "the simulator never asks");
	teardown_whole(sys);
}

/* ---- a daemon's thread churn ---- */

#define CHURN 3000

static struct rsv_system *churn_sys;
static struct rsv_mempool *churn_pool;

static void *connection_thread(void *arg)
{
	void *obj, *e;

	(void)arg;
	if (!rsv_task_attach(churn_sys, "connection"))
		return (void *)1;
	obj = rsv_kmalloc(128, RSV_GFP_KERNEL);
	e = rsv_mempool_alloc(churn_pool, RSV_GFP_NOIO);
	rsv_kfree(obj);
	rsv_mempool_free(e, churn_pool);
	rsv_task_detach();
	return obj && e ? NULL : (void *)1;
}

static unsigned nr_task_records(struct rsv_system *sys)
{
	struct rsv_list *pos;
	unsigned n = 0;

	rsv_list_for_each(pos, &sys->tasks)
		n++;
	return n;
}

/* A server that makes a thread per connection adopts each: the records of those that ended are
 * reused, so the system keeps as many as it had threads at once, and what they counted stays
 * counted. */
Test(host, adopted_threads_that_come_and_go_reuse_their_records)
{
	struct rsv_mempool_stats st;
	unsigned before;

	churn_sys = test_system(RSV_BACKEND_OS, 1024, 1);
	rsv_task_attach(churn_sys, "setup");
	churn_pool = rsv_mempool_create_kmalloc_pool(churn_sys, 4, 64);
	cr_assert_not_null(churn_pool);
	rsv_task_detach();
	before = nr_task_records(churn_sys);
	for (int i = 0; i < CHURN; i++) {
		pthread_t th;
		void *ret;

		cr_assert_eq(pthread_create(&th, NULL, connection_thread, NULL), 0);
		pthread_join(th, &ret);
		cr_assert_null(ret, "connection %d failed", i);
	}
	cr_assert_leq(nr_task_records(churn_sys), before + 2, "%u records after %d threads",
		      nr_task_records(churn_sys), CHURN);
	cr_assert_eq(rsv_stats_get(churn_sys, RSV_STAT_MISUSE), 0, "%s",
		     rsv_system_error(churn_sys));
	rsv_mempool_stats(churn_pool, &st);
	cr_assert_eq(st.from_backing + st.from_pool, CHURN, "every allocation counted");
	cr_assert_eq(rsv_mempool_curr_nr(churn_pool), 4, "every element came back");
	cr_assert_eq(rsv_system_check(churn_sys, 0), 0, "%s", rsv_system_error(churn_sys));
	rsv_task_attach(churn_sys, "teardown");
	rsv_mempool_destroy(churn_pool);
	rsv_task_detach();
	teardown_whole(churn_sys);
}
