/* ASan's manual poisoning, for memory the library owns and nobody may touch: free pages of
 * the arena, and elements parked in a mempool. A use after free inside the arena
 * is then reported like one on the C heap. No-ops without ASan. */
#ifndef RSV_COMMON_ASAN_H
#define RSV_COMMON_ASAN_H

#include <stddef.h>

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/asan_interface.h>
static inline void rsv__asan_poison(const void *p, size_t n) { ASAN_POISON_MEMORY_REGION(p, n); }
static inline void rsv__asan_unpoison(const void *p, size_t n)
{
	ASAN_UNPOISON_MEMORY_REGION(p, n);
}
#else
static inline void rsv__asan_poison(const void *p, size_t n) { (void)p, (void)n; }
static inline void rsv__asan_unpoison(const void *p, size_t n) { (void)p, (void)n; }
#endif

#endif
