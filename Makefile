# isync - bulk container image sync. See README.md.
VERSION     := 0.1.0
PREFIX      ?= /usr/local
LUA_VERSION := 5.4
BUILD       ?= build
CC          ?= cc
PKGS        := lua$(LUA_VERSION) libcurl openssl libmicrohttpd hiredis
PKG_CFLAGS  := $(shell pkg-config --cflags $(PKGS))
PKG_LIBS    := $(shell pkg-config --libs $(PKGS))
WARN        := -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter
CFLAGS      ?= -O2 -g
ifeq ($(SANITIZE),1)
  BUILD     := build-san
  CFLAGS    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
  LDFLAGS   += -fsanitize=address,undefined
endif
ALL_CFLAGS  := -std=c11 -D_GNU_SOURCE -DISYNC_VERSION='"$(VERSION)"' -fPIC $(WARN) $(CFLAGS) -Isrc $(PKG_CFLAGS)

# The C core by floor, each using only the floors below it (tests/unit/floors checks it):
# util (no deps) -> http (requests on a curl multi handle) -> engine (the thread, queues,
# timers, slots) -> registry (the protocol: auth, operations) -> service (isync serve's
# HTTP endpoint with libmicrohttpd, the Redis client) -> lua (glue) -> main.
# Only src/lua/ and src/main.c include lua.h.
UTIL_SRC    := $(wildcard src/util/*.c)
HTTP_SRC    := $(wildcard src/http/*.c)
ENGINE_SRC  := $(wildcard src/engine/*.c)
REGISTRY_SRC:= $(wildcard src/registry/*.c)
SERVICE_SRC := $(wildcard src/service/*.c)
CORE_SRC    := $(UTIL_SRC) $(HTTP_SRC) $(ENGINE_SRC) $(REGISTRY_SRC) $(SERVICE_SRC)
GLUE_SRC    := $(wildcard src/lua/*.c)
LUA_MODS    := $(wildcard lua/isync/*.lua lua/isync/*/*.lua)
CORE_OBJ    := $(CORE_SRC:src/%.c=$(BUILD)/obj/%.o)
GLUE_OBJ    := $(GLUE_SRC:src/%.c=$(BUILD)/obj/%.o)
UNIT_SRC    := $(wildcard tests/unit/test_*.c)
UNIT_BIN    := $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

HOST        := $(BUILD)/bin/isync
MODULE      := $(BUILD)/lib/isync/core.so

.PHONY: all host module unit test test-unit test-spec test-integration install uninstall clean fuzz
all: host module unit

host: $(HOST)
module: $(MODULE)
unit: $(UNIT_BIN)

$(BUILD)/obj/%.o: src/%.c $(wildcard src/*/*.h) Makefile
	@mkdir -p $(dir $@)
	@echo "  CC    $<"
	@$(CC) $(ALL_CFLAGS) -c $< -o $@

# The host embeds the Lua modules so one binary runs anywhere.
$(BUILD)/gen/embedded.c: $(LUA_MODS) scripts/embed-lua
	@mkdir -p $(dir $@)
	scripts/embed-lua $(LUA_MODS) > $@

$(BUILD)/obj/embedded.o: $(BUILD)/gen/embedded.c
	$(CC) $(ALL_CFLAGS) -Wno-overlength-strings -c $< -o $@

$(HOST): $(BUILD)/obj/main.o $(GLUE_OBJ) $(CORE_OBJ) $(BUILD)/obj/embedded.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -Wl,-E -o $@ $^ $(PKG_LIBS) -lpthread -lm -ldl

$(MODULE): $(GLUE_OBJ) $(CORE_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -shared -o $@ $^ $(shell pkg-config --libs libcurl openssl libmicrohttpd hiredis) -lpthread

$(BUILD)/tests/%: tests/unit/%.c $(CORE_OBJ) $(wildcard tests/unit/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -Isrc -o $@ $< $(CORE_OBJ) $(LDFLAGS) $(PKG_LIBS) -lpthread

test: all
	tests/run

test-unit: unit
	@for t in $(UNIT_BIN); do $$t || exit 1; done

install: host module
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/isync \
	           $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/isync/compat
	install -m 755 $(HOST) $(DESTDIR)$(PREFIX)/bin/isync
	install -m 755 $(MODULE) $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/isync/core.so
	for f in $(LUA_MODS); do install -m 644 $$f $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/$${f#lua/}; done

uninstall:
	rm -rf $(DESTDIR)$(PREFIX)/bin/isync $(DESTDIR)$(PREFIX)/lib/lua/$(LUA_VERSION)/isync \
	       $(DESTDIR)$(PREFIX)/share/lua/$(LUA_VERSION)/isync

clean:
	rm -rf build build-san build-fuzz

# libFuzzer harnesses (tests/fuzz): clang, each linked with only the sources it parses.
FUZZ_CFLAGS := -std=c11 -D_GNU_SOURCE -g -O1 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Isrc
FUZZ_NAMES  := challenge link url headers ref json ledger
FUZZ_BIN    := $(FUZZ_NAMES:%=build-fuzz/fuzz_%)
fuzz_src_challenge := src/util/parse.c
fuzz_src_link      := src/util/parse.c
fuzz_src_url       := src/util/parse.c
fuzz_src_headers   := src/util/parse.c
fuzz_src_ref       := src/util/ref.c src/util/digest.c
fuzz_src_json      := src/util/json.c
fuzz_src_ledger    := src/util/ledger.c
fuzz_libs_ref      := $(shell pkg-config --libs openssl)

fuzz: $(FUZZ_BIN)

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(wildcard src/*/*.c src/*/*.h) Makefile
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) -o $@ $< $(fuzz_src_$*) $(fuzz_libs_$*)
