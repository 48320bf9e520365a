# xensim-guest: a Linux-blkfront-like frontend with fio-like and hostile workloads,
# and its tests.
GUEST_LIB_SRCS := $(addprefix sim/guest/,wire.c mem.c grants.c xenbus.c connect.c blkfront.c verify.c stats.c \
	opts.c workload.c hostile.c malicious.c report.c durable.c)
GUEST_LIBS := $(LDLIBS_XEN) $(LDLIBS_JSON) -lm

$(eval $(call program,xensim-guest,$(GUEST_LIB_SRCS) sim/guest/main.c $(HV_CLIENT_SRCS),$(GUEST_LIBS)))
# Pure unit tests: argument parsing, verifier, encoders, percentiles (no daemons).
GUEST_PURE_SRCS := $(addprefix sim/guest/,wire.c verify.c stats.c opts.c)
$(eval $(call ctest,guest-test-units,$(GUEST_PURE_SRCS) sim/guest/test_units.c,-lm))
# The handshake against a backend played by the test in xenstore; runs the xensim-hv and
# xensim-xenstored built next to it, and uses the toolstack's code to add the VBDs.
GUEST_TEST_SRCS := $(GUEST_LIB_SRCS) sim/guest/test_env.c $(addprefix sim/toolstack/,domain.c vbd.c xsutil.c) \
	$(HV_CLIENT_SRCS)
$(eval $(call ctest,guest-test-handshake,$(GUEST_TEST_SRCS) sim/guest/test_handshake.c,$(GUEST_LIBS)))
# The data path end to end against a small backend built on blkif/ (test_backend.c), and the
# xensim-guest program itself.
$(eval $(call ctest,guest-test-loopback,$(GUEST_TEST_SRCS) $(BLKIF_SRCS) sim/guest/test_backend.c \
	sim/guest/test_loopback.c,\
	$(GUEST_LIBS)))
$(BUILD)/guest-test-handshake $(BUILD)/guest-test-loopback: | $(BUILD)/xensim-hv $(BUILD)/xensim-xenstored
$(BUILD)/san/guest-test-handshake $(BUILD)/san/guest-test-loopback: | $(BUILD)/san/xensim-hv \
	$(BUILD)/san/xensim-xenstored
$(BUILD)/guest-test-loopback: | $(BUILD)/xensim-guest
$(BUILD)/san/guest-test-loopback: | $(BUILD)/san/xensim-guest
