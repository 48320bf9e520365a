# Fuzz targets. Each runs in `make check` through replay.c over its committed seed corpus plus
# deterministic mutations (plain and ASan+UBSan); `make fuzz` runs it coverage-guided under
# libFuzzer when clang is installed (FUZZ_SECONDS each, default 60).
$(eval $(call ctest,fuzz_request_replay,$(BLKIF_SRCS) fuzz/request.c fuzz/replay.c,))

FUZZ_SECONDS ?= 60
CLANG ?= $(firstword $(foreach c,clang clang-14,$(shell command -v $(c) 2>/dev/null)) clang)
$(BUILD)/libfuzzer/fuzz_request: $(BLKIF_SRCS) fuzz/request.c
	@mkdir -p $(@D)
	$(CLANG) $(CPPFLAGS) -g -O1 -fsanitize=fuzzer,address,undefined -o $@ $^

fuzz: $(BUILD)/libfuzzer/fuzz_request
	mkdir -p $(BUILD)/libfuzzer/corpus-request
	$(BUILD)/libfuzzer/fuzz_request -max_total_time=$(FUZZ_SECONDS) $(BUILD)/libfuzzer/corpus-request fuzz/corpus/request

.PHONY: fuzz
