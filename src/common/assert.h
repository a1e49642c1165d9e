/* Contracts as code, in the spirit of mimalloc's mi_assert_internal() and the kernel's
 * lockdep_assert_held(): a rule that a comment states ("callers hold zone->lock", "under the
 * lock, with curr_nr > 0") is checked where it applies.
 *
 *   rsv_assert(c)            cheap checks: debug builds (RSV_DEBUG, which make check's ASan
 *                            build turns on); nothing in release builds
 *   rsv_assert_expensive(c)  checks that walk lists or pages: RSV_DEBUG_FULL builds only
 *   rsv_assert_held(lock)    the calling thread holds @lock, a struct rsv_spinlock * or a
 *                            struct rsv_mutex *: a spinlock knows its owner in debug builds
 *                            only (a release build can only tell it is held at all), a mutex
 *                            always
 *
 * In a release build the condition is not evaluated but still type-checked, so a contract
 * cannot rot unseen. A failed check names the condition, where it is and who ran it, then
 * aborts: it is the library's bug, not the caller's (misuse is refused and counted instead). */
#ifndef RSV_COMMON_ASSERT_H
#define RSV_COMMON_ASSERT_H

#include <stdbool.h>
#include <reservoir/defs.h>
#include <reservoir/sync.h>

RSV_NORETURN void rsv__assert_fail(const char *what, const char *file, int line,
				   const char *func);
/* Held by the caller: a debug build compares the owner, a release build only sees it held. */
bool rsv__spin_held(const struct rsv_spinlock *l);
bool rsv__mutex_held(const struct rsv_mutex *m);

#define RSV__CHECK(c, text) \
	(rsv_likely(c) ? (void)0 : rsv__assert_fail(text, __FILE__, __LINE__, __func__))
#define RSV__UNCHECKED(c) ((void)sizeof(!(c)))

#define rsv__held(lock)                                                    \
	_Generic((lock), struct rsv_spinlock *: rsv__spin_held,            \
		 const struct rsv_spinlock *: rsv__spin_held,              \
		 struct rsv_mutex *: rsv__mutex_held,                      \
		 const struct rsv_mutex *: rsv__mutex_held)(lock)

#if defined(RSV_DEBUG) || defined(RSV_DEBUG_FULL)
#define rsv_assert(c) RSV__CHECK(c, #c)
#define rsv_assert_held(lock) RSV__CHECK(rsv__held(lock), #lock " held by the caller")
#else
#define rsv_assert(c) RSV__UNCHECKED(c)
#define rsv_assert_held(lock) RSV__UNCHECKED(rsv__held(lock))
#endif

#if defined(RSV_DEBUG_FULL)
#define rsv_assert_expensive(c) RSV__CHECK(c, #c)
#else
#define rsv_assert_expensive(c) RSV__UNCHECKED(c)
#endif

#endif
