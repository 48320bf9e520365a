# xenblkd: the blkif backend daemon.
XENBLKD_SRCS = daemon/main.c daemon/methods.c daemon/log.c control/rpc.c \
	backend/vbd.c backend/queue.c backend/pgrant.c backend/xenbus.c \
	backend/claim.c backend/bekeys.c daemon/claims.c \
	nbd/proto.c nbd/handshake.c nbd/transmission.c nbd/server.c \
	engine/engine.c engine/null.c engine/uring.c \
	platform/platform.c platform/xen.c platform/sim.c \
	$(BLKIF_SRCS) $(HV_CLIENT_SRCS)
$(eval $(call program,xenblkd,$(XENBLKD_SRCS),$(LDLIBS_XEN) $(LDLIBS_URING) $(LDLIBS_JSON)))
