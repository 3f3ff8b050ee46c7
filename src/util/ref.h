/* ref.h - image references: [registry/]repository[:tag][@digest] with Docker Hub defaults (no Lua). */
#ifndef ISYNC_REF_H
#define ISYNC_REF_H
#include <stddef.h>

typedef struct {
  char *registry;   /* "docker.io" when absent; Docker Hub's other names are folded into it */
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
/* Docker Hub's names, the canonical one first; NULL-terminated. */
extern const char *const isync_dockerhub_names[];
/* 1 when the registry name is one of Docker Hub's. */
int isync_registry_is_dockerhub(const char *registry);
/* The name a registry is known by: "docker.io" for any of Docker Hub's, else registry. */
const char *isync_registry_canonical(const char *registry);
/* The host its API answers on: "registry-1.docker.io" for Docker Hub, else registry. */
const char *isync_registry_api_host(const char *registry);
/* The first n bytes of repo as named on registry: a one-word Docker Hub name gets
 * "library/". Malloc'd; NULL when out of memory. */
char *isync_repo_canonical(const char *registry, const char *repo, size_t n);

#endif
