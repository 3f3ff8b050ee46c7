/* test_engine.c - the engine thread itself: what it may and may not receive. */
#include "engine/engine.h"
#include "unit.h"
#include <signal.h>
#include <stdatomic.h>
#include <pthread.h>
#include <poll.h>
#include <stdlib.h>
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
  isync_engine_stop(e);
}

/* ---- a job type of the tests' own: it holds a slot for `ms`, then finishes ---- */

typedef struct {
  isync_job job;
  long ms;
  int order;          /* when it started, 1-based */
} tjob;

static atomic_int started, running, max_running, cancelled, forgotten, freed;

static void tjob_woke(isync_engine *e, void *arg) {
  atomic_fetch_sub(&running, 1);
  isync_job_finish(e, arg);
}

static void tjob_start(isync_engine *e, isync_job *j) {
  tjob *t = (tjob *)j;
  t->order = atomic_fetch_add(&started, 1) + 1;
  int now = atomic_fetch_add(&running, 1) + 1;
  if (now > atomic_load(&max_running)) atomic_store(&max_running, now);
  if (t->ms < 0) { tjob_woke(e, j); return; }   /* ends inside start (a refusal, out of memory) */
  isync_engine_timer(e, t->ms, tjob_woke, j);
}

static void tjob_cancel(isync_engine *e, isync_job *j) { (void)e; (void)j; atomic_fetch_add(&cancelled, 1); }
static void tjob_forget(isync_job *j) { (void)j; atomic_fetch_add(&forgotten, 1); }
static void tjob_free(isync_job *j) { isync_job_release(j); free(j); atomic_fetch_add(&freed, 1); }

static const isync_job_type TJOB = {"test", tjob_start, tjob_cancel, tjob_forget, tjob_free};

static tjob *tjob_new(long ms, isync_slots *slots) {
  tjob *t = calloc(1, sizeof *t);
  isync_job_init(&t->job, &TJOB);
  t->ms = ms;
  t->job.slots[0] = slots;
  return t;
}

static void reset_counts(void) {
  atomic_store(&started, 0); atomic_store(&running, 0); atomic_store(&max_running, 0);
  atomic_store(&cancelled, 0); atomic_store(&forgotten, 0); atomic_store(&freed, 0);
}

static int readable(int fd, int ms) {
  struct pollfd p = {fd, POLLIN, 0};
  return poll(&p, 1, ms) == 1 && (p.revents & POLLIN);
}

/* A host event loop can wait on the descriptor instead of blocking in next_done. */
TEST(the_completion_descriptor_is_readable_exactly_while_finished_jobs_wait) {
  reset_counts();
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  REQUIRE(e);
  int fd = isync_engine_fd(e);
  CHECK(fd >= 0);
  CHECK(!readable(fd, 0));
  tjob *a = tjob_new(30, NULL), *b = tjob_new(60, NULL);
  REQUIRE(isync_job_submit(e, &a->job) == 0);
  REQUIRE(isync_job_submit(e, &b->job) == 0);
  CHECK(!readable(fd, 0));   /* nothing finished yet */
  CHECK(readable(fd, 2000));
  isync_job *first = isync_engine_next_done(e, 0);
  CHECK(first == &a->job);
  if (first) isync_job_unref(first);
  /* b may or may not have finished by now; when it has, the descriptor says so */
  if (atomic_load(&b->job.done)) CHECK(readable(fd, 0));
  CHECK(readable(fd, 2000));
  isync_job *second = isync_engine_next_done(e, 0);
  CHECK(second == &b->job);
  if (second) isync_job_unref(second);
  CHECK(!readable(fd, 0));
  /* wait_job takes a job off the queue too: the descriptor follows */
  tjob *c = tjob_new(10, NULL);
  REQUIRE(isync_job_submit(e, &c->job) == 0);
  CHECK(isync_engine_wait_job(e, &c->job, 2000));
  CHECK(!readable(fd, 0));
  CHECK(atomic_load(&c->job.ok));
  isync_job_unref(&a->job); isync_job_unref(&b->job); isync_job_unref(&c->job);
  isync_engine_stop(e);
  CHECK_INT(atomic_load(&freed), 3);
}

