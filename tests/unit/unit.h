/* unit.h - a tiny header-only test framework that speaks TAP.
 *
 *   TEST(name) { CHECK(x > 0); CHECK_INT(n, 3); CHECK_STR(s, "abc"); }
 *   int main(void) { RUN(name); return unit_done(); }
 *
 * CHECK* record a failure with file:line and keep going; REQUIRE returns from the
 * test at once (for checks that guard a dereference). Each RUN prints "ok N - name"
 * or "not ok N - name" followed by "# file:line: detail" lines; unit_done prints
 * the plan "1..N" and returns non-zero when any test failed. A TEST that is never
 * RUN is an unused static function, which -Wall -Werror turns into a build error. */
#ifndef ISYNC_UNIT_H
#define ISYNC_UNIT_H
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int unit_count, unit_failed, unit_cur_fails;
static char unit_diag[8192];
static size_t unit_diag_len;

static inline void unit_fail(const char *file, int line, const char *fmt, ...) {
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  unit_cur_fails++;
  size_t room = sizeof unit_diag - unit_diag_len;
  int n = snprintf(unit_diag + unit_diag_len, room, "# %s:%d: %s\n", file, line, msg);
  if (n > 0) unit_diag_len += (size_t)n < room ? (size_t)n : room - 1;
}

static inline void unit_run(const char *name, void (*fn)(void)) {
  unit_cur_fails = 0;
  unit_diag_len = 0;
  unit_diag[0] = '\0';
  fn();
  unit_count++;
  if (unit_cur_fails) unit_failed++;
  printf("%sok %d - %s\n%s", unit_cur_fails ? "not " : "", unit_count, name, unit_diag);
  fflush(stdout);
}

static inline int unit_done(void) {
  printf("1..%d\n", unit_count);
  if (unit_failed) printf("# %d of %d tests failed\n", unit_failed, unit_count);
  return unit_failed ? 1 : 0;
}

static inline void unit_check_int(const char *file, int line, const char *ea, const char *eb,
                                  long long a, long long b) {
  if (a != b) unit_fail(file, line, "%s == %s: got %lld, expected %lld", ea, eb, a, b);
}

static inline void unit_check_str(const char *file, int line, const char *ea, const char *eb,
                                  const char *a, const char *b) {
  if (a == b || (a && b && strcmp(a, b) == 0)) return;
  unit_fail(file, line, "%s == %s: got %s%s%s, expected %s%s%s", ea, eb,
            a ? "\"" : "", a ? a : "NULL", a ? "\"" : "", b ? "\"" : "", b ? b : "NULL", b ? "\"" : "");
}

static inline void unit_hex(char *out, size_t outsz, const void *p, size_t n) {
  size_t o = 0;
  out[0] = '\0';
  for (size_t i = 0; i < n && o + 4 < outsz; i++) o += (size_t)snprintf(out + o, outsz - o, "%02x ", ((const unsigned char *)p)[i]);
}

static inline void unit_check_mem(const char *file, int line, const char *ea, const char *eb,
                                  const void *a, const void *b, size_t n) {
  if (a && b && memcmp(a, b, n) == 0) return;
  char ha[200] = "NULL", hb[200] = "NULL";
  if (a) unit_hex(ha, sizeof ha, a, n);
  if (b) unit_hex(hb, sizeof hb, b, n);
  unit_fail(file, line, "%s == %s (%zu bytes): got [%s], expected [%s]", ea, eb, n, ha, hb);
}

#define TEST(name) static void test_##name(void)
#define RUN(name) unit_run(#name, test_##name)

#define CHECK(cond) \
  do { if (!(cond)) unit_fail(__FILE__, __LINE__, "CHECK(%s) failed", #cond); } while (0)
#define REQUIRE(cond) \
  do { if (!(cond)) { unit_fail(__FILE__, __LINE__, "REQUIRE(%s) failed", #cond); return; } } while (0)
#define CHECK_INT(a, b) unit_check_int(__FILE__, __LINE__, #a, #b, (long long)(a), (long long)(b))
#define CHECK_STR(a, b) unit_check_str(__FILE__, __LINE__, #a, #b, (a), (b))
#define CHECK_MEM(a, b, n) unit_check_mem(__FILE__, __LINE__, #a, #b, (a), (b), (n))

#endif
