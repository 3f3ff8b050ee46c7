#!/usr/bin/env python3
"""Helpers for scripts/bench (stdlib only; loopback registries only).

  util.py app --registry H:P --plain-http REPO --tags v1.0,v1.1 [--alias latest=v1.1]
              --base-size 100M --deps-size 12M --top-size 1M [--oci]
      Push an "application" repository: every tag is base + deps + top, where the base
      layer is shared by all tags, a deps layer by each pair of consecutive tags, and
      the top layer is the tag's own.  Prints one JSON line per tag (mkimage.py's shape).
  util.py alias --registry H:P --plain-http REPO NEW EXISTING
      Tag an existing manifest again (same bytes); prints a record for the new tag.
  util.py summary SEED_DIR OUT_PREFIX
      Read every JSON record the seeding printed (mkimage.py or `app`); print the workload
      as shell assignments; write OUT_PREFIX.tags ("repo tag" lines), OUT_PREFIX.repos and
      OUT_PREFIX.blobs (every unique blob once: "digest size repo" lines, largest first,
      repo: the first repository, by name, that holds it).
  util.py images SRC DST PREFIX REPOS_FILE
      An image-syncer images file (JSON): one rule per repository, all tags.
  util.py reqs LOG OFFSET
      Count the registry access-log lines after byte OFFSET: shell assignments
      total GET HEAD PUT POST PATCH DELETE listing ping blob_get manifest_get manifest_head blob_head.
  util.py upload LOG OFFSET DIGEST T0
      When the upload of blob DIGEST ran, from the registry's own log lines (time=..., 
      http.response.duration=...) after OFFSET: "START_OFFSET SECONDS" relative to epoch T0
      (START_OFFSET: seconds after T0; an upload's POST, PATCHes and PUT all count).
  util.py report REPORT.json
      The summary figures of an isync --report file as shell assignments.
"""
import glob
import hashlib
import json
import os
import re
import sys

sys.dont_write_bytecode = True
HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = os.path.join(HERE, "..", "..", "tests", "tools")
sys.path.insert(0, TOOLS)


def cmd_app(argv):
    import argparse
    import regclient as rc
    import mkimage as mk

    ap = argparse.ArgumentParser(prog="util.py app")
    rc.add_registry_args(ap)
    ap.add_argument("repo")
    ap.add_argument("--tags", required=True)
    ap.add_argument("--alias", action="append", default=[], help="NEW=EXISTING tag alias")
    ap.add_argument("--base-size", type=mk.parse_size, required=True)
    ap.add_argument("--deps-size", type=mk.parse_size, required=True)
    ap.add_argument("--top-size", type=mk.parse_size, required=True)
    ap.add_argument("--oci", action="store_true")
    a = ap.parse_args(argv)
    reg = rc.registry_from_args(a)
    lt = mk.LAYER_TYPES[a.oci]
    plat = mk.parse_platform("linux/amd64")

    def big_layer(size):
        # Streamed (openssl AES-CTR): O(chunk) memory and GB/s generation.
        d = reg.push_blob_chunks(a.repo, mk.random_stream(size, 16 << 20))
        return {"mediaType": lt, "digest": d["digest"], "size": d["size"]}, d

    p = mk.Pusher(reg, a.repo)
    if a.base_size > (32 << 20):
        base, d = big_layer(a.base_size)
        p.blobs[d["digest"]] = dict(d, media_type=lt)
    else:
        base = p.blob(mk.random_layer(a.base_size), lt)
    out, deps, by_tag = [], None, {}
    for i, tag in enumerate(a.tags.split(",")):
        if i % 2 == 0:
            deps = p.blob(mk.random_layer(a.deps_size), lt)
        top = p.image(a.oci, plat, [mk.random_layer(a.top_size)], ref=tag, layer_descs=[base, deps])
        rec = p.report(tag, top)
        by_tag[tag] = rec
        out.append(rec)
    for al in a.alias:
        new, old = al.split("=", 1)
        raw, ctype, _ = reg.get_manifest(a.repo, old)
        reg.put_manifest(a.repo, new, raw, ctype)
        out.append(dict(by_tag[old], tag=new))
    for rec in out:
        print(json.dumps(rec))


def cmd_alias(argv):
    import argparse
    import regclient as rc

    ap = argparse.ArgumentParser(prog="util.py alias")
    rc.add_registry_args(ap)
    ap.add_argument("repo")
    ap.add_argument("new")
    ap.add_argument("existing")
    a = ap.parse_args(argv)
    reg = rc.registry_from_args(a)
    raw, ctype, _ = reg.get_manifest(a.repo, a.existing)
    d = reg.put_manifest(a.repo, a.new, raw, ctype)
    print(json.dumps({"registry": reg.host, "repo": a.repo, "tag": a.new, "digest": d["digest"],
                      "media_type": ctype, "size": len(raw), "blobs": []}))


def records(seed_dir):
    for f in sorted(glob.glob(os.path.join(seed_dir, "*.out"))):
        with open(f) as fh:
            for line in fh:
                line = line.strip()
                if not line:
                    continue
                obj = json.loads(line)
                for rec in (obj if isinstance(obj, list) else [obj]):
                    yield rec


def write_blobs(path, repo_blobs):
    """Every unique blob once, largest first: "digest size repo" (a repository that holds it)."""
    first = {}
    for repo, digest, size in sorted(repo_blobs):
        first.setdefault(digest, (size, repo))
    with open(path, "w") as f:
        for digest, (size, repo) in sorted(first.items(), key=lambda kv: (-kv[1][0], kv[0])):
            f.write("%s %d %s\n" % (digest, size, repo))


