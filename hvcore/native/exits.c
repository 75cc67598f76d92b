/*
 * The exits every hypercall and trap takes, recorded in C.
 *
 * A Python hook costs about a microsecond through the binding's trampoline, and the
 * two busiest exits (a 64-bit guest's `syscall` hypercall, a trap or a 32-bit
 * guest's `int $0x82`) need nothing Python can do inside the engine: note what
 * happened, read CR2 for a #PF before the stop can disturb it, clear the engine's
 * "exception in flight" state (or the next fault becomes #DF), and stop. The run
 * loop reads the record when emu_start returns.
 */
#include <stdint.h>

#define HV_EXIT_TRAP    1
#define HV_EXIT_SYSCALL 2

typedef int (*uc_emu_stop_fn)(void *uc);
typedef int (*uc_reg_read_fn)(void *uc, int regid, void *value);

/* One per engine, owned by Python (hvcore/engine.py, _ExitRecord): the hooks' user_data. */
struct hv_exit {
    int32_t kind;                   /* 0: nothing recorded since the run started */
    int32_t vector;
    uint64_t cr2;
    volatile int32_t *old_exception;  /* CPUX86State.old_exception in the live engine */
    uc_emu_stop_fn stop;
    uc_reg_read_fn reg_read;
    int32_t cr2_id;                 /* UC_X86_REG_CR2 */
};

static void finish(void *uc, struct hv_exit *e)
{
    if (e->old_exception)
        *e->old_exception = -1;
    e->stop(uc);
}

/* UC_HOOK_INTR: void (uc_engine *, uint32_t intno, void *user_data) */
void hv_intr_exit(void *uc, uint32_t intno, struct hv_exit *e)
{
    if (!e->kind) {
        e->kind = HV_EXIT_TRAP;
        e->vector = (int32_t)intno;
        e->cr2 = 0;
        if (intno == 14)
            e->reg_read(uc, e->cr2_id, &e->cr2);
    }
    finish(uc, e);
}

/* UC_HOOK_INSN for syscall: void (uc_engine *, void *user_data) */
void hv_syscall_exit(void *uc, struct hv_exit *e)
{
    if (!e->kind) {
        e->kind = HV_EXIT_SYSCALL;
        e->vector = 0;
    }
    finish(uc, e);
}

/* UC_HOOK_INSN for sysenter (HVM engines only): a syscall exit marked by vector 1, so
 * the vCPU knows which instruction it carries out without decoding it again. */
void hv_sysenter_exit(void *uc, struct hv_exit *e)
{
    if (!e->kind) {
        e->kind = HV_EXIT_SYSCALL;
        e->vector = 1;
    }
    finish(uc, e);
}
