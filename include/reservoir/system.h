/* reservoir/system.h: one simulated machine: its arena ("physical memory"), zone and
 * watermarks, policies, tasks and platform backend. A process may hold several.
 *
 * Context: rsv_system_create() and rsv_system_destroy() from a thread that is no task of the
 * system (destroy joins its service threads); the accessors and counters from any thread. */
#ifndef RESERVOIR_SYSTEM_H
#define RESERVOIR_SYSTEM_H

#include "defs.h"
#include "sync.h"
#include "policy.h"

struct rsv_system;

/* What a misuse (double free, foreign pointer, bad order...) does. */
enum rsv_misuse_mode {
	RSV_MISUSE_DEFAULT = 0, /* abort in debug builds, return an error otherwise */
	RSV_MISUSE_RETURN,      /* count it, record the message, return -EINVAL / NULL */
	RSV_MISUSE_ABORT,       /* print the message and abort() */
};

struct rsv_system_config {
	/* Arena size in 4 KiB pages. 0: RSV_DEFAULT_ARENA_PAGES, and on the os backend no more
	 * than a quarter of the process's cgroup v2 memory.max (rsv_default_arena_pages()). */
	unsigned long nr_pages;
	enum rsv_backend backend;
	uint64_t seed;
	uint64_t time_limit_ns;          /* sim: end the run after this much virtual time */
	unsigned min_free_kbytes;        /* 0 = int_sqrt(lowmem_kB * 16) clamped to [128, 262144] */
	unsigned watermark_scale_factor; /* 0 = 10; valid 1..3000 */
	unsigned pcp_batch, pcp_high;    /* per-task page cache; 0 = sized from the arena */
	bool pcp_locked;                 /* caches take a spinlock on every use, as the kernel's
					  * do, instead of the membarrier-based protocol */
	/* Lock the arena and its page descriptors in memory (mlock2() with MLOCK_ONFAULT where
	 * the kernel has it: each page is locked as it is first touched). If the kernel refuses
	 * (RLIMIT_MEMLOCK too low, no CAP_IPC_LOCK), rsv_system_create() fails and
	 * rsv_system_create_error() names the limit and how to raise it; with mlock_optional
	 * the system goes on unlocked and rsv_system_mlocked() says why. */
	bool mlock;
	bool mlock_optional;
	/* RSV_PF_* flags every thread rsv_task_attach() adopts starts with: RSV_PF_IO_FLUSHER
	 * for a daemon whose own thread pool serves I/O (each then also asks the kernel's
	 * PR_SET_IO_FLUSHER on the os backend). Only RSV_PF_IO_FLUSHER's bits are accepted. */
	unsigned attach_flags;
	/* os backend: kswapd also woken, its target raised past high, when the Linux kernel
	 * reports memory pressure (a PSI trigger on psi_path, NULL: /proc/pressure/memory).
	 * Where PSI is missing the system is made without it: rsv_system_psi() says why. */
	bool psi;
	const char *psi_path;
	unsigned dirty_ratio;            /* % of dirtyable memory; 0 = 20 */
	unsigned dirty_background_ratio; /* 0 = 10 */
	unsigned long dirty_thresh_pages; /* the dirty limit in pages, overriding the ratio */
	/* Periodic writeback (the flusher's kupdate work), in virtual time on the simulator: a
	 * file whose pages have been dirty longer than dirty_expire_centisecs is written back
	 * at the next round, every dirty_writeback_centisecs while anything is dirty. */
	unsigned dirty_expire_centisecs;    /* 0 = RSV_DIRTY_EXPIRE_CENTISECS */
	unsigned dirty_writeback_centisecs; /* 0 = RSV_DIRTY_WRITEBACK_CENTISECS */
	enum rsv_misuse_mode misuse;
	/* What a panic does. The kernel panics when an allocation that may not fail (order <=
	 * 3, GFP_KERNEL) finds nothing the OOM killer may kill ("Out of memory and no killable
	 * processes"); so does a system here, instead of returning NULL: the message goes to
	 * the platform report and rsv_system_panicked(), @panic is called once with it from the
	 * panicking task, the run stops (rsv_system_run() returns RSV_RUN_STOPPED; on real
	 * threads the system is abandoned, see there), and the panicking task never returns
	 * from its allocation, as a panicked CPU never does. @panic may exit or longjmp. With no
	 * @panic the process aborts with the message on stderr. */
	void (*panic)(void *arg, const char *msg);
	void *panic_arg;
	struct rsv_policy policy;
	struct rsv_sched_config sched;   /* sim: who runs next (reservoir/platform.h); 0: random */
	struct rsv_workspace *workspace; /* mappings lent for this system's life (platform.h) */
};

struct rsv_watermarks {
	unsigned long min, low, high;
	unsigned long managed;
	unsigned min_free_kbytes;
};

#define RSV_DIRTY_EXPIRE_CENTISECS 3000   /* the kernel's vm.dirty_expire_centisecs */
#define RSV_DIRTY_WRITEBACK_CENTISECS 500 /* vm.dirty_writeback_centisecs */

#define RSV_DEFAULT_ARENA_PAGES 4096UL /* 16 MiB, when nr_pages is 0 (see below) */
#define RSV_MIN_ARENA_PAGES 16UL
#define RSV_MAX_ARENA_PAGES (1UL << 28) /* 1 TiB */

/* A system as @cfg says (NULL: every default): its arena mapped (and locked with mlock), its
 * service tasks started (kswapd, the flusher, the OOM reaper; PSI's monitor if asked). Any
 * thread that is not a task of another system. NULL with errno, and the reason in words in
 * rsv_system_create_error(): EINVAL for a field out of range, ENOMEM, or mlock's error. */
