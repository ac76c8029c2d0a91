#!/usr/bin/env python3
"""log_check.py: an independent check of a Bourse transparency log, for the e2e tests.

Usage: log_check.py URL INDEX

Written from the specifications only, with Python's standard library (no Bourse code):
  - downloads the newest checkpoint (c2sp.org/tlog-checkpoint text) and every entry bundle
    (c2sp.org/tlog-tiles, tile/entries/<N>[.p/<W>]);
  - recomputes the root with RFC 9162 section 2.1.1's recursive definition of MTH and compares
    it with the checkpoint's root hash;
  - fetches the JSON inclusion proof of entry INDEX for the checkpoint's tree size and verifies
    it with the algorithm of RFC 9162 section 2.1.3.2;
  - checks that /v1/log/entries/INDEX serves the same leaf bytes as the bundle.
The checkpoint's signature is not checked here (Ed25519 is not in the standard library); the
CLI tests do that. Prints what it checked; exits 0 when everything agrees, 1 otherwise.
"""

import base64
import hashlib
import json
import sys
import urllib.request

TILE_WIDTH = 256


def fetch(url):
    with urllib.request.urlopen(url, timeout=30) as response:
        return response.read()


def tile_index_path(n):
    """<N> of tlog-tiles: groups of three digits, all but the last prefixed with "x"."""
    digits = "%d" % n
    digits = "0" * (-len(digits) % 3) + digits
    groups = [digits[i:i + 3] for i in range(0, len(digits), 3)]
    return "/".join(["x" + g for g in groups[:-1]] + [groups[-1]])


def leaf_hash(data):
    return hashlib.sha256(b"\x00" + data).digest()


def node_hash(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def mth(hashes):
    """RFC 9162 2.1.1 over leaf hashes: MTH(D[n]) = node(MTH(D[0:k]), MTH(D[k:n]))."""
    n = len(hashes)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashes[0]
    k = 1
    while k * 2 < n:
        k *= 2
    return node_hash(mth(hashes[:k]), mth(hashes[k:]))


def verify_inclusion(index, tree_size, leaf, path, root):
    """RFC 9162 2.1.3.2, step by step."""
    if index >= tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def bundle_entries(data):
    entries, at = [], 0
    while at < len(data):
        if at + 2 > len(data):
            raise ValueError("truncated bundle")
        size = int.from_bytes(data[at:at + 2], "big")
        if at + 2 + size > len(data):
            raise ValueError("truncated entry")
        entries.append(data[at + 2:at + 2 + size])
        at += 2 + size
    return entries


def main():
    url, index = sys.argv[1].rstrip("/"), int(sys.argv[2])
    lines = fetch(url + "/log/checkpoint").decode("utf-8").split("\n")
    origin, tree_size, root = lines[0], int(lines[1]), base64.b64decode(lines[2])
    entries = []
    for n in range((tree_size + TILE_WIDTH - 1) // TILE_WIDTH):
        width = min(TILE_WIDTH, tree_size - n * TILE_WIDTH)
        path = "/log/tile/entries/" + tile_index_path(n)
        if width < TILE_WIDTH:
            path += ".p/%d" % width
        got = bundle_entries(fetch(url + path))
        if len(got) != width:
            print("bundle %d has %d entries, want %d" % (n, len(got), width))
            return 1
        entries.extend(got)
    hashes = [leaf_hash(e) for e in entries]
    recomputed = mth(hashes)
    print("origin %s, tree size %d, %d entries downloaded" % (origin, tree_size, len(entries)))
    if recomputed != root:
        print("root mismatch: recomputed %s, checkpoint %s"
              % (base64.b64encode(recomputed).decode(), lines[2]))
        return 1
    print("root %s recomputed by RFC 9162 2.1.1 matches the checkpoint" % lines[2])

    proof = json.loads(fetch("%s/v1/log/proofs/inclusion?index=%d&tree_size=%d"
                             % (url, index, tree_size)))
    path = [base64.b64decode(h) for h in proof["hashes"]]
    if proof["index"] != index or proof["tree_size"] != tree_size:
        print("the proof is for another index or size")
        return 1
    if not verify_inclusion(index, tree_size, hashes[index], path, root):
        print("inclusion proof of entry %d does not verify" % index)
        return 1
    if verify_inclusion(index, tree_size, leaf_hash(entries[index] + b" "), path, root):
        print("a changed leaf verifies: the checker is broken")
        return 1
    print("inclusion proof of entry %d (%d hashes) verifies by RFC 9162 2.1.3.2"
          % (index, len(path)))

    entry = json.loads(fetch("%s/v1/log/entries/%d" % (url, index)))
    if entry["leaf"].encode("utf-8") != entries[index]:
        print("/v1/log/entries/%d differs from the bundle" % index)
        return 1
    print("entry %d from /v1/log/entries matches the bundle" % index)
    return 0


if __name__ == "__main__":
    sys.exit(main())
