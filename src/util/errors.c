/* errors.c - error code table and mappings from transport and HTTP failures. */
#include "util/errors.h"
#include <string.h>

const char *const isync_codes[] = {
  /* OCI distribution error codes */
  "BLOB_UNKNOWN", "BLOB_UPLOAD_INVALID", "BLOB_UPLOAD_UNKNOWN", "DIGEST_INVALID",
  "MANIFEST_BLOB_UNKNOWN", "MANIFEST_INVALID", "MANIFEST_UNKNOWN", "NAME_INVALID",
  "NAME_UNKNOWN", "SIZE_INVALID", "UNAUTHORIZED", "DENIED", "UNSUPPORTED", "TOOMANYREQUESTS",
  /* transport and client-side codes */
  "TIMEOUT", "TLS", "CONNECT", "NETWORK", "DIGEST_MISMATCH", "SIZE_MISMATCH", "CANCELED",
  "TOO_LARGE", "PROTOCOL", "SERVER_ERROR", "NOT_FOUND", "HTTP_ERROR", "BAD_MANIFEST",
  "INTERNAL", "LEDGER", "PLATFORM",
  NULL,
};

const char *isync_code_intern(const char *code) {
  if (!code) return NULL;
  for (int i = 0; isync_codes[i]; i++)
    if (strcmp(isync_codes[i], code) == 0) return isync_codes[i];
  return NULL;
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
