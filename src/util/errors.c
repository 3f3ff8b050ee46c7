/* errors.c - the error code table (code, class, meaning) and mappings from transport and HTTP failures. */
#include "util/errors.h"
#include <string.h>

#define T ISYNC_TRANSIENT
#define P ISYNC_PERMANENT
#define U ISYNC_USAGE
#define L ISYNC_LOCAL
/* The transient set is what isync.retry retries (with 408, 429 and 5xx statuses). */
const isync_code_def isync_code_defs[] = {
  /* OCI distribution error codes, as registries send them in error bodies */
  {"BLOB_UNKNOWN", P, "the blob is not in the repository", 1},
  {"BLOB_UPLOAD_INVALID", T, "the registry refused a step of the upload session", 1},
  {"BLOB_UPLOAD_UNKNOWN", T, "the registry lost the upload session", 1},
  {"DIGEST_INVALID", P, "the registry found the content does not match the digest given", 1},
  {"MANIFEST_BLOB_UNKNOWN", T, "the manifest names a blob the repository lacks (object stores can lag)", 1},
  {"MANIFEST_INVALID", P, "the registry rejected the manifest", 1},
  {"MANIFEST_UNKNOWN", P, "no such manifest (tag or digest)", 1},
  {"NAME_INVALID", P, "the registry rejected the repository name", 1},
  {"NAME_UNKNOWN", P, "no such repository", 1},
  {"SIZE_INVALID", P, "the content length does not match the size given", 1},
  {"UNAUTHORIZED", P, "authentication is required or was refused", 1},
  {"DENIED", P, "authenticated, but not allowed to do this", 1},
  {"UNSUPPORTED", P, "the registry (or isync) does not support the operation or format", 1},
  {"TOOMANYREQUESTS", T, "rate limited: wait and retry", 1},
  {"UNAVAILABLE", T, "the registry says it is unavailable for now (Docker distribution's code)", 1},
  /* transport and client-side codes */
  {"TIMEOUT", T, "no answer in time: connect, the whole request, or a stall", 0},
  {"TLS", P, "the TLS handshake or the certificate check failed", 0},
  {"CONNECT", T, "the host did not resolve or refused the connection", 0},
  {"NETWORK", T, "the connection broke: a reset, a short read", 0},
  {"DIGEST_MISMATCH", T, "the bytes received or stored do not have the expected digest", 0},
  {"SIZE_MISMATCH", T, "a different number of bytes than expected", 0},
  {"CANCELED", L, "the engine stopped before the request finished", 0},
  {"TOO_LARGE", P, "an answer larger than isync accepts", 0},
  {"PROTOCOL", P, "the registry broke the distribution protocol or named a foreign URL", 0},
  {"SERVER_ERROR", T, "HTTP 5xx without a more specific code", 0},
  {"NOT_FOUND", P, "HTTP 404 without a more specific code, or nothing matched", 0},
  {"HTTP_ERROR", P, "another HTTP status isync cannot use", 0},
  {"BAD_MANIFEST", P, "a manifest, index or referrers answer isync cannot read", 0},
  {"PLATFORM", P, "no entry of the index passes the platform filter", 0},
  {"INTERNAL", L, "out of memory, or an error raised by isync or by the policy", 0},
  {"LEDGER", L, "the ledger file cannot be opened, read or written", 0},
  {"IO_ERROR", L, "a local file or directory cannot be read or written (report, outputs, certs.d)", 0},
  {"REDIS", T, "the work queue's Redis server cannot be reached, or the connection broke", 0},
  {"REDIS_REPLY", P, "Redis refused a command of the work queue (its error reply is the message)", 0},
  {"INTERRUPTED", L, "the run was interrupted (Ctrl-C) before the image finished", 0},
  /* the user's input */
  {"INVALID_RULE", U, "an images-file rule that cannot be followed", 0},
  {"REF_INVALID", U, "not an image reference (registry/repository:tag@digest)", 0},
  {"PATTERN_INVALID", U, "a regular expression or version range that does not parse", 0},
  {NULL, 0, NULL, 0},
};
#undef T
#undef P
#undef U
#undef L

const isync_code_def *isync_code_find(const char *code) {
  if (!code) return NULL;
  for (const isync_code_def *d = isync_code_defs; d->code; d++)
    if (strcmp(d->code, code) == 0) return d;
  return NULL;
}

const char *isync_code_intern(const char *code) {
  const isync_code_def *d = isync_code_find(code);
  return d ? d->code : NULL;
}

const char *isync_code_from_registry(const char *code) {
  const isync_code_def *d = isync_code_find(code);
  return d && d->registry_sent ? d->code : NULL;
}

const char *isync_code_class_name(isync_code_class cls) {
  switch (cls) {
    case ISYNC_TRANSIENT: return "transient";
    case ISYNC_PERMANENT: return "permanent";
    case ISYNC_USAGE: return "usage";
    default: return "local";
  }
}

const char *isync_code_for_curl(CURLcode cc) {
  switch (cc) {
    case CURLE_OPERATION_TIMEDOUT: return "TIMEOUT";
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_RESOLVE_PROXY:
    case CURLE_COULDNT_CONNECT: return "CONNECT";
    case CURLE_SSL_CONNECT_ERROR:
    case CURLE_PEER_FAILED_VERIFICATION:
    case CURLE_SSL_CERTPROBLEM:
    case CURLE_SSL_CIPHER:
    case CURLE_SSL_CACERT_BADFILE:
    case CURLE_SSL_ISSUER_ERROR:
    case CURLE_SSL_CRL_BADFILE:
    case CURLE_SSL_ENGINE_NOTFOUND:
    case CURLE_SSL_ENGINE_SETFAILED:
    case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
    case CURLE_SSL_INVALIDCERTSTATUS:
    case CURLE_USE_SSL_FAILED: return "TLS";
    case CURLE_ABORTED_BY_CALLBACK: return "CANCELED";
    case CURLE_UNSUPPORTED_PROTOCOL:
    case CURLE_URL_MALFORMAT:
    case CURLE_TOO_MANY_REDIRECTS: return "PROTOCOL";
    default: return "NETWORK";
  }
}

const char *isync_code_for_status(long status, const char *not_found_code) {
  switch (status) {
    case 401: return "UNAUTHORIZED";
    case 403: return "DENIED";
    case 404: return not_found_code ? not_found_code : "NOT_FOUND";
    case 408: return "TIMEOUT";
    case 429: return "TOOMANYREQUESTS";
    default: return status >= 500 ? "SERVER_ERROR" : "HTTP_ERROR";
  }
}
