#!/usr/bin/env python3
"""Build test images with random content and push them with the Registry V2 API.

Every subcommand prints one JSON object (seed: a JSON list) on one stdout line describing
what it pushed.  Manifests are serialized once, with Docker-style 3-space
indentation on purpose: a sync tool that re-serializes JSON instead of copying
bytes changes the digest and gets caught by verify.py.
"""
import argparse
import datetime
import hashlib
import json
import os
import re
import subprocess
import sys
import time

sys.dont_write_bytecode = True  # keep __pycache__ out of the source tree
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import regclient as rc  # noqa: E402

LAYER_TYPES = {False: rc.MT_DOCKER_LAYER, True: rc.MT_OCI_LAYER}
CONFIG_TYPES = {False: rc.MT_DOCKER_CONFIG, True: rc.MT_OCI_CONFIG}
MANIFEST_TYPES = {False: rc.MT_DOCKER_MANIFEST, True: rc.MT_OCI_MANIFEST}
INDEX_TYPES = {False: rc.MT_DOCKER_LIST, True: rc.MT_OCI_INDEX}


def serialize(obj):
    return json.dumps(obj, indent=3).encode()


def parse_size(s):
    """'4096', '8M', '512MiB', '1G' -> bytes (binary units)."""
    m = re.fullmatch(r"\s*(\d+)\s*([KMG]?)(?:I?B)?\s*", s.upper())
    if not m:
        raise argparse.ArgumentTypeError("bad size %r" % s)
    return int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30}[m.group(2)]


def parse_platform(p):
    parts = p.split("/")
    if len(parts) not in (2, 3):
        raise SystemExit("error: bad platform %r (want os/arch[/variant])" % p)
    plat = {"architecture": parts[1], "os": parts[0]}
    if len(parts) == 3:
        plat["variant"] = parts[2]
    return plat


def random_layer(size):
    # "gzip-ish": gzip magic then random bytes; incompressible, not a real tarball.
    return b"\x1f\x8b\x08\x00" + os.urandom(max(size - 4, 0)) if size >= 4 else os.urandom(size)


def config_blob(platform, layer_digests):
    cfg = {"architecture": platform["architecture"], "os": platform["os"],
           "created": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
           "config": {"Env": ["PATH=/usr/bin:/bin"], "Labels": {"isync.test.nonce": os.urandom(8).hex()}},
           # Real diff_ids hash the uncompressed tar; our layers are not tars, so hash them as-is.
           "rootfs": {"type": "layers", "diff_ids": list(layer_digests)},
           "history": [{"created_by": "mkimage.py layer %d" % i} for i in range(len(layer_digests))]}
    if "variant" in platform:
        cfg["variant"] = platform["variant"]
    return serialize(cfg)


class Pusher:
    """Pushes manifests/blobs to one repo and records everything for the JSON report."""

    def __init__(self, reg, repo):
        self.reg, self.repo, self.blobs, self.manifests = reg, repo, {}, []

    def blob(self, data, media_type):
        d = self.reg.push_blob(self.repo, data, media_type)
        self.blobs[d["digest"]] = d
        return {"mediaType": media_type, "digest": d["digest"], "size": d["size"]}

    def manifest(self, obj, media_type, ref=None, platform=None):
        raw = serialize(obj)
        ref = ref or rc.sha256_digest(raw)  # children go by digest
        d = self.reg.put_manifest(self.repo, ref, raw, media_type)
        self.manifests.append({"digest": d["digest"], "size": d["size"], "media_type": media_type,
                               "ref": ref, **({"platform": platform} if platform else {})})
        desc = {"mediaType": media_type, "digest": d["digest"], "size": d["size"]}
        if platform:
            desc["platform"] = platform
        return desc

    def image(self, oci, platform, layers, ref=None, layer_descs=None):
        """Push layers (bytes) + config + manifest; layer_descs are already-pushed layers."""
        descs = list(layer_descs or []) + [self.blob(l, LAYER_TYPES[oci]) for l in layers]
        cfg = self.blob(config_blob(platform, [d["digest"] for d in descs]), CONFIG_TYPES[oci])
        m = {"schemaVersion": 2, "mediaType": MANIFEST_TYPES[oci], "config": cfg, "layers": descs}
        return self.manifest(m, MANIFEST_TYPES[oci], ref, platform)

    def report(self, tag, top, **extra):
        out = {"registry": self.reg.host, "repo": self.repo, "tag": tag, "digest": top["digest"],
               "media_type": top["mediaType"], "size": top["size"],
               "blobs": sorted(({"digest": b["digest"], "size": b["size"], "media_type": b["media_type"]}
                                for b in self.blobs.values()), key=lambda b: b["digest"]),
               "manifests": self.manifests}
        out.update(extra)
        return out


# --- subcommands ---------------------------------------------------------------
def seeded_layer(spec):
    """'SIZE:SEED' -> the same bytes for the same spec: a base layer several images share."""
    size, _, seed = spec.partition(":")
    size, out, block = parse_size(size), bytearray(b"\x1f\x8b\x08\x00"), hashlib.sha256(seed.encode()).digest()
    while len(out) < size:
        block = hashlib.sha256(block).digest()
        out += block
    return bytes(out[:size])


