#!/usr/bin/env python3
"""A synthetic conda channel the size of conda-forge, shaped like the real snapshot.

    python benchmarks/synthetic_channel.py --out DIR [--names 30000] [--records 1000000] [--seed 0]
                                           [--no-zst] [--no-shards]

writes a channel (``DIR/linux-64`` and ``DIR/noarch``) that a conda client can read over HTTP:

* ``repodata.json`` per subdir (sorted keys, compact, the fields conda-forge's repodata has);
* ``repodata.json.zst`` next to it when the ``zstd`` program is on PATH (``--no-zst`` skips it);
* CEP-16 sharded repodata (``repodata_shards.msgpack.zst`` and ``shards/<sha256>.msgpack.zst``, one
  shard per package name, md5/sha256 as bytes as conda-forge's shards have them), unless ``--no-shards``;
* ``synthetic.json``: the parameters, counts, sizes and timings (written last: its presence means
  the channel is complete, which is how ``ensure`` reuses a channel generated before).

Shapes come from the real conda-forge snapshot ``shared/data/channels/conda-forge-py39-subchannel``
(linux-64 and noarch): each package name of the snapshot is a *template*, with its records
(versions, builds, build numbers, depends, constrains, licenses, sizes, timestamps, and which of
linux-64 / noarch they are in). Every synthetic name takes one template, drawn uniformly, so the
distributions of records per name, versions per name, builds per version, dependency lists and
the linux-64/noarch split are the snapshot's; the snapshot's own names keep their own template
(``python`` has python's versions). The record counts are then scaled, largest remainder first,
so that the total is exactly ``records``; a name keeps its newest records. Names are the snapshot's
names, then real conda-forge names from ``shared/data/mappings/parselmouth`` (33,909 of them) in
a seeded order, then made-up ones if more are asked for. md5 and sha256 are seeded random bytes.
The same arguments always give the same bytes.

The shards' zstd frames are stored (uncompressed) blocks: valid zstd that any decoder reads,
written without a compressor (the project needs no zstd module); on loopback the extra bytes
cost nothing measurable. ``repodata.json.zst`` is real compression (``zstd -T0 -3``).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "data"
DEFAULT_SOURCE = SHARED / "channels" / "conda-forge-py39-subchannel"
NAME_LIST = SHARED / "mappings" / "parselmouth" / "v0" / "conda-forge" / "compressed_mapping.json"
SUBDIRS = ("linux-64", "noarch")
GENERATOR_VERSION = 1  # bump when the output for the same arguments changes
MARKER = "synthetic.json"

# The record fields written (conda-forge's repodata.json has these; the snapshot's extra
# `channel`, `url`, `fn`, `arch: null` and `platform: null` are conda-subchannel's and are dropped).
_FIELDS = ("build", "build_number", "constrains", "depends", "license", "license_family", "md5", "name", "noarch",
           "sha256", "size", "subdir", "timestamp", "track_features", "version")
_NAME_OK = re.compile(r"^[a-z0-9_][a-z0-9_.\-]*$")


# ---------------------------------------------------------------------------------------------
# msgpack and zstd, the little of each that CEP-16 needs (no third-party module).


def _mp_str(text: str) -> bytes:
    data = text.encode("utf-8")
    n = len(data)
    if n < 32:
        return bytes((0xA0 | n,)) + data
    if n < 0x100:
        return b"\xd9" + bytes((n,)) + data
    if n < 0x10000:
        return b"\xda" + struct.pack(">H", n) + data
    return b"\xdb" + struct.pack(">I", n) + data


def _mp_bin(data: bytes) -> bytes:
    n = len(data)
    if n < 0x100:
        return b"\xc4" + bytes((n,)) + data
    if n < 0x10000:
        return b"\xc5" + struct.pack(">H", n) + data
    return b"\xc6" + struct.pack(">I", n) + data


def _mp_int(value: int) -> bytes:
    if value < 0:
        if value >= -32:
            return struct.pack(">b", value)
        return b"\xd3" + struct.pack(">q", value)
    if value < 0x80:
        return bytes((value,))
    if value < 0x100:
        return b"\xcc" + bytes((value,))
    if value < 0x10000:
        return b"\xcd" + struct.pack(">H", value)
    if value < 0x100000000:
        return b"\xce" + struct.pack(">I", value)
    return b"\xcf" + struct.pack(">Q", value)


def _mp_array_header(n: int) -> bytes:
    return bytes((0x90 | n,)) if n < 16 else b"\xdc" + struct.pack(">H", n) if n < 0x10000 else b"\xdd" + struct.pack(">I", n)


def _mp_map_header(n: int) -> bytes:
    return bytes((0x80 | n,)) if n < 16 else b"\xde" + struct.pack(">H", n) if n < 0x10000 else b"\xdf" + struct.pack(">I", n)


def packb(value: Any) -> bytes:
    """msgpack for what repodata holds: None, bool, int, str, bytes, lists and str-keyed dicts."""
    if value is None:
        return b"\xc0"
    if value is True:
        return b"\xc3"
    if value is False:
        return b"\xc2"
    if isinstance(value, int):
        return _mp_int(value)
    if isinstance(value, str):
        return _mp_str(value)
    if isinstance(value, (bytes, bytearray)):
        return _mp_bin(bytes(value))
    if isinstance(value, (list, tuple)):
        return _mp_array_header(len(value)) + b"".join(packb(v) for v in value)
    if isinstance(value, dict):
        return _mp_map_header(len(value)) + b"".join(_mp_str(k) + packb(v) for k, v in value.items())
    raise TypeError(f"cannot msgpack {type(value).__name__}")


_ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_RAW_BLOCK = 128 * 1024


def zstd_stored(data: bytes) -> bytes:
    """One zstd frame of stored (raw) blocks: single segment, 4-byte content size, no checksum."""
    out = [_ZSTD_MAGIC, b"\xa0", struct.pack("<I", len(data))]
    view = memoryview(data)
    blocks = range(0, len(data), _RAW_BLOCK) if data else range(1)
    last_start = blocks[-1]
    for start in blocks:
        chunk = view[start:start + _RAW_BLOCK]
        header = (len(chunk) << 3) | (1 if start == last_start else 0)  # block type 0: raw
        out.append(struct.pack("<I", header)[:3])
        out.append(bytes(chunk))
    return b"".join(out)


# ---------------------------------------------------------------------------------------------
# Templates: the snapshot's names with their records.


@dataclass
class _Record:
    """One template record, pre-rendered around the parts that change per synthetic package."""

    section: str  # "packages" or "packages.conda"
    version: str
    build: str
    subdir: str
    timestamp: int
    fields: dict[str, Any]
    json_head: str = ""  # up to `"md5":"`
    json_mid: str = ""  # from `,"sha256":"` less the name part: see render_json
    json_tail: str = ""
    mp_head: bytes = b""
    mp_mid: bytes = b""
    mp_tail: bytes = b""
    mp_count: int = 0


def _prepare(record: _Record) -> None:
    f = record.fields
    before = [k for k in _FIELDS if k in f and k < "md5"]
    after_sha = [k for k in _FIELDS if k in f and k > "sha256"]
    noarch = "noarch" in f

    def js(keys: Iterable[str]) -> str:
        return "".join(f'"{k}":{json.dumps(f[k], separators=(",", ":"))},' for k in keys)

    record.json_head = "{" + js(before) + '"md5":"'
    # ..."md5":"<hex>","name":"<name>",["noarch":..,]"sha256":"<hex>",<tail>}
    record.json_mid = (f',"noarch":{json.dumps(f["noarch"])}' if noarch else "") + ',"sha256":"'
    record.json_tail = '",' + js(after_sha).rstrip(",") + "}"

    def mp(keys: Iterable[str]) -> bytes:
        return b"".join(_mp_str(k) + packb(f[k]) for k in keys)

    record.mp_count = len(before) + len(after_sha) + 3 + (1 if noarch else 0)  # + md5, name, sha256
    record.mp_head = _mp_map_header(record.mp_count) + mp(before) + _mp_str("md5")
    record.mp_mid = (_mp_str("noarch") + packb(f["noarch"]) if noarch else b"") + _mp_str("sha256")
    record.mp_tail = mp(after_sha)


def _clean(raw: dict[str, Any], subdir: str) -> dict[str, Any]:
    fields = {k: raw[k] for k in _FIELDS if k in raw and raw[k] is not None}
    fields["subdir"] = subdir
    if not fields.get("constrains"):
        fields.pop("constrains", None)
    for key in ("md5", "sha256", "name"):
        fields.pop(key, None)  # written per synthetic package
    fields.setdefault("depends", [])
    return fields


def load_templates(source: Path) -> dict[str, list[_Record]]:
    """name -> its records in the snapshot's linux-64 and noarch, newest first."""
    templates: dict[str, list[_Record]] = {}
    for subdir in SUBDIRS:
        path = source / subdir / "repodata.json"
        data = json.loads(path.read_text(encoding="utf-8"))
        for section in ("packages", "packages.conda"):
            for raw in data.get(section, {}).values():
                fields = _clean(raw, subdir)
                record = _Record(section, str(raw["version"]), str(raw["build"]), subdir,
                                 int(raw.get("timestamp") or 0), fields)
                templates.setdefault(raw["name"], []).append(record)
    for records in templates.values():
        records.sort(key=lambda r: (r.timestamp, r.version, r.build, r.subdir, r.section), reverse=True)
        for record in records:
            _prepare(record)
    return templates


