/* test_engine.c - the engine thread itself: what it may and may not receive. */
#include "engine/engine.h"
#include "unit.h"
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <time.h>

static atomic_int probed;
static sigset_t engine_mask;

static void read_mask(isync_engine *e, void *arg) {
  (void)e; (void)arg;
  pthread_sigmask(SIG_BLOCK, NULL, &engine_mask);
  atomic_store(&probed, 1);
}

/* The host's SIGINT handler touches the Lua state: it must never run on the engine thread. */
TEST(the_engine_thread_blocks_signals_and_the_caller_keeps_its_mask) {
  sigset_t before, after;
  pthread_sigmask(SIG_BLOCK, NULL, &before);
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  REQUIRE(e);
  pthread_sigmask(SIG_BLOCK, NULL, &after);
  REQUIRE(isync_engine_post(e, read_mask, NULL) == 0);
  for (int i = 0; i < 500 && !atomic_load(&probed); i++) nanosleep(&(struct timespec){0, 10000000}, NULL);
  REQUIRE(atomic_load(&probed));
  CHECK(sigismember(&engine_mask, SIGINT));
  CHECK(sigismember(&engine_mask, SIGTERM));
  CHECK(sigismember(&engine_mask, SIGHUP));
  CHECK_INT(sigismember(&after, SIGINT), sigismember(&before, SIGINT));
  isync_engine_stop(e, 1);
}

int main(void) {
  RUN(the_engine_thread_blocks_signals_and_the_caller_keeps_its_mask);
  return unit_done();
}
