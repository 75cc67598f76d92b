/*
 * Grant tables for the test kernels (lib/gnttab.c), version 1, as a PV frontend
 * uses them: GNTTABOP_setup_table, the frames mapped into the kernel, entries
 * filled in place and revoked with cmpxchg.
 */
#ifndef GNTTAB_H
#define GNTTAB_H

#include "guest.h"
#include <xen/grant_table.h>

#define GNTTAB_FRAMES   4       /* frames set up at gnttab_init() (2048 refs) */
#define GNTTAB_INVALID  ((grant_ref_t)0)   /* refs 0-7 are reserved: never handed out */

static inline long HYPERVISOR_grant_table_op(unsigned int cmd, void *uop,
                                             unsigned int count)
{ return _hypercall(__HYPERVISOR_grant_table_op, cmd, (unsigned long)uop, count, 0, 0); }

/* Set up and map the table. 0, or the negative errno/GNTST_* that failed. */
int gnttab_init(void);
/* The entry of `ref` in our table (tests poke at it). */
grant_entry_v1_t *gnttab_entry(grant_ref_t ref);
/* Grant `domid` access to machine frame `frame`; GNTTAB_INVALID when out of refs. */
grant_ref_t gnttab_grant_access(domid_t domid, unsigned long frame, int readonly);
/* Revoke: 0, or -1 while the grantee still has it mapped (the ref stays granted). */
int gnttab_end_access(grant_ref_t ref);

/* Map `dom`'s grant `ref` at `va`: the hypercall's error if it failed, else the
 * GNTST_* status; *handle (if given) gets the handle on success. */
long gnttab_map(grant_ref_t ref, domid_t dom, void *va, int readonly, grant_handle_t *handle);

#endif /* GNTTAB_H */
