/* Coroutine context switch for the sim backend, and the sanitizer fiber annotations that let
 * ASan and TSan follow it. */
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include "platform/sim_context.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define RSV_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define RSV_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define RSV_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__)
#define RSV_TSAN 1
#endif

#ifdef RSV_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef RSV_TSAN
#include <sanitizer/tsan_interface.h>
#endif

size_t rsv__sim_stack_size(size_t requested)
{
	size_t s = (requested + 4095) & ~(size_t)4095;
#if defined(RSV_ASAN) || defined(RSV_TSAN)
	s *= 4; /* instrumented frames are several times larger */
#endif
	return s;
}

#if defined(__x86_64__)
/* Saves rbp, rbx, r12-r15 and the SSE/x87 control words (all callee-saved in the SysV ABI)
 * on the old stack, swaps stack pointers, restores the same from the new stack. */
__asm__(".text\n"
	".globl rsv__sim_ctx_switch\n"
	".hidden rsv__sim_ctx_switch\n"
	".type rsv__sim_ctx_switch,@function\n"
	"rsv__sim_ctx_switch:\n"
	"	endbr64\n"
	"	pushq %rbp\n"
	"	pushq %rbx\n"
	"	pushq %r12\n"
	"	pushq %r13\n"
	"	pushq %r14\n"
	"	pushq %r15\n"
	"	subq $8, %rsp\n"
	"	stmxcsr (%rsp)\n"
	"	fnstcw 4(%rsp)\n"
	"	movq %rsp, (%rdi)\n"
	"	movq (%rsi), %rsp\n"
	"	ldmxcsr (%rsp)\n"
	"	fldcw 4(%rsp)\n"
	"	addq $8, %rsp\n"
	"	popq %r15\n"
	"	popq %r14\n"
	"	popq %r13\n"
	"	popq %r12\n"
	"	popq %rbx\n"
	"	popq %rbp\n"
	"	ret\n"
	".size rsv__sim_ctx_switch, .-rsv__sim_ctx_switch\n");

void rsv__sim_ctx_prepare(struct rsv_sim_ctx *c, void *stack, size_t size, void (*entry)(void))
{
	uint64_t *s = (uint64_t *)(((uintptr_t)stack + size) & ~(uintptr_t)15);

	/* After the final ret, rsp must be 8 mod 16 as at any function entry, so the slot
	 * holding entry's address is 16-aligned, with a zero "return address" above it. */
	*--s = 0;
	*--s = (uint64_t)(uintptr_t)entry;
	for (int i = 0; i < 6; i++)
		*--s = 0; /* rbp rbx r12 r13 r14 r15 */
	*--s = 0x1f80ULL | (0x037fULL << 32); /* default MXCSR, x87 control word */
	c->sp = s;
}
#elif defined(__aarch64__)
/* Saves x19-x30 and d8-d15 (callee-saved in AAPCS64), swaps sp, restores, returns via x30. */
__asm__(".text\n"
	".globl rsv__sim_ctx_switch\n"
	".hidden rsv__sim_ctx_switch\n"
	".type rsv__sim_ctx_switch,%function\n"
	"rsv__sim_ctx_switch:\n"
	"	sub sp, sp, #176\n"
	"	stp x19, x20, [sp, #0]\n"
	"	stp x21, x22, [sp, #16]\n"
	"	stp x23, x24, [sp, #32]\n"
	"	stp x25, x26, [sp, #48]\n"
	"	stp x27, x28, [sp, #64]\n"
	"	stp x29, x30, [sp, #80]\n"
	"	stp d8, d9, [sp, #96]\n"
	"	stp d10, d11, [sp, #112]\n"
	"	stp d12, d13, [sp, #128]\n"
	"	stp d14, d15, [sp, #144]\n"
	"	mov x9, sp\n"
	"	str x9, [x0]\n"
	"	ldr x9, [x1]\n"
	"	mov sp, x9\n"
	"	ldp x19, x20, [sp, #0]\n"
	"	ldp x21, x22, [sp, #16]\n"
	"	ldp x23, x24, [sp, #32]\n"
	"	ldp x25, x26, [sp, #48]\n"
	"	ldp x27, x28, [sp, #64]\n"
	"	ldp x29, x30, [sp, #80]\n"
	"	ldp d8, d9, [sp, #96]\n"
	"	ldp d10, d11, [sp, #112]\n"
	"	ldp d12, d13, [sp, #128]\n"
	"	ldp d14, d15, [sp, #144]\n"
	"	add sp, sp, #176\n"
	"	ret\n"
	".size rsv__sim_ctx_switch, .-rsv__sim_ctx_switch\n");

