/*
 * Trap table, callbacks and the C side of trap/event delivery.
 */
#include "guest.h"

trap_hook_t trap_hook;
event_hook_t event_hook;
unsigned long event_upcalls;

#define TE(vec, dpl, fn) { vec, dpl, FLAT_KERNEL_CS, (unsigned long)fn }

/*
 * Vectors 2 (NMI, a callback), 8 (#DF), 9 and 15 are not taken through the
 * trap table.  Software `int $3` / `int $4` / `int $0x80` are allowed from
 * every ring (DPL 3), as on a native kernel.
 */
static trap_info_t trap_table[] = {
    TE(0, 0, trap_entry_0),
    TE(1, 0, trap_entry_1),
    TE(3, 3, trap_entry_3),
    TE(4, 3, trap_entry_4),
    TE(5, 0, trap_entry_5),
    TE(6, 0, trap_entry_6),
    TE(7, 0, trap_entry_7),
    TE(10, 0, trap_entry_10),
    TE(11, 0, trap_entry_11),
    TE(12, 0, trap_entry_12),
    TE(13, 0, trap_entry_13),
    TE(14, 0, trap_entry_14),
    TE(16, 0, trap_entry_16),
    TE(17, 0, trap_entry_17),
    TE(18, 0, trap_entry_18),
    TE(19, 0, trap_entry_19),
    TE(0x80, 3, trap_entry_128),
    { 0, 0, 0, 0 }
};

static long register_callback(unsigned int type, void (*fn)(void))
{
    struct callback_register cb;

    memset(&cb, 0, sizeof(cb));
    cb.type = type;
    cb.flags = CALLBACKF_mask_events;
#ifdef __x86_64__
    cb.address = (unsigned long)fn;
#else
    cb.address.cs = FLAT_KERNEL_CS;
    cb.address.eip = (unsigned long)fn;
#endif
    return HYPERVISOR_callback_op(CALLBACKOP_register, &cb);
}

void trap_init(void)
{
    long rc;

    rc = HYPERVISOR_set_trap_table(trap_table);
    if (rc)
        failf("set_trap_table: rc %ld", rc);
    rc = register_callback(CALLBACKTYPE_event, event_callback_entry);
    if (rc)
        failf("callback_op(register event): rc %ld", rc);
    rc = register_callback(CALLBACKTYPE_failsafe, failsafe_callback_entry);
    if (rc)
        failf("callback_op(register failsafe): rc %ld", rc);
#ifdef __x86_64__
    rc = register_callback(CALLBACKTYPE_syscall, syscall_callback_entry);
    if (rc)
        failf("callback_op(register syscall): rc %ld", rc);
#endif
}

void dump_frame(const struct trap_frame *f)
{
    printk("  vector %lu error_code %lx ip %lx cs %lx flags %lx sp %lx ss %lx\n",
           f->vector, f->error_code, f->ip, f->cs, f->flags,
           FRAME_FROM_USER(f) || PT_LEVELS == 4 ? f->sp : 0,
           FRAME_FROM_USER(f) || PT_LEVELS == 4 ? f->ss : 0);
    if (shared_info)
        printk("  vcpu_info.arch.cr2 %lx\n",
               (unsigned long)shared_info->vcpu_info[0].arch.cr2);
}

int evtchn_test_and_clear(unsigned int port)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    xen_ulong_t bit = (xen_ulong_t)1 << (port % bits);
    xen_ulong_t old = __sync_fetch_and_and(&shared_info->evtchn_pending[port / bits],
                                           ~bit);
    return !!(old & bit);
}

static void handle_events(void)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    vcpu_info_t *v;

    if (!shared_info)
        fail("event upcall with shared_info not mapped");
    v = &shared_info->vcpu_info[0];
    event_upcalls++;
    while (ACCESS_ONCE(v->evtchn_upcall_pending)) {
        xen_ulong_t sel;

        v->evtchn_upcall_pending = 0;
        sel = __sync_lock_test_and_set(&v->evtchn_pending_sel, 0);
        while (sel) {
            unsigned int i = __builtin_ctzl(sel);
            xen_ulong_t pend;

            sel &= ~((xen_ulong_t)1 << i);
            pend = shared_info->evtchn_pending[i] & ~shared_info->evtchn_mask[i];
            while (pend) {
                unsigned int j = __builtin_ctzl(pend);
                unsigned int port = i * bits + j;

                pend &= ~((xen_ulong_t)1 << j);
                if (evtchn_test_and_clear(port) && event_hook)
                    event_hook(port);
            }
        }
    }
}

/* Called from the entry code with the frame; returns a RET_* mode. */
int trap_dispatch(struct trap_frame *f)
{
    int r;

    if (f->vector == VEC_FAILSAFE) {
        printk("FAIL: failsafe callback (Xen could not load a segment "
               "register on return)\n");
        crash();
    }
    if (trap_hook) {
        r = trap_hook(f);
        if (r != RET_UNHANDLED)
            return r;
    }
    if (f->vector == VEC_EVENT) {
        handle_events();
        return RET_IRET;
    }
    printk("FAIL: unexpected %s %lu at ip %lx (error code %lx)\n",
           f->vector >= 0x100 ? "callback" : "trap", f->vector, f->ip,
           f->error_code);
    dump_frame(f);
    crash();
}
