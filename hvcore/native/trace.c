/*
 * Instruction and block tracing for hvcore (hvcore/trace/native.py drives it).
 *
 * A Python hook costs ~0.8 us a call, far too slow for one call per instruction, so
 * the engine calls this C hook instead. It turns each address into a small id (a hash
 * table of the addresses seen so far) and appends the id to a buffer. Addresses seen
 * for the first time are also listed in `fresh`, so that Python disassembles each one
 * once. Python empties both after every run of the engine.
 *
 * When a buffer is full the hook stops the engine before the instruction (or block)
 * runs and records nothing for it: the run loop drains, and the instruction is seen
 * again, once, when the vCPU resumes.
 */
#include <stdint.h>
#include <stdlib.h>

typedef int (*uc_emu_stop_fn)(void *uc);

struct hv_trace {
    uint32_t *ids;          /* one id per instruction (or block) executed */
    uint32_t n, cap;
    uint64_t *fresh_addr;   /* addresses given an id since the last drain */
    uint32_t *fresh_size;
    uint32_t nfresh, fresh_cap;
    uint32_t next_id;
    uint32_t stopped;       /* a buffer filled: the engine was stopped */
    uint64_t *keys;         /* hash table: address + 1 (0 = empty slot) */
    uint32_t *vals;
    uint32_t mask, used;
};

static uc_emu_stop_fn emu_stop;

void hv_trace_init(uc_emu_stop_fn stop)
{
    emu_stop = stop;
}

static int table_alloc(struct hv_trace *t, uint32_t slots)
{
    t->keys = calloc(slots, sizeof *t->keys);
    t->vals = calloc(slots, sizeof *t->vals);
    t->mask = slots - 1;
    t->used = 0;
    return t->keys && t->vals;
}

struct hv_trace *hv_trace_new(uint32_t cap, uint32_t fresh_cap)
{
    struct hv_trace *t = calloc(1, sizeof *t);
    if (!t)
        return NULL;
    t->ids = malloc((size_t)cap * sizeof *t->ids);
    t->fresh_addr = malloc((size_t)fresh_cap * sizeof *t->fresh_addr);
    t->fresh_size = malloc((size_t)fresh_cap * sizeof *t->fresh_size);
    t->cap = cap;
    t->fresh_cap = fresh_cap;
    if (!t->ids || !t->fresh_addr || !t->fresh_size || !table_alloc(t, 1u << 16))
        return NULL;
    return t;
}

void hv_trace_free(struct hv_trace *t)
{
    if (!t)
        return;
    free(t->ids);
    free(t->fresh_addr);
    free(t->fresh_size);
    free(t->keys);
    free(t->vals);
    free(t);
}

static inline uint32_t slot_of(uint64_t key, uint32_t mask)
{
    return (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

static void table_put(struct hv_trace *t, uint64_t key, uint32_t val)
{
    uint32_t i = slot_of(key, t->mask);
    while (t->keys[i])
        i = (i + 1) & t->mask;
    t->keys[i] = key;
    t->vals[i] = val;
    t->used++;
}

/* Double the table; on failure keep the old one (it still works, only slower). */
static void table_grow(struct hv_trace *t)
{
    uint64_t *old_keys = t->keys;
    uint32_t *old_vals = t->vals;
    uint32_t old_slots = t->mask + 1;
    if (!table_alloc(t, old_slots * 2)) {
        free(t->keys);
        free(t->vals);
        t->keys = old_keys;
        t->vals = old_vals;
        t->mask = old_slots - 1;
        return;
    }
    for (uint32_t i = 0; i < old_slots; i++)
        if (old_keys[i])
            table_put(t, old_keys[i], old_vals[i]);
    free(old_keys);
    free(old_vals);
}

/* The id of `address`, or -1 when a new id cannot be listed now (fresh list full). */
static int64_t id_of(struct hv_trace *t, uint64_t address, uint32_t size)
{
    uint64_t key = address + 1;
    uint32_t i = slot_of(key, t->mask);
    while (t->keys[i]) {
        if (t->keys[i] == key)
            return t->vals[i];
        i = (i + 1) & t->mask;
    }
    if (t->nfresh == t->fresh_cap || t->used + 1 >= t->mask)
        return -1;
    uint32_t id = t->next_id++;
    t->keys[i] = key;
    t->vals[i] = id;
    t->used++;
    t->fresh_addr[t->nfresh] = address;
    t->fresh_size[t->nfresh++] = size;
    if (t->used * 2 > t->mask)
        table_grow(t);
    return id;
}

/* UC_HOOK_CODE and UC_HOOK_BLOCK callback; user_data is the struct hv_trace. */
void hv_trace_hook(void *uc, uint64_t address, uint32_t size, void *user_data)
{
    struct hv_trace *t = user_data;
    int64_t id;
    if (t->n == t->cap || (id = id_of(t, address, size)) < 0) {
        t->stopped = 1;
        emu_stop(uc);
        return;
    }
    t->ids[t->n++] = (uint32_t)id;
}
