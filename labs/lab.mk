# Build one lab kernel from a lab's C and assembly files, with the flags, library and
# entry code of our own test kernels (guests/flags.mk, guests/lib, guests/arch).
#
#   make -f labs/lab.mk NAME=kernel SRCS="a.c b.S" OUT=build/pv64 ABI=pv64 [INCS="dir ..."]
#
# leaves OUT/NAME.elf. The graders (labs/grading.py) call it; so can you.

LAB_MK := $(lastword $(MAKEFILE_LIST))
GUESTS := $(abspath $(dir $(LAB_MK))/../guests)
include $(GUESTS)/flags.mk

CC ?= gcc
ifeq ($(origin CC),default)
CC := gcc
endif
ABI ?= pv64
LIBOBJS := $(wildcard $(GUESTS)/build/$(ABI)/lib/*.o) \
	$(GUESTS)/build/$(ABI)/arch/head.o $(GUESTS)/build/$(ABI)/arch/entry.o
OBJS := $(patsubst %,$(OUT)/%.o,$(notdir $(basename $(SRCS))))
EXTRA_INCS := $(patsubst %,-I%,$(INCS))

vpath %.c $(sort $(dir $(SRCS)))
vpath %.S $(sort $(dir $(SRCS)))

.PHONY: all
all: $(OUT)/$(NAME).elf

$(OUT)/$(NAME).elf: $(OBJS) $(LIBOBJS)
	@$(CC) $(LDFLAGS_$(ABI)) -o $@ $(OBJS) $(LIBOBJS) $(LIBGCC_$(ABI))

$(OUT)/%.o: %.c
	@mkdir -p $(OUT)
	@$(CC) $(CFLAGS_$(ABI)) $(EXTRA_INCS) -c $< -o $@

$(OUT)/%.o: %.S
	@mkdir -p $(OUT)
	@$(CC) $(ASFLAGS_$(ABI)) $(EXTRA_INCS) -c $< -o $@

-include $(OBJS:.o=.d)
