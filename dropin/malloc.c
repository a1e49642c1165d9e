/* libreservoir-malloc.so: the C library's malloc family over reservoir, for programs that were
 * not written against it (LD_PRELOAD=libreservoir-malloc.so, or linked).
 *
 * One system on real threads with kswapd running; every thread that allocates becomes a task
 * of it at its first call and leaves it when it ends (its record is reused by the next thread,
 * see rsv_task_attach()). Sizes up to RSV_KMALLOC_MAX_SIZE (4 MiB) come from rsv_kmalloc()
 * with GFP_KERNEL | __GFP_NORETRY: a program under its budget gets reclaim, and past it
 * malloc() returns NULL with ENOMEM, never the OOM killer or a panic inside the library.
 * Larger blocks, and everything when the system could not be made, come from the C library,
 * as do reservoir's own bookkeeping (a thread-local depth says when reservoir is the caller)
 * and its service threads' allocations. A free is routed by address: the arena's pointers to
 * rsv_kfree(), whose checks abort on a double or foreign free with reservoir's message
 * (misuse mode abort), the rest to the C library; realloc() and malloc_usable_size() check
 * the same way that their block is one handed out.
 *
 *   RSV_ARENA=512M   the arena (K, M, G suffixes); default half the cgroup v2 memory.max,
 *                    at most 1 GiB
 *   RSV_STATS=1      the allocator's statistics on standard error at exit
 *
 * fork(): the child has one thread, and reservoir's locks may have been held by others, so the
 * child takes everything from the C library from then on and leaves the parent's arena
 * objects alone (a free of one is a no-op: the child's copy of the arena is never reused). */
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <reservoir.h>
#include "pool/internal.h"

#define EXPORT __attribute__((visibility("default")))

/* glibc's own entry points, exported for exactly this. */
extern void *__libc_malloc(size_t size);
extern void *__libc_calloc(size_t n, size_t size);
extern void *__libc_realloc(void *p, size_t size);
extern void *__libc_memalign(size_t align, size_t size);
extern void __libc_free(void *p);

enum state { UNINIT, INITIALIZING, READY, LIBC_ONLY };

static _Atomic int state = UNINIT;
static struct rsv_system *sys;
static uintptr_t arena_start, arena_end;
static pthread_key_t thread_key;
static _Atomic uint64_t large_from_libc, libc_fallbacks;

static __thread unsigned in_rsv; /* > 0 while reservoir runs: its allocations go to libc */
static __thread bool attached;   /* this thread is a task of the system */

#define GFP (RSV_GFP_KERNEL | RSV___GFP_NORETRY | RSV___GFP_NOWARN)
#define MIN_SIZE 16 /* max_align_t: malloc's alignment on x86-64 */

static inline bool in_arena(const void *p)
{
	return (uintptr_t)p - arena_start < arena_end - arena_start;
}

/* "512M", "1G", "65536K", "1073741824": bytes, or 0 for anything else. */
static uint64_t parse_size(const char *s)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || end == s)
		return 0;
	switch (*end) {
	case 'k':
	case 'K':
		v <<= 10, end++;
		break;
	case 'm':
	case 'M':
		v <<= 20, end++;
		break;
	case 'g':
	case 'G':
		v <<= 30, end++;
		break;
	default:
		break;
	}
	return *end ? 0 : v;
}

static void thread_exit(void *unused)
{
	(void)unused;
	if (!attached)
		return;
	in_rsv++;
	rsv_task_detach();
	attached = false;
	in_rsv--;
}

static void after_fork_child(void)
{
	atomic_store(&state, LIBC_ONLY);
	attached = false;
}

static void print_stats(void)
{
	/* A forked child inherits the handler, not the threads that may have held the locks the
	 * statistics take: only the process that made the arena reports on it. */
	if (atomic_load(&state) != READY)
		return;
	in_rsv++;
	fprintf(stderr,
		"reservoir-malloc: arena %lu pages (%lu MiB), %lu free at exit; %llu blocks over "
		"4 MiB and %llu other calls served by the C library\n",
		rsv_system_nr_pages(sys), rsv_system_nr_pages(sys) >> 8, rsv_system_free_pages(sys),
		(unsigned long long)atomic_load(&large_from_libc),
		(unsigned long long)atomic_load(&libc_fallbacks));
	rsv_stats_print(sys, stderr, false);
	in_rsv--;
}

