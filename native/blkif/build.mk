# The blkif protocol engine: ABI layouts, back ring, request decoding.
BLKIF_SRCS := blkif/abi.c blkif/ring.c blkif/request.c
$(eval $(call ctest,test_blkif,$(BLKIF_SRCS) blkif/test_blkif.c,))