def cmd_single(reg, a):
    p = Pusher(reg, a.repo)
    layers = ([seeded_layer(a.base)] if a.base else []) + [random_layer(a.layer_size) for _ in range(a.layers)]
    top = p.image(a.oci, parse_platform(a.platform), layers, ref=a.tag)
    return p.report(a.tag, top)


def push_index(p, oci, platforms, layers, layer_size, shared_base, ref):
    base = [p.blob(random_layer(layer_size), LAYER_TYPES[oci])] if shared_base else []
    children = [p.image(oci, parse_platform(pl), [random_layer(layer_size) for _ in range(layers)],
                        layer_descs=base) for pl in platforms]
    return p.manifest({"schemaVersion": 2, "mediaType": INDEX_TYPES[oci], "manifests": children},
                      INDEX_TYPES[oci], ref)


def cmd_index(reg, a):
    p = Pusher(reg, a.repo)
    top = push_index(p, a.oci, a.platforms.split(","), a.layers, a.layer_size, a.shared_base, a.tag)
    return p.report(a.tag, top)


def cmd_nested(reg, a):
    # OCI index -> [inner OCI index -> 2 manifests, plain manifest]
    p = Pusher(reg, a.repo)
    inner = push_index(p, True, ["linux/amd64", "linux/arm64"], 1, a.layer_size, False, None)
    leaf = p.image(True, parse_platform("linux/s390x"), [random_layer(a.layer_size)])
    top = p.manifest({"schemaVersion": 2, "mediaType": rc.MT_OCI_INDEX, "manifests": [inner, leaf]},
                     rc.MT_OCI_INDEX, a.tag)
    return p.report(a.tag, top)


def cmd_artifact(reg, a):
    p = Pusher(reg, a.repo)
    # The OCI "empty" config must be exactly "{}"; any other type gets some unknown JSON.
    cfg_data = b"{}" if a.config_type == rc.MT_OCI_EMPTY else serialize({"name": "isync-test", "nonce": os.urandom(8).hex()})
    cfg = p.blob(cfg_data, a.config_type)
    layer = p.blob(random_layer(a.layer_size), a.layer_type)
    layer["annotations"] = {"org.opencontainers.image.title": "payload.tgz"}
    m = {"schemaVersion": 2, "mediaType": rc.MT_OCI_MANIFEST, "artifactType": a.artifact_type,
         "config": cfg, "layers": [layer],
         "annotations": {"org.opencontainers.image.created": "2024-01-01T00:00:00Z"}}
    if getattr(a, "subject", None):
        raw, ctype, digest = reg.get_manifest(a.repo, a.subject)
        m["subject"] = {"mediaType": ctype, "digest": digest, "size": len(raw)}
    top = p.manifest(m, rc.MT_OCI_MANIFEST, None if a.tag == "-" else a.tag)
    if getattr(a, "subject", None):
        add_to_fallback_tag(reg, a.repo, m["subject"]["digest"], dict(top, artifactType=a.artifact_type))
    return p.report(a.tag, top, artifact_type=a.artifact_type)


def add_to_fallback_tag(reg, repo, subject, desc):
    """What OCI 1.1 clients do on a registry without the referrers API (distribution 2.8):
    list the referrer in the index tagged sha256-<hex> of its subject, creating it if need be."""
    tag = subject.replace(":", "-", 1)
    try:
        index = json.loads(reg.get_manifest(repo, tag)[0])
    except rc.RegistryError as e:
        if e.status != 404:
            raise
        index = {"schemaVersion": 2, "mediaType": rc.MT_OCI_INDEX, "manifests": []}
    index["manifests"].append(desc)
    reg.put_manifest(repo, tag, serialize(index), rc.MT_OCI_INDEX)


