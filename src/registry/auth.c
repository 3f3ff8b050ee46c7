/* auth.c - registry authentication on the engine thread: the /v2/ challenge, Basic
 * credentials, and Bearer tokens cached per scope set and refreshed before expiry. */
#include "registry/auth.h"
#include "util/errors.h"
#include "util/json.h"
#include "util/parse.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

/* a token answer is a JWT or two and a few fields: anything bigger is refused before the
 * JSON reader (whose tree costs a multiple of its input) sees it */
#define TOKEN_BODY_MAX (64u << 10)

static time_t mono_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return ts.tv_sec;
}

static isync_waiter *add_waiter(isync_waiter **list, isync_job *j, isync_auth_cont cont, void *arg,
                                void (*arg_free)(void *)) {
  isync_waiter *w = calloc(1, sizeof *w);
  if (!w) return NULL;
  isync_job_ref(j);   /* the job may be finished by another path while it waits */
  w->job = j;
  w->arg = arg;
  w->arg_free = arg_free;
  w->cont = cont;
  w->next = *list;
  *list = w;
  return w;
}

/* A job that could not be queued to wait (out of memory) fails now instead of vanishing:
 * cont(0) hands arg back to its owner, which finishes the job (or cleans up first). */
static void no_waiter(isync_engine *e, isync_job *j, isync_auth_cont cont, void *arg) {
  isync_job_set_error(j, "INTERNAL", "out of memory");
  cont(e, j, arg, 0);
}

/* Resumes every waiter; failures copy the error into each waiting job first. */
static void wake(isync_engine *e, isync_waiter *w, int ok, const char *code, const char *err) {
  while (w) {
    isync_waiter *next = w->next;
    if (!atomic_load(&w->job->done)) {
      if (!ok) isync_job_set_error(w->job, code ? code : "UNAUTHORIZED", "%s", err ? err : "authentication failed");
      if (ok && w->reg) isync_auth_prepare(e, w->reg, w->scopes, w->job, w->cont, w->arg, w->arg_free);   /* now the token */
      else w->cont(e, w->job, w->arg, ok);
    } else if (w->arg_free) {
      w->arg_free(w->arg);
    }
    isync_job_unref(w->job);
    free(w);
    w = next;
  }
}

/* Sets the auth state from a 401's WWW-Authenticate: Bearer (with its realm and service)
 * wins over Basic. Leaves the state alone when there is no usable challenge. */
static void apply_challenge(isync_registry *r, isync_http *h) {
  char *hdr = isync_http_header_dup(h, "WWW-Authenticate");
  isync_challenge ch[4];
  int n = hdr ? isync_parse_challenges(hdr, ch, 4) : -1;
  int basic = 0, bearer = 0;
  for (int i = 0; i < n; i++) {
    if (strcmp(ch[i].scheme, "bearer") == 0 && !bearer && isync_challenge_param(&ch[i], "realm")) {
      bearer = 1;
      free(r->realm); free(r->service);
      r->realm = strdup(isync_challenge_param(&ch[i], "realm"));
      const char *svc = isync_challenge_param(&ch[i], "service");
      r->service = svc ? strdup(svc) : NULL;
    } else if (strcmp(ch[i].scheme, "basic") == 0) {
      basic = 1;
    }
  }
  for (int i = 0; i < n; i++) isync_challenge_free(&ch[i]);
  free(hdr);
  if (bearer) r->auth_state = ISYNC_AUTH_BEARER;
  else if (basic) r->auth_state = ISYNC_AUTH_BASIC;
}

int isync_auth_learn(isync_registry *r, isync_http *h) {
  int before = r->auth_state;
  if (before == ISYNC_AUTH_PINGING) return 0;
  char *old_realm = r->realm ? strdup(r->realm) : NULL;
  apply_challenge(r, h);
  int changed = r->auth_state != before || (r->realm && (!old_realm || strcmp(old_realm, r->realm) != 0));
  free(old_realm);
  return changed;
}

