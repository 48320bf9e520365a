# Unit test of the fault-injection layer over the null engine.
$(eval $(call ctest,test_engine_faults,engine/test_faults.c engine/faults.c engine/engine.c engine/null.c engine/uring.c,$(LDLIBS_URING)))


# The SPDK engine's own test, where SPDK is found (SPDK_FOUND: native/Makefile).
ifeq ($(SPDK_FOUND),yes)
$(foreach o,spdk spdk_host test_spdk,$(BUILD)/obj/engine/$(o).o $(BUILD)/san-obj/engine/$(o).o): CPPFLAGS += $(SPDK_CFLAGS)
$(eval $(call ctest,test_engine_spdk,engine/test_spdk.c engine/spdk.c engine/spdk_host.c,$(SPDK_LIBS)))
endif
