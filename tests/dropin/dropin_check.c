/* What a program asks of malloc, run under libreservoir-malloc.so by tests/dropin_test.sh.
 * Plain C against the C library's interface, knowing nothing of reservoir.
 *
 *   dropin_check            the contract: sizes, alignment, realloc, calloc, threads that
 *                           free each other's blocks, threads that come and go, fork with and
 *                           without exec, malloc before main
 *   dropin_check enomem     allocates until malloc says ENOMEM (run with a small RSV_ARENA),
 *                           then frees and allocates again
 *   dropin_check double     frees a block twice (must abort, named)
 *   dropin_check late       frees a block twice, others freed between (must abort, named)
 *   dropin_check realloc    reallocs a freed block to a size it holds (must abort, named)
 *   dropin_check middle     frees a pointer into the middle of a block (must abort, named)
 * Exit status 0 when every check held; a failed check says which. */
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHECK(c, ...)                                                                              \
	do {                                                                                       \
		if (!(c)) {                                                                        \
			fprintf(stderr, "dropin_check: %s:%d: %s: ", __FILE__, __LINE__, #c);      \
			fprintf(stderr, __VA_ARGS__);                                              \
			fputc('\n', stderr);                                                       \
			exit(1);                                                                   \
		}                                                                                  \
	} while (0)

static char *early;

/* A library constructor allocates before main, as many do. */
__attribute__((constructor)) static void before_main(void)
{
	early = malloc(100);
	if (early)
		strcpy(early, "made before main");
}

static void contract(void)
{
	CHECK(early && !strcmp(early, "made before main"), "constructor's block lost");
	free(early);
	for (size_t size = 0; size <= 70000; size = size ? size * 3 / 2 + 1 : 1) {
		unsigned char *p = malloc(size);

		CHECK(p, "malloc(%zu) failed", size);
		CHECK((uintptr_t)p % 16 == 0, "malloc(%zu) = %p not 16-aligned", size, (void *)p);
		CHECK(malloc_usable_size(p) >= size, "usable %zu < %zu", malloc_usable_size(p),
		      size);
		memset(p, 0xa5, size);
		free(p);
	}
	{
		unsigned char *z = calloc(1000, 7);

		CHECK(z, "calloc");
		for (int i = 0; i < 7000; i++)
			CHECK(!z[i], "calloc byte %d is %u", i, z[i]);
		free(z);
		errno = 0;
		CHECK(!calloc(SIZE_MAX / 2, 3) && errno == ENOMEM, "calloc overflow");
		errno = 0;
		CHECK(!reallocarray(NULL, SIZE_MAX / 2, 3) && errno == ENOMEM,
		      "reallocarray overflow");
	}
	{
		char *r = NULL;

		for (size_t size = 1; size < (8 << 20); size *= 3) {
			size_t old = size / 3;

			r = realloc(r, size);
			CHECK(r, "realloc(%zu)", size);
			for (size_t i = 0; i < old && i < 4096; i++)
				CHECK(r[i] == (char)(i * 7), "realloc lost byte %zu at %zu", i,
				      size);
			for (size_t i = 0; i < size && i < 4096; i++)
				r[i] = (char)(i * 7);
		}
		free(r);
		CHECK(realloc(malloc(10), 0) == NULL, "realloc to 0");
	}
	for (size_t align = 16; align <= 16384; align *= 2) {
		void *p = NULL;

		CHECK(!posix_memalign(&p, align, 100), "posix_memalign(%zu)", align);
		CHECK((uintptr_t)p % align == 0, "posix_memalign(%zu) = %p", align, p);
		free(p);
		p = aligned_alloc(align, align * 2);
		CHECK(p && (uintptr_t)p % align == 0, "aligned_alloc(%zu) = %p", align, p);
		free(p);
		p = memalign(align, 3000);
		CHECK(p && (uintptr_t)p % align == 0, "memalign(%zu) = %p", align, p);
		free(p);
	}
	{
		void *v = valloc(10), *pv = pvalloc(5000), *p = NULL;

		CHECK(v && (uintptr_t)v % 4096 == 0 && pv && (uintptr_t)pv % 4096 == 0, "valloc");
		CHECK(malloc_usable_size(pv) >= 8192, "pvalloc rounds to pages");
		free(v);
		free(pv);
		CHECK(posix_memalign(&p, 24, 10) == EINVAL, "alignment 24 refused");
	}
}

/* ---- threads ---- */

#define THREADS 16
#define ROUNDS 2000

static void *_Atomic mailbox[THREADS];

static void *swapper(void *arg)
{
	long me = (long)arg;

	for (int i = 0; i < ROUNDS; i++) {
		size_t size = (size_t)(16 << (i % 9));
		char *mine = malloc(size), *theirs;

		CHECK(mine, "thread %ld malloc", me);
		mine[0] = (char)me;
		mine[size - 1] = (char)me;
		/* Another thread's block, freed here: the completion pattern. */
		theirs = atomic_exchange(&mailbox[(me + i) % THREADS], mine);
		free(theirs);
	}
	return NULL;
}

static void *short_lived(void *arg)
{
	void *p = malloc(200);

	free(arg);
	return p;
}

static void threads(void)
{
	pthread_t th[THREADS];

	for (long i = 0; i < THREADS; i++)
		CHECK(!pthread_create(&th[i], NULL, swapper, (void *)i), "pthread_create");
	for (int i = 0; i < THREADS; i++)
		pthread_join(th[i], NULL);
	for (int i = 0; i < THREADS; i++)
		free(atomic_exchange(&mailbox[i], NULL));
	/* A thread per request, a thousand times: each frees its argument and returns a block. */
	for (int i = 0; i < 1000; i++) {
		pthread_t t;
		void *ret;

		CHECK(!pthread_create(&t, NULL, short_lived, malloc(300)), "thread %d", i);
		pthread_join(t, &ret);
		CHECK(ret, "thread %d returned no block", i);
		free(ret);
	}
}

/* ---- fork ---- */

static void forks(void)
{
	char *parent = malloc(64);
	pid_t pid;
	int status;

	strcpy(parent, "the parent's");
	fflush(NULL);
	if (!(pid = fork())) {
		/* The child: the parent's block readable, reallocated, freed; new ones work. */
		char *grown = realloc(parent, 10000), *mine = malloc(5000);

		if (!grown || strcmp(grown, "the parent's") || !mine)
			_exit(3);
		free(grown);
		free(mine);
		_exit(0);
	}
	CHECK(pid > 0 && waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		      !WEXITSTATUS(status),
	      "fork child status %d", status);
	if (!(pid = fork())) {
		execl("/bin/sh", "sh", "-c", "exit 0", (char *)NULL);
		_exit(4);
	}
	CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) && !WEXITSTATUS(status),
	      "fork+exec child status %d", status);
	CHECK(!strcmp(parent, "the parent's"), "the parent's block changed");
	free(parent);
}