void isync_auth_explain_401(const isync_registry *r, int token_server, char *out, size_t outsz) {
  int has = r->username && r->password;
  if (!has)
    snprintf(out, outsz, "%s needs credentials and none were found", r->name);
  else if (!token_server && r->auth_state == ISYNC_AUTH_BEARER && strcmp(r->username, "<token>") != 0)
    snprintf(out, outsz, "access denied by %s for user %s (the token it issued does not cover this)", r->name, r->username);
  else if (strcmp(r->username, "<token>") == 0)
    snprintf(out, outsz, "credentials rejected by %s (identity token)", r->name);
  else
    snprintf(out, outsz, "credentials rejected by %s for user %s", r->name, r->username);
}

/* ---- the /v2/ ping: learn which scheme the registry wants ---- */

/* Records a transport failure of h as "<what> <url>: <curl's words>" and its code. */
static void transport_failure(const isync_http *h, const char *what, char **err, const char **code) {
  char url[512], msg[1024], words[CURL_ERROR_SIZE + 64];
  isync_url_redact(h->url, url, sizeof url);
  snprintf(msg, sizeof msg, "%s %s: %s", what, url, isync_http_failure(h, words, sizeof words));
  free(*err);
  *err = strdup(msg);
  *code = isync_code_for_curl(h->cc);
}

static void ping_done(isync_http *h) {
  isync_registry *r = h->ud;
  isync_engine *e = h->ctx;
  char url[512];
  isync_url_redact(h->url, url, sizeof url);
  free(r->ping_err);
  r->ping_err = NULL;
  r->ping_code = NULL;
  char msg[1024];
  if (h->cc != CURLE_OK) {
    transport_failure(h, "GET", &r->ping_err, &r->ping_code);
    r->auth_state = ISYNC_AUTH_UNKNOWN;   /* a network failure is not remembered */
  } else if (h->status == 401) {
    r->auth_state = ISYNC_AUTH_FAILED;
    apply_challenge(r, h);
    if (r->auth_state == ISYNC_AUTH_FAILED) {
      snprintf(msg, sizeof msg, "GET %s: HTTP 401 with no usable WWW-Authenticate challenge", url);
      r->ping_code = "UNAUTHORIZED";
      r->ping_err = strdup(msg);
      r->auth_state = ISYNC_AUTH_UNKNOWN;
    }
  } else if (h->status >= 200 && h->status < 300) {
    r->auth_state = ISYNC_AUTH_NONE;
  } else if (h->status == 404) {
    snprintf(msg, sizeof msg, "GET %s: HTTP 404: %s does not serve the registry API at /v2/", url, r->name);
    r->ping_code = "PROTOCOL";
    r->ping_err = strdup(msg);
    r->auth_state = ISYNC_AUTH_UNKNOWN;
  } else {
    snprintf(msg, sizeof msg, "GET %s: HTTP %ld", url, h->status);
    r->ping_code = isync_code_for_status(h->status, NULL);
    r->ping_err = strdup(msg);
    r->auth_state = ISYNC_AUTH_UNKNOWN;
  }
  isync_waiter *w = r->ping_waiters;
  r->ping_waiters = NULL;
  isync_http_free(h);
  wake(e, w, r->ping_err == NULL, r->ping_code, r->ping_err);
}

static void start_ping(isync_engine *e, isync_registry *r) {
  char url[1024];
  snprintf(url, sizeof url, "%s/v2/", r->base);
  isync_http *h = isync_http_new("GET", url);
  if (!h) { r->auth_state = ISYNC_AUTH_UNKNOWN; isync_waiter *w = r->ping_waiters; r->ping_waiters = NULL; wake(e, w, 0, "INTERNAL", "out of memory"); return; }
  isync_registry_setup_http(r, h, 0);
  h->ud = r;
  h->ctx = e;   /* not owned (no ctx_free) */
  h->done = ping_done;
  r->auth_state = ISYNC_AUTH_PINGING;
  isync_http_start(isync_engine_http(e), h);
}

/* ---- Bearer tokens ---- */

static isync_token *find_token(isync_registry *r, const char *scopes) {
  for (isync_token *t = r->tokens; t; t = t->next)
    if (strcmp(t->scope_key, scopes) == 0) return t;
  return NULL;
}

