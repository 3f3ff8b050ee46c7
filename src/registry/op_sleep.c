/* op_sleep.c - "sleep": a timer on the engine, so Lua can wait without blocking it. */
#include "registry/op.h"

static void woke(isync_engine *e, void *arg) { isync_job_finish(e, arg); }

static void sleep_start(isync_engine *e, isync_job *j) { isync_engine_timer(e, (long)ISYNC_OP(j)->sleep_ms, woke, j); }

static const isync_op_arg args[] = {ISYNC_ARG_NUM("ms", sleep_ms, 0, 0, 86400000), ISYNC_ARG_END};

const isync_op_desc isync_op_sleep = {ISYNC_OP_JOB("sleep", sleep_start), 0, 0, args, ISYNC_RESULT_TRUE};
