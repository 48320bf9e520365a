# Unit tests of the claim logic (backend/claim.c, backend/bekeys.c); the search runs against the
# simulated xenstored, started beside the test as the xenstored tests do.
$(eval $(call ctest,test_claim,backend/test_claim.c backend/claim.c backend/bekeys.c daemon/log.c \
	sim/xenstored/test_harness.c,$(LDLIBS_XEN) $(LDLIBS_JSON)))
$(BUILD)/test_claim: | $(BUILD)/xensim-xenstored
$(BUILD)/san/test_claim: | $(BUILD)/san/xensim-xenstored

# The adaptive polling budget (backend/spin.c), pure arithmetic.
$(eval $(call ctest,test_spin,backend/test_spin.c backend/spin.c,))

# The persistent-grant cache (backend/pgrant.c) over a fake platform.
$(eval $(call ctest,test_pgrant,backend/test_pgrant.c backend/pgrant.c,))
