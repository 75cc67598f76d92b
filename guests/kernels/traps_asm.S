/*
 * The faulting instructions of the traps kernel.  Each test is a function
 * t_<name> with the instruction at t_<name>_at; the handler resumes at
 * t_<name>_after (for trap-type exceptions Xen already reports that
 * address).
 */
#include "asm.h"
#include "traps.h"

#ifdef __x86_64__
#define AX  %rax
#define CX  %rcx
#define SP  %rsp
#define PUSHF pushfq
#define POPF  popfq
#else
#define AX  %eax
#define CX  %ecx
#define SP  %esp
#define PUSHF pushfl
#define POPF  popfl
#endif

/* Each test records its stack pointer, which stays put up to the fault. */
#define TEST_BEGIN(name) ENTRY(t_##name) mov SP, t_entry_sp;
#define AT(name)        .globl t_##name##_at; t_##name##_at:
#define AFTER(name)     .globl t_##name##_after; t_##name##_after:

        .text

/* #DE: divide by zero. */
TEST_BEGIN(de)
        movl    $1, %eax
        xorl    %edx, %edx
        xorl    %ecx, %ecx
AT(de)  divl    %ecx
AFTER(de)
        ret

/* #DB: single step, TF set by popf traps after the next instruction. */
TEST_BEGIN(db)
        PUSHF
        orl     $0x100, (SP)
        POPF
AT(db)  nop
AFTER(db)
        nop
        ret

/* #BP: int3 (trap: reported after the instruction). */
TEST_BEGIN(bp)
AT(bp)  int3
AFTER(bp)
        ret

/* #OF: `into` with OF set (32-bit) / `int $4` (64-bit, no into). */
TEST_BEGIN(of)
#ifdef __x86_64__
AT(of)  int     $4
#else
        movl    $0x7fffffff, %eax
        addl    $1, %eax
AT(of)  into
#endif
AFTER(of)
        ret

#ifndef __x86_64__
/* #BR: bound with an index outside [0, 10]. */
TEST_BEGIN(br)
        movl    $20, %eax
        movl    $bound_pair, %ecx
AT(br)  boundl  %eax, (%ecx)
AFTER(br)
        ret
        .data
bound_pair:
        .long   0, 10
        .text
#endif

/* #UD: ud2 (not followed by Xen's "xen" emulation signature). */
TEST_BEGIN(ud)
AT(ud)  ud2
AFTER(ud)
        ret

/* #NM: an x87 instruction after HYPERVISOR_fpu_taskswitch(1). */
TEST_BEGIN(nm)
AT(nm)  fninit
AFTER(nm)
        ret

/* x87 use that must not fault (virtual CR0.TS clear). */
ENTRY(t_fpu_ok)
        fninit
        ret

/* #MF: unmasked x87 divide-by-zero, reported at the next fwait. */
TEST_BEGIN(mf)
        fninit
        sub     $16, SP
        movw    $0x037b, (SP)           /* default control word, ZM clear */
        fldcw   (SP)
        add     $16, SP
        fldz
        fld1
        fdiv    %st(1), %st             /* 1 / 0 */
AT(mf)  fwait
AFTER(mf)
        fnclex
        fninit
        ret

/* #NP: load %ds with a selector whose descriptor is not present. */
TEST_BEGIN(np)
        movl    $GDT_SEL_NP, %eax
AT(np)  movl    %eax, %ds
AFTER(np)
        ret

/* #SS: load %ss with a selector whose descriptor is not present. */
TEST_BEGIN(ss)
        movl    $GDT_SEL_SS, %eax
AT(ss)  movl    %eax, %ss
AFTER(ss)
        ret

/* #GP(0): hlt is privileged. */
TEST_BEGIN(gp_hlt)
AT(gp_hlt)
        hlt
AFTER(gp_hlt)
        ret

/* #GP(0x40a): int $0x81 has no trap table entry (DPL 0). */
TEST_BEGIN(gp_int)
AT(gp_int)
        int     $0x81
AFTER(gp_int)
        ret

/* #GP(4): an LDT selector while no LDT is loaded. */
TEST_BEGIN(gp_ldt)
        movl    $7, %eax
AT(gp_ldt)
        movl    %eax, %es
AFTER(gp_ldt)
        ret

/* #PF: read from the address in the first argument. */
TEST_BEGIN(pf_read)
#ifdef __x86_64__
        movq    %rdi, %rax
#else
        movl    4(%esp), %eax
#endif
AT(pf_read)
        movl    (AX), %ecx
AFTER(pf_read)
        ret

/* #PF: write to the address in the first argument. */
TEST_BEGIN(pf_write)
#ifdef __x86_64__
        movq    %rdi, %rax
#else
        movl    4(%esp), %eax
#endif
AT(pf_write)
        movl    $0x5a5a5a5a, (AX)
AFTER(pf_write)
        ret

/* #PF: instruction fetch from the address in the first argument. */
TEST_BEGIN(pf_fetch)
#ifdef __x86_64__
        movq    %rdi, %rax
#else
        movl    4(%esp), %eax
#endif
AT(pf_fetch)
        jmp     *AX
AFTER(pf_fetch)
        ret

/* int $0x80 through a DPL-3 trap table entry. */
TEST_BEGIN(int80)
        movl    $0x1234, %eax
AT(int80)
        int     $0x80
AFTER(int80)
        ret
