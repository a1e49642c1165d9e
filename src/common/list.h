/* Intrusive circular doubly linked lists (private to the library). */
#ifndef RSV_COMMON_LIST_H
#define RSV_COMMON_LIST_H

#include <stddef.h>
#include <reservoir/platform.h>

#define rsv_container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

static inline void rsv_list_init(struct rsv_list *h) { h->next = h->prev = h; }
static inline bool rsv_list_empty(const struct rsv_list *h) { return h->next == h; }

static inline void rsv__list_insert(struct rsv_list *n, struct rsv_list *prev,
				    struct rsv_list *next)
{
	next->prev = n;
	n->next = next;
	n->prev = prev;
	prev->next = n;
}

static inline void rsv_list_add(struct rsv_list *n, struct rsv_list *h)
{
	rsv__list_insert(n, h, h->next);
}
static inline void rsv_list_add_tail(struct rsv_list *n, struct rsv_list *h)
{
	rsv__list_insert(n, h->prev, h);
}

static inline void rsv_list_del(struct rsv_list *n)
{
	n->prev->next = n->next;
	n->next->prev = n->prev;
	n->next = n->prev = n;
}

#define rsv_list_for_each(pos, head) for (pos = (head)->next; pos != (head); pos = pos->next)
#define rsv_list_for_each_safe(pos, tmp, head) \
	for (pos = (head)->next, tmp = pos->next; pos != (head); pos = tmp, tmp = pos->next)

#endif