/* Made by the first call: the arena from RSV_ARENA or the cgroup's limit. Another thread
 * calling meanwhile is served by the C library. */
static void init(void)
{
	int expect = UNINIT;
	const char *env = getenv("RSV_ARENA");
	uint64_t bytes = env ? parse_size(env) : 0, limit = UINT64_MAX;
	size_t len;

	if (!atomic_compare_exchange_strong(&state, &expect, INITIALIZING))
		return;
	in_rsv++;
	if (env && !bytes)
		fprintf(stderr,
			"reservoir-malloc: RSV_ARENA=%s is not a size (512M, 1G...): "
			"using the default\n",
			env);
	if (!bytes) {
		rsv_cgroup_memory_max(NULL, NULL, &limit);
		bytes = limit == UINT64_MAX || limit / 2 > (1ULL << 30) ? 1ULL << 30 : limit / 2;
	}
	sys = rsv_system_create(&(struct rsv_system_config){
		.backend = RSV_BACKEND_OS,
		.nr_pages = bytes / RSV_PAGE_SIZE < RSV_MIN_ARENA_PAGES ? RSV_MIN_ARENA_PAGES
									: bytes / RSV_PAGE_SIZE,
		.misuse = RSV_MISUSE_ABORT });
	if (!sys || pthread_key_create(&thread_key, thread_exit)) {
		fprintf(stderr,
			"reservoir-malloc: no arena (%s): the C library serves everything\n",
			sys ? "no thread key" : rsv_system_create_error());
		atomic_store(&state, LIBC_ONLY);
		in_rsv--;
		return;
	}
	arena_start = (uintptr_t)rsv_system_arena(sys, &len);
	arena_end = arena_start + len;
	pthread_atfork(NULL, NULL, after_fork_child);
	if (getenv("RSV_STATS") && strcmp(getenv("RSV_STATS"), "0"))
		atexit(print_stats);
	atomic_store(&state, READY);
	in_rsv--;
}

/* enter() past its common case: the first call of a thread or of the process. */
static RSV_NOINLINE bool enter_slow(void)
{
	if (in_rsv)
		return false;
	if (atomic_load_explicit(&state, memory_order_acquire) != READY) {
		if (atomic_load(&state) != UNINIT)
			return false;
		init();
		if (atomic_load(&state) != READY)
			return false;
	}
	if (attached)
		return true;
	if (rsv_task_current()) /* kswapd, the flusher: reservoir's own threads */
		return false;
	in_rsv++;
	attached = rsv_task_attach(sys, "thread") != NULL;
	if (attached)
		pthread_setspecific(thread_key, (void *)1);
	in_rsv--;
	return attached;
}

/* Whether this call may use reservoir: not from inside it, not before it is ready, not from
 * its own service threads; a thread's first call makes it a task. A thread that is a task
 * is one whose system was ready (a forked child's first thread stops being one). */
static inline bool enter(void)
{
	return rsv_likely(attached && !in_rsv) ? true : enter_slow();
}

static void *rsv_alloc(size_t size, bool zero)
{
	void *p;

	in_rsv++;
	p = rsv_kmalloc(size < MIN_SIZE ? MIN_SIZE : size, GFP | (zero ? RSV___GFP_ZERO : 0));
	in_rsv--;
	if (!p)
		errno = ENOMEM;
	return p;
}

EXPORT void *malloc(size_t size)
{
	if (!enter())
		return __libc_malloc(size);
	if (size > RSV_KMALLOC_MAX_SIZE) {
		atomic_fetch_add_explicit(&large_from_libc, 1, memory_order_relaxed);
		return __libc_malloc(size);
	}
	return rsv_alloc(size, false);
}

EXPORT void free(void *p)
{
	if (!p)
		return;
	if (!in_arena(p)) {
		__libc_free(p);
		return;
	}
	if (atomic_load(&state) == LIBC_ONLY)
		return; /* a forked child's copy of a parent's object */
	if (!enter()) {
		/* Reservoir's service thread or reservoir itself freeing an arena object: it never
		 * allocates from the arena through malloc, so this is a foreign pointer. */
		atomic_fetch_add_explicit(&libc_fallbacks, 1, memory_order_relaxed);
		return;
	}
	in_rsv++;
	(void)rsv__kfree(p, "free");
	in_rsv--;
}

