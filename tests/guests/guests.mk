# SPDX-License-Identifier: MIT
# Assembles the guest programs idsr-vmm runs (tests/guests/*.S) into $(BUILD)/guests/:
# NAME.bin (flat, loaded at 0x40000000), NAME.elf and NAME.map (`nm -n` symbols, for diff
# --by-symbol). a32_*.S are AArch32 (ARM state); the rest AArch64. Included by the Makefile.

GUEST_DIR := $(BUILD)/guests
GUEST_BASE ?= 0x40000000
A64_PREFIX ?= aarch64-linux-gnu-
A32_PREFIX ?= arm-linux-gnueabihf-

A32_GUEST_SRC := $(wildcard tests/guests/a32_*.S)
A64_GUEST_SRC := $(filter-out $(A32_GUEST_SRC),$(wildcard tests/guests/*.S))
GUEST_NAMES := $(patsubst tests/guests/%.S,%,$(A64_GUEST_SRC) $(A32_GUEST_SRC))

# Variants for replay and diff tests: NAME := SOURCE --defsym ...
# apple_boot_v2 is "the next kernel version": all four changes at once.
GUEST_VARIANTS := apple_boot_added apple_boot_removed apple_boot_value apple_boot_moved apple_boot_v2 \
	bench_loop_short bench_loop_200k apple_boot_long apple_boot_restart bench_a57 bench_a57_1 bench_a57_big
apple_boot_added_FROM := apple_boot
apple_boot_added_DEFS := --defsym ADD_ACCESS=1
apple_boot_removed_FROM := apple_boot
apple_boot_removed_DEFS := --defsym REMOVE_ACCESS=1
apple_boot_value_FROM := apple_boot
apple_boot_value_DEFS := --defsym VALUE_CHANGED=1
apple_boot_moved_FROM := apple_boot
apple_boot_moved_DEFS := --defsym MOVED=1
apple_boot_v2_FROM := apple_boot
apple_boot_v2_DEFS := --defsym ADD_ACCESS=1 --defsym REMOVE_ACCESS=1 --defsym VALUE_CHANGED=1 --defsym MOVED=1
# a busy guest for tests that race something against a boot (test_rule_identity)
bench_loop_short_FROM := bench_loop
bench_loop_short_DEFS := --defsym LOOPS=20000
bench_loop_200k_FROM := bench_loop
bench_loop_200k_DEFS := --defsym LOOPS=200000
# apple_boot_long: the sequence 16700 times, ~250,000 accesses a vCPU (the report's 1M-access boot on 4 vCPUs)
apple_boot_long_FROM := apple_boot
apple_boot_long_DEFS := --defsym REPEAT=16700
# apple_boot_restart: the sequence 6000 times, 90,000 accesses a vCPU (idsrd killed three times under it:
# test_vmm_restart; long enough that the kills land mid-boot with the fast path)
apple_boot_restart_FROM := apple_boot
apple_boot_restart_DEFS := --defsym REPEAT=6000
# bench/qemu.sh: CPUACTLR_EL1 read 100000 times, once (what starting and stopping costs), 100M times
bench_a57_FROM := bench_loop
bench_a57_DEFS := --defsym A57=1
bench_a57_1_FROM := bench_loop
bench_a57_1_DEFS := --defsym A57=1 --defsym LOOPS=1
bench_a57_big_FROM := bench_loop
bench_a57_big_DEFS := --defsym A57=1 --defsym LOOPS=100000000

GUEST_ALL := $(GUEST_NAMES) $(GUEST_VARIANTS)
GUEST_OUT := $(foreach g,$(GUEST_ALL),$(GUEST_DIR)/$(g).bin $(GUEST_DIR)/$(g).elf $(GUEST_DIR)/$(g).map)

guests: $(GUEST_OUT)

# which toolchain a guest needs, by name
guest_prefix = $(if $(filter a32_%,$(1)),$(A32_PREFIX),$(A64_PREFIX))

GUEST_INC := $(wildcard tests/guests/*.inc)

$(GUEST_DIR)/%.o: tests/guests/%.S tests/guests/guests.mk $(GUEST_INC)
	@mkdir -p $(dir $@)
	@echo "  GUEST   $<"
	$(Q)command -v $(call guest_prefix,$*)as >/dev/null || { echo "$(call guest_prefix,$*)as not found:" \
	    "install binutils-aarch64-linux-gnu and binutils-arm-linux-gnueabihf (make deps)" >&2; exit 1; }
	$(Q)$(call guest_prefix,$*)as -I tests/guests $($*_DEFS) -o $@ $<

define guest_variant_rule
$(GUEST_DIR)/$(1).o: tests/guests/$($(1)_FROM).S tests/guests/guests.mk $(GUEST_INC)
	@mkdir -p $$(dir $$@)
	@echo "  GUEST   $$< ($(1))"
	$$(Q)$(A64_PREFIX)as -I tests/guests $($(1)_DEFS) -o $$@ $$<
endef
$(foreach v,$(GUEST_VARIANTS),$(eval $(call guest_variant_rule,$(v))))

$(GUEST_DIR)/%.elf: $(GUEST_DIR)/%.o tests/guests/guest.ld
	$(Q)$(call guest_prefix,$*)ld --build-id=none --defsym GUEST_BASE=$(GUEST_BASE) -T tests/guests/guest.ld -o $@ $<

$(GUEST_DIR)/%.bin: $(GUEST_DIR)/%.elf
	$(Q)$(call guest_prefix,$*)objcopy -O binary $< $@

# functions only: no --defsym switches, no absolute symbols
$(GUEST_DIR)/%.map: $(GUEST_DIR)/%.elf
	$(Q)$(call guest_prefix,$*)nm -n --defined-only $< | awk '$$2 ~ /^[Tt]$$/' > $@

.PRECIOUS: $(GUEST_DIR)/%.o $(GUEST_DIR)/%.elf

# The same guests for QEMU -M virt (tests/guests/qemu/virt_*.S, tests/qemu/): NAME.elf in
# $(GUEST_DIR)/qemu/, the guest's code assembled with QEMU_VIRT=1 (guest_end, end.inc) at the
# same addresses, the virt entry and exit linked after it, the ELF entry at qemu_virt_start.
QEMU_GUESTS := apple_boot cortex_boot undef_vector checksum a32_cp15 bench_a57 bench_a57_1 bench_a57_big
QEMU_GUEST_OUT := $(foreach g,$(QEMU_GUESTS),$(GUEST_DIR)/qemu/$(g).elf)
guests: $(QEMU_GUEST_OUT)

$(GUEST_DIR)/qemu/virt_%.o: tests/guests/qemu/virt_%.S
	@mkdir -p $(dir $@)
	@echo "  GUEST   $<"
	$(Q)$(if $(filter a32,$*),$(A32_PREFIX),$(A64_PREFIX))as -o $@ $<

define qemu_guest_rule
$(GUEST_DIR)/qemu/$(1).o: tests/guests/$(or $($(1)_FROM),$(1)).S tests/guests/guests.mk $(GUEST_INC)
	@mkdir -p $$(dir $$@)
	@echo "  GUEST   $$< (QEMU -M virt$(if $($(1)_FROM), $(1)))"
	$$(Q)$(call guest_prefix,$(1))as -I tests/guests $($(1)_DEFS) --defsym QEMU_VIRT=1 -o $$@ $$<
$(GUEST_DIR)/qemu/$(1).elf: $(GUEST_DIR)/qemu/$(1).o $(GUEST_DIR)/qemu/virt_$(if $(filter a32_%,$(1)),a32,a64).o tests/guests/guest.ld
	$$(Q)$(call guest_prefix,$(1))ld --build-id=none --defsym GUEST_BASE=$(GUEST_BASE) -T tests/guests/guest.ld \
	    -e qemu_virt_start -o $$@ $$(filter %.o,$$^)
endef
$(foreach g,$(QEMU_GUESTS),$(eval $(call qemu_guest_rule,$(g))))
