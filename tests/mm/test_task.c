/* Task context: scope nesting, gfp context, io_flusher, attach rules. */
#include <sys/prctl.h>
#include <stddef.h>
#include "helpers.h"

/* Criterion 2.4 ignores --timeout: every suite carries its own. */
TestSuite(task, .timeout = 60);

#ifndef PR_GET_IO_FLUSHER
#define PR_GET_IO_FLUSHER 58
#endif

static struct rsv_system *attached(enum rsv_backend be)
{
	struct rsv_system *sys = test_system(be, 4096, 1);

	cr_assert_not_null(rsv_task_attach(sys, "ctx"));
	return sys;
}

static unsigned flags(void)
{
	return rsv_task_flags(rsv_task_current());
}

Test(task, scope_nesting_restores_exactly)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	unsigned outer, inner, noio;

	outer = rsv_memalloc_nofs_save();
	cr_assert_eq(outer, RSV_PF_MEMALLOC_NOFS);
	cr_assert(flags() & RSV_PF_MEMALLOC_NOFS);

	inner = rsv_memalloc_nofs_save(); /* already set: the inner scope owns nothing */
	cr_assert_eq(inner, 0);
	noio = rsv_memalloc_noio_save();
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, RSV_PF_MEMALLOC_NOFS | RSV_PF_MEMALLOC_NOIO);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_NOIO, "NOIO wins over NOFS");

	rsv_memalloc_noio_restore(noio);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_NOFS);
	rsv_memalloc_nofs_restore(inner);
	cr_assert(flags() & RSV_PF_MEMALLOC_NOFS, "inner restore ended the outer scope");
	rsv_memalloc_nofs_restore(outer);
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, 0);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_KERNEL);

	/* Out-of-order exit of overlapping scopes still leaves exactly what was there. */
	outer = rsv_memalloc_noio_save();
	inner = rsv_memalloc_nofs_save();
	rsv_memalloc_noio_restore(outer);
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, RSV_PF_MEMALLOC_NOFS);
	rsv_memalloc_nofs_restore(inner);
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, 0);

	rsv_task_detach();
	teardown_whole(sys);
}

Test(task, pin_scope_drops_movable_and_noreclaim_sets_memalloc)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	unsigned pin = rsv_memalloc_pin_save(), nr;

	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL | RSV___GFP_MOVABLE), RSV_GFP_KERNEL);
	rsv_memalloc_pin_restore(pin);
	nr = rsv_memalloc_noreclaim_save();
	cr_assert(flags() & RSV_PF_MEMALLOC);
	rsv_memalloc_noreclaim_restore(nr);
	cr_assert(!(flags() & RSV_PF_MEMALLOC));
	rsv_task_detach();
	teardown_whole(sys);
}

Test(task, set_flags_refuses_scope_bits)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);

	cr_assert_eq(rsv_task_set_flags(RSV_PF_MEMALLOC_NOFS, 0), -EINVAL);
	cr_assert_eq(rsv_task_set_flags(RSV_PF_WQ_WORKER, 0), 0);
	cr_assert(flags() & RSV_PF_WQ_WORKER);
	cr_assert_eq(rsv_task_set_flags(0, RSV_PF_WQ_WORKER), 0);
	cr_assert_eq(flags(), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(task, io_flusher_os_backend)
{
	struct rsv_system *sys = attached(RSV_BACKEND_OS);
	int kerr = 12345;

	cr_assert_eq(rsv_task_set_io_flusher(true, &kerr), 0);
	cr_assert_eq(flags() & (RSV_PF_MEMALLOC_NOIO | RSV_PF_LOCAL_THROTTLE),
		     RSV_PF_MEMALLOC_NOIO | RSV_PF_LOCAL_THROTTLE);
	cr_assert_eq(rsv_task_get_io_flusher(), 1);
	/* Without CAP_SYS_RESOURCE the kernel refuses; either way the library says which. */
	cr_assert(kerr == 0 || kerr == -EPERM, "kernel answer %d", kerr);
	if (kerr == 0)
		cr_assert_eq(prctl(PR_GET_IO_FLUSHER, 0, 0, 0, 0), 1);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_NOIO);
	cr_assert_eq(rsv_task_set_io_flusher(false, NULL), 0);
	cr_assert_eq(rsv_task_get_io_flusher(), 0);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(task, io_flusher_sim_does_not_ask_the_kernel)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	int kerr = 0;

	cr_assert_eq(rsv_task_set_io_flusher(true, &kerr), 0);
	cr_assert_eq(kerr, -ENOSYS);
	cr_assert_eq(rsv_task_get_io_flusher(), 1);
	rsv_task_detach();
	teardown_whole(sys);
}

Test(task, no_task_no_context)
{
	cr_assert_null(rsv_task_current());
	cr_assert_eq(rsv_task_detach(), -EINVAL);
	cr_assert_eq(rsv_task_set_io_flusher(true, NULL), -EINVAL);
	cr_assert_eq(rsv_task_get_io_flusher(), -EINVAL);
	cr_assert_eq(rsv_memalloc_nofs_save(), 0);
	cr_assert_null(rsv_alloc_pages(RSV_GFP_KERNEL, 0));
	cr_assert_eq(errno, EPERM);
	cr_assert_eq(rsv_current_gfp_context(RSV_GFP_KERNEL), RSV_GFP_KERNEL);
}

Test(task, attach_twice_refused)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);

	cr_assert_null(rsv_task_attach(sys, "again"));
	cr_assert_eq(errno, EBUSY);
	rsv_task_detach();
	teardown_whole(sys);
}

static int report_id(void *arg)
{
	*(unsigned *)arg = rsv_task_id(rsv_task_current());
	return 7;
}

