/*
 * smp: a PV guest with several vCPUs (boot it with vcpus=N, N >= 2).
 *
 * The boot vCPU counts its vCPUs (VCPUOP_is_up answers -ENOENT past the last),
 * gives each secondary a context of its own (own stack, the kernel's page tables)
 * with VCPUOP_initialise and starts it with VCPUOP_up. Every secondary prints,
 * adds one to a shared counter with a lock-prefixed add and takes itself down
 * (VCPUOP_down); the boot vCPU waits for the count. vCPU1 also binds an IPI port
 * to itself and polls it; vCPU0 sends on it: the event must reach vCPU1's
 * vcpu_info. Then vCPU1 is brought up once more: it resumes after its
 * VCPUOP_down, as on Xen. Hostile calls get Xen's errnos.
 */
#include "guest.h"

#define MAX_CPUS        32
#define STACK_BYTES     8192
#define WAIT_TRIES      200000

#define XEN_EFAULT      14
#define XEN_EEXIST      17

static char stacks[MAX_CPUS][STACK_BYTES] __aligned(16);
static struct vcpu_guest_context ctxt;
static unsigned long counter;          /* secondaries that ran */
static unsigned long comebacks;        /* secondaries that resumed after VCPUOP_down */
static int print_lock;
static evtchn_port_t ipi_port;         /* vCPU1's IPI port, published for vCPU0 */
static int ipi_seen;

static void lock(void)
{
    while (__atomic_exchange_n(&print_lock, 1, __ATOMIC_ACQUIRE))   /* xchg */
        yield();
}

static void unlock(void)
{
    __atomic_store_n(&print_lock, 0, __ATOMIC_RELEASE);
}

static int port_pending(evtchn_port_t port)
{
    const unsigned int bits = sizeof(xen_ulong_t) * 8;
    return (ACCESS_ONCE(shared_info->evtchn_pending[port / bits]) >> (port % bits)) & 1;
}

/* vCPU1: bind an IPI to itself, publish the port, poll until vCPU0's event comes */
static void ipi_target(unsigned long cpu)
{
    struct evtchn_bind_ipi bind = { .vcpu = cpu };
    struct sched_poll poll = { .nr_ports = 1, .timeout = 0 };
    vcpu_info_t *me = &shared_info->vcpu_info[cpu];
    evtchn_port_t ports[1];
    long rc = HYPERVISOR_event_channel_op(EVTCHNOP_bind_ipi, &bind);

    CHECK(rc == 0, "vCPU%lu: bind_ipi: %ld", cpu, rc);
    CHECK(!ACCESS_ONCE(me->evtchn_upcall_pending), "vCPU%lu: upcall pending early", cpu);
    ports[0] = bind.port;
    set_xen_guest_handle(poll.ports, ports);
    __atomic_store_n(&ipi_port, bind.port, __ATOMIC_RELEASE);
    while (!port_pending(bind.port))
        HYPERVISOR_sched_op(SCHEDOP_poll, &poll);
    CHECK(ACCESS_ONCE(me->evtchn_upcall_pending), "vCPU%lu: IPI not on its vcpu_info", cpu);
    evtchn_test_and_clear(bind.port);
    lock();
    printk("smp: vCPU%lu got the IPI on port %u\n", cpu, bind.port);
    unlock();
    __atomic_store_n(&ipi_seen, 1, __ATOMIC_RELEASE);
}

static void __noreturn secondary_main(unsigned long cpu)
{
    lock();
    printk("smp: vCPU%lu up on its own stack (%p)\n", cpu, (void *)&cpu);
    unlock();
    __atomic_fetch_add(&counter, 1, __ATOMIC_SEQ_CST);                /* lock add */
    if (cpu == 1)
        ipi_target(cpu);
    for (;;) {
        long rc = HYPERVISOR_vcpu_op(VCPUOP_down, cpu, NULL);

        CHECK(rc == 0, "vCPU%lu: VCPUOP_down: %ld", cpu, rc);
        lock();
        printk("smp: vCPU%lu resumed after VCPUOP_down\n", cpu);
        unlock();
        __atomic_fetch_add(&comebacks, 1, __ATOMIC_SEQ_CST);
    }
}

static void make_context(unsigned long cpu)
{
    unsigned long top = (unsigned long)stacks[cpu] + STACK_BYTES;

    memset(&ctxt, 0, sizeof(ctxt));
    ctxt.flags = VGCF_in_kernel;
#ifdef __x86_64__
    ctxt.user_regs.rip = (unsigned long)secondary_main;
    ctxt.user_regs.rsp = top - 8;            /* as if called: a return-address slot */
    ctxt.user_regs.rdi = cpu;
    ctxt.user_regs.rflags = 0x200;
#else
    {
        unsigned long *sp = (unsigned long *)top;

        *--sp = cpu;                         /* cdecl: the argument, then the return slot */
        *--sp = 0;
        ctxt.user_regs.esp = (unsigned long)sp;
    }
    ctxt.user_regs.eip = (unsigned long)secondary_main;
    ctxt.user_regs.eflags = 0x200;
    ctxt.event_callback_cs = FLAT_KERNEL_CS;
    ctxt.failsafe_callback_cs = FLAT_KERNEL_CS;
#endif
    ctxt.user_regs.cs = FLAT_KERNEL_CS;
    ctxt.user_regs.ss = FLAT_KERNEL_SS;
    ctxt.user_regs.ds = ctxt.user_regs.es = FLAT_KERNEL_DS;
    ctxt.kernel_ss = FLAT_KERNEL_SS;
    ctxt.kernel_sp = top;
    ctxt.ctrlreg[3] = xen_pfn_to_cr3(kernel_root_mfn());
}

