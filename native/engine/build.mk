# Unit test of the fault-injection layer over the null engine.
$(eval $(call ctest,test_engine_faults,engine/test_faults.c engine/faults.c engine/engine.c engine/null.c engine/uring.c,$(LDLIBS_URING)))

# The SPDK engine: built and tested only where an installed SPDK is found through pkg-config
# (SPDK's `make install` puts spdk_*.pc in <prefix>/lib/pkgconfig; /usr/local and /opt/spdk
# are searched besides PKG_CONFIG_PATH). Elsewhere it is skipped, and make says so.
comma := ,
SPDK_PC := env PKG_CONFIG_PATH=$(PKG_CONFIG_PATH):/usr/local/lib/pkgconfig:/opt/spdk/lib/pkgconfig pkg-config
SPDK_MODULES := spdk_init spdk_event_bdev spdk_bdev_malloc spdk_bdev_aio spdk_bdev_uring spdk_bdev spdk_env_dpdk spdk_thread spdk_rpc
SPDK_FOUND := $(shell $(SPDK_PC) --exists $(SPDK_MODULES) && echo yes)
ifeq ($(SPDK_FOUND),yes)
SPDK_CFLAGS := $(patsubst -I%,-isystem %,$(shell $(SPDK_PC) --cflags spdk_bdev))
SPDK_LIBS := $(patsubst -L%,-Wl$(comma)-rpath$(comma)%,$(shell $(SPDK_PC) --libs-only-L spdk_bdev)) -Wl,--no-as-needed \
	$(shell $(SPDK_PC) --libs $(SPDK_MODULES)) -Wl,--as-needed $(shell $(SPDK_PC) --libs --static spdk_syslibs)
$(foreach o,spdk spdk_host,$(BUILD)/obj/engine/$(o).o $(BUILD)/san-obj/engine/$(o).o): CPPFLAGS += $(SPDK_CFLAGS)
$(eval $(call ctest,test_engine_spdk,engine/test_spdk.c engine/spdk.c engine/spdk_host.c,$(SPDK_LIBS)))
else
$(info SPDK not found (pkg-config $(firstword $(SPDK_MODULES)) ...): the SPDK engine and its tests are skipped)
endif