Test(task, created_task_is_current_in_its_thread, .timeout = 10)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 4096, 1);
	unsigned seen = 0;
	struct rsv_task *t = rsv_task_create(sys, "worker", report_id, &seen);

	cr_assert_not_null(t);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	cr_assert_eq(seen, rsv_task_id(t));
	cr_assert(rsv_task_exited(t));
	cr_assert_eq(rsv_task_exit_code(t), 7);
	cr_assert_str_eq(rsv_task_name(t), "worker");
	teardown_whole(sys);
}

Test(task, mlock_arena)
{
	struct rsv_system *sys = rsv_system_create(
		&(struct rsv_system_config){ .nr_pages = 256,
					     .backend = RSV_BACKEND_OS,
					     .mlock = true,
					     .mlock_optional = true });
	int r;

	cr_assert_not_null(sys);
	r = rsv_system_mlocked(sys);
	/* Root has CAP_IPC_LOCK here; elsewhere RLIMIT_MEMLOCK may refuse, and it says so. */
	cr_assert(r == 1 || r == -EPERM || r == -ENOMEM || r == -EAGAIN, "mlock result %d", r);
	teardown_whole(sys);
	sys = test_system(RSV_BACKEND_OS, 256, 1);
	cr_assert_eq(rsv_system_mlocked(sys), 0, "not asked, not locked");
	teardown_whole(sys);
}

/* The flags form of the scopes, several bits at once, with the same nesting rule. */
Test(task, memalloc_flags_save_owns_only_the_bits_it_set)
{
	struct rsv_system *sys = attached(RSV_BACKEND_SIM);
	unsigned outer = rsv_memalloc_flags_save(RSV_PF_MEMALLOC_NOFS);
	unsigned both = rsv_memalloc_flags_save(RSV_PF_MEMALLOC_NOIO | RSV_PF_MEMALLOC_NOFS);

	cr_assert_eq(both, RSV_PF_MEMALLOC_NOIO, "NOFS was already set");
	rsv_memalloc_flags_restore(both);
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, RSV_PF_MEMALLOC_NOFS);
	rsv_memalloc_flags_restore(outer);
	cr_assert_eq(flags() & RSV_PF_SCOPE_MASK, 0);
	rsv_task_detach();
	teardown_whole(sys);
}

/* A service task does not keep a run going, sees rsv_kthread_should_stop() when the system
 * goes, and an object added to the system is destroyed with it, after the kthreads stop. */
struct kthread_test {
	_Atomic int loops, stopped, destroyed_after_stop;
	struct rsv_system_object obj;
};

static struct kthread_test *kt_of(struct rsv_system_object *o)
{
	return (struct kthread_test *)((char *)o - offsetof(struct kthread_test, obj));
}

static void kt_destroy(struct rsv_system_object *o)
{
	atomic_store(&kt_of(o)->destroyed_after_stop, atomic_load(&kt_of(o)->stopped));
}

static int service(void *arg)
{
	struct kthread_test *k = arg;

	while (!rsv_kthread_should_stop()) {
		atomic_fetch_add(&k->loops, 1);
		rsv_msleep(1);
	}
	atomic_store(&k->stopped, 1);
	return 0;
}

static int short_worker(void *arg)
{
	(void)arg;
	rsv_msleep(5);
	return 0;
}

static void kthreads_and_objects(enum rsv_backend backend)
{
	struct rsv_system *sys = test_system(backend, 256, 1);
	struct kthread_test k = { 0 };
	struct rsv_task *kt;

	k.obj.destroy = kt_destroy;
	rsv_system_add_object(sys, &k.obj);
	kt = rsv_kthread_create(sys, "service", service, &k);
	cr_assert_not_null(kt);
	cr_assert(rsv_task_flags(kt) & RSV_PF_KTHREAD);
	rsv_task_create(sys, "worker", short_worker, NULL);
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE, "the service task keeps no run going");
	cr_assert_gt(k.loops, 0);
	cr_assert(!rsv_kthread_should_stop(), "outside a kthread: false");
	rsv_system_destroy(sys);
	if (backend == RSV_BACKEND_OS)
		cr_assert(k.stopped, "it saw should_stop and returned");
	cr_assert_eq(k.destroyed_after_stop, k.stopped, "objects go after the kthreads stop");
}

Test(task, kthreads_stop_with_the_system_and_objects_go_with_it_on_the_simulator)
{
	kthreads_and_objects(RSV_BACKEND_SIM);
}

Test(task, kthreads_stop_with_the_system_and_objects_go_with_it_on_real_threads)
{
	kthreads_and_objects(RSV_BACKEND_OS);
}

/* kthread_stop() of anything but another kthread of the caller's system is refused, named. */
static int plain_task(void *arg)
{
	(void)arg;
	return 0;
}

Test(task, kthread_stop_refuses_what_is_not_a_kthread)
{
	struct rsv_system *sys = test_system(RSV_BACKEND_SIM, 256, 1);
	struct rsv_task *plain = rsv_task_create(sys, "plain", plain_task, NULL);

	cr_assert_eq(rsv_kthread_stop(plain), -EPERM, "not a task");
	rsv_task_attach(sys, "stopper");
	cr_assert_eq(rsv_kthread_stop(plain), -EINVAL);
	cr_assert(strstr(rsv_system_error(sys), "not a kthread"), "%s", rsv_system_error(sys));
	cr_assert_eq(rsv_kthread_stop(NULL), -EINVAL);
	rsv_task_detach();
	cr_assert_eq(rsv_system_run(sys), RSV_RUN_DONE);
	teardown_whole(sys);
}
