/* Helpers for the assembly files of the test kernels. */
#ifndef GUEST_ASM_H
#define GUEST_ASM_H

#include <xen/xen.h>
#include <xen/elfnote.h>
#include "arch.h"

#define ENTRY(name)     .globl name; .type name, @function; name:
#define END(name)       .size name, . - name

/*
 * One ELF note with owner "Xen": namesz, descsz, type, name, desc, each
 * padded to 4 bytes (the ELF note format).
 */
#define ELFNOTE(type, desc_directive)                           \
    .pushsection .note.Xen, "a", @note;                         \
    .balign 4;                                                  \
    .long 2f - 1f;                                              \
    .long 4f - 3f;                                              \
    .long type;                                                 \
1:  .asciz "Xen";                                               \
2:  .balign 4;                                                  \
3:  desc_directive;                                             \
4:  .balign 4;                                                  \
    .popsection

#endif
