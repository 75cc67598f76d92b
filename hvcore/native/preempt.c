/*
 * Preemption at block boundaries, for hvcore's engine wrapper.
 *
 * Stopping the engine from another thread (emu_stop, or emu_start's timeout) can
 * land in the middle of a translated block and leave the PC at the block's start,
 * so instructions already executed, memory writes included, run again on resume.
 * A stop requested from inside a block hook happens before the block runs, which is
 * always clean. Python cannot be that hook (0.8 us per block), so this one is C:
 * it reads a flag that the slice timer sets and only then calls uc_emu_stop.
 */
#include <stddef.h>
#include <stdint.h>

#define HV_MAX_ENGINES 64

typedef int (*uc_emu_stop_fn)(void *uc);

struct hv_slot {
    void *uc;
    volatile int32_t preempt;   /* set by the slice timer, cleared here */
    volatile int32_t stop_next; /* set by a debugger hook: stop before the next insn */
    volatile int32_t *doorbell; /* the domain's inbox doorbell, rung by other processes */
    /* --deterministic only (hvcore/replay/clock.py): instructions this engine ran, and
     * the count at which it stops (before running that instruction) */
    volatile uint64_t icount;
    volatile uint64_t icount_stop;
    volatile int32_t counting;
};

static struct hv_slot slots[HV_MAX_ENGINES];
static uc_emu_stop_fn emu_stop;

/* Python hands us unicorn's uc_emu_stop, so we need not link against it. */
void hv_preempt_init(uc_emu_stop_fn stop)
{
    emu_stop = stop;
}

/* A slot for this engine; its `preempt` word is what the timer sets. */
volatile int32_t *hv_preempt_register(void *uc)
{
    for (int i = 0; i < HV_MAX_ENGINES; i++) {
        if (slots[i].uc == NULL || slots[i].uc == uc) {
            slots[i].uc = uc;
            slots[i].preempt = 0;
            slots[i].stop_next = 0;
            slots[i].doorbell = NULL;
            slots[i].icount = 0;
            slots[i].icount_stop = UINT64_MAX;
            slots[i].counting = 0;
            return &slots[i].preempt;
        }
    }
    return NULL;
}

void hv_preempt_unregister(void *uc)
{
    for (int i = 0; i < HV_MAX_ENGINES; i++)
        if (slots[i].uc == uc)
            slots[i].uc = NULL;
}

/* UC_HOOK_BLOCK callback: void (uc_engine *, uint64_t address, uint32_t size, void *) */
void hv_block_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    (void)address; (void)size; (void)user_data;
    for (int i = 0; i < HV_MAX_ENGINES; i++) {
        if (slots[i].uc == uc) {
            /* The doorbell is left set: the run loop clears it when it drains. */
            if (slots[i].preempt || (slots[i].doorbell && *slots[i].doorbell)) {
                slots[i].preempt = 0;
                emu_stop(uc);
            }
            return;
        }
    }
}

/* The engine's `stop_next` word (hv_insn_hook reads it). */
/* Watch a word in shared memory too: while it is non-zero, every block stops. */
void hv_preempt_set_doorbell(void *uc, volatile int32_t *word)
{
    for (int i = 0; i < HV_MAX_ENGINES; i++)
        if (slots[i].uc == uc)
            slots[i].doorbell = word;
}

volatile int32_t *hv_stop_next_flag(void *uc)
{
    for (int i = 0; i < HV_MAX_ENGINES; i++)
        if (slots[i].uc == uc)
            return &slots[i].stop_next;
    return NULL;
}

/*
 * UC_HOOK_CODE callback, installed only while a gdb watchpoint is set. A memory hook
 * cannot stop the engine itself: the stop would land in the middle of the accessing
 * instruction (its store done, RIP and the rest of its effects not), and resuming
 * would run it twice. The memory hook sets `stop_next`; this stops before the next
 * instruction, so the access is complete and RIP is exact.
 */
void hv_insn_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    (void)address; (void)size; (void)user_data;
    for (int i = 0; i < HV_MAX_ENGINES; i++) {
        if (slots[i].uc == uc) {
            if (slots[i].stop_next) {
                slots[i].stop_next = 0;
                if (slots[i].counting)
                    slots[i].icount--;  /* hv_count_hook counted an insn that will not run */
                emu_stop(uc);
            }
            return;
        }
    }
}

/*
 * Instruction counting for --deterministic (hvcore/replay/clock.py). Unicorn has no
 * retired-instruction counter we can read, and `emu_start(count=)` keeps its count to
 * itself; so this UC_HOOK_CODE callback, installed first on the engine, counts each
 * instruction about to run and stops the engine (before the instruction) when the
 * count reaches `icount_stop`. The engine skips code hooks once a stop is pending, so
 * an instruction stopped before by a block hook is not counted. A later hook that
 * stops on the instruction after this one counted it (a breakpoint) takes it back.
 * user_data is the engine's slot: no search on the hottest path there is.
 */
void hv_count_hook(void *uc, uint64_t address, uint32_t size, struct hv_slot *s)
{
    (void)address; (void)size;
    if (s->icount >= s->icount_stop) {
        s->icount_stop = UINT64_MAX;
        emu_stop(uc);
        return;
    }
    s->icount++;
}

/* The engine's slot (its icount, icount_stop and counting words), for counting. */
struct hv_slot *hv_slot_of(void *uc)
{
    for (int i = 0; i < HV_MAX_ENGINES; i++)
        if (slots[i].uc == uc)
            return &slots[i];
    return NULL;
}
