# The simulated hypervisor: the xensim-hv server, its client library (linked
# into whoever talks to it: use HV_CLIENT_SRCS) and its tests.
HV_CLIENT_SRCS := $(addprefix sim/hv/,hv_client.c hv_domain.c hv_evtchn.c hv_grant.c hv_grant_pin.c \
	hv_grant_front.c hv_msg.c)
HV_SERVER_SRCS := $(addprefix sim/hv/,srv_main.c srv_dispatch.c srv_domain.c srv_evtchn.c srv_xs.c hv_msg.c)
HV_TEST_SRCS := $(HV_CLIENT_SRCS) sim/hv/test/hvt.c
HV_TESTS := hv-test-domain hv-test-grant hv-test-evtchn hv-test-server hv-test-xenstored

$(eval $(call program,xensim-hv,$(HV_SERVER_SRCS),$(shell pkg-config --libs xenstore)))
$(eval $(call ctest,hv-test-domain,$(HV_TEST_SRCS) sim/hv/test/test_domain.c,))
$(eval $(call ctest,hv-test-grant,$(HV_TEST_SRCS) sim/hv/test/test_grant.c,))
$(eval $(call ctest,hv-test-evtchn,$(HV_TEST_SRCS) sim/hv/test/test_evtchn.c,))
$(eval $(call ctest,hv-test-server,$(HV_TEST_SRCS) sim/hv/test/fake_xenstored.c sim/hv/test/test_server.c,))
# Runs against sim/xenstored's xensim-xenstored when that is built (skips otherwise).
$(eval $(call ctest,hv-test-xenstored,$(HV_TEST_SRCS) sim/hv/test/test_xenstored.c,$(shell pkg-config --libs xenstore)))

# Each test runs the server built the same way, found next to itself.
$(addprefix $(BUILD)/,$(HV_TESTS)): | $(BUILD)/xensim-hv
$(addprefix $(BUILD)/san/,$(HV_TESTS)): | $(BUILD)/san/xensim-hv
