/* ref.h - image references: [registry/]repository[:tag][@digest] with Docker Hub defaults (no Lua). */
#ifndef ISYNC_REF_H
#define ISYNC_REF_H
#include <stddef.h>

typedef struct {
  char *registry;   /* "docker.io" when absent; "index.docker.io" is folded into it */
  char *repo;       /* "library/" added to one-word Docker Hub names */
  char *tag;        /* NULL when absent */
  char *digest;     /* NULL when absent */
} isync_ref;

/* 0 ok; -1 with a one-line reason in err. Free with isync_ref_free. */
int isync_ref_parse(const char *s, isync_ref *out, char *err, size_t errsz);
void isync_ref_free(isync_ref *r);

/* Name rules of the distribution spec. */
int isync_repo_valid(const char *repo);
int isync_tag_valid(const char *tag);
/* Docker Hub's API host for "docker.io"; other names unchanged. */
const char *isync_registry_api_host(const char *registry);
/* 1 when the registry name denotes Docker Hub. */
int isync_registry_is_dockerhub(const char *registry);

#endif
