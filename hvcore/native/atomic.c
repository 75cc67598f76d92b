/*
 * Atomic read-modify-write on words shared with guests and other processes.
 *
 * A grant entry's flags are changed by the granting guest (cmpxchg in its
 * gnttab_end_access) and by the hypervisor (setting GTF_reading/GTF_writing when a
 * mapping is made) at the same time, from different processes: only a locked
 * cmpxchg is safe, and Python has none.
 */
#include <stdint.h>

uint32_t hv_cmpxchg32(volatile uint32_t *word, uint32_t old, uint32_t new_value)
{
    return __sync_val_compare_and_swap(word, old, new_value);
}

uint16_t hv_clear_bits16(volatile uint16_t *word, uint16_t bits)
{
    return __sync_fetch_and_and(word, (uint16_t)~bits);
}

/* A full fence (mfence): a store to one shared word made visible before a load of
 * another, as ring.h's xen_mb() between publishing an index and reading an event. */
void hv_mb(void)
{
    __sync_synchronize();
}
