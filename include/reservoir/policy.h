/* reservoir/policy.h: every position the seed threads argue, as a selectable policy.
 * The zero value of each key is what upstream Linux finally chose. Spelled on command lines
 * as key=value ("mempool=2016,oom=no-reaper"). */
#ifndef RESERVOIR_POLICY_H
#define RESERVOIR_POLICY_H

#include "defs.h"

enum rsv_policy_key {
	RSV_POLICY_MEMPOOL,
	RSV_POLICY_THROTTLE,
	RSV_POLICY_BUFIO,
	RSV_POLICY_LOOP,
	RSV_POLICY_OOM,
	RSV_POLICY_MEMDIE,
	RSV_POLICY_RESERVATION,
	RSV_POLICY_IOWAIT,
	RSV_POLICY_IOFLUSHER,
	RSV_POLICY_POOLSHARE,
	RSV_NR_POLICY_KEYS
};

enum rsv_mempool_policy {
	RSV_MEMPOOL_UPSTREAM = 0, /* today's mempool_alloc (mm/mempool.c) */
	RSV_MEMPOOL_REVERT,       /* v4.8 revert of f9054c70d28b */
	RSV_MEMPOOL_2016, /* f9054c70d28b (v4.6): NOMEMALLOC only while the pool has elements */
	RSV_MEMPOOL_MEMDIE_ONLY, /* Hocko RFC 1/2: drop NOMEMALLOC for OOM victims, empty pool */
	RSV_MEMPOOL_NO_DIRECT_RECLAIM, /* NeilBrown: never direct reclaim, wait on the pool */
	RSV_MEMPOOL_POOL_FIRST,        /* the pool's elements before the backing allocator */
};

enum rsv_throttle_policy {
	RSV_THROTTLE_RECLAIM = 0,        /* v5.16 reclaim_throttle */
	RSV_THROTTLE_VM_WRITEOUT,        /* pre-4.9 throttle_vm_writeout */
	RSV_THROTTLE_LESS_THROTTLE_EXEMPT, /* Hocko RFC 2/2: PF_LESS_THROTTLE exempt */
};

enum rsv_bufio_policy {
	RSV_BUFIO_WORKQUEUE = 0, /* v5.9: shrinker defers to a worker */
	RSV_BUFIO_GFP_FS,        /* 9d28eb12447e: gate on __GFP_FS */
	RSV_BUFIO_GFP_IO,        /* before it: gate on __GFP_IO */
};

enum rsv_loop_policy {
	RSV_LOOP_NOIO = 0, /* d0a255e795ab: worker under PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE */
	RSV_LOOP_PLAIN,
};

enum rsv_oom_policy {
	RSV_OOM_REAPER = 0, /* the reaper frees a stuck victim's memory */
	RSV_OOM_NO_REAPER,
};

enum rsv_memdie_policy {
	RSV_MEMDIE_PARTIAL = 0, /* OOM victims get ALLOC_OOM (v4.14+) */
	RSV_MEMDIE_FULL,        /* OOM victims get ALLOC_NO_WATERMARKS (2016) */
};

enum rsv_reservation_policy {
	RSV_RESERVATION_WATERMARKS = 0, /* zone reserves only */
	RSV_RESERVATION_GLOBAL_POOL,    /* Arcangeli 2004: global pool behind a semaphore */
	RSV_RESERVATION_PER_THREAD,     /* reiser4: per-thread reserved pages */
};

/* A userspace storage daemon's I/Os parked for want of a buffer (SPDK's nomem and io_wait
 * lists): who retries them. */
enum rsv_iowait_policy {
	RSV_IOWAIT_TIMED_REPOLL = 0, /* a poller on a timer, besides completions (the fix) */
	RSV_IOWAIT_COMPLETION_ONLY,  /* a completion on the same channel, nothing else */
};

/* A userspace block device's worker threads and PR_SET_IO_FLUSHER (PF_MEMALLOC_NOIO |
 * PF_LOCAL_THROTTLE), which keeps their reclaim off their own device. */
enum rsv_ioflusher_policy {
	RSV_IOFLUSHER_EVERY_WORKER = 0, /* every worker sets it (the fix) */
	RSV_IOFLUSHER_LATE_CLEARED,     /* a worker started later runs with it cleared */
};

/* A storage daemon's shared pool of I/O buffers: who gets a completion's buffer. */
enum rsv_poolshare_policy {
	RSV_POOLSHARE_OLDEST_FIRST = 0, /* the read parked longest, on any channel (the fix) */
	RSV_POOLSHARE_OWN_CHANNEL,      /* its own channel's parked reads, else the pool */
};

struct rsv_policy {
	unsigned char value[RSV_NR_POLICY_KEYS]; /* indexed by enum rsv_policy_key */
};

#define RSV_POLICY_DEFAULT ((struct rsv_policy){ { 0 } })

static inline unsigned rsv_policy_get(const struct rsv_policy *p, enum rsv_policy_key k)
{
	return p->value[k];
}

/* The number of values of key @k, its name ("mempool"), and the name of its value @v
 * ("2016"); "?" for a key or value out of range. Any thread, never sleep. */
RSV_API unsigned rsv_policy_nr_values(enum rsv_policy_key k);
RSV_API const char *rsv_policy_key_name(enum rsv_policy_key k);
RSV_API const char *rsv_policy_value_name(enum rsv_policy_key k, unsigned v);
/* Parses "key=value[,key=value...]" into @p. On -EINVAL, @err (if given) names the bad word
 * and the valid choices; @p keeps the assignments made before it. */
RSV_API int rsv_policy_parse(struct rsv_policy *p, const char *text, char *err, size_t errlen);
/* The full "key=value,..." spelling of @p. Returns the length it needs. */
RSV_API int rsv_policy_format(const struct rsv_policy *p, char *buf, size_t len);

#endif