/* ---- the end of the budget ---- */

static int enomem(void)
{
	static void *held[1 << 16];
	int n = 0, got;

	errno = 0;
	while (n < (1 << 16) && (held[n] = malloc(64 << 10)))
		memset(held[n++], 1, 64 << 10);
	CHECK(n < (1 << 16) && errno == ENOMEM, "%d blocks, errno %d", n, errno);
	CHECK(n >= 16, "only %d blocks of 64 KiB before ENOMEM", n);
	got = n;
	while (n)
		free(held[--n]);
	CHECK(malloc(64 << 10), "no memory after everything was freed");
	printf("dropin_check: ENOMEM after %d blocks of 64 KiB, and memory again once freed\n",
	       got);
	return 0;
}

static void (*volatile release)(void *) = free;
static void *(*volatile resize)(void *, size_t) = realloc;

/* A block freed, then many more allocated and freed (its memory has moved on from where the
 * last free left it), then the block freed again or resized. */
static int misuse_late(bool by_realloc)
{
	char *p = malloc(48), *others[500];

	p[0] = 1;
	release(p);
	for (int i = 0; i < 500; i++)
		others[i] = malloc(48);
	for (int i = 0; i < 500; i++)
		release(others[i]);
	if (by_realloc)
		printf("%p\n", resize(p, 40)); /* it fits: kept in place, were it live */
	else
		release(p);
	return 0; /* not reached */
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "enomem"))
		return enomem();
	/* Through a volatile pointer to free(), which the compiler may not see through: it would
	 * otherwise drop a malloc whose block is unused, and a free of a freed block. */
	if (argc > 1 && !strcmp(argv[1], "double")) {
		char *p = malloc(64);

		p[0] = 1;
		release(p);
		release(p);
		return 0; /* not reached: the second free aborts */
	}
	if (argc > 1 && (!strcmp(argv[1], "late") || !strcmp(argv[1], "realloc")))
		return misuse_late(!strcmp(argv[1], "realloc"));
	if (argc > 1 && !strcmp(argv[1], "middle")) {
		char *p = malloc(64);

		p[0] = 1;
		release(p + 16);
		return 0;
	}
	contract();
	threads();
	forks();
	printf("dropin_check: sizes, alignment, realloc, calloc, threads, fork: all held\n");
	return 0;
}