RSV_API struct rsv_system *rsv_system_create(const struct rsv_system_config *cfg);
/* The memory limit cgroup v2 puts on the calling process: the smallest memory.max from its
 * cgroup up to the root, its cgroup read from @proc_cgroup (NULL: /proc/self/cgroup, the
 * "0::" line) under the hierarchy mounted at @mount (NULL: /sys/fs/cgroup). 0 with *@bytes
 * (UINT64_MAX: "max" all the way up); -ENOENT without a cgroup v2 entry or any memory.max
 * (cgroup v1, or the memory controller not enabled); another -errno for a file unread. */
RSV_API int rsv_cgroup_memory_max(const char *proc_cgroup, const char *mount, uint64_t *bytes);
/* The default arena under a memory limit of @limit bytes (UINT64_MAX: none):
 * RSV_DEFAULT_ARENA_PAGES, or a quarter of the limit where that is less (at least
 * RSV_MIN_ARENA_PAGES), leaving the rest to the program around the arena. */
RSV_API unsigned long rsv_default_arena_pages(uint64_t limit);
/* Why the calling thread's last rsv_system_create() returned NULL, in one line ("" if it did
 * not fail): the field out of range, the mlock refused and the limit to raise. */
RSV_API const char *rsv_system_create_error(void);
/* Frees everything, once every task has returned; an abandoned system is left alone. */
RSV_API void rsv_system_destroy(struct rsv_system *sys);
/* Runs the system's tasks: sim, schedules them until done, deadlock, the time limit or
 * rsv_platform_stop() (a watchdog with stop_run, a panic); os, waits until all have returned
 * or rsv_platform_stop() is called. In that last case the run returns RSV_RUN_STOPPED at
 * once, with the tasks still in it: each freezes for good the next time it sleeps or wakes,
 * as panic() stops the other CPUs, so that the watchdog's report, the counters and the
 * blocked chain can be read in peace from a thread attached afterwards. The system is then
 * abandoned: its frozen tasks use its memory, so rsv_system_destroy() frees nothing, and the
 * process should say what it found and exit. */
RSV_API enum rsv_run_result rsv_system_run(struct rsv_system *sys);
/* The panic message, or NULL while the system has not panicked. */
RSV_API const char *rsv_system_panicked(const struct rsv_system *sys);
/* After a run stopped on real threads with tasks still in it (above). */
RSV_API bool rsv_system_abandoned(const struct rsv_system *sys);
/* For objects built over a system by its tasks (a filesystem, a buffer cache): @destroy runs
 * at rsv_system_destroy(), once every task has stopped (perhaps in the middle of the object's
 * own code, on a deadlocked run) and before the devices, mappings and arena go. It must free
 * only what is outside the arena. */
struct rsv_system_object {
	void (*destroy)(struct rsv_system_object *o);
	struct rsv_list node;
};
/* For object implementations: @o's destroy runs when the system goes, newest first.
 * rsv_system_platform(): the system's platform (reports, schedules); rsv_system_policy(): the
 * policies it runs under. */
RSV_API void rsv_system_add_object(struct rsv_system *sys, struct rsv_system_object *o);
RSV_API struct rsv_platform *rsv_system_platform(struct rsv_system *sys);
RSV_API const struct rsv_policy *rsv_system_policy(const struct rsv_system *sys);
/* The arena's first byte, and in *@bytes (may be NULL) its length: whether a pointer is the
 * system's (an allocator beside another, as the malloc drop-in, routes frees by it). */
RSV_API void *rsv_system_arena(const struct rsv_system *sys, size_t *bytes);
/* The configuration the system was created with (its defaults filled in). */
RSV_API const struct rsv_system_config *rsv_system_config(const struct rsv_system *sys);
RSV_API void rsv_system_watermarks(const struct rsv_system *sys, struct rsv_watermarks *out);
/* Replaces the computed watermarks (scenarios that need exact numbers). -EINVAL unless
 * min <= low <= high <= managed. */
RSV_API int rsv_system_set_watermarks(struct rsv_system *sys, unsigned long min,
				      unsigned long low, unsigned long high);
RSV_API unsigned long rsv_system_nr_pages(const struct rsv_system *sys);
/* Free pages in the buddy allocator (NR_FREE_PAGES; per-task caches not included). */
RSV_API unsigned long rsv_system_free_pages(const struct rsv_system *sys);
/* The PSI monitor (cfg.psi): 1 armed, 0 not asked, -errno unavailable, with the reason in
 * *@why (may be NULL); *@events (may be NULL): how often it has fired. */
RSV_API int rsv_system_psi(const struct rsv_system *sys, uint64_t *events, const char **why);
/* 1 if the arena is mlocked, 0 if not asked, -errno if mlock() failed. */
RSV_API int rsv_system_mlocked(const struct rsv_system *sys);

#define RSV_CHECK_WHOLE 0x1u /* also require every page free and fully coalesced */
/* Verifies that every page is in exactly one state, per page and in totals: free in the
 * buddy, in one task's page cache, or allocated. Call at a quiescent point. 0, or -EUCLEAN
 * with the first inconsistency in rsv_system_error(). */
RSV_API int rsv_system_check(struct rsv_system *sys, unsigned flags);
/* The last check failure or misuse message, "" if none. */
RSV_API const char *rsv_system_error(const struct rsv_system *sys);

#endif
