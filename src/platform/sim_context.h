/* Private: coroutine contexts for the sim backend, and the sanitizers' fiber hooks.
 *
 * glibc's swapcontext() makes a sigprocmask system call per switch (about 1 us here); the
 * x86-64 and AArch64 switches below save only the callee-saved registers, so a scheduling
 * decision costs a few nanoseconds. Other architectures fall back to ucontext. */
#ifndef RSV_PLATFORM_SIM_CONTEXT_H
#define RSV_PLATFORM_SIM_CONTEXT_H

#include <stddef.h>

#if defined(__x86_64__) || defined(__aarch64__)
#define RSV_SIM_ASM_SWITCH 1
struct rsv_sim_ctx {
	void *sp;
};
#else
#include <ucontext.h>
struct rsv_sim_ctx {
	ucontext_t uc;
};
#endif

void rsv__sim_ctx_prepare(struct rsv_sim_ctx *c, void *stack, size_t size, void (*entry)(void));
void rsv__sim_ctx_switch(struct rsv_sim_ctx *from, struct rsv_sim_ctx *to);
size_t rsv__sim_stack_size(size_t requested);

/* What ASan and TSan need to follow a switch between stacks. */
struct rsv_sim_fiber {
	const void *stack_lo;
	size_t stack_size;
	void *asan_fake_stack;
	void *tsan_fiber;
};

void rsv__sim_fiber_init(struct rsv_sim_fiber *f, void *stack, size_t size, const char *name);
void rsv__sim_fiber_init_main(struct rsv_sim_fiber *f);
void rsv__sim_fiber_leave(struct rsv_sim_fiber *from, struct rsv_sim_fiber *to, bool from_dies);
void rsv__sim_fiber_arrived(struct rsv_sim_fiber *self);
void rsv__sim_fiber_destroy(struct rsv_sim_fiber *f, void *stack, size_t size);

#endif