void rsv__sim_ctx_prepare(struct rsv_sim_ctx *c, void *stack, size_t size, void (*entry)(void))
{
	uint64_t *s = (uint64_t *)(((uintptr_t)stack + size) & ~(uintptr_t)15);

	s -= 22; /* the 176-byte frame the switch pops */
	for (int i = 0; i < 22; i++)
		s[i] = 0;
	s[11] = (uint64_t)(uintptr_t)entry; /* x30 */
	c->sp = s;
}
#else
static void (*pending_entry)(void);

static void uc_trampoline(void)
{
	pending_entry();
}

void rsv__sim_ctx_prepare(struct rsv_sim_ctx *c, void *stack, size_t size, void (*entry)(void))
{
	getcontext(&c->uc);
	c->uc.uc_stack.ss_sp = stack;
	c->uc.uc_stack.ss_size = size;
	c->uc.uc_link = NULL;
	pending_entry = entry;
	makecontext(&c->uc, uc_trampoline, 0);
}

void rsv__sim_ctx_switch(struct rsv_sim_ctx *from, struct rsv_sim_ctx *to)
{
	swapcontext(&from->uc, &to->uc);
}
#endif

void rsv__sim_fiber_init(struct rsv_sim_fiber *f, void *stack, size_t size, const char *name)
{
	f->stack_lo = stack;
	f->stack_size = size;
#ifdef RSV_TSAN
	f->tsan_fiber = __tsan_create_fiber(0);
	__tsan_set_fiber_name(f->tsan_fiber, name);
#endif
}

void rsv__sim_fiber_init_main(struct rsv_sim_fiber *f)
{
#ifdef RSV_ASAN
	pthread_attr_t attr;
	void *lo;
	size_t size;

	if (!pthread_getattr_np(pthread_self(), &attr)) {
		pthread_attr_getstack(&attr, &lo, &size);
		pthread_attr_destroy(&attr);
		f->stack_lo = lo;
		f->stack_size = size;
	}
#endif
#ifdef RSV_TSAN
	f->tsan_fiber = __tsan_get_current_fiber();
#endif
}

void rsv__sim_fiber_leave(struct rsv_sim_fiber *from, struct rsv_sim_fiber *to, bool from_dies)
{
#ifdef RSV_ASAN
	__sanitizer_start_switch_fiber(from_dies ? NULL : &from->asan_fake_stack, to->stack_lo,
				       to->stack_size);
#endif
#ifdef RSV_TSAN
	__tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
}

void rsv__sim_fiber_arrived(struct rsv_sim_fiber *self)
{
#ifdef RSV_ASAN
	__sanitizer_finish_switch_fiber(self->asan_fake_stack, NULL, NULL);
#endif
}

void rsv__sim_fiber_destroy(struct rsv_sim_fiber *f, void *stack, size_t size)
{
#ifdef RSV_ASAN
	/* Frames abandoned by a deadlocked run leave poisoned shadow behind; a later mapping at
	 * the same address must not inherit it. */
	__asan_unpoison_memory_region(stack, size);
#endif
#ifdef RSV_TSAN
	if (f->tsan_fiber)
		__tsan_destroy_fiber(f->tsan_fiber);
#endif
}