def _variant(record: _Record, rep: int) -> _Record:
    """A further build of a template record (used only when a name needs more records than its template has)."""
    fields = dict(record.fields)
    fields["version"] = f"{record.version}.{rep}"
    fields["build_number"] = int(fields.get("build_number", 0)) + rep
    clone = _Record(record.section, fields["version"], record.build, record.subdir, record.timestamp + rep, fields)
    _prepare(clone)
    return clone


def choose_names(count: int, rng: random.Random, first: Sequence[str], name_list: Path | None) -> list[str]:
    """The template names, then real conda-forge names in a seeded order, then made-up ones."""
    names: list[str] = []
    seen: set[str] = set()

    def add(name: str) -> None:
        if len(names) < count and name not in seen and _NAME_OK.match(name):
            seen.add(name)
            names.append(name)

    for name in first:
        add(name)
    if name_list is not None and name_list.is_file() and len(names) < count:
        real = sorted(json.loads(name_list.read_text(encoding="utf-8")))
        rng.shuffle(real)
        for name in real:
            add(name)
    tokens = sorted({t for n in names for t in re.split(r"[-_.]", n) if len(t) > 1}) or ["pkg"]
    i = 0
    while len(names) < count:
        add(f"{tokens[i % len(tokens)]}-{tokens[(i * 7 + 3) % len(tokens)]}-{i}")
        i += 1
    return names


