# xenblkd: the blkif backend daemon.
XENBLKD_SRCS = daemon/main.c daemon/methods.c daemon/disk_params.c daemon/log.c control/rpc.c \
	daemon/meta_rpc.c daemon/meta_slots.c \
	backend/vbd.c backend/queue.c backend/pgrant.c backend/spin.c backend/xenbus.c backend/fe_params.c \
	backend/claim.c backend/bekeys.c daemon/claims.c daemon/faults.c daemon/xsconn.c \
	nbd/proto.c nbd/handshake.c nbd/transmission.c nbd/server.c \
	engine/engine.c engine/null.c engine/uring.c engine/faults.c \
	platform/platform.c platform/xen.c platform/sim.c \
	$(BLKIF_SRCS) $(HV_CLIENT_SRCS)
$(eval $(call program,xenblkd,$(XENBLKD_SRCS) daemon/spdk_stub.c,$(LDLIBS_XEN) $(LDLIBS_URING) $(LDLIBS_JSON) -lz))

# xenblkd-spdk: the same daemon with the SPDK engine, where SPDK is found (docs/spdk.md).
ifeq ($(SPDK_FOUND),yes)
$(foreach o,spdk spdk_reactor spdk_queues,$(BUILD)/obj/daemon/$(o).o $(BUILD)/san-obj/daemon/$(o).o): CPPFLAGS += $(SPDK_CFLAGS)
$(eval $(call program,xenblkd-spdk,$(XENBLKD_SRCS) daemon/spdk.c daemon/spdk_reactor.c daemon/spdk_queues.c engine/spdk.c engine/spdk_host.c,$(LDLIBS_XEN) $(LDLIBS_URING) $(LDLIBS_JSON) -lz $(SPDK_LIBS)))
endif

$(eval $(call ctest,test_meta_slots,daemon/test_meta_slots.c daemon/meta_slots.c engine/engine.c engine/null.c engine/uring.c engine/faults.c,$(LDLIBS_URING) -lz))
