/* Contracts as code (common/assert.h): a spinlock knows its holder in debug builds, a mutex
 * always; a broken contract aborts a debug build with its text, and costs a release build
 * nothing. */
#include <pthread.h>
#include "helpers.h"
#include "common/assert.h"

TestSuite(contracts, .timeout = 30);

static struct rsv_spinlock l;

static void *held_elsewhere(void *arg)
{
	*(bool *)arg = rsv__spin_held(&l);
	return NULL;
}

Test(contracts, a_spinlock_knows_who_holds_it)
{
	pthread_t t;
	bool other = true;

	rsv_spin_init(&l);
	cr_assert(!rsv__spin_held(&l));
	rsv_spin_lock(&l);
	cr_assert(rsv__spin_held(&l));
	pthread_create(&t, NULL, held_elsewhere, &other);
	pthread_join(t, NULL);
#if defined(RSV_DEBUG) || defined(RSV_DEBUG_FULL)
	cr_assert(!other, "another thread is not the holder");
#else
	cr_assert(other, "a release build only knows the lock is held");
#endif
	rsv_spin_unlock(&l);
	cr_assert(!rsv__spin_held(&l));
}

static struct rsv_mutex m;

static void *mutex_elsewhere(void *arg)
{
	*(bool *)arg = rsv__mutex_held(&m);
	return NULL;
}

Test(contracts, a_mutex_knows_who_holds_it)
{
	pthread_t t;
	bool other = true;

	rsv_mutex_init(&m, "m");
	cr_assert(!rsv__mutex_held(&m));
	rsv_mutex_lock(&m);
	cr_assert(rsv__mutex_held(&m));
	pthread_create(&t, NULL, mutex_elsewhere, &other);
	pthread_join(t, NULL);
	cr_assert(!other);
	rsv_mutex_unlock(&m);
}

#if defined(RSV_DEBUG) || defined(RSV_DEBUG_FULL)
Test(contracts, a_broken_contract_aborts_a_debug_build, .signal = SIGABRT)
{
	rsv_spin_init(&l);
	rsv_assert_held(&l);
}
#else
Test(contracts, a_release_build_does_not_evaluate_a_contract)
{
	int evaluated = 0;

	rsv_assert(++evaluated == 0);
	rsv_assert_held(&l);
	cr_assert_eq(evaluated, 0);
}
#endif
