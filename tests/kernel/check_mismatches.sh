#!/usr/bin/env bash
# reservoir/kernel.h defines no name whose meaning would differ from Linux 6.12's: code that
# uses one fails to compile, loudly, rather than running differently. Each snippet below was
# written as kernel code is; each must be refused by the compiler, naming the name. (The names
# that used to be silently different and are now the kernel's are checked at run time by
# tests/kernel/: schedule_timeout(), mempool_free_bulk(), spin_lock_irqsave(), current->flags.)
set -uo pipefail
cc=${CC:-cc}
root=$(cd "$(dirname "$0")/../.." && pwd)
fails=0 passes=0

# refused WORDS "code inside a function": the compiler must refuse it, its message holding WORDS
refused() {
	local name=$1 body=$2 out
	out=$(printf '#include <reservoir/kernel.h>\nvoid f(void);\nvoid f(void)\n{\n%s\n}\n' \
		"$body" | "$cc" -std=gnu11 -Wall -Wextra -Werror -fsyntax-only -I"$root/include" \
		-x c - 2>&1)
	if [ $? -eq 0 ]; then
		echo "kernel.h: FAIL: '$name' compiled: $body" >&2
		fails=$((fails + 1))
	elif [[ $out != *"$name"* ]]; then
		echo "kernel.h: FAIL: '$name' refused without naming it: $out" >&2
		fails=$((fails + 1))
	else
		passes=$((passes + 1))
	fi
}

# Removed in 6.7: the shrinker is shrinker_alloc()/shrinker_register() now.
refused register_shrinker 'static struct shrinker s; register_shrinker(&s, "x");'
refused unregister_shrinker 'static struct shrinker s; unregister_shrinker(&s);'
# The kernel's takes four arguments.
refused mempool_alloc_bulk 'mempool_t *p = 0; void *e[2]; mempool_alloc_bulk(p, e, 2);'
# A function type, not a pointer: a pointer variable needs the star, as in the kernel.
refused "initialized like a variable" 'mempool_alloc_t fn = mempool_alloc_slab; (void)fn;'
# Not the kernel's: a zonelist and nodemask there; rsv_try_to_free_pages() here.
refused try_to_free_pages 'try_to_free_pages(0, 0, GFP_KERNEL, 0);'
# Leaves the thread stopped in the kernel; a service task here starts at once.
refused kthread_create 'struct task_struct *t = kthread_create(0, 0, "x"); (void)t;'
# A stand-in no kernel has, gone now that current->flags is the kernel's.
refused current_flags 'unsigned int f = current_flags(); (void)f;'
# A bio here has one reference; flush_workqueue() needs flush colours; delayed work timers.
refused bio_get 'struct bio *b = 0; bio_get(b);'
refused flush_workqueue 'flush_workqueue(0);'
refused INIT_DELAYED_WORK 'struct delayed_work w; INIT_DELAYED_WORK(&w, 0);'
refused REQ_NOWAIT 'blk_opf_t op = REQ_OP_WRITE | REQ_NOWAIT; (void)op;'
refused bio_alloc 'struct bio *b = bio_alloc(0, 1, REQ_OP_READ, GFP_NOIO); (void)b;'
# No RCU here to defer a slab's frees to.
refused SLAB_TYPESAFE_BY_RCU 'slab_flags_t f = SLAB_TYPESAFE_BY_RCU; (void)f;'

echo "kernel.h: $passes names refused at compile time, $fails failed"
[ $fails -eq 0 ]
