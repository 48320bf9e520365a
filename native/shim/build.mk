# libxenblk-shim.so: what the datapath plugin calls through ffi-rs to start and stop daemons.
SHIM_SRCS := shim/shim.c shim/call.c shim/util.c
$(BUILD)/pic-obj/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(CPPFLAGS) $(CFLAGS) -fPIC -MMD -MP -c -o $@ $<
$(BUILD)/libxenblk-shim.so: $(patsubst %.c,$(BUILD)/pic-obj/%.o,$(SHIM_SRCS))
	$(CC) $(CFLAGS) -shared -o $@ $^
PROGRAMS += $(BUILD)/libxenblk-shim.so
$(eval $(call ctest,test_shim,$(SHIM_SRCS) shim/test_shim.c,))
$(eval $(call ctest,test_shim_call,shim/call.c shim/util.c shim/test_call.c,))