def random_stream(total, chunk):
    """Yield `total` pseudo-random bytes in `chunk`-sized pieces with O(chunk) memory.

    AES-128-CTR over zeros via the openssl CLI runs at GB/s (Python-side generation
    tops out near 250 MiB/s); every chunk differs and nothing compresses."""
    key, iv = os.urandom(16).hex(), os.urandom(16).hex()
    proc = subprocess.Popen(["openssl", "enc", "-aes-128-ctr", "-nosalt", "-K", key, "-iv", iv,
                             "-in", "/dev/zero"], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        left = total
        while left > 0:
            want = min(chunk, left)
            buf = proc.stdout.read(want)
            if len(buf) != want:
                raise RuntimeError("openssl random stream ended early")
            left -= want
            yield buf
    finally:
        proc.kill()
        proc.wait()


def cmd_bigblob(reg, a):
    p = Pusher(reg, a.repo)
    size, t0 = parse_size(a.size), time.monotonic()
    d = reg.push_blob_chunks(a.repo, random_stream(size, parse_size(a.chunk_size)))
    t_blob = time.monotonic() - t0
    p.blobs[d["digest"]] = dict(d, media_type=LAYER_TYPES[a.oci])
    layer = {"mediaType": LAYER_TYPES[a.oci], "digest": d["digest"], "size": d["size"]}
    top = p.image(a.oci, parse_platform("linux/amd64"), [], ref=a.tag, layer_descs=[layer])
    return p.report(a.tag, top, blob_seconds=round(t_blob, 2),
                    mib_per_second=round(size / (1 << 20) / max(t_blob, 1e-6), 1))


def cmd_seed(reg, a):
    """Small mixed set for demos: shared-base docker pair, OCI single, multi-arch index, artifact."""
    pre, out = a.prefix, []
    p = Pusher(reg, pre + "/app")
    base = p.blob(random_layer(4096), rc.MT_DOCKER_LAYER)
    amd64 = parse_platform("linux/amd64")
    for tag in ("v1", "v2"):
        top = p.image(False, amd64, [random_layer(2048)], ref=tag, layer_descs=[base])
        out.append(p.report(tag, top))
        p.blobs, p.manifests = {base["digest"]: p.blobs[base["digest"]]}, []
    p = Pusher(reg, pre + "/oci-app")
    out.append(p.report("latest", p.image(True, amd64, [random_layer(4096)], ref="latest")))
    p = Pusher(reg, pre + "/multi")
    out.append(p.report("latest", push_index(p, True, ["linux/amd64", "linux/arm64"], 1, 2048, True, "latest")))
    ns = argparse.Namespace(repo=pre + "/chart", tag="0.1.0", config_type="application/vnd.cncf.helm.config.v1+json",
                            layer_type="application/vnd.cncf.helm.chart.content.v1.tar+gzip",
                            artifact_type="application/vnd.cncf.helm.chart.v1", layer_size=2048)
    out.append(cmd_artifact(reg, ns))
    return out


def main():
    ap = argparse.ArgumentParser(description="Push random test images to a registry (V2 API).")
    rc.add_registry_args(ap, required=False)
    common = argparse.ArgumentParser(add_help=False)
    rc.add_registry_args(common, suppress=True)  # also accept the options after the subcommand
    sub = ap.add_subparsers(dest="cmd", required=True)

    def add(name, func, help_, repo_tag=True):
        sp = sub.add_parser(name, parents=[common], help=help_)
        if repo_tag:
            sp.add_argument("repo")
            sp.add_argument("tag")
        sp.set_defaults(func=func)
        return sp

    sp = add("single", cmd_single, "one image manifest")
    sp.add_argument("--oci", action="store_true", help="OCI manifest instead of Docker schema2")
    sp.add_argument("--layers", type=int, default=2)
    sp.add_argument("--layer-size", type=parse_size, default=16384)
    sp.add_argument("--platform", default="linux/amd64")
    sp.add_argument("--base", metavar="SIZE:SEED", help="first a layer made from SEED: the same in every image given it")

    sp = add("index", cmd_index, "manifest list / OCI index")
    sp.add_argument("--oci", action="store_true", help="OCI index instead of Docker manifest list")
    sp.add_argument("--platforms", default="linux/amd64,linux/arm64,linux/arm/v7")
    sp.add_argument("--shared-base", action="store_true", help="all children share one base layer")
    sp.add_argument("--layers", type=int, default=1)
    sp.add_argument("--layer-size", type=parse_size, default=8192)

    sp = add("nested", cmd_nested, "OCI index containing another OCI index and a manifest")
    sp.add_argument("--layer-size", type=parse_size, default=4096)

    sp = add("artifact", cmd_artifact, "OCI artifact with unknown config/layer media types")
    sp.add_argument("--config-type", default="application/vnd.example.unknown.config.v1+json",
                    help="config media type (%s pushes the 2-byte {} blob)" % rc.MT_OCI_EMPTY)
    sp.add_argument("--layer-type", default="application/vnd.cncf.helm.chart.content.v1.tar+gzip")
    sp.add_argument("--artifact-type", default="application/vnd.example.artifact.v1")
    sp.add_argument("--layer-size", type=parse_size, default=4096)
    sp.add_argument("--subject", metavar="REF", help="a referrer of REF (tag or digest in the same repo): "
                    "sets subject and adds it to the sha256-<hex> fallback tag; TAG '-' pushes by digest only")

    sp = add("bigblob", cmd_bigblob, "image with one huge streamed layer")
    sp.add_argument("--size", required=True, help="layer bytes (suffix K/M/G allowed)")
    sp.add_argument("--chunk-size", default="8M", help="PATCH chunk size (default 8M)")
    sp.add_argument("--oci", action="store_true")

    sp = add("seed", cmd_seed, "push a small mixed demo set; prints a JSON list", repo_tag=False)
    sp.add_argument("--prefix", default="demo", help="repository prefix (default demo)")

    a = ap.parse_args()
    reg = rc.registry_from_args(a)
    try:
        result = a.func(reg, a)
    except rc.RegistryError as e:
        rc.die("mkimage: %s" % e, 1)
    print(json.dumps(result))  # one line: easy to parse from tests


if __name__ == "__main__":
    main()
