-- luarocks --lua-version=5.4 make rockspec/isync-scm-1.rockspec
-- Needs the libcurl, OpenSSL, libmicrohttpd and hiredis development headers (found on the compiler's default path)
-- (Debian: scripts/install-deps installs all of them).
rockspec_format = "3.0"
package = "isync"
version = "scm-1"
source = { url = "git+https://example.invalid/isync.git" }
description = {
  summary = "Bulk container image sync between OCI / Docker registries, scripted in Lua",
  detailed = [[
    isync copies images between registries that speak the OCI distribution API, streaming
    blobs through memory only, with the sync policy written in Lua.
  ]],
  license = "MIT",
}
dependencies = { "lua >= 5.4, < 5.5" }
build = {
  type = "builtin",
  modules = {
    ["isync.core"] = {
      sources = {
        "src/lua/lcodes.c", "src/lua/lcore.c", "src/lua/lengine.c", "src/lua/lhttpd.c", "src/lua/ljob.c",
        "src/lua/lledger.c", "src/lua/lredis.c", "src/lua/lregistry.c", "src/util/buf.c",
        "src/util/digest.c", "src/util/errors.c", "src/util/json.c", "src/util/ledger.c", "src/util/parse.c",
        "src/util/ref.c", "src/util/ring.c", "src/http/http.c", "src/engine/engine.c", "src/registry/auth.c",
        "src/registry/blobcopy.c", "src/registry/mediatypes.c", "src/registry/op.c",
        "src/registry/op_blob.c", "src/registry/op_list.c", "src/registry/op_manifest.c",
        "src/registry/op_manifest_delete.c", "src/registry/op_ping.c", "src/registry/op_referrers.c",
        "src/registry/op_sleep.c", "src/registry/ops.c", "src/registry/paging.c", "src/registry/registry.c",
        "src/registry/request.c", "src/service/httpd.c", "src/service/redis.c",
      },
      defines = { "_GNU_SOURCE", 'ISYNC_VERSION="0.1.0"' },
      incdirs = { "src" },
      libraries = { "curl", "ssl", "crypto", "microhttpd", "hiredis", "pthread" },
    },
    ["isync"] = "lua/isync/init.lua",
    ["isync.cli"] = "lua/isync/cli.lua",
    ["isync.copy"] = "lua/isync/copy.lua",
    ["isync.dockerconfig"] = "lua/isync/dockerconfig.lua",
    ["isync.manifest"] = "lua/isync/manifest.lua",
    ["isync.sched"] = "lua/isync/sched.lua",
    ["isync.json"] = "lua/isync/json.lua",
    ["isync.ledger"] = "lua/isync/ledger.lua",
    ["isync.log"] = "lua/isync/log.lua",
    ["isync.plan"] = "lua/isync/plan.lua",
    ["isync.queue"] = "lua/isync/queue.lua",
    ["isync.platform"] = "lua/isync/platform.lua",
    ["isync.referrers"] = "lua/isync/referrers.lua",
    ["isync.regex"] = "lua/isync/regex.lua",
    ["isync.report"] = "lua/isync/report.lua",
    ["isync.retry"] = "lua/isync/retry.lua",
    ["isync.trust"] = "lua/isync/trust.lua",
    ["isync.semver"] = "lua/isync/semver.lua",
    ["isync.rename"] = "lua/isync/rename.lua",
    ["isync.policy"] = "lua/isync/policy.lua",
    ["isync.commands"] = "lua/isync/commands.lua",
    ["isync.serve"] = "lua/isync/serve.lua",
    ["isync.metrics"] = "lua/isync/metrics.lua",
    ["isync.webhook"] = "lua/isync/webhook.lua",
    ["isync.args"] = "lua/isync/args.lua",
    ["isync.check"] = "lua/isync/check.lua",
    ["isync.compat.imagesyncer"] = "lua/isync/compat/imagesyncer.lua",
  },
}
