/* A program that uses an installed reservoir as any user's would: only <reservoir.h>, found
 * through pkg-config or find_package(reservoir). It makes a system on real threads, a mempool
 * of 64-byte elements, takes every element and gives them back, and checks the system's
 * books. Exit status 0 when all of that worked, and it says so. */
#include <stdio.h>
#include <string.h>
#include <reservoir.h>

#define ELEMENTS 8

int main(void)
{
	struct rsv_system_config cfg = { .backend = RSV_BACKEND_OS, .nr_pages = 1024 };
	struct rsv_system *sys;
	struct rsv_mempool *pool;
	void *e[ELEMENTS];
	int err;

	if (strcmp(rsv_version(), RSV_VERSION)) {
		fprintf(stderr, "consumer: built against %s, running %s\n", RSV_VERSION,
			rsv_version());
		return 1;
	}
	if (!(sys = rsv_system_create(&cfg))) {
		perror("consumer: rsv_system_create");
		return 1;
	}
	rsv_task_attach(sys, "consumer");
	if (!(pool = rsv_mempool_create_kmalloc_pool(sys, ELEMENTS, 64))) {
		fprintf(stderr, "consumer: no mempool\n");
		return 1;
	}
	for (int i = 0; i < ELEMENTS; i++)
		if (!(e[i] = rsv_mempool_alloc(pool, RSV_GFP_NOIO)))
			return 1;
	for (int i = 0; i < ELEMENTS; i++)
		rsv_mempool_free(e[i], pool);
	rsv_mempool_destroy(pool);
	rsv_task_detach();
	if ((err = rsv_system_check(sys, 0))) {
		fprintf(stderr, "consumer: %s\n", rsv_system_error(sys));
		return 1;
	}
	rsv_system_destroy(sys);
	printf("consumer: reservoir %s: %d mempool elements taken and given back\n", rsv_version(),
	       ELEMENTS);
	return 0;
}