def _scaled(counts: Sequence[int], total: int) -> list[int]:
    """``counts`` scaled to sum to ``total`` (largest remainder), each at least 1."""
    whole = sum(counts)
    exact = [c * total / whole for c in counts]
    out = [max(1, int(x)) for x in exact]
    diff = total - sum(out)
    order = sorted(range(len(counts)), key=lambda i: (exact[i] - int(exact[i]), -i), reverse=True)
    i = 0
    while diff != 0:
        j = order[i % len(order)]
        if diff > 0:
            out[j] += 1
            diff -= 1
        elif out[j] > 1:
            out[j] -= 1
            diff += 1
        i += 1
    return out


# ---------------------------------------------------------------------------------------------
# The channel.


@dataclass
class Summary:
    out: str
    names: int
    records: int
    seed: int
    source: str
    generator_version: int = GENERATOR_VERSION
    per_subdir: dict[str, dict[str, int]] = field(default_factory=dict)  # subdir -> names, records, bytes...
    zst: bool = False
    shards: bool = False
    seconds: dict[str, float] = field(default_factory=dict)
    reused: bool = False

    def params(self) -> dict[str, Any]:
        return {"names": self.names, "records": self.records, "seed": self.seed,
                "generator_version": self.generator_version, "zst": self.zst, "shards": self.shards}


