# bench/bench.mk: `make bench` (included by the top-level Makefile).
#
#   make bench           the stack and Debian's pebble, each mode at
#                        several concurrencies, one table (bench/run.sh)
#   make build/acme-bench   the load generator alone

BENCH_SRCS = $(sort $(wildcard bench/acmeb_*.c)) bench/main.c
BENCH_OBJS = $(BENCH_SRCS:%.c=$(B)/obj/%.o)

.PHONY: bench

bench: all $(B)/acme-bench
	bench/run.sh

$(B)/obj/bench/%.o: bench/%.c bench/acmeb.h $(HEADERS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(B)/acme-bench: $(BENCH_OBJS) $(B)/libacme.a
	$(CC) $(ALL_CFLAGS) -o $@ $(BENCH_OBJS) $(B)/libacme.a \
	    -lcurl -lssl -lcrypto -ljansson -lpthread
