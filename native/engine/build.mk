# Unit test of the fault-injection layer over the null engine.
$(eval $(call ctest,test_engine_faults,engine/test_faults.c engine/faults.c engine/engine.c engine/null.c engine/uring.c,$(LDLIBS_URING)))
