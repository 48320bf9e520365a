# xenblkd: the blkif backend daemon.
XENBLKD_SRCS = daemon/main.c daemon/methods.c daemon/disk_params.c daemon/log.c control/rpc.c \
	backend/vbd.c backend/queue.c backend/pgrant.c backend/xenbus.c backend/fe_params.c \
	backend/claim.c backend/bekeys.c daemon/claims.c daemon/faults.c daemon/xsconn.c \
	nbd/proto.c nbd/handshake.c nbd/transmission.c nbd/server.c \
	engine/engine.c engine/null.c engine/uring.c engine/faults.c \
	platform/platform.c platform/xen.c platform/sim.c \
	$(BLKIF_SRCS) $(HV_CLIENT_SRCS)
$(eval $(call program,xenblkd,$(XENBLKD_SRCS),$(LDLIBS_XEN) $(LDLIBS_URING) $(LDLIBS_JSON)))
