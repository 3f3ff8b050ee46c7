/* parse.c - header and URL parsers. Each is pure and unit-tested in tests/unit. */
#include "util/parse.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int is_tchar(char c) {
  /* c != 0: strchr() also finds the terminating NUL, which would run scans off the end */
  return isalnum((unsigned char)c) || (c != '\0' && strchr("!#$%&'*+-.^_`|~", c));
}

static const char *skip_ows(const char *p) {
  while (*p == ' ' || *p == '\t') p++;
  return p;
}

/* Reads a token or quoted-string at p into a malloc'd string; advances *pp. */
static char *read_value(const char **pp) {
  const char *p = *pp;
  size_t cap = strlen(p) + 1, n = 0;
  char *out = malloc(cap);
  if (!out) return NULL;
  if (*p == '"') {
    p++;
    while (*p && *p != '"') {
      if (*p == '\\' && p[1]) p++;
      out[n++] = *p++;
    }
    if (*p != '"') { free(out); return NULL; }
    p++;
  } else {
    while (*p && (is_tchar(*p) || *p == '/' || *p == ':' || *p == '=')) {
      /* token68 and sloppy servers: allow '/', ':' and trailing '=' in bare values */
      if (*p == '=' && p[1] && p[1] != '=' && p[1] != ',' && p[1] != ' ') break;
      out[n++] = *p++;
    }
  }
  out[n] = '\0';
  *pp = p;
  return out;
}

void isync_challenge_free(isync_challenge *c) {
  for (int i = 0; i < c->nparams; i++) { free(c->names[i]); free(c->values[i]); }
  c->nparams = 0;
}

const char *isync_challenge_param(const isync_challenge *c, const char *name) {
  for (int i = 0; i < c->nparams; i++)
    if (strcmp(c->names[i], name) == 0) return c->values[i];
  return NULL;
}

int isync_parse_challenges(const char *hdr, isync_challenge *out, int max) {
  const char *p = hdr;
  int count = 0;
  isync_challenge scratch;      /* receives challenges beyond max, then dropped */
  isync_challenge *cur = NULL;
  memset(&scratch, 0, sizeof scratch);
  for (;;) {
    p = skip_ows(p);
    while (*p == ',') p = skip_ows(p + 1);
    if (!*p) break;
    /* a token: either a new scheme or a parameter name of the current challenge */
    const char *t = p;
    while (is_tchar(*p)) p++;
    size_t tlen = (size_t)(p - t);
    if (tlen == 0) goto bad;
    const char *after = skip_ows(p);
    if (*after == '=' && cur && after[1] != '=') {
      const char *v = skip_ows(after + 1);
      char *val = read_value(&v);
      if (!val) goto bad;
      char *name = malloc(tlen + 1);
      if (!name || cur->nparams >= ISYNC_CHAL_PARAMS) { free(name); free(val); }
      else {
        for (size_t i = 0; i < tlen; i++) name[i] = (char)tolower((unsigned char)t[i]);
        name[tlen] = '\0';
        cur->names[cur->nparams] = name;
        cur->values[cur->nparams++] = val;
      }
      p = skip_ows(v);
      if (*p && *p != ',') goto bad;
      continue;
    }
    isync_challenge_free(&scratch);
    cur = count < max ? &out[count++] : &scratch;
    memset(cur, 0, sizeof *cur);
    size_t n = tlen < sizeof cur->scheme - 1 ? tlen : sizeof cur->scheme - 1;
    for (size_t i = 0; i < n; i++) cur->scheme[i] = (char)tolower((unsigned char)t[i]);
    p = after;
    /* RFC 7235: a scheme may carry one token68 instead of parameters ("Negotiate abc==");
     * it is skipped (we never use it) so the challenges after it still parse */
    if (p != t + tlen) {   /* whitespace after the scheme */
      const char *q = p;
      while (isalnum((unsigned char)*q) || (*q && strchr("-._~+/", *q))) q++;
      if (q > p) {
        while (*q == '=') q++;
        const char *r = skip_ows(q);
        if (*r == '\0' || *r == ',') p = r;
      }
    }
  }
  isync_challenge_free(&scratch);
  return count;
bad:
  isync_challenge_free(&scratch);
  for (int i = 0; i < count; i++) isync_challenge_free(&out[i]);
  return -1;
}

char *isync_parse_link_next(const char *hdr) {
  const char *p = hdr;
  while ((p = strchr(p, '<'))) {
    const char *end = strchr(p, '>');
    if (!end) return NULL;
    /* the params of this link run until the next ',' that starts another <...> */
    const char *params = end + 1, *stop = params;
    int inq = 0;
    while (*stop && !(!inq && *stop == ',')) { if (*stop == '"') inq = !inq; stop++; }
    /* look for rel=next or rel="next" (possibly among several rel values) */
    for (const char *q = params; q < stop; q++) {
      if (strncasecmp(q, "rel", 3) == 0) {
        const char *v = skip_ows(q + 3);
        if (*v != '=') continue;
        v = skip_ows(v + 1);
        int quoted = *v == '"';
        if (quoted) v++;
        while (v < stop) {
          const char *w = v;
          while (w < stop && *w != ' ' && *w != '"' && *w != ';' && *w != ',') w++;
          if (w - v == 4 && strncasecmp(v, "next", 4) == 0) {
            size_t n = (size_t)(end - p - 1);
            char *url = malloc(n + 1);
            if (!url) return NULL;
            memcpy(url, p + 1, n);
            url[n] = '\0';
            return url;
          }
          if (!quoted || w >= stop || *w != ' ') break;
          v = w + 1;
        }
      }
    }
    p = stop;
  }
  return NULL;
}

