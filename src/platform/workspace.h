/* Private to the library: how the platform and the mm layer borrow a workspace's mappings. */
#ifndef RSV_PLATFORM_WORKSPACE_H
#define RSV_PLATFORM_WORKSPACE_H

#include <stdbool.h>
#include <stddef.h>

struct rsv_workspace;

enum { RSV_WS_ARENA, RSV_WS_MEMMAP, RSV_WS_STACK };

/* A read-write mapping of @bytes: an idle one of @kind if @w (may be NULL) has one, and then
 * *@reused is set (its contents are a previous user's), else a new zeroed one. NULL if the
 * kernel refused. */
void *rsv__workspace_map(struct rsv_workspace *w, size_t bytes, int kind, bool *reused);
/* Back to @w to be reused, or unmapped when @w is NULL or full. */
void rsv__workspace_unmap(struct rsv_workspace *w, void *addr, size_t bytes, int kind);

#endif
