# The NBD export (its sources are linked into xenblkd, listed in daemon/build.mk):
# a unit test of the protocol's encoding and request validation.
$(eval $(call ctest,test_nbd_proto,nbd/proto.c nbd/test_nbd_proto.c,))
