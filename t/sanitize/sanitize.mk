# t/sanitize/sanitize.mk: the protocol suite under sanitizers (issue 6),
# included by the top-level Makefile.
#
#   make test-sanitize-stack   builds the module with ASan + UBSan (gcc)
#                              into build/nginx-asan/, starts a private
#                              stack loading it (libasan preloaded into
#                              /usr/sbin/nginx) with the validator under
#                              valgrind memcheck, runs pytest t/protocol,
#                              stops the stack and fails on any ASan/UBSan
#                              report, valgrind error or definite leak
#                              (t/sanitize/run.sh)
#   make module-asan           the ASan + UBSan module alone
#
# nginx is Debian's (not ASan-built): libasan and build/sanitize/
# ubsan_options.so (t/sanitize/ubsan_options.c) are preloaded into it.
#
# The unit tests under the same sanitizers are make test-sanitize and
# make test-valgrind (t/fuzz/fuzz.mk).

SAN_MODULE_DIR     = $(CURDIR)/$(B)/nginx-asan
SAN_MODULE         = $(SAN_MODULE_DIR)/ngx_http_acme_server_module.so
SAN_MODULE_CFLAGS  = -g -O1 -U_FORTIFY_SOURCE -fno-omit-frame-pointer \
                     -fsanitize=address,undefined
SAN_MODULE_LDFLAGS = -fsanitize=address,undefined

SAN_PRELOAD        = $(B)/sanitize/ubsan_options.so

.PHONY: test-sanitize-stack module-asan

# nginx's make decides what to rebuild: always ask it
module-asan:
	ACME_MODULE_BUILDDIR=$(SAN_MODULE_DIR) \
	ACME_MODULE_CFLAGS="$(SAN_MODULE_CFLAGS)" \
	ACME_MODULE_LDFLAGS="$(SAN_MODULE_LDFLAGS)" scripts/build-module.sh

$(SAN_PRELOAD): t/sanitize/ubsan_options.c
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $@")
	$(Q)gcc -O2 -g -Wall -Wextra -Werror -shared -fPIC -o $@ $<

test-sanitize-stack: all module-asan $(SAN_PRELOAD)
	t/sanitize/run.sh $(SAN_MODULE) $(SAN_PRELOAD)