EXPORT void *calloc(size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	if (!enter())
		return __libc_calloc(n, size);
	if (bytes > RSV_KMALLOC_MAX_SIZE) {
		atomic_fetch_add_explicit(&large_from_libc, 1, memory_order_relaxed);
		return __libc_calloc(n, size);
	}
	return rsv_alloc(bytes, true);
}

/* The block's size; a block not handed out is a misuse named after @who. */
static size_t usable(const void *p, const char *who)
{
	size_t n;

	in_rsv++;
	n = rsv__ksize_checked(p, who);
	in_rsv--;
	return n;
}

EXPORT void *realloc(void *p, size_t size)
{
	size_t old;
	void *q;

	if (!p)
		return malloc(size);
	if (!in_arena(p))
		return __libc_realloc(p, size);
	if (atomic_load(&state) == LIBC_ONLY || !enter()) {
		/* A forked child's copy of a parent's object: copied out to the C library (as much
		 * as it asks for, or what the arena holds past it), the copy in the arena left. */
		size_t room = arena_end - (uintptr_t)p;

		if ((q = __libc_malloc(size)))
			memcpy(q, p, size < room ? size : room);
		return q;
	}
	if (!size) {
		free(p);
		return NULL;
	}
	if (!(old = usable(p, "realloc"))) {
		errno = EINVAL; /* the misuse (abort mode, so not reached unless it returns) */
		return NULL;
	}
	if (size <= old && size > old / 2)
		return p; /* the same class, or near enough: kept */
	if (!(q = malloc(size)))
		return NULL; /* the old block stays, as realloc() promises */
	memcpy(q, p, size < old ? size : old);
	free(p);
	return q;
}

EXPORT void *reallocarray(void *p, size_t n, size_t size)
{
	size_t bytes;

	if (__builtin_mul_overflow(n, size, &bytes)) {
		errno = ENOMEM;
		return NULL;
	}
	return realloc(p, bytes);
}

/* A block aligned to @align: small alignments are malloc's own; up to a page, a power-of-two
 * kmalloc class at least @align (its objects are aligned to their size); beyond, the C
 * library's. */
static void *aligned(size_t align, size_t size)
{
	size_t s;

	if (align <= MIN_SIZE)
		return malloc(size);
	if (align > RSV_PAGE_SIZE || !enter() || size > RSV_KMALLOC_MAX_SIZE) {
		atomic_fetch_add_explicit(&libc_fallbacks, 1, memory_order_relaxed);
		return __libc_memalign(align, size);
	}
	s = size > align ? size : align;
	if (s <= RSV_KMALLOC_MAX_CACHE_SIZE)
		s = (size_t)1 << (64 - __builtin_clzll((unsigned long long)s - 1));
	return rsv_alloc(s, false);
}

EXPORT int posix_memalign(void **out, size_t align, size_t size)
{
	void *p;

	if (!align || (align & (align - 1)) || align % sizeof(void *))
		return EINVAL;
	if (!(p = aligned(align, size)))
		return ENOMEM;
	*out = p;
	return 0;
}

EXPORT void *aligned_alloc(size_t align, size_t size)
{
	if (!align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	return aligned(align, size);
}

EXPORT void *memalign(size_t align, size_t size)
{
	return aligned_alloc(align, size);
}

EXPORT void *valloc(size_t size)
{
	return aligned(RSV_PAGE_SIZE, size);
}

EXPORT void *pvalloc(size_t size)
{
	size_t rounded = (size + RSV_PAGE_SIZE - 1) & ~(size_t)(RSV_PAGE_SIZE - 1);

	return aligned(RSV_PAGE_SIZE, rounded ? rounded : RSV_PAGE_SIZE);
}

EXPORT size_t malloc_usable_size(void *p)
{
	static size_t (*libc_usable)(void *);

	if (!p)
		return 0;
	if (in_arena(p))
		return atomic_load(&state) == LIBC_ONLY || !enter()
			       ? 0
			       : usable(p, "malloc_usable_size");
	if (!libc_usable) {
		in_rsv++;
		*(void **)&libc_usable = dlsym(RTLD_NEXT, "malloc_usable_size");
		in_rsv--;
	}
	return libc_usable ? libc_usable(p) : 0;
}