static void wait_for(unsigned long *what, unsigned long value, const char *name)
{
    unsigned long tries;

    for (tries = 0; __atomic_load_n(what, __ATOMIC_ACQUIRE) != value; tries++) {
        CHECK(tries < WAIT_TRIES, "waited too long for %s (%lu of %lu)", name,
              __atomic_load_n(what, __ATOMIC_ACQUIRE), value);
        yield();
    }
}

static void wait_down(unsigned int cpu)
{
    unsigned long tries;

    for (tries = 0; HYPERVISOR_vcpu_op(VCPUOP_is_up, cpu, NULL) != 0; tries++) {
        CHECK(tries < WAIT_TRIES, "vCPU%u never went down", cpu);
        yield();
    }
}

static void ipi_ping(void)
{
    struct evtchn_send send;
    unsigned long tries;
    long rc;

    for (tries = 0; !__atomic_load_n(&ipi_port, __ATOMIC_ACQUIRE); tries++) {
        CHECK(tries < WAIT_TRIES, "vCPU1 never published its IPI port");
        yield();
    }
    send.port = ipi_port;
    rc = HYPERVISOR_event_channel_op(EVTCHNOP_send, &send);
    CHECK(rc == 0, "EVTCHNOP_send(IPI %u): %ld", send.port, rc);
    for (tries = 0; !__atomic_load_n(&ipi_seen, __ATOMIC_ACQUIRE); tries++) {
        CHECK(tries < WAIT_TRIES, "vCPU1 never saw the IPI");
        yield();
    }
}

static void hostile(unsigned int nr)
{
    long rc;

    rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, &ctxt);
    EXPECT(rc == -XEN_EEXIST, "initialise vCPU1 twice: %ld (want -EEXIST)", rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, 0, &ctxt);
    EXPECT(rc == -XEN_EEXIST, "initialise vCPU0: %ld (want -EEXIST)", rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, 1, (void *)16);
    EXPECT(rc == -XEN_EFAULT, "initialise from a bad pointer: %ld (want -EFAULT)", rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_up, nr, NULL);
    EXPECT(rc == -XEN_ENOENT, "VCPUOP_up vCPU%u: %ld (want -ENOENT)", nr, rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, nr, &ctxt);
    EXPECT(rc == -XEN_ENOENT, "initialise vCPU%u: %ld (want -ENOENT)", nr, rc);
    rc = HYPERVISOR_vcpu_op(VCPUOP_down, 1, NULL);
    EXPECT(rc == 0, "VCPUOP_down of a vCPU already down: %ld", rc);
}

static void smp_main(void)
{
    unsigned int nr, cpu;
    long rc;

    map_shared_info();
    for (nr = 1; nr < MAX_CPUS && HYPERVISOR_vcpu_op(VCPUOP_is_up, nr, NULL) >= 0; nr++)
        CHECK(HYPERVISOR_vcpu_op(VCPUOP_is_up, nr, NULL) == 0, "vCPU%u is up at boot", nr);
    printk("smp: %u vCPUs\n", nr);
    CHECK(nr >= 2, "boot with vcpus=2 or more");
    rc = HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL);
    EXPECT(rc == -XEN_EINVAL, "VCPUOP_up before VCPUOP_initialise: %ld (want -EINVAL)", rc);
    for (cpu = 1; cpu < nr; cpu++) {
        make_context(cpu);
        rc = HYPERVISOR_vcpu_op(VCPUOP_initialise, cpu, &ctxt);
        CHECK(rc == 0, "VCPUOP_initialise vCPU%u: %ld", cpu, rc);
        rc = HYPERVISOR_vcpu_op(VCPUOP_up, cpu, NULL);
        CHECK(rc == 0, "VCPUOP_up vCPU%u: %ld", cpu, rc);
    }
    ipi_ping();
    wait_for(&counter, nr - 1, "the secondaries");
    for (cpu = 1; cpu < nr; cpu++)
        wait_down(cpu);
    lock();
    printk("smp: counter %lu after %u secondaries\n", counter, nr - 1);
    unlock();
    hostile(nr);
    rc = HYPERVISOR_vcpu_op(VCPUOP_up, 1, NULL);
    CHECK(rc == 0, "VCPUOP_up vCPU1 again: %ld", rc);
    wait_for(&comebacks, 1, "vCPU1 to resume");
    wait_down(1);
}

DEFINE_KERNEL("smp", smp_main, 0);
