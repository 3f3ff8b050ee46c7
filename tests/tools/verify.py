#!/usr/bin/env python3
"""Check what a sync produced, straight from the registries.

  verify.py compare --src H:P --src-repo R --src-ref REF --dst H:P [--dst-repo R2] [--dst-ref REF2]
            [--src-plain-http --src-ca F --src-user U --src-password-env VAR] [same with --dst-*]
  verify.py digest  --registry H:P [--plain-http --ca F --user U --password-env VAR] REPO REF
  verify.py tags    --registry H:P [...] REPO

compare: the destination manifest must have the same bytes (hence digest) as the
source, recursively for index children, and every config/layer blob must exist at
the destination with the right size.  Exit 0 match, 1 mismatch, 2 usage/transport error.
"""
import argparse
import json
import os
import sys

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regclient as rc  # noqa: E402


def manifest_children(raw):
    """-> (media type from the body or None, child manifest descriptors, blob descriptors)."""
    m = json.loads(raw)
    blobs = ([m["config"]] if isinstance(m.get("config"), dict) else []) + list(m.get("layers") or [])
    return m.get("mediaType"), list(m.get("manifests") or []), blobs


class Comparer:
    def __init__(self, src, srepo, dst, drepo):
        self.src, self.srepo, self.dst, self.drepo = src, srepo, dst, drepo
        self.problems, self.seen_manifests, self.seen_blobs = [], set(), set()

    def fail(self, msg):
        self.problems.append(msg)

    def manifest(self, sref, dref, where):
        raw, ctype, _ = self.src.get_manifest(self.srepo, sref)
        digest = rc.sha256_digest(raw)
        if digest in self.seen_manifests:
            return digest
        self.seen_manifests.add(digest)
        try:
            draw, dctype, ddigest = self.dst.get_manifest(self.drepo, dref)
        except rc.RegistryError as e:
            if e.status == 404:
                self.fail("%s: manifest %s missing at destination" % (where, dref))
                return digest
            raise
        if draw != raw:
            self.fail("%s: destination bytes differ (src %s %dB, dst %s %dB)"
                      % (where, digest, len(raw), rc.sha256_digest(draw), len(draw)))
            return digest
        if ddigest and ddigest != digest:
            self.fail("%s: destination Docker-Content-Digest %s != %s" % (where, ddigest, digest))
        if dctype != ctype:
            self.fail("%s: Content-Type %r at destination, %r at source" % (where, dctype, ctype))
        body_type, children, blobs = manifest_children(raw)
        for c in children:
            label = "%s > %s" % (where, c.get("platform", {}).get("architecture") or c["digest"][:19])
            self.manifest(c["digest"], c["digest"], label)
        for b in blobs:
            self.blob(b, where)
        return digest

    def blob(self, desc, where):
        d = desc["digest"]
        if d in self.seen_blobs:
            return
        self.seen_blobs.add(d)
        size = self.dst.blob_size(self.drepo, d)
        if size is None:
            self.fail("%s: blob %s (%s) missing at destination" % (where, d, desc.get("mediaType")))
        elif size != desc["size"]:
            self.fail("%s: blob %s size %d at destination, manifest says %d" % (where, d, size, desc["size"]))


def cmd_compare(a):
    src, dst = rc.registry_from_args(a, "src-"), rc.registry_from_args(a, "dst-")
    drepo, dref = a.dst_repo or a.src_repo, a.dst_ref or a.src_ref
    c = Comparer(src, a.src_repo, dst, drepo)
    name = "%s/%s:%s -> %s/%s:%s" % (a.src_registry, a.src_repo, a.src_ref, a.dst_registry, drepo, dref)
    digest = c.manifest(a.src_ref, dref, "%s:%s" % (drepo, dref))
    if c.problems:
        print("MISMATCH %s (%d problem(s))" % (name, len(c.problems)))
        for p in c.problems:
            print("  - " + p)
        return 1
    print("MATCH %s %s (%d manifest(s), %d blob(s))" % (name, digest, len(c.seen_manifests), len(c.seen_blobs)))
    return 0


def cmd_digest(a):
    reg = rc.registry_from_args(a)
    digest, _, _ = reg.head_manifest(a.repo, a.ref)
    if not digest:  # HEAD without the header: hash the body ourselves
        digest = rc.sha256_digest(reg.get_manifest(a.repo, a.ref)[0])
    print(digest)
    return 0


def cmd_tags(a):
    for t in rc.registry_from_args(a).tags(a.repo):
        print(t)
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = ap.add_subparsers(dest="cmd", required=True)

    sp = sub.add_parser("compare", help="destination must equal source (manifests + blobs)")
    for side in ("src", "dst"):
        g = sp.add_argument_group(side)
        rc.add_registry_args(g, prefix=side + "-", host_flags=["--" + side])
    sp.add_argument("--src-repo", required=True)
    sp.add_argument("--src-ref", required=True, help="tag or digest")
    sp.add_argument("--dst-repo", help="default: --src-repo")
    sp.add_argument("--dst-ref", help="default: --src-ref")
    sp.set_defaults(func=cmd_compare)

    sp = sub.add_parser("digest", help="print a manifest digest (HEAD)")
    rc.add_registry_args(sp)
    sp.add_argument("repo")
    sp.add_argument("ref")
    sp.set_defaults(func=cmd_digest)

    sp = sub.add_parser("tags", help="print a repository's tags, one per line")
    rc.add_registry_args(sp)
    sp.add_argument("repo")
    sp.set_defaults(func=cmd_tags)

    a = ap.parse_args()
    try:
        sys.exit(a.func(a))
    except rc.RegistryError as e:
        rc.die("verify: error: %s" % e, 2)


if __name__ == "__main__":
    main()
