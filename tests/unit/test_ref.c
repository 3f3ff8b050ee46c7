/* test_ref.c - image reference parsing and distribution name rules. */
#include "util/ref.h"
#include "unit.h"
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define D64 "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
#define DIGEST "sha256:" D64

/* Parses s and compares every field; NULL means "absent". */
static void check_ref(const char *file, int line, const char *s, const char *registry, const char *repo,
                      const char *tag, const char *digest) {
  isync_ref r;
  char err[256] = "";
  char *copy = strdup(s);   /* exact-size heap copy for ASan */
  int rc = isync_ref_parse(copy, &r, err, sizeof err);
  free(copy);
  if (rc != 0) { unit_fail(file, line, "parse \"%s\" failed: %s", s, err); return; }
  unit_check_str(file, line, "registry", registry, r.registry, registry);
  unit_check_str(file, line, "repo", repo, r.repo, repo);
  unit_check_str(file, line, "tag", tag ? tag : "NULL", r.tag, tag);
  unit_check_str(file, line, "digest", digest ? digest : "NULL", r.digest, digest);
  isync_ref_free(&r);
  if (r.registry || r.repo || r.tag || r.digest) unit_fail(file, line, "isync_ref_free left fields set");
}
#define CHECK_REF(s, reg, repo, tag, dig) check_ref(__FILE__, __LINE__, s, reg, repo, tag, dig)

static void check_bad(const char *file, int line, const char *s, const char *why) {
  isync_ref r;
  char err[256] = "";
  char *copy = strdup(s);
  int rc = isync_ref_parse(copy, &r, err, sizeof err);
  free(copy);
  if (rc != -1) {
    unit_fail(file, line, "accepted invalid reference \"%s\" (repo %s)", s, r.repo ? r.repo : "NULL");
    isync_ref_free(&r);
    return;
  }
  if (!strstr(err, why)) unit_fail(file, line, "\"%s\": error \"%s\" does not mention \"%s\"", s, err, why);
  if (r.registry || r.repo || r.tag || r.digest) unit_fail(file, line, "\"%s\": fields left set after failure", s);
}
#define CHECK_BAD(s, why) check_bad(__FILE__, __LINE__, s, why)

TEST(docker_hub_defaults) {
  CHECK_REF("nginx", "docker.io", "library/nginx", NULL, NULL);
  CHECK_REF("nginx:1.25", "docker.io", "library/nginx", "1.25", NULL);
  CHECK_REF("user/repo", "docker.io", "user/repo", NULL, NULL);
  CHECK_REF("user/repo:v1", "docker.io", "user/repo", "v1", NULL);
  CHECK_REF("docker.io/nginx", "docker.io", "library/nginx", NULL, NULL);
  CHECK_REF("docker.io/library/nginx:latest", "docker.io", "library/nginx", "latest", NULL);
  CHECK_REF("a/b/c", "docker.io", "a/b/c", NULL, NULL);
}

TEST(index_docker_io_folds) {
  CHECK_REF("index.docker.io/library/x", "docker.io", "library/x", NULL, NULL);
  CHECK_REF("index.docker.io/x:1", "docker.io", "library/x", "1", NULL);
}

/* every Docker Hub name is docker.io, with library/ for one-word names */
TEST(every_docker_hub_name_folds) {
  CHECK_REF("registry-1.docker.io/x:1", "docker.io", "library/x", "1", NULL);
  CHECK_REF("registry-1.docker.io/user/x", "docker.io", "user/x", NULL, NULL);
  CHECK_REF("registry.hub.docker.com/x@" DIGEST, "docker.io", "library/x", NULL, DIGEST);
  CHECK_REF("registry.hub.docker.com/library/x", "docker.io", "library/x", NULL, NULL);
  for (int i = 0; isync_dockerhub_names[i]; i++) {
    CHECK_STR(isync_registry_canonical(isync_dockerhub_names[i]), "docker.io");
    char s[64];
    snprintf(s, sizeof s, "%s/nginx:1", isync_dockerhub_names[i]);
    CHECK_REF(s, "docker.io", "library/nginx", "1", NULL);
  }
  const char *q = "quay.io";
  CHECK(isync_registry_canonical(q) == q);
  CHECK_STR(isync_registry_canonical("hub.docker.com"), "hub.docker.com");   /* the web site, no registry */
  char *r = isync_repo_canonical("registry.hub.docker.com", "nginx/extra", 5);
  CHECK_STR(r, "library/nginx");
  free(r);
  r = isync_repo_canonical("ghcr.io", "nginx", 5);
  CHECK_STR(r, "nginx");
  free(r);
}

