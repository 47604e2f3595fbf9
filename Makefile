# nginx-acme-server: top-level build.
#
#   make            core library, validator, admin tool, nginx module
#   make demo       the main job: a local stack and certbot getting a cert
#   make up/down    the same stack in the background, for manual use
#   make test       everything CI runs
#
# demo, up and test install their Debian packages first (scripts/deps.sh).

CC      ?= cc
CFLAGS  ?= -O2 -g
WARN     = -Wall -Wextra -Werror -Wno-unused-parameter
CPPFLAGS_ACME = -D_GNU_SOURCE -Isrc -I/usr/include/postgresql \
                -I/usr/include/hiredis
ALL_CFLAGS = $(CFLAGS) $(WARN) -std=gnu11 -fPIC $(CPPFLAGS_ACME) $(EXTRA_CFLAGS)
CORE_LIBS  = -lpq -lhiredis -ljansson -lp11 -lssl -lcrypto -lpthread
VALIDATOR_LIBS = -lldns -lunbound -lcurl

B = build

CORE_SRCS = $(sort $(wildcard src/acme/*.c src/store/*.c src/ca/*.c \
                               src/server/*.c))
CORE_OBJS = $(CORE_SRCS:%.c=$(B)/obj/%.o)
VALIDATOR_SRCS = $(sort $(wildcard validator/*.c))
VALIDATOR_OBJS = $(VALIDATOR_SRCS:%.c=$(B)/obj/%.o)
UNIT_SRCS = $(sort $(wildcard t/unit/test_*.c))
UNIT_BINS = $(UNIT_SRCS:t/unit/%.c=$(B)/t/%)
HEADERS = $(wildcard src/*/*.h validator/*.h)

.PHONY: all lib validator admin module unit deps demo up down test install \
        test-unit test-protocol test-interop clean check-style

all: lib validator admin module

lib: $(B)/libacme.a
validator: $(B)/acme-validator
admin: $(B)/acme-server-admin
module: $(B)/nginx/ngx_http_acme_server_module.so

# V=1 shows the full commands
Q = $(if $(V),,@)

$(B)/obj/%.o: %.c $(HEADERS)
	@mkdir -p $(dir $@)
	@$(if $(V),,echo "  CC      $<")
	$(Q)$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/libacme.a: $(CORE_OBJS)
	@mkdir -p $(B)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/acme-validator: $(VALIDATOR_OBJS) $(B)/libacme.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $(VALIDATOR_OBJS) $(B)/libacme.a \
	    $(CORE_LIBS) $(VALIDATOR_LIBS)

$(B)/acme-server-admin: tools/acme_server_admin.c $(B)/libacme.a
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libacme.a $(CORE_LIBS)

$(B)/nginx/ngx_http_acme_server_module.so: config \
        ngx_http_acme_server_module.c $(wildcard src/ngx_http_*.[ch]) \
        $(CORE_SRCS) $(HEADERS)
	scripts/build-module.sh

unit: $(UNIT_BINS)

$(B)/t/%: t/unit/%.c $(wildcard t/unit/*.h) $(B)/libacme.a
	@mkdir -p $(B)/t
	@$(if $(V),,echo "  LINK    $@")
	$(Q)$(CC) $(ALL_CFLAGS) -o $@ $< $(B)/libacme.a $(CORE_LIBS) -lcmocka

test-unit: unit
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; $$t; done

deps:
	scripts/deps.sh

demo: deps
	$(MAKE) all
	scripts/demo.sh

up: deps
	$(MAKE) all
	scripts/stack.sh up

down:
	scripts/stack.sh down

test: deps
	$(MAKE) all unit
	scripts/test.sh

check-style:
	scripts/check-style.sh

# Debian's layout; DESTDIR for staging (a package, a test)
DESTDIR ?=
SHAREDIR = $(DESTDIR)/usr/share/nginx-acme-server
DOCDIR = $(DESTDIR)/usr/share/doc/nginx-acme-server

install: all
	install -D -m 0644 $(B)/nginx/ngx_http_acme_server_module.so \
	    $(DESTDIR)/usr/lib/nginx/modules/ngx_http_acme_server_module.so
	install -D -m 0755 $(B)/acme-validator $(DESTDIR)/usr/sbin/acme-validator
	install -D -m 0755 $(B)/acme-server-admin \
	    $(DESTDIR)/usr/sbin/acme-server-admin
	install -d $(SHAREDIR)/sql $(DOCDIR)/examples
	install -m 0644 sql/*.sql $(SHAREDIR)/sql/
	install -m 0644 README.md validator/validator.conf.example $(DOCDIR)/
	install -m 0644 conf/examples/*.conf $(DOCDIR)/examples/
	install -D -m 0644 contrib/systemd/acme-validator.service \
	    $(DESTDIR)/lib/systemd/system/acme-validator.service
	install -D -m 0644 contrib/systemd/nginx.service.d/acme-server.conf \
	    $(DESTDIR)/lib/systemd/system/nginx.service.d/acme-server.conf
	install -D -m 0644 contrib/logrotate/acme-validator \
	    $(DESTDIR)/etc/logrotate.d/acme-validator
	@echo "installed; next: /etc/nginx-acme-server/validator.conf (from" \
	    "$(DOCDIR)/validator.conf.example), acme-server-admin migrate" \
	    "--dir /usr/share/nginx-acme-server/sql, the nginx configuration"

clean:
	rm -rf $(B)

# optional parts with their own make fragments (benchmarks, fuzzing)
-include bench/bench.mk
-include t/fuzz/fuzz.mk
-include t/faults/faults.mk
-include t/sanitize/sanitize.mk