static void token_done(isync_http *h) {
  isync_token *t = h->ud;
  isync_engine *e = h->ctx;
  char url[512];
  isync_url_redact(h->url, url, sizeof url);
  t->fetching = 0;
  free(t->err);
  t->err = NULL;
  t->code = NULL;
  char msg[1600];
  if (h->cc == CURLE_WRITE_ERROR && h->body.overflow) {
    snprintf(msg, sizeof msg, "token request to %s: the answer is larger than %u bytes", url, TOKEN_BODY_MAX);
    t->code = "TOO_LARGE";
    t->err = strdup(msg);
  } else if (h->cc != CURLE_OK) {
    transport_failure(h, "token request to", &t->err, &t->code);
  } else if (h->status != 200) {
    /* a token server's 401 is about the credentials themselves, never about scopes */
    const isync_registry *r = t->reg;
    char why[512];
    if (h->status == 401) isync_auth_explain_401(r, 1, why, sizeof why);
    else snprintf(why, sizeof why, "%s", h->status == 403 ? "access denied" : "token server error");
    snprintf(msg, sizeof msg, "token request to %s: HTTP %ld: %s", url, h->status, why);
    t->code = h->status == 401 ? "UNAUTHORIZED" : isync_code_for_status(h->status, NULL);
    t->err = strdup(msg);
  } else {
    isync_json *doc = isync_json_parse(h->body.data ? h->body.data : "", h->body.len);
    const char *tok = isync_json_getstr(doc, "token");
    if (!tok || !*tok) tok = isync_json_getstr(doc, "access_token");
    if (!tok || !*tok) {
      snprintf(msg, sizeof msg, "token request to %s: the answer holds no token", url);
      t->code = "PROTOCOL";
      t->err = strdup(msg);
    } else {
      isync_wipe_free(t->token);
      t->token = strdup(tok);
      const isync_json *exp = isync_json_get(doc, "expires_in");
      /* a server's number: clamped before the cast (1e300 would be UB, and 0 would make
       * every request fetch a token) */
      double v = exp && exp->type == ISYNC_JNUM && exp->num > 0 ? exp->num : 60;   /* NaN, 0, <0: default */
      long life = v < 1 ? 1 : v > 86400 ? 86400 : (long)v;
      /* refresh early: a quarter of the lifetime, at most 30 s, before it ends */
      long margin = life / 4 < 30 ? life / 4 : 30;
      t->expires = mono_now() + life - margin;
    }
    isync_json_free(doc);
  }
  isync_waiter *w = t->waiters;
  t->waiters = NULL;
  /* the body held the token: wipe before freeing */
  if (h->body.data) memset(h->body.data, 0, h->body.len);
  isync_http_free(h);
  wake(e, w, t->err == NULL, t->code, t->err);
}

static void start_token_fetch(isync_engine *e, isync_registry *r, isync_token *t) {
  int refresh = r->username && strcmp(r->username, "<token>") == 0 && r->password;
  if (!r->plain_http && strncasecmp(r->realm, "https://", 8) != 0) {
    /* the registry is HTTPS: credentials do not travel to a plain-HTTP token realm */
    isync_waiter *w = t->waiters;
    t->waiters = NULL;
    wake(e, w, 0, "PROTOCOL", "the registry's token realm is not HTTPS; refusing to send credentials there");
    return;
  }
  char *url = strdup(r->realm);
  if (!refresh) {
    /* GET realm?service=S&scope=A&scope=B */
    char *u2;
    if (r->service && (u2 = isync_url_add_query(url, "service", r->service))) { free(url); url = u2; }
    char *scopes = strdup(t->scope_key), *save = NULL;
    for (char *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save))
      if ((u2 = isync_url_add_query(url, "scope", s))) { free(url); url = u2; }
    free(scopes);
  }
  isync_http *h = isync_http_new(refresh ? "POST" : "GET", url);
  free(url);
  if (!h) { t->fetching = 0; isync_waiter *w = t->waiters; t->waiters = NULL; wake(e, w, 0, "INTERNAL", "out of memory"); return; }
  isync_registry_setup_http(r, h, 0);
  h->body.limit = TOKEN_BODY_MAX;
  if (refresh) {
    /* docker's identity token: an OAuth2 refresh token, POSTed as a form */
    isync_buf form;
    isync_buf_init(&form, 0);
    char *q = isync_url_add_query("", "grant_type", "refresh_token");
    isync_buf_appendf(&form, "%s", q + 1);
    free(q);
    const char *pairs[][2] = {{"refresh_token", r->password}, {"service", r->service ? r->service : ""}, {"client_id", "isync"}};
    for (size_t i = 0; i < 3; i++) {
      q = isync_url_add_query("", pairs[i][0], pairs[i][1]);
      isync_buf_appendf(&form, "&%s", q + 1);
      isync_wipe_free(q);
    }
    char *scopes = strdup(t->scope_key), *save = NULL;
    for (char *s = strtok_r(scopes, " ", &save); s; s = strtok_r(NULL, " ", &save)) {
      q = isync_url_add_query("", "scope", s);
      isync_buf_appendf(&form, "&%s", q + 1);
      free(q);
    }
    free(scopes);
    h->send_owned = form;      /* holds the refresh token: wiped when the request is freed */
    h->send_data = form.data;
    h->send_len = form.len;
    isync_http_header(h, "Content-Type: application/x-www-form-urlencoded");
  } else if (r->username && r->password) {
    curl_easy_setopt(h->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h->easy, CURLOPT_USERNAME, r->username);
    curl_easy_setopt(h->easy, CURLOPT_PASSWORD, r->password);
  }
  h->ud = t;
  h->ctx = e;   /* not owned (no ctx_free) */
  h->done = token_done;
  t->fetching = 1;
  isync_http_start(isync_engine_http(e), h);
}

