# Compiler and linker flags of the PV test kernels, for both ABIs. Included by
# guests/Makefile and by labs/lab.mk, so lab kernels build exactly as ours do.
# GUESTS is this folder (as the includer names it), for the include paths.

GUESTS ?= $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))

ARCH_pv64 := x86_64
ARCH_pv32 := x86_32

COMMON_CFLAGS := -std=gnu11 -O2 -g -Wall -Wextra -Wno-unused-parameter \
	-ffreestanding -fno-builtin -nostdlib -fno-pic -fno-pie \
	-fno-stack-protector -fno-asynchronous-unwind-tables \
	-fno-tree-loop-distribute-patterns -fno-common \
	-mgeneral-regs-only \
	-D__XEN_INTERFACE_VERSION__=__XEN_LATEST_INTERFACE_VERSION__ \
	-I$(GUESTS)/include -MMD -MP

CFLAGS_pv64 := $(COMMON_CFLAGS) -m64 -mcmodel=kernel -mno-red-zone -I$(GUESTS)/arch/x86_64
CFLAGS_pv32 := $(COMMON_CFLAGS) -m32 -march=i686 -I$(GUESTS)/arch/x86_32

ASFLAGS_pv64 := -D__ASSEMBLY__ -m64 -I$(GUESTS)/include -I$(GUESTS)/arch/x86_64 -MMD -MP
ASFLAGS_pv32 := -D__ASSEMBLY__ -m32 -I$(GUESTS)/include -I$(GUESTS)/arch/x86_32 -MMD -MP

LDFLAGS_COMMON := -nostdlib -static -no-pie -Wl,--build-id=none \
	-Wl,-z,max-page-size=4096 -Wl,-z,noexecstack -Wl,--no-warn-rwx-segments
LDFLAGS_pv64 := -m64 $(LDFLAGS_COMMON) -Wl,-T,$(GUESTS)/arch/x86_64/kernel.lds
LDFLAGS_pv32 := -m32 $(LDFLAGS_COMMON) -Wl,-T,$(GUESTS)/arch/x86_32/kernel.lds

LIBGCC_pv64 = $(shell $(CC) -m64 -print-libgcc-file-name)
LIBGCC_pv32 = $(shell $(CC) -m32 -print-libgcc-file-name)
