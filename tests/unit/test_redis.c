/* test_redis.c - redis:// URLs: parts, defaults, refusals (no server needed). */
#include "service/redis.h"
#include "unit.h"
#include <stdlib.h>

TEST(url_parts) {
  isync_redis_url u;
  char err[256];
  REQUIRE(isync_redis_url_parse("redis://127.0.0.1:6380/3", &u, err, sizeof err) == 0);
  CHECK_STR(u.host, "127.0.0.1");
  CHECK_INT(u.port, 6380);
  CHECK_INT(u.db, 3);
  CHECK(u.user == NULL && u.password == NULL);
  isync_redis_url_free(&u);
  REQUIRE(isync_redis_url_parse("redis://redis", &u, err, sizeof err) == 0);
  CHECK_STR(u.host, "redis");
  CHECK_INT(u.port, 6379);
  CHECK_INT(u.db, 0);
  isync_redis_url_free(&u);
  REQUIRE(isync_redis_url_parse("redis://bob:p%40ss@w@[::1]:7000/", &u, err, sizeof err) == 0);
  CHECK_STR(u.user, "bob");
  CHECK_STR(u.password, "p@ss@w");   /* the last @ ends the password */
  CHECK_STR(u.host, "::1");
  CHECK_INT(u.port, 7000);
  isync_redis_url_free(&u);
  REQUIRE(isync_redis_url_parse("redis://:secret@h/2", &u, err, sizeof err) == 0);
  CHECK(u.user == NULL);
  CHECK_STR(u.password, "secret");
  CHECK_INT(u.db, 2);
  isync_redis_url_free(&u);
}

TEST(url_refused) {
  isync_redis_url u;
  char err[256];
  const char *bad[] = {"http://h", "redis://", "redis://h:0", "redis://h:99999", "redis://h:x", "redis://h/db",
                       "redis://[::1", "redis://:pw@:6379", NULL};
  for (int i = 0; bad[i]; i++) {
    err[0] = 0;
    CHECK(isync_redis_url_parse(bad[i], &u, err, sizeof err) != 0);
    CHECK(err[0] != 0);
    CHECK(strstr(err, "pw") == NULL);
  }
}

TEST(open_names_without_password) {
  char err[256];
  /* port 1 refuses: the message names the server without the password */
  isync_redis *r = isync_redis_open("redis://u:hunter2@127.0.0.1:1/0", 500, 500, err, sizeof err);
  CHECK(r == NULL);
  CHECK(strstr(err, "hunter2") == NULL);
  CHECK(strstr(err, "redis://u:***@127.0.0.1:1/0") != NULL);
}

TEST(password_from_env_is_not_named) {
  char err[256];
  setenv("REDISCLI_AUTH", "fromenv", 1);
  isync_redis *r = isync_redis_open("redis://127.0.0.1:1/0", 500, 500, err, sizeof err);
  unsetenv("REDISCLI_AUTH");
  CHECK(r == NULL);
  CHECK(strstr(err, "fromenv") == NULL);
  CHECK(strstr(err, "redis://:***@127.0.0.1:1/0") != NULL);   /* the URL says a password is used */
}

int main(void) {
  RUN(url_parts);
  RUN(url_refused);
  RUN(open_names_without_password);
  RUN(password_from_env_is_not_named);
  return unit_done();
}
