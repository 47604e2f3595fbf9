# t/fuzz/fuzz.mk: fuzzing and sanitizer runs (issue 6), included by the
# top-level Makefile.
#
#   make fuzz            every libFuzzer target for FUZZ_SECONDS (300) each
#   make fuzz-smoke      the same for FUZZ_SMOKE_SECONDS (20) each (make test)
#   make fuzz-build      the targets alone: build/fuzz/fuzz_*
#   make fuzz-crashers   replays t/fuzz/crashers/<target>/* (known bugs)
#   make test-sanitize   core and unit tests built with ASan + UBSan into
#                        build/asan/, every unit test run, and the validator
#                        built the same way checking its example config
#   make test-valgrind   build/t/test_* and acme-validator -t under valgrind
#
# The targets are built with clang -fsanitize=fuzzer,address,undefined from
# the core sources (src/acme/*.c) compiled with the same flags, not from the
# -O2 libacme.a.  Seeds are read from t/fuzz/corpus/<target>/ (written by
# t/fuzz/make_seeds.py); what the fuzzer finds goes to build/fuzz/, never to
# the repository.  FUZZ_TARGETS picks targets (e.g. FUZZ_TARGETS=jws).

FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 300
FUZZ_SMOKE_SECONDS ?= 20
FUZZ_TARGETS ?= jws jwk csr eab ident b64u problem

FUZZ_SAN     = -fsanitize=address,undefined -fno-sanitize-recover=undefined \
               -fno-omit-frame-pointer
FUZZ_CFLAGS  = -g -O1 -std=gnu11 -Wall -Wextra -Wno-unused-parameter \
               $(FUZZ_SAN) $(CPPFLAGS_ACME) \
               -DFUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
FUZZ_LIBS    = -ljansson -lssl -lcrypto

FUZZ_ACME_SRCS = $(sort $(wildcard src/acme/*.c))
FUZZ_ACME_OBJS = $(FUZZ_ACME_SRCS:%.c=$(B)/fuzz/obj/%.o)
FUZZ_BINS      = $(FUZZ_TARGETS:%=$(B)/fuzz/fuzz_%)

.PHONY: fuzz fuzz-smoke fuzz-build fuzz-crashers test-sanitize \
        test-valgrind

fuzz-build: $(FUZZ_BINS)

# reused by every target: keep them
.SECONDARY: $(FUZZ_ACME_OBJS)

$(B)/fuzz/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (fuzz)")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(B)/fuzz/fuzz_%: t/fuzz/fuzz_%.c t/fuzz/fuzz_common.h $(FUZZ_ACME_OBJS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(FUZZ_CC) $(FUZZ_CFLAGS) -Werror -fsanitize=fuzzer -o $@ $< \
	    $(FUZZ_ACME_OBJS) $(FUZZ_LIBS)

fuzz: $(FUZZ_BINS)
	t/fuzz/run.sh $(FUZZ_SECONDS) $(FUZZ_TARGETS)

fuzz-smoke: $(FUZZ_BINS)
	t/fuzz/run.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_TARGETS)

fuzz-crashers: $(FUZZ_BINS)
	t/fuzz/run.sh crashers $(FUZZ_TARGETS)


# --- ASan + UBSan build of the core, the unit tests and the validator ------

SAN_CC     ?= clang
SAN_CFLAGS  = -g -O1 -std=gnu11 -fPIC -Wall -Wextra -Wno-unused-parameter \
              $(FUZZ_SAN) $(CPPFLAGS_ACME)
SAN_OBJS    = $(CORE_SRCS:%.c=$(B)/asan/obj/%.o)
SAN_VOBJS   = $(VALIDATOR_SRCS:%.c=$(B)/asan/obj/%.o)
SAN_UNITS   = $(UNIT_SRCS:t/unit/%.c=$(B)/asan/t/%)

SAN_ENV     = ASAN_OPTIONS=detect_leaks=1:strict_string_checks=1 \
              UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
              ACME_TEST_VECTORS=t/unit/vectors

$(B)/asan/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $< (asan)")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -c -o $@ $<

$(B)/asan/libacme.a: $(SAN_OBJS)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/asan/t/%: t/unit/%.c $(wildcard t/unit/*.h) $(B)/asan/libacme.a
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  LINK    $@ (asan)")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $< $(B)/asan/libacme.a \
	    $(CORE_LIBS) -lcmocka

$(B)/asan/acme-validator: $(SAN_VOBJS) $(B)/asan/libacme.a
	@$(if $(V),,echo "  LINK    $@ (asan)")
	$(Q)$(SAN_CC) $(SAN_CFLAGS) -o $@ $(SAN_VOBJS) $(B)/asan/libacme.a \
	    $(CORE_LIBS) $(VALIDATOR_LIBS)

test-sanitize: $(SAN_UNITS) $(B)/asan/acme-validator
	@set -e; for t in $(SAN_UNITS); do \
	    echo "== $$t"; $(SAN_ENV) $$t; done; \
	echo "== $(B)/asan/acme-validator -t"; \
	$(SAN_ENV) $(B)/asan/acme-validator -t -c validator/validator.conf.example; \
	echo "test-sanitize: $(words $(SAN_UNITS)) unit tests and" \
	     "acme-validator -t clean"

VALGRIND = valgrind -q --error-exitcode=1 --leak-check=full \
           --errors-for-leak-kinds=definite,indirect

test-valgrind: unit validator
	@set -e; for t in $(UNIT_BINS); do \
	    echo "== valgrind $$t"; \
	    ACME_TEST_VECTORS=t/unit/vectors $(VALGRIND) $$t; done; \
	echo "== valgrind $(B)/acme-validator -t"; \
	$(VALGRIND) $(B)/acme-validator -t -c validator/validator.conf.example; \
	echo "test-valgrind: $(words $(UNIT_BINS)) unit tests and" \
	     "acme-validator -t clean"
