# Simulated xenstored: the real xenstore wire protocol on Unix sockets, for
# the real libxenstore (XENSTORED_PATH=<dir>/socket).
XSD_DIR := sim/xenstored
XSD_SRCS := $(addprefix $(XSD_DIR)/,main.c server.c conn.c dispatch.c req.c \
	ops_node.c ops_session.c ops_domain.c view.c txn.c watch.c domain.c \
	store.c path.c perms.c util.c state.c)
$(eval $(call program,xensim-xenstored,$(XSD_SRCS),))

# Each test starts the server built the same way, found next to itself, and
# drives it with the real libxenstore (test_tools: the xenstore-* tools).
XSD_TESTS := basic perms watch txn domain wire tools state
$(foreach t,$(XSD_TESTS),$(eval $(call ctest,test_xenstored_$(t),\
	$(XSD_DIR)/test_$(t).c $(XSD_DIR)/test_harness.c,$(LDLIBS_XEN))))
$(addprefix $(BUILD)/test_xenstored_,$(XSD_TESTS)): | $(BUILD)/xensim-xenstored
$(addprefix $(BUILD)/san/test_xenstored_,$(XSD_TESTS)): | $(BUILD)/san/xensim-xenstored
