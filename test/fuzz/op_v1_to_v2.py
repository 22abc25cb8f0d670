#!/usr/bin/env python3
"""op_v1_to_v2.py - converts fuzz seed files holding one op of format 1 into
op format 2 (docs/wire-format.md), in place, so a seed keeps exercising what
it did: the same kind, author, predecessors and payload.

    python3 test/fuzz/op_v1_to_v2.py test/fuzz/seeds/fuzz_op/*.bin

Format 1 was version(1) kind group_tag(8) author(32) n_pred pred*32
n_payload payload signature(64), id = BLAKE2b-256 of all of it.  The files
are converted together: a predecessor or group tag that names an op among
them is renamed to that op's new id, so a chain of seeds stays a chain.  An
op by the golden vectors' key (seed 32 x 0x01) is signed again (a valid
signature in its group); any other keeps a zero signature.  A file that is
not a format-1 op is left alone.  Uses test/py/becwire.py.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "py"))
from becwire import KIND, Key, blake, make_header, read_varint, signed_message  # noqa: E402

GOLDEN = Key(bytes([1]) * 32)
NAMES = {v: k for k, v in KIND.items()}


def parse_v1(b):
    try:
        if b[0] != 1 or b[1] not in NAMES:
            return None
        n, i = read_varint(b, 42)
        preds = [bytes(b[i + 32 * k:i + 32 * k + 32]) for k in range(n)]
        i += 32 * n
        ln, i = read_varint(b, i)
        if i + ln + 64 != len(b):
            return None
        return {"kind": NAMES[b[1]], "tag": bytes(b[2:10]), "author": bytes(b[10:42]),
                "preds": preds, "payload": bytes(b[i:i + ln]), "old_id": blake(b)}
    except IndexError:
        return None


class _Author:
    def __init__(self, pub):
        self.pub = pub


def main(paths):
    ops = []
    for p in paths:
        with open(p, "rb") as f:
            m = parse_v1(f.read())
        if m is None:
            print("%s: not a format-1 op, left alone" % p)
        else:
            ops.append((p, m))
    # Creates first, then by predecessors: each op after what it names.
    renamed = {}          # old id -> new id
    groups = {}           # old create id[:8] -> new create id
    done = set()
    while len(done) < len(ops):
        progress = False
        for p, m in ops:
            if p in done or any(q in {o["old_id"] for _, o in ops} and q not in renamed
                                for q in m["preds"]):
                continue
            group = None if m["kind"] == "create" else groups.get(m["tag"])
            preds = [renamed.get(q, q) for q in m["preds"]]
            key = GOLDEN if m["author"] == GOLDEN.pub else _Author(m["author"])
            header = make_header(key, m["kind"], preds, m["payload"], group)
            if m["kind"] != "create" and group is None:
                header = header[:2] + m["tag"] + header[10:]
            op_id = blake(header)
            sig = GOLDEN.sign(signed_message(group, op_id)) if key is GOLDEN else bytes(64)
            with open(p, "wb") as f:
                f.write(header + sig + m["payload"])
            renamed[m["old_id"]] = op_id
            if m["kind"] == "create":
                groups[m["old_id"][:8]] = op_id
            done.add(p)
            progress = True
            print("%s: %s, id %s" % (p, m["kind"], op_id.hex()[:16]))
        if not progress:
            raise SystemExit("a cycle among the predecessors")


if __name__ == "__main__":
    main(sys.argv[1:])