TEST(other_registries) {
  CHECK_REF("quay.io/coreos/etcd:v3.5", "quay.io", "coreos/etcd", "v3.5", NULL);
  CHECK_REF("ghcr.io/x", "ghcr.io", "x", NULL, NULL);   /* no library/ outside Docker Hub */
  CHECK_REF("localhost/x", "localhost", "x", NULL, NULL);
  CHECK_REF("localhost:5000/a/b:t", "localhost:5000", "a/b", "t", NULL);
  CHECK_REF("127.0.0.1:5000/x", "127.0.0.1:5000", "x", NULL, NULL);
  CHECK_REF("reg.example.com:443/team/app/api:2024.01_rc-1", "reg.example.com:443", "team/app/api",
            "2024.01_rc-1", NULL);
}

TEST(digests) {
  CHECK_REF("host:5000/x@" DIGEST, "host:5000", "x", NULL, DIGEST);
  CHECK_REF("repo:tag@" DIGEST, "docker.io", "library/repo", "tag", DIGEST);
  CHECK_REF("nginx@" DIGEST, "docker.io", "library/nginx", NULL, DIGEST);
  CHECK_REF("localhost:5000/a/b:t@" DIGEST, "localhost:5000", "a/b", "t", DIGEST);
}

TEST(localhost_without_slash_is_a_repo) {
  /* one component with a port-like suffix is a Docker Hub name and a tag */
  CHECK_REF("localhost:5000", "docker.io", "library/localhost", "5000", NULL);
}

TEST(invalid_references) {
  CHECK_BAD("", "empty");
  CHECK_BAD("Nginx", "repository");
  CHECK_BAD("docker.io/library/NGINX", "repository");
  CHECK_BAD("quay.io/CoreOS/etcd", "repository");
  CHECK_BAD("a//b", "repository");
  CHECK_BAD("a/", "repository");
  CHECK_BAD("quay.io/", "repository");
  CHECK_BAD("/a", "repository");
  CHECK_BAD("nginx:", "tag");
  CHECK_BAD("nginx:-x", "tag");
  CHECK_BAD("nginx:.x", "tag");
  CHECK_BAD("nginx:a+b", "tag");
  CHECK_BAD("nginx:a b", "tag");
  CHECK_BAD("x@sha256:abc", "digest");
  CHECK_BAD("x@", "digest");
  CHECK_BAD("x@md5:900150983cd24fb0d6963f7d28e17f72", "digest");
  CHECK_BAD("x@sha256:" "0123456789ABCDEF0123456789abcdef0123456789abcdef0123456789abcdef", "digest");
  CHECK_BAD("@" DIGEST, "repository");
  CHECK_BAD("a b", "repository");
  CHECK_BAD("-a", "repository");
}

TEST(tag_length_limit) {
  char s[8 + 130];
  memcpy(s, "nginx:", 6);
  memset(s + 6, 't', 128);
  s[6 + 128] = '\0';
  CHECK_REF(s, "docker.io", "library/nginx", s + 6, NULL);   /* 128 is the maximum */
  memset(s + 6, 't', 129);
  s[6 + 129] = '\0';
  CHECK_BAD(s, "tag");
}

