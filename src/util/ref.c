/* ref.c - reference parsing and name validation, after distribution/reference. */
#include "util/ref.h"
#include "util/digest.h"
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static int component_valid(const char *s, size_t n) {
  size_t i = 0;
  if (n == 0 || !is_lower_alnum(s[0]) || !is_lower_alnum(s[n - 1])) return 0;
  while (i < n) {
    if (is_lower_alnum(s[i])) { i++; continue; }
    /* a separator run: ".", "_", "__", or one or more "-" */
    size_t j = i;
    if (s[i] == '.') j++;
    else if (s[i] == '_') { j++; if (j < n && s[j] == '_') j++; }
    else if (s[i] == '-') { while (j < n && s[j] == '-') j++; }
    else return 0;
    if (j >= n || !is_lower_alnum(s[j])) return 0;
    i = j;
  }
  return 1;
}

int isync_repo_valid(const char *repo) {
  size_t len = strlen(repo);
  if (len == 0 || len > 255) return 0;
  const char *p = repo;
  for (;;) {
    const char *slash = strchr(p, '/');
    size_t n = slash ? (size_t)(slash - p) : strlen(p);
    if (!component_valid(p, n)) return 0;
    if (!slash) return 1;
    p = slash + 1;
  }
}

int isync_tag_valid(const char *tag) {
  size_t n = strlen(tag);
  if (n == 0 || n > 128) return 0;
  if (!(isalnum((unsigned char)tag[0]) || tag[0] == '_')) return 0;
  for (size_t i = 1; i < n; i++)
    if (!(isalnum((unsigned char)tag[i]) || tag[i] == '_' || tag[i] == '.' || tag[i] == '-')) return 0;
  return 1;
}

/* Docker Hub's one rule (README "References"). docker.io is its name, as in
 * distribution/reference; index.docker.io is that package's legacy name for it, and
 * registry-1.docker.io (the API endpoint) and registry.hub.docker.com (an older endpoint
 * name) are folded too: they are the same registry, so a reference, an auth-file key or a
 * credentials key written with any of them means docker.io. */
const char *const isync_dockerhub_names[] = {
  "docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", NULL,
};

int isync_registry_is_dockerhub(const char *r) {
  for (int i = 0; isync_dockerhub_names[i]; i++)
    if (strcmp(r, isync_dockerhub_names[i]) == 0) return 1;
  return 0;
}

const char *isync_registry_canonical(const char *r) {
  return isync_registry_is_dockerhub(r) ? isync_dockerhub_names[0] : r;
}

const char *isync_registry_api_host(const char *r) {
  return isync_registry_is_dockerhub(r) ? "registry-1.docker.io" : r;
}

char *isync_repo_canonical(const char *registry, const char *repo, size_t n) {
  int library = isync_registry_is_dockerhub(registry) && !memchr(repo, '/', n);
  char *out = malloc(n + (library ? 8 : 0) + 1);
  if (!out) return NULL;
  if (library) memcpy(out, "library/", 8);
  memcpy(out + (library ? 8 : 0), repo, n);
  out[n + (library ? 8 : 0)] = '\0';
  return out;
}

void isync_ref_free(isync_ref *r) {
  free(r->registry); free(r->repo); free(r->tag); free(r->digest);
  memset(r, 0, sizeof *r);
}

static char *dupn(const char *s, size_t n) {
  char *d = malloc(n + 1);
  if (d) { memcpy(d, s, n); d[n] = '\0'; }
  return d;
}

/* The reference as an error message may quote it: one line, no control characters, and
 * not longer than a line. */
static const char *quoted(const char *s, char *buf, size_t n) {
  size_t i = 0;
  for (; s[i] && i + 1 < n; i++) buf[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? '?' : s[i];
  buf[i] = '\0';
  if (s[i] && n > 4) memcpy(buf + n - 4, "...", 4);
  return buf;
}

/* host, host:port or [v6]:port: what may stand before the first '/' of a URL's path.
 * Anything else ('#', '?', '@', spaces) would make the URL name another host. */
static int host_valid(const char *h, size_t n) {
  size_t i = 0;
  if (n && h[0] == '[') {
    while (i < n && h[i] != ']') i++;
    if (i == n) return 0;
    for (size_t k = 1; k < i; k++) if (!isxdigit((unsigned char)h[k]) && h[k] != ':' && h[k] != '.') return 0;
    i++;
  } else {
    for (; i < n && h[i] != ':'; i++) if (!isalnum((unsigned char)h[i]) && h[i] != '.' && h[i] != '-') return 0;
    if (i == 0) return 0;
  }
  if (i == n) return 1;
  if (h[i] != ':' || i + 1 == n || n - i - 1 > 5) return 0;
  for (i++; i < n; i++) if (!isdigit((unsigned char)h[i])) return 0;
  return 1;
}

int isync_ref_parse(const char *s, isync_ref *out, char *err, size_t errsz) {
  memset(out, 0, sizeof *out);
  char q[256];
  size_t len = strlen(s);
  if (len == 0) { snprintf(err, errsz, "empty image reference"); return -1; }
  const char *at = strrchr(s, '@');
  size_t name_end = at ? (size_t)(at - s) : len;
  if (at) {
    out->digest = strdup(at + 1);
    if (!isync_digest_valid(out->digest)) {
      snprintf(err, errsz, "invalid digest in reference %s", quoted(s, q, sizeof q));
      goto bad;
    }
  }
  /* the tag is after the last ':' that follows the last '/' */
  const char *last_slash = NULL;
  for (const char *p = s; p < s + name_end; p++) if (*p == '/') last_slash = p;
  const char *colon = NULL;
  for (const char *p = last_slash ? last_slash : s; p < s + name_end; p++) if (*p == ':') colon = p;
  size_t path_end = name_end;
  if (colon) {
    out->tag = dupn(colon + 1, (size_t)(s + name_end - colon - 1));
    path_end = (size_t)(colon - s);
    if (!isync_tag_valid(out->tag)) { snprintf(err, errsz, "invalid tag in reference %s", quoted(s, q, sizeof q)); goto bad; }
  }
  /* a first component with '.', ':' or "localhost" (or uppercase) is a registry host */
  const char *first_slash = memchr(s, '/', path_end);
  size_t reg_len = 0;
  if (first_slash) {
    size_t n = (size_t)(first_slash - s);
    int host = (n == 9 && strncmp(s, "localhost", 9) == 0);
    for (size_t i = 0; i < n && !host; i++)
      if (s[i] == '.' || s[i] == ':' || isupper((unsigned char)s[i])) host = 1;
    if (host) reg_len = n;
    if (host && !host_valid(s, n)) {
      snprintf(err, errsz, "invalid registry host in reference %s", quoted(s, q, sizeof q));
      goto bad;
    }
  }
  char *given = reg_len ? dupn(s, reg_len) : NULL;
  out->registry = strdup(given ? isync_registry_canonical(given) : isync_dockerhub_names[0]);
  free(given);
  const char *rp = s + (reg_len ? reg_len + 1 : 0);
  out->repo = out->registry ? isync_repo_canonical(out->registry, rp, (size_t)(s + path_end - rp)) : NULL;
  if (!out->repo || !isync_repo_valid(out->repo)) {
    snprintf(err, errsz, "invalid repository name in reference %s", quoted(s, q, sizeof q));
    goto bad;
  }
  return 0;
bad:
  isync_ref_free(out);
  return -1;
}