/* Jobs sharing slots run no more than the slots allow, in the order they came. */
TEST(slots_bound_the_jobs_running_at_once_and_keep_their_order) {
  reset_counts();
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  REQUIRE(e);
  isync_slots slots = {0, 2};   /* only the engine thread touches it once jobs are submitted */
  tjob *t[6];
  for (int i = 0; i < 6; i++) { t[i] = tjob_new(20, &slots); REQUIRE(isync_job_submit(e, &t[i]->job) == 0); }
  for (int i = 0; i < 6; i++) CHECK(isync_engine_wait_job(e, &t[i]->job, 5000));
  CHECK_INT(atomic_load(&max_running), 2);
  for (int i = 0; i < 6; i++) CHECK_INT(t[i]->order, i + 1);
  isync_engine_stop(e);
  CHECK_INT(slots.active, 0);
  for (int i = 0; i < 6; i++) isync_job_unref(&t[i]->job);
  CHECK_INT(atomic_load(&freed), 6);
}

/* Jobs that end inside their start (an auth refusal known at once) while the slot queue
 * is being walked: each starts once. The walk used to go on from a job the nested walk
 * had already started and finished, starting it again (twice on the completion queue). */
TEST(jobs_that_finish_inside_start_from_the_slot_queue_start_once) {
  reset_counts();
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  REQUIRE(e);
  isync_slots slots = {0, 1};
  tjob *holder = tjob_new(50, &slots), *t[3];
  REQUIRE(isync_job_submit(e, &holder->job) == 0);
  for (int i = 0; i < 3; i++) { t[i] = tjob_new(-1, &slots); REQUIRE(isync_job_submit(e, &t[i]->job) == 0); }
  CHECK(isync_engine_wait_job(e, &holder->job, 5000));
  for (int i = 0; i < 100 && atomic_load(&started) < 4; i++) nanosleep(&(struct timespec){0, 5000000}, NULL);
  nanosleep(&(struct timespec){0, 50000000}, NULL);
  /* a second start would have queued a job twice: waiting on it could loop, so stop here */
  REQUIRE(atomic_load(&started) == 4);
  for (int i = 0; i < 3; i++) CHECK(isync_engine_wait_job(e, &t[i]->job, 2000));
  for (int i = 0; i < 3; i++) CHECK_INT(t[i]->order, i + 2);
  CHECK(isync_engine_next_done(e, 0) == NULL);
  isync_engine_stop(e);
  CHECK_INT(slots.active, 0);
  isync_job_unref(&holder->job);
  for (int i = 0; i < 3; i++) isync_job_unref(&t[i]->job);
  CHECK_INT(atomic_load(&freed), 4);
}

/* Stop ends every job it holds (running, waiting for a slot, posted) as CANCELED, tells
 * the running ones (cancel, then forget), and drops every reference it held. */
TEST(stop_cancels_running_and_waiting_jobs_and_drops_its_references) {
  reset_counts();
  char err[256];
  isync_engine *e = isync_engine_start(err, sizeof err);
  REQUIRE(e);
  isync_slots slots = {0, 1};
  tjob *quick = tjob_new(0, NULL), *slow = tjob_new(60000, &slots), *waiting = tjob_new(10, &slots);
  REQUIRE(isync_job_submit(e, &quick->job) == 0);
  REQUIRE(isync_job_submit(e, &slow->job) == 0);
  REQUIRE(isync_job_submit(e, &waiting->job) == 0);
  CHECK(isync_engine_wait_job(e, &quick->job, 2000));
  for (int i = 0; i < 200 && atomic_load(&started) < 2; i++) nanosleep(&(struct timespec){0, 5000000}, NULL);
  CHECK_INT(atomic_load(&started), 2);   /* quick and slow; waiting waits for slow's slot */
  isync_engine_stop(e);
  CHECK(atomic_load(&slow->job.done));
  CHECK(atomic_load(&waiting->job.done));
  CHECK_STR(slow->job.code ? slow->job.code : "", "CANCELED");
  CHECK_STR(waiting->job.code ? waiting->job.code : "", "CANCELED");
  CHECK(quick->job.ok);
  CHECK_INT(atomic_load(&cancelled), 2);   /* the tracked ones: slow (running), waiting */
  CHECK_INT(atomic_load(&forgotten), 2);
  CHECK_INT(atomic_load(&freed), 0);       /* the test still holds its references */
  isync_job_unref(&quick->job); isync_job_unref(&slow->job); isync_job_unref(&waiting->job);
  CHECK_INT(atomic_load(&freed), 3);
}

int main(void) {
  RUN(the_engine_thread_blocks_signals_and_the_caller_keeps_its_mask);
  RUN(the_completion_descriptor_is_readable_exactly_while_finished_jobs_wait);
  RUN(slots_bound_the_jobs_running_at_once_and_keep_their_order);
  RUN(jobs_that_finish_inside_start_from_the_slot_queue_start_once);
  RUN(stop_cancels_running_and_waiting_jobs_and_drops_its_references);
  return unit_done();
}