void isync_auth_prepare(isync_engine *e, isync_registry *r, const char *scopes, isync_job *j,
                        isync_auth_cont cont, void *arg, void (*arg_free)(void *)) {
  switch (r->auth_state) {
    case ISYNC_AUTH_UNKNOWN:
    case ISYNC_AUTH_PINGING: {
      isync_waiter *w = add_waiter(&r->ping_waiters, j, cont, arg, arg_free);
      if (!w) { no_waiter(e, j, cont, arg); return; }
      w->reg = r;
      w->scopes = scopes;
      if (r->auth_state == ISYNC_AUTH_UNKNOWN) start_ping(e, r);
      return;
    }
    case ISYNC_AUTH_BEARER: break;
    default:
      cont(e, j, arg, 1);
      return;
  }
  isync_token *t = find_token(r, scopes);
  if (!t) {
    t = calloc(1, sizeof *t);
    if (!t || !(t->scope_key = strdup(scopes))) { free(t); isync_job_set_error(j, "INTERNAL", "out of memory"); cont(e, j, arg, 0); return; }
    t->reg = r;
    t->next = r->tokens;
    r->tokens = t;
  }
  if (t->token && t->expires > mono_now()) { cont(e, j, arg, 1); return; }
  if (!add_waiter(&t->waiters, j, cont, arg, arg_free)) { no_waiter(e, j, cont, arg); return; }
  if (!t->fetching) start_token_fetch(e, r, t);
}

void isync_auth_apply(isync_registry *r, const char *scopes, isync_http *h) {
  if (r->auth_state == ISYNC_AUTH_BEARER) {
    isync_token *t = find_token(r, scopes);
    if (t && t->token) isync_http_header(h, "Authorization: Bearer %s", t->token);
  } else if (r->auth_state == ISYNC_AUTH_BASIC && r->username && r->password) {
    curl_easy_setopt(h->easy, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
    curl_easy_setopt(h->easy, CURLOPT_USERNAME, r->username);
    curl_easy_setopt(h->easy, CURLOPT_PASSWORD, r->password);
  }
}

void isync_auth_invalidate(isync_registry *r, const char *scopes) {
  isync_token *t = find_token(r, scopes);
  if (t && !t->fetching) { isync_wipe_free(t->token); t->token = NULL; }
}

static void drop_list(isync_waiter **list) {
  while (*list) {
    isync_waiter *w = *list;
    *list = w->next;
    if (w->arg_free) w->arg_free(w->arg);
    isync_job_unref(w->job);
    free(w);
  }
}

void isync_auth_drop_waiters(isync_registry *r) {
  drop_list(&r->ping_waiters);
  for (isync_token *t = r->tokens; t; t = t->next) drop_list(&t->waiters);
}