int isync_parse_range_end(const char *hdr, int64_t *end) {
  const char *p = skip_ows(hdr);
  if (strncasecmp(p, "bytes=", 6) == 0) p += 6;
  else if (strncasecmp(p, "bytes ", 6) == 0) p += 6;
  char *e;
  long long a = strtoll(p, &e, 10);
  if (e == p || *e != '-' || a < 0) return -1;
  p = e + 1;
  long long b = strtoll(p, &e, 10);
  if (e == p || b < a) return -1;
  *end = (int64_t)b;
  return 0;
}

long isync_parse_retry_after(const char *value, time_t now) {
  const char *p = skip_ows(value);
  if (isdigit((unsigned char)*p)) {
    char *e;
    long v = strtol(p, &e, 10);   /* saturates at LONG_MAX: clamped below */
    e = (char *)skip_ows(e);
    if (!(*e == '\0' || *e == '\r' || *e == '\n')) return -1;
    return v > ISYNC_RETRY_AFTER_MAX ? ISYNC_RETRY_AFTER_MAX : v;
  }
  /* IMF-fixdate: "Sun, 06 Nov 1994 08:49:37 GMT" */
  static const char *months[] = {"Jan","Feb","Mar","Apr","May","Jun","Jul","Aug","Sep","Oct","Nov","Dec"};
  char wd[4], mon[4];
  struct tm tm;
  memset(&tm, 0, sizeof tm);
  if (sscanf(p, "%3s, %d %3s %d %d:%d:%d GMT", wd, &tm.tm_mday, mon, &tm.tm_year, &tm.tm_hour,
             &tm.tm_min, &tm.tm_sec) != 7)
    return -1;
  tm.tm_mon = -1;
  for (int i = 0; i < 12; i++) if (strcmp(mon, months[i]) == 0) tm.tm_mon = i;
  if (tm.tm_mon < 0) return -1;
  /* a server's numbers: out of range fields would overflow tm_year - 1900 or timegm */
  if (tm.tm_year < 1900 || tm.tm_year > 9999 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour < 0 ||
      tm.tm_hour > 23 || tm.tm_min < 0 || tm.tm_min > 59 || tm.tm_sec < 0 || tm.tm_sec > 60)
    return -1;
  tm.tm_year -= 1900;
  time_t t = timegm(&tm);
  if (t == (time_t)-1 || t <= now) return 0;
  return t - now > ISYNC_RETRY_AFTER_MAX ? ISYNC_RETRY_AFTER_MAX : (long)(t - now);
}

static int has_scheme(const char *u) {
  const char *p = u;
  if (!isalpha((unsigned char)*p)) return 0;
  while (isalnum((unsigned char)*p) || *p == '+' || *p == '-' || *p == '.') p++;
  return strncmp(p, "://", 3) == 0;
}

char *isync_url_resolve(const char *base, const char *ref) {
  size_t bl = strlen(base), rl = strlen(ref);
  char *out = malloc(bl + rl + 2);
  if (!out) return NULL;
  if (has_scheme(ref)) {
    memcpy(out, ref, rl + 1);
    return out;
  }
  const char *se = strstr(base, "://");
  const char *host = se ? se + 3 : base;
  if (ref[0] == '/' && ref[1] == '/') {                 /* scheme-relative */
    size_t n = se ? (size_t)(se - base) + 1 : 0;      /* "https:" */
    memcpy(out, base, n);
    memcpy(out + n, ref, rl + 1);
    return out;
  }
  const char *path = host + strcspn(host, "/?#");       /* start of the base's path */
  size_t keep;
  if (ref[0] == '/') {
    keep = (size_t)(path - base);
  } else {
    const char *lim = path + strcspn(path, "?#");
    const char *slash = NULL;
    for (const char *s = path; s < lim; s++) if (*s == '/') slash = s;
    keep = slash ? (size_t)(slash - base) + 1 : (size_t)(path - base);
  }
  memcpy(out, base, keep);
  if (ref[0] != '/' && (keep == 0 || out[keep - 1] != '/')) out[keep++] = '/';
  memcpy(out + keep, ref, rl + 1);
  return out;
}

char *isync_url_add_query(const char *url, const char *name, const char *value) {
  size_t ul = strlen(url), nl = strlen(name), vl = strlen(value);
  char *out = malloc(ul + nl + 3 * vl + 3);
  if (!out) return NULL;
  memcpy(out, url, ul);
  size_t o = ul;
  out[o++] = strchr(url, '?') ? '&' : '?';
  memcpy(out + o, name, nl);
  o += nl;
  out[o++] = '=';
  for (size_t i = 0; i < vl; i++) {
    unsigned char c = (unsigned char)value[i];
    if (isalnum(c) || strchr("-._~", c)) out[o++] = (char)c;
    else o += (size_t)sprintf(out + o, "%%%02X", c);
  }
  out[o] = '\0';
  return out;
}

void isync_url_redact(const char *url, char *out, size_t outsz) {
  size_t n = strcspn(url, "?#");
  if (n >= outsz) n = outsz - 1;
  memcpy(out, url, n);
  out[n] = '\0';
}
