# xensim-toolstack: xl/xenopsd's part for the simulator's tests (domains and VBDs).
TOOLSTACK_SRCS := $(addprefix sim/toolstack/,main.c domain.c vbd.c xsutil.c) $(HV_CLIENT_SRCS)
$(eval $(call program,xensim-toolstack,$(TOOLSTACK_SRCS),$(LDLIBS_XEN)))