def cmd_summary(argv):
    seed_dir, out = argv
    repos, tags, blobs, repo_blobs = [], set(), {}, set()
    for rec in records(seed_dir):
        if rec["repo"] not in repos:
            repos.append(rec["repo"])
        tags.add((rec["repo"], rec["tag"]))
        for b in rec["blobs"]:
            blobs[b["digest"]] = b["size"]
            repo_blobs.add((rec["repo"], b["digest"], b["size"]))
    repos.sort()
    with open(out + ".repos", "w") as f:
        f.write("".join(r + "\n" for r in repos))
    with open(out + ".tags", "w") as f:
        f.write("".join("%s %s\n" % t for t in sorted(tags)))
    write_blobs(out + ".blobs", repo_blobs)
    print("W_REPOS=%d" % len(repos))
    print("W_TAGS=%d" % len(tags))
    print("W_BLOBS=%d" % len(blobs))
    print("W_BYTES=%d" % sum(blobs.values()))
    print("W_REPO_BYTES=%d" % sum(s for _, _, s in repo_blobs))   # what a per-repo copy must move
    big = max(repo_blobs, key=lambda b: b[2])
    print("W_LARGEST=%d" % big[2])
    print("W_LARGEST_REPO=%s" % big[0])
    print("W_LARGEST_DIGEST=%s" % big[1])


def cmd_images(argv):
    src, dst, prefix, repos_file = argv
    rules = {}
    with open(repos_file) as f:
        for repo in f.read().split():
            rules["%s/%s" % (src, repo)] = "%s/%s%s" % (dst, prefix, repo)
    print(json.dumps(rules, indent=2))


def matches_since(log, offset, pattern):
    """pattern's matches in the lines of a registry log from byte offset on."""
    with open(log, "rb") as f:
        f.seek(offset)
        text = f.read().decode("utf-8", "replace")
    for line in text.splitlines():
        m = pattern.search(line)
        if m:
            yield m


ACCESS = re.compile(r'"(GET|HEAD|PUT|POST|PATCH|DELETE) (/v2/\S*) HTTP/[\d.]+" (\d+)')


def cmd_reqs(argv):
    log, offset = argv[0], int(argv[1])
    c = dict.fromkeys(["total", "GET", "HEAD", "PUT", "POST", "PATCH", "DELETE", "listing", "ping",
                       "blob_get", "blob_head", "manifest_get", "manifest_head", "errors"], 0)
    for m in matches_since(log, offset, ACCESS):
        method, path, status = m.group(1), m.group(2).split("?")[0], int(m.group(3))
        c["total"] += 1
        c[method] += 1
        if status >= 500:
            c["errors"] += 1
        if path == "/v2/":
            c["ping"] += 1
        elif path.endswith("/tags/list"):
            c["listing"] += 1
        elif "/blobs/sha256:" in path and method in ("GET", "HEAD"):
            c["blob_" + method.lower()] += 1
        elif "/manifests/" in path and method in ("GET", "HEAD"):
            c["manifest_" + method.lower()] += 1
    for k, v in c.items():
        print("%s=%d" % (k, v))


APP_LINE = re.compile(r'^time="([^"]+)".*msg="response completed.*http\.request\.method=(\w+)'
                      r'.*http\.request\.uri="?([^" ]+)"?.*http\.response\.duration=(\S+)')
UPLOAD = re.compile(r'/blobs/uploads/([0-9a-f-]{36})')


def go_duration(s):
    total, units = 0.0, {"h": 3600, "m": 60, "s": 1, "ms": 1e-3, "us": 1e-6, "\u00b5s": 1e-6, "ns": 1e-9}
    for num, unit in re.findall(r'([\d.]+)(h|ms|us|\u00b5s|ns|m|s)', s):
        total += float(num) * units[unit]
    return total


def epoch(ts):
    import datetime
    m = re.match(r'(\d+-\d+-\d+T\d+:\d+:\d+)(?:\.(\d+))?Z', ts)
    t = datetime.datetime.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S").replace(tzinfo=datetime.timezone.utc)
    return t.timestamp() + float("0." + (m.group(2) or "0"))


def cmd_upload(argv):
    log, offset, digest, t0 = argv[0], int(argv[1]), argv[2].split(":")[-1], float(argv[3])
    spans, target = {}, None
    for m in matches_since(log, offset, APP_LINE):
        u = UPLOAD.search(m.group(3))
        if not u:
            continue
        end = epoch(m.group(1))
        start = end - go_duration(m.group(4))
        s0, e0 = spans.get(u.group(1), (start, end))
        spans[u.group(1)] = (min(s0, start), max(e0, end))
        if m.group(2) == "PUT" and digest in m.group(3) and target is None:
            target = u.group(1)
    if target is None:
        print("? ?")
        return
    s, e = spans[target]
    print("%.1f %.1f" % (s - t0, e - s))


def cmd_report(argv):
    with open(argv[0]) as f:
        r = json.load(f)
    print("R_COPIED=%d" % r.get("copied", 0))
    print("R_SKIPPED=%d" % r.get("skipped", 0))
    print("R_FAILED=%d" % r.get("failed", 0))
    print("R_BYTES=%d" % r.get("bytes", 0))
    s = r.get("summary", "").replace("'", "")
    print("R_SUMMARY='%s'" % s)


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    cmd = {"app": cmd_app, "alias": cmd_alias, "summary": cmd_summary, "images": cmd_images, "reqs": cmd_reqs,
           "report": cmd_report, "upload": cmd_upload}.get(sys.argv[1])
    if not cmd:
        sys.exit(__doc__)
    cmd(sys.argv[2:])


if __name__ == "__main__":
    main()
