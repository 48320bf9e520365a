# Fuzz targets (fuzz/<name>.c, seeds in fuzz/corpus/<name>/). Each runs in `make check` through
# replay.c over its committed seed corpus plus deterministic mutations (plain and ASan+UBSan);
# `make fuzz` runs each coverage-guided under libFuzzer when clang is installed (FUZZ_SECONDS
# each, default 60; `make fuzz-<name>` for one; a crash is saved as build/libfuzzer/<name>-crash-*,
# replayed with build/fuzz_<name>_replay FILE).
FUZZ_TARGETS := request fe_params nbd rpc
FUZZ_SRCS_request = $(BLKIF_SRCS) fuzz/request.c
FUZZ_LIBS_request =
FUZZ_SRCS_fe_params = fuzz/fe_params.c backend/fe_params.c backend/bekeys.c backend/claim.c daemon/log.c blkif/abi.c
FUZZ_LIBS_fe_params = $(LDLIBS_XEN) $(LDLIBS_JSON)
FUZZ_SRCS_nbd = fuzz/nbd.c nbd/proto.c nbd/handshake.c nbd/transmission.c
FUZZ_LIBS_nbd =
FUZZ_SRCS_rpc = fuzz/rpc.c control/rpc.c daemon/disk_params.c backend/claim.c daemon/log.c
FUZZ_LIBS_rpc = $(LDLIBS_XEN) $(LDLIBS_JSON)

FUZZ_SECONDS ?= 60
CLANG ?= $(firstword $(foreach c,clang clang-14,$(shell command -v $(c) 2>/dev/null)) clang)

# $(call fuzz_target,NAME): the replay test, the libFuzzer binary and its run
define fuzz_target
$(call ctest,fuzz_$(1)_replay,$(FUZZ_SRCS_$(1)) fuzz/replay.c,$(FUZZ_LIBS_$(1)))
$(BUILD)/libfuzzer/fuzz_$(1): $(FUZZ_SRCS_$(1)) $(wildcard */*.h)
	@mkdir -p $$(@D)
	$$(CLANG) $$(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $$@ $$(filter %.c,$$^) $(FUZZ_LIBS_$(1)) -pthread
fuzz-$(1): $(BUILD)/libfuzzer/fuzz_$(1)
	sh fuzz/run-libfuzzer.sh $(BUILD)/libfuzzer/fuzz_$(1) fuzz/corpus/$(1) $$(FUZZ_SECONDS) $(BUILD)/libfuzzer/stats
.PHONY: fuzz-$(1)
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call fuzz_target,$(t))))

fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))

.PHONY: fuzz