TEST(repo_valid_grammar) {
  static const struct { const char *name; int ok; } cases[] = {
    {"a", 1}, {"library/nginx", 1}, {"a/b/c/d", 1}, {"a0", 1}, {"0a", 1},
    {"a.b", 1}, {"a_b", 1}, {"a__b", 1}, {"a-b", 1}, {"a--b", 1}, {"a---b", 1}, {"a.b-c_d__e", 1},
    {"a___b", 0}, {"a..b", 0}, {"a.-b", 0}, {"a-.b", 0}, {"a._b", 0}, {"a_.b", 0}, {"a_-b", 0},
    {"-a", 0}, {"a-", 0}, {".a", 0}, {"a.", 0}, {"_a", 0}, {"a_", 0},
    {"", 0}, {"/", 0}, {"a/", 0}, {"/a", 0}, {"a//b", 0}, {"A", 0}, {"aB", 0}, {"a/B", 0},
    {"a b", 0}, {"a:b", 0}, {"a@b", 0}, {"a/-b", 0}, {"a/b-", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = isync_repo_valid(cases[i].name);
    if (got != cases[i].ok) unit_fail(__FILE__, __LINE__, "repo_valid(\"%s\") = %d, want %d", cases[i].name, got, cases[i].ok);
  }
}

TEST(repo_valid_length) {
  char s[300];
  memset(s, 'a', 255);
  s[255] = '\0';
  CHECK_INT(isync_repo_valid(s), 1);
  s[255] = 'a';
  s[256] = '\0';
  CHECK_INT(isync_repo_valid(s), 0);
}

TEST(tag_valid_grammar) {
  static const struct { const char *tag; int ok; } cases[] = {
    {"a", 1}, {"latest", 1}, {"1.25", 1}, {"_x", 1}, {"X", 1}, {"v1.2.3-rc_1", 1}, {"a..b", 1}, {"a--", 1},
    {"", 0}, {".x", 0}, {"-x", 0}, {"a b", 0}, {"a:b", 0}, {"a/b", 0}, {"a@b", 0}, {"a+b", 0}, {"\xC3\xA9", 0},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    int got = isync_tag_valid(cases[i].tag);
    if (got != cases[i].ok) unit_fail(__FILE__, __LINE__, "tag_valid(\"%s\") = %d, want %d", cases[i].tag, got, cases[i].ok);
  }
  char t[131];
  memset(t, '9', 128);
  t[128] = '\0';
  CHECK_INT(isync_tag_valid(t), 1);
  t[128] = '9';
  t[129] = '\0';
  CHECK_INT(isync_tag_valid(t), 0);
}

TEST(api_host_mapping) {
  CHECK_STR(isync_registry_api_host("docker.io"), "registry-1.docker.io");
  CHECK_STR(isync_registry_api_host("index.docker.io"), "registry-1.docker.io");
  CHECK_STR(isync_registry_api_host("registry-1.docker.io"), "registry-1.docker.io");
  CHECK_STR(isync_registry_api_host("registry.hub.docker.com"), "registry-1.docker.io");
  const char *q = "quay.io";
  CHECK(isync_registry_api_host(q) == q);   /* others pass through unchanged */
  CHECK_STR(isync_registry_api_host("localhost:5000"), "localhost:5000");
  CHECK_STR(isync_registry_api_host("docker.io.example.com"), "docker.io.example.com");
}

TEST(is_dockerhub) {
  CHECK_INT(isync_registry_is_dockerhub("docker.io"), 1);
  CHECK_INT(isync_registry_is_dockerhub("index.docker.io"), 1);
  CHECK_INT(isync_registry_is_dockerhub("registry-1.docker.io"), 1);
  CHECK_INT(isync_registry_is_dockerhub("registry.hub.docker.com"), 1);
  CHECK_INT(isync_registry_is_dockerhub("mydocker.io"), 0);
  CHECK_INT(isync_registry_is_dockerhub("docker.io.evil.com"), 0);
  CHECK_INT(isync_registry_is_dockerhub("quay.io"), 0);
  CHECK_INT(isync_registry_is_dockerhub(""), 0);
}

TEST(error_buffer_is_bounded) {
  isync_ref r;
  char err[8];
  memset(err, 'X', sizeof err);
  CHECK_INT(isync_ref_parse("BAD", &r, err, sizeof err), -1);
  CHECK_INT(strlen(err), sizeof err - 1);   /* truncated, still terminated */
  CHECK_INT(isync_ref_parse("", &r, NULL, 0), -1);
}

/* found by fuzz_ref: the error quoted the reference raw, newlines and escapes included */
TEST(errors_quote_the_reference_on_one_line) {
  isync_ref r;
  char err[512];
  CHECK_INT(isync_ref_parse("\n", &r, err, sizeof err), -1);
  CHECK(strchr(err, '\n') == NULL);
  CHECK_INT(isync_ref_parse("reg.io/a:\x1b[2J", &r, err, sizeof err), -1);
  CHECK(strchr(err, 0x1b) == NULL);
}

/* a host part that would make the URL name another host is refused */
TEST(registry_hosts_are_hosts) {
  isync_ref r;
  char err[512];
  const char *bad[] = {"evil.io#x/repo", "a.io?x=1/repo", "a b.io/repo", "a.io:99999999/repo", "a.io:/repo", "[zz]:5000/repo"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    CHECK_INT(isync_ref_parse(bad[i], &r, err, sizeof err), -1);
    CHECK(strstr(err, "invalid registry host") != NULL);
  }
  const char *good[] = {"reg.io/repo", "127.0.0.1:5000/repo", "[::1]:5000/repo", "localhost/repo", "My.Reg-1.io:443/a/b"};
  for (size_t i = 0; i < sizeof good / sizeof *good; i++) {
    CHECK_INT(isync_ref_parse(good[i], &r, err, sizeof err), 0);
    isync_ref_free(&r);
  }
}

int main(void) {
  RUN(errors_quote_the_reference_on_one_line);
  RUN(registry_hosts_are_hosts);
  RUN(docker_hub_defaults);
  RUN(index_docker_io_folds);
  RUN(every_docker_hub_name_folds);
  RUN(other_registries);
  RUN(digests);
  RUN(localhost_without_slash_is_a_repo);
  RUN(invalid_references);
  RUN(tag_length_limit);
  RUN(repo_valid_grammar);
  RUN(repo_valid_length);
  RUN(tag_valid_grammar);
  RUN(api_host_mapping);
  RUN(is_dockerhub);
  RUN(error_buffer_is_bounded);
  return unit_done();
}
