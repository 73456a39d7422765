"""Provenance: what an answer is, enough to cite it and to check a copy.

Every ResearchService answer carries a ``Provenance`` message
(proto/kring/v1/research.proto, docs/research.md "Provenance"). The client
shows it as a dict (``Result.provenance``, and ``df.attrs["provenance"]`` on
every frame), writes it in front of CSV exports as one ``# <field>: <value>``
line per field, and recomputes ``answer_sha256`` to check that a response is
the one the server hashed.
"""

from __future__ import annotations

import hashlib
import io
import os
from typing import Any, Optional, Union

import pandas as pd
from google.protobuf.message import Message

from kring_research._proto.kring.v1 import research_pb2

# The Provenance fields in declaration order: the order of the "# " lines.
FIELDS = tuple(f.name for f in research_pb2.Provenance.DESCRIPTOR.fields)
_INT_FIELDS = frozenset(f.name for f in research_pb2.Provenance.DESCRIPTOR.fields
                        if f.type not in (f.TYPE_STRING, f.TYPE_BYTES))

PathOrBuffer = Union[str, "os.PathLike[str]", io.TextIOBase, None]


def to_dict(response: Message) -> dict:
    """The response's Provenance as a dict, every field in declaration order
    (defaults when the server sent none: log_position 0, empty strings)."""
    p = response.provenance
    return {name: getattr(p, name) for name in FIELDS}


def answer_sha256(response: Message) -> str:
    """Lowercase hex SHA-256 of ``response`` serialized deterministically with
    its ``provenance`` cleared: what the server puts in
    ``provenance.answer_sha256``."""
    copy = type(response)()
    copy.CopyFrom(response)
    copy.ClearField("provenance")
    return hashlib.sha256(copy.SerializeToString(deterministic=True)).hexdigest()


def verify(response: Message) -> bool:
    """True when the response carries an ``answer_sha256`` and it equals the
    hash recomputed from the response; False when it differs or is missing
    (a server without provenance)."""
    claimed = response.provenance.answer_sha256
    return bool(claimed) and claimed == answer_sha256(response)


def header_lines(provenance: dict) -> list[str]:
    """One ``# <field>: <value>`` line per Provenance field, in declaration
    order. A line break inside a value (there is none in what kringd sends)
    becomes a space, so every line stays a comment."""
    out = []
    for name in FIELDS:
        value = provenance.get(name, "")
        text = "" if value is None else str(value)
        out.append(f"# {name}: " + text.replace("\r", " ").replace("\n", " "))
    return out


def write_csv(frame: pd.DataFrame, provenance: dict, path: PathOrBuffer = None, **to_csv_kwargs: Any) -> Optional[str]:
    """Writes the provenance lines, then ``frame`` as CSV (no index unless
    ``index=True`` is passed). Returns the text when ``path`` is None."""
    to_csv_kwargs.setdefault("index", False)
    text = "\n".join(header_lines(provenance)) + "\n" + frame.to_csv(None, lineterminator="\n", **to_csv_kwargs)
    if path is None:
        return text
    if hasattr(path, "write"):
        path.write(text)
    else:
        with open(path, "w", encoding="utf-8", newline="") as f:
            f.write(text)
    return None


def read_header(path: Union[str, "os.PathLike[str]"]) -> dict:
    """The provenance lines of a CSV written by ``write_csv`` (or kringctl
    ``--format csv``) as a dict; log_position and min_cell_size as ints."""
    out: dict[str, Any] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            if not line.startswith("#"):
                break
            name, sep, value = line[1:].strip("\r\n").lstrip(" ").partition(": ")
            if not sep:  # "# field:" with an empty value and no space kept
                name, value = name.rstrip(":"), ""
            out[name] = int(value) if name in _INT_FIELDS and value.strip().isdigit() else value
    return out


def read_csv(path: Union[str, "os.PathLike[str]"], **read_csv_kwargs: Any) -> pd.DataFrame:
    """Reads a CSV export back: ``pandas.read_csv(path, comment="#")`` with the
    provenance lines in ``df.attrs["provenance"]``."""
    read_csv_kwargs.setdefault("comment", "#")
    df = pd.read_csv(path, **read_csv_kwargs)
    df.attrs["provenance"] = read_header(path)
    return df
