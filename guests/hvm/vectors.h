/* Interrupt entry stubs for the HVM test kernels' .S files: TRAP_STUBS from, to, common
 * makes trap_vector_N for each vector, pushing a zero where the CPU pushes no error
 * code, then N, and jumping to `common`; TRAP_ENTRIES from, to lists their addresses. */
        .macro  TRAP_STUB n, common
trap_vector_\n:
        .if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17)
        .else
        push    $0
        .endif
        push    $\n
        jmp     \common
        .endm

        .altmacro
        .macro  TRAP_STUBS from, to, common
        TRAP_STUB %\from, \common
        .if     \to - \from
        TRAP_STUBS %(\from + 1), \to, \common
        .endif
        .endm

        .macro  TRAP_ENTRY n
        .long   trap_vector_\n
        .endm

        .macro  TRAP_ENTRIES from, to
        TRAP_ENTRY %\from
        .if     \to - \from
        TRAP_ENTRIES %(\from + 1), \to
        .endif
        .endm
