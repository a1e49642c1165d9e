/* Shared by the Criterion tests: system set-up and the teardown check every test ends with. */
#ifndef RSV_TEST_HELPERS_H
#define RSV_TEST_HELPERS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <signal.h>
#include <string.h>
#include <stdatomic.h>
#include <reservoir/harness.h>

static inline struct rsv_system *test_system(enum rsv_backend backend, unsigned long pages,
					     uint64_t seed)
{
	struct rsv_system *sys = rsv_system_create(&(struct rsv_system_config){
		.nr_pages = pages, .backend = backend, .seed = seed, .misuse = RSV_MISUSE_RETURN });

	cr_assert_not_null(sys, "rsv_system_create failed");
	return sys;
}

/* A second system, in *@other, and a RAM device of it: what a constructor handed a device must
 * refuse when the device is not of its own system. */
static inline struct rsv_bdev *foreign_ramdev(struct rsv_system **other)
{
	struct rsv_bdev *dev;

	*other = test_system(RSV_BACKEND_SIM, 256, 1);
	rsv_task_attach(*other, "other");
	dev = rsv_ramdev_create(*other, "ram1", 8, 0, 0);
	rsv_task_detach();
	cr_assert_not_null(dev);
	return dev;
}

/* Pages in per-task caches are free pages; the service tasks (kswapd, device workers) never
 * exit to return theirs, so all caches are drained, and the slab caches give back what they
 * keep (objects cached in magazines and empty slabs hold pages too). */
static inline void give_back_cached_pages(struct rsv_system *sys)
{
	bool attach = !rsv_task_current();

	if (attach)
		rsv_task_attach(sys, "teardown");
	rsv_slab_shrink_all(sys);
	if (attach)
		rsv_task_detach();
	rsv_drain_all_pages(sys);
}

/* Every test tears its system down through a check that the arena is whole again. */
static inline void teardown_whole(struct rsv_system *sys)
{
	int err;

	give_back_cached_pages(sys);
	err = rsv_system_check(sys, RSV_CHECK_WHOLE);

	cr_assert_eq(err, 0, "arena not whole at teardown: %s", rsv_system_error(sys));
	rsv_system_destroy(sys);
}

/* For a system whose devices keep pages until it goes (a filesystem's file, a crypt device's
 * pools): every page accounted for, and no more than @held of them still allocated. */
static inline void teardown_holding(struct rsv_system *sys, unsigned long held)
{
	unsigned long allocated;
	int err;

	give_back_cached_pages(sys);
	err = rsv_system_check(sys, 0);
	cr_assert_eq(err, 0, "pages unaccounted for at teardown: %s", rsv_system_error(sys));
	allocated = rsv_system_nr_pages(sys) - rsv_system_free_pages(sys);
	cr_assert_leq(allocated, held, "%lu pages allocated at teardown, at most %lu held by "
		      "the devices", allocated, held);
	rsv_system_destroy(sys);
}

#endif