def generate(out: Path, names: int = 30_000, records: int = 1_000_000, *, seed: int = 0,
             source: Path = DEFAULT_SOURCE, name_list: Path | None = NAME_LIST, zst: bool = True,
             shards: bool = True) -> Summary:
    """Write the channel into ``out`` (replacing what is there); returns what was written."""
    if names < 1 or records < names:
        raise ValueError("need at least one name and at least one record per name")
    started = time.perf_counter()
    rng = random.Random(seed)
    templates = load_templates(source)
    template_names = sorted(templates)
    chosen = choose_names(names, rng, template_names, name_list)
    profile = [name if name in templates else template_names[rng.randrange(len(template_names))] for name in chosen]
    counts = _scaled([len(templates[p]) for p in profile], records)

    zst = zst and shutil.which("zstd") is not None
    summary = Summary(str(out), names, records, seed, str(source), zst=zst, shards=shards)
    if out.exists():
        for sub in SUBDIRS:
            shutil.rmtree(out / sub, ignore_errors=True)
        (out / MARKER).unlink(missing_ok=True)
    for sub in SUBDIRS:
        (out / sub).mkdir(parents=True, exist_ok=True)
        if shards:
            (out / sub / "shards").mkdir(exist_ok=True)

    # JSON fragments per subdir and section; shard payloads per subdir and name.
    sections: dict[tuple[str, str], list[str]] = {(s, k): [] for s in SUBDIRS for k in ("packages", "packages.conda")}
    shard_payloads: dict[str, list[tuple[str, bytes]]] = {s: [] for s in SUBDIRS}
    name_counts = {s: 0 for s in SUBDIRS}
    randbytes = rng.randbytes
    order = sorted(range(names), key=lambda i: chosen[i])
    for i in order:
        name = chosen[i]
        template = templates[profile[i]]
        wanted = counts[i]
        picked = template[:wanted] if wanted <= len(template) else [
            template[j % len(template)] if j < len(template) else _variant(template[j % len(template)], j // len(template))
            for j in range(wanted)]
        name_json = f'","name":"{name}"'
        name_mp = _mp_str("name") + _mp_str(name)
        per_shard: dict[str, dict[str, list[tuple[str, bytes]]]] = {}
        for record in sorted(picked, key=lambda r: (r.section, r.version, r.build)):
            md5 = randbytes(16)
            sha = randbytes(32)
            fn = f"{name}-{record.version}-{record.build}{'.conda' if record.section == 'packages.conda' else '.tar.bz2'}"
            sections[(record.subdir, record.section)].append(
                f'"{fn}":{record.json_head}{md5.hex()}{name_json}{record.json_mid}{sha.hex()}{record.json_tail}')
            if shards:
                body = record.mp_head + b"\xc4\x10" + md5 + name_mp + record.mp_mid + b"\xc4\x20" + sha + record.mp_tail
                per_shard.setdefault(record.subdir, {}).setdefault(record.section, []).append((fn, body))
        for sub in {r.subdir for r in picked}:
            name_counts[sub] += 1
            if shards:
                parts = per_shard[sub]
                shard = [_mp_map_header(3)]
                for section in ("packages", "packages.conda"):
                    entries = parts.get(section, [])
                    shard.append(_mp_str(section) + _mp_map_header(len(entries)))
                    shard.extend(_mp_str(fn) + body for fn, body in entries)
                shard.append(_mp_str("removed") + _mp_array_header(0))
                shard_payloads[sub].append((name, b"".join(shard)))
    summary.seconds["records"] = round(time.perf_counter() - started, 2)

    # repodata.json, then its .zst in the background while the shards are written.
    t = time.perf_counter()
    compressors: list[subprocess.Popen[bytes]] = []
    for sub in SUBDIRS:
        path = out / sub / "repodata.json"
        with open(path, "w", encoding="utf-8", newline="\n") as fh:
            fh.write('{"info":{"subdir":' + json.dumps(sub) + "},")
            for section in ("packages", "packages.conda"):
                fh.write(json.dumps(section) + ":{")
                frags = sections[(sub, section)]
                for start in range(0, len(frags), 20_000):
                    if start:
                        fh.write(",")
                    fh.write(",".join(frags[start:start + 20_000]))
                fh.write("},")
            fh.write('"removed":[],"repodata_version":1}')
        summary.per_subdir[sub] = {
            "names": name_counts[sub],
            "records": len(sections[(sub, "packages")]) + len(sections[(sub, "packages.conda")]),
            "repodata_json_bytes": path.stat().st_size,
        }
        if zst:
            threads = "-T0" if (os.cpu_count() or 1) > 1 else "-T1"
            compressors.append(subprocess.Popen(["zstd", "-q", "-f", "-3", threads, str(path), "-o", f"{path}.zst"]))
    sections.clear()
    summary.seconds["repodata_json"] = round(time.perf_counter() - t, 2)

    if shards:
        t = time.perf_counter()
        for sub in SUBDIRS:
            index: dict[str, bytes] = {}
            total = 0
            for name, payload in shard_payloads[sub]:
                frame = zstd_stored(payload)
                digest = hashlib.sha256(frame).digest()
                (out / sub / "shards" / f"{digest.hex()}.msgpack.zst").write_bytes(frame)
                index[name] = digest
                total += len(frame)
            head = packb({"info": {"base_url": "", "shards_base_url": "./shards/", "subdir": sub}, "version": 1})
            # The index is {"info": ..., "version": 1, "shards": {name: sha256}}: extend the 2-key map to 3.
            body = _mp_map_header(3) + head[1:] + _mp_str("shards") + _mp_map_header(len(index)) + b"".join(
                _mp_str(n) + _mp_bin(d) for n, d in index.items())
            (out / sub / "repodata_shards.msgpack.zst").write_bytes(zstd_stored(body))
            summary.per_subdir[sub].update(shard_files=len(index), shard_bytes=total, shard_index_bytes=len(body))
        summary.seconds["shards"] = round(time.perf_counter() - t, 2)
    shard_payloads.clear()

    if compressors:
        t = time.perf_counter()
        for proc in compressors:
            if proc.wait() != 0:
                raise RuntimeError(f"zstd failed with exit status {proc.returncode}")
        for sub in SUBDIRS:
            summary.per_subdir[sub]["repodata_zst_bytes"] = (out / sub / "repodata.json.zst").stat().st_size
        summary.seconds["zst_wait"] = round(time.perf_counter() - t, 2)
    summary.seconds["total"] = round(time.perf_counter() - started, 2)
    (out / MARKER).write_text(json.dumps(asdict(summary), indent=2) + "\n", encoding="utf-8")
    return summary


def ensure(out: Path, names: int = 30_000, records: int = 1_000_000, *, seed: int = 0, zst: bool = True,
           shards: bool = True, source: Path = DEFAULT_SOURCE) -> Summary:
    """The channel in ``out``: reused when a complete one with the same parameters is there, else generated."""
    zst = zst and shutil.which("zstd") is not None
    wanted = {"names": names, "records": records, "seed": seed, "generator_version": GENERATOR_VERSION,
              "zst": zst, "shards": shards}
    try:
        data = json.loads((out / MARKER).read_text(encoding="utf-8"))
        if {k: data.get(k) for k in wanted} == wanted:
            summary = Summary(**{k: v for k, v in data.items() if k in Summary.__dataclass_fields__})
            summary.reused = True
            return summary
    except (OSError, ValueError, TypeError):
        pass
    return generate(out, names, records, seed=seed, source=source, zst=zst, shards=shards)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="the channel folder to write (linux-64/ and noarch/)")
    parser.add_argument("--names", type=int, default=30_000, help="package names (default 30,000)")
    parser.add_argument("--records", type=int, default=1_000_000, help="records over both subdirs (default 1,000,000)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE, help=f"the snapshot to take shapes from (default {DEFAULT_SOURCE})")
    parser.add_argument("--no-zst", action="store_true", help="do not write repodata.json.zst")
    parser.add_argument("--no-shards", action="store_true", help="do not write CEP-16 shards")
    parser.add_argument("--reuse", action="store_true", help="keep a complete channel with the same parameters")
    args = parser.parse_args(argv)
    if not (args.source / "linux-64" / "repodata.json").is_file():
        parser.error(f"no snapshot at {args.source}")
    make = ensure if args.reuse else generate
    summary = make(args.out, args.names, args.records, seed=args.seed, source=args.source, zst=not args.no_zst,
                   shards=not args.no_shards)
    print(json.dumps(asdict(summary), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
