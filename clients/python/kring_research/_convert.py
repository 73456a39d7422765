"""Conversions between Python values, protobuf messages and pandas frames.

Nothing here talks to a server, so the unit tests exercise it on hand-built
messages. The rules:

* Enum arguments take the short lowercase name ("youth_protection"), the full
  enum name ("DOMAIN_YOUTH_PROTECTION", any case) or the number.
* Enum values in answers become the short lowercase name ("ots_prevented");
  a ``Suppression`` becomes "" (none), "primary" or "secondary".
* A proto3 ``optional`` field that is absent (suppressed) becomes ``pd.NA``
  in an integer column (pandas' nullable ``Int64``) and ``NaN`` in a float
  column.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import re
from typing import Any, Iterable, Mapping, Sequence

import pandas as pd
from google.protobuf.descriptor import Descriptor, EnumDescriptor, FieldDescriptor
from google.protobuf.message import Message

from kring_research._proto.kring.v1 import research_pb2

OVERALL = "all"  # the group label of the overall row

_INT_TYPES = {
    FieldDescriptor.TYPE_INT32,
    FieldDescriptor.TYPE_INT64,
    FieldDescriptor.TYPE_UINT32,
    FieldDescriptor.TYPE_UINT64,
    FieldDescriptor.TYPE_SINT32,
    FieldDescriptor.TYPE_SINT64,
    FieldDescriptor.TYPE_FIXED32,
    FieldDescriptor.TYPE_FIXED64,
    FieldDescriptor.TYPE_SFIXED32,
    FieldDescriptor.TYPE_SFIXED64,
}
_FLOAT_TYPES = {FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT}

# ---------------------------------------------------------------------------
# Enums
# ---------------------------------------------------------------------------


def enum_prefix(enum: EnumDescriptor) -> str:
    """"LegalFramework" -> "LEGAL_FRAMEWORK_" (the proto style guide's prefix)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", enum.name).upper() + "_"


def enum_label(enum: EnumDescriptor, number: int) -> str:
    """The short lowercase name of an enum value in an answer.

    ``Suppression``: "" for SUPPRESSION_NONE, else "primary"/"secondary".
    Unknown numbers (a newer server) come back as their number in words.
    """
    value = enum.values_by_number.get(number)
    if value is None:
        return str(number)
    prefix = enum_prefix(enum)
    name = value.name[len(prefix):] if value.name.startswith(prefix) else value.name
    if enum.full_name == "kring.v1.Suppression" and number == 0:
        return ""
    return name.lower()


def enum_names(enum: EnumDescriptor) -> list[str]:
    """The short names an argument accepts, for error messages."""
    return [enum_label(enum, v.number) for v in enum.values if v.number != 0]


def parse_enum(enum: EnumDescriptor, value: Any, arg: str) -> int:
    """An enum number from a short name, a full name or a number.

    Raises ValueError naming ``arg`` for anything else.
    """
    if isinstance(value, bool):
        raise ValueError(f"{arg}: expected a name, got {value!r}")
    if isinstance(value, int):
        if value in enum.values_by_number:
            return value
    elif isinstance(value, str):
        key = value.strip().upper().replace("-", "_").replace(" ", "_")
        prefix = enum_prefix(enum)
        for candidate in (key, prefix + key):
            v = enum.values_by_name.get(candidate)
            if v is not None:
                return v.number
    raise ValueError(
        f"{arg}: unknown value {value!r}; expected one of {', '.join(enum_names(enum))} "
        f"(or the full {enum.name} names)"
    )


def parse_enum_list(enum: EnumDescriptor, values: Any, arg: str) -> list[int]:
    """A list of enum numbers; a single name is taken as a list of one."""
    if values is None:
        return []
    if isinstance(values, (str, int)):
        values = [values]
    return [parse_enum(enum, v, f"{arg}[{i}]") for i, v in enumerate(values)]


_GROUPING = research_pb2.Grouping.DESCRIPTOR


def parse_group_by(value: Any) -> int:
    """None, "" or "none": one overall row; else year, quarter, domain,
    municipality or legal_framework."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "all")):
        return 0
    return parse_enum(_GROUPING, value, "group_by")


# ---------------------------------------------------------------------------
# Other arguments
# ---------------------------------------------------------------------------


def _date_bound(value: Any, arg: str) -> str:
    if value is None or (isinstance(value, float) and value != value):  # None or NaN
        return ""
    if isinstance(value, _dt.datetime):  # also pandas.Timestamp
        return value.date().isoformat()
    if isinstance(value, _dt.date):
        return value.isoformat()
    if isinstance(value, str):
        s = value.strip()
        if s == "":
            return ""
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", s):
            try:
                _dt.date.fromisoformat(s)
                return s
            except ValueError:
                pass
        raise ValueError(f"{arg}: expected a date YYYY-MM-DD, got {value!r}")
    raise ValueError(f"{arg}: expected a date YYYY-MM-DD, a datetime.date or None, got {value!r}")


def set_date_range(target: Message, value: Any, arg: str) -> None:
    """Fills a DateRange from (from, to); either bound may be None (open)."""
    if value is None:
        return
    if isinstance(value, research_pb2.DateRange):
        target.CopyFrom(value)
        return
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence) or len(value) != 2:
        raise ValueError(f"{arg}: expected a pair (from, to) of dates YYYY-MM-DD or None, got {value!r}")
    lo = _date_bound(value[0], f"{arg}[0]")
    hi = _date_bound(value[1], f"{arg}[1]")
    if lo and hi and lo > hi:
        raise ValueError(f"{arg}: from {lo} lies after to {hi}")
    setattr(target, "from", lo)
    target.to = hi


def non_negative_int(value: Any, arg: str) -> int:
    """None -> 0 (the server's default); otherwise an int >= 0."""
    if value is None:
        return 0
    if isinstance(value, bool) or not isinstance(value, int):
        try:
            import numpy as np  # pandas depends on numpy

            if isinstance(value, np.integer):
                value = int(value)
            else:
                raise TypeError
        except TypeError:
            raise ValueError(f"{arg}: expected a whole number >= 0, got {value!r}") from None
    if value < 0:
        raise ValueError(f"{arg}: expected a whole number >= 0, got {value!r}")
    return value


def string_list(values: Any, arg: str) -> list[str]:
    if values is None:
        return []
    if isinstance(values, str):
        values = [values]
    out = []
    for i, v in enumerate(values):
        if not isinstance(v, str):
            raise ValueError(f"{arg}[{i}]: expected a string, got {v!r}")
        out.append(v)
    return out


def fill_selection(
    request: Message,
    *,
    domains: Any = None,
    municipality_codes: Any = None,
    conference_period: Any = None,
    group_by: Any = None,
    as_of_position: Any = None,
    legal_frameworks: Any = None,
    referral_period: Any = None,
    min_cell_size: Any = None,
) -> Message:
    """Sets the selection fields 1-8 that every ResearchService request shares."""
    enum_of = lambda name: request.DESCRIPTOR.fields_by_name[name].enum_type  # noqa: E731
    request.domains.extend(parse_enum_list(enum_of("domains"), domains, "domains"))
    request.municipality_codes.extend(string_list(municipality_codes, "municipality_codes"))
    set_date_range(request.conference_period, conference_period, "conference_period")
    request.group_by = parse_group_by(group_by)
    request.as_of_position = non_negative_int(as_of_position, "as_of_position")
    request.legal_frameworks.extend(parse_enum_list(enum_of("legal_frameworks"), legal_frameworks, "legal_frameworks"))
    set_date_range(request.referral_period, referral_period, "referral_period")
    k = non_negative_int(min_cell_size, "min_cell_size")
    if k:
        request.disclosure.min_cell_size = k
    return request


# ---------------------------------------------------------------------------
# Messages <-> dicts (cost models, watermarks, disclosure reports)
# ---------------------------------------------------------------------------


def message_to_dict(msg: Message) -> dict:
    """Every field (defaults included), enums as short names, absent optional
    fields as None, nested messages as dicts, repeated fields as lists."""
    out: dict[str, Any] = {}
    for field in msg.DESCRIPTOR.fields:
        value = getattr(msg, field.name)
        if field.label == FieldDescriptor.LABEL_REPEATED:
            out[field.name] = [_value_to_py(field, v) for v in value]
        elif field.has_presence and field.type != FieldDescriptor.TYPE_MESSAGE and not msg.HasField(field.name):
            out[field.name] = None
        else:
            out[field.name] = _value_to_py(field, value)
    return out


def _value_to_py(field: FieldDescriptor, value: Any) -> Any:
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return message_to_dict(value)
    if field.type == FieldDescriptor.TYPE_ENUM:
        return enum_label(field.enum_type, value)
    return value


# Keys a model file may carry for people, not for the message.
_NOTE_KEYS = frozenset({"note", "notes", "comment", "comments"})


def dict_to_message(data: Mapping[str, Any], msg: Message, path: str) -> Message:
    """Fills ``msg`` from a dict: proto field names or their JSON (camelCase)
    names; enums by short name, full name or number; int64 as int or a string
    of digits. Keys "note", "notes", "comment", "comments" and keys starting
    with "_" or "$" are skipped (documentation); other unknown keys and wrong
    types raise ValueError naming the path (e.g. "cost_model.savings[1].outcome")."""
    if not isinstance(data, Mapping):
        raise ValueError(f"{path}: expected an object, got {type(data).__name__}")
    fields = msg.DESCRIPTOR.fields_by_name
    by_json = {f.json_name: f for f in msg.DESCRIPTOR.fields}
    for key, value in data.items():
        if isinstance(key, str) and (key in _NOTE_KEYS or key[:1] in ("_", "$")):
            continue  # documentation, as in projections/cost_model.json ("note")
        field = fields.get(key) or by_json.get(key)
        if field is None:
            raise ValueError(f"{path}.{key}: unknown field of {msg.DESCRIPTOR.name} "
                             f"(known: {', '.join(fields)})")
        fpath = f"{path}.{field.name}"
        if value is None:
            continue
        if field.label == FieldDescriptor.LABEL_REPEATED:
            if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
                raise ValueError(f"{fpath}: expected a list")
            container = getattr(msg, field.name)
            for i, item in enumerate(value):
                if field.type == FieldDescriptor.TYPE_MESSAGE:
                    dict_to_message(item, container.add(), f"{fpath}[{i}]")
                else:
                    container.append(_py_to_scalar(field, item, f"{fpath}[{i}]"))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            dict_to_message(value, getattr(msg, field.name), fpath)
        else:
            setattr(msg, field.name, _py_to_scalar(field, value, fpath))
    return msg


def _py_to_scalar(field: FieldDescriptor, value: Any, path: str) -> Any:
    t = field.type
    if t == FieldDescriptor.TYPE_ENUM:
        return parse_enum(field.enum_type, value, path)
    if t in _INT_TYPES:
        if isinstance(value, str) and re.fullmatch(r"-?\d+", value.strip()):
            return int(value)
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        raise ValueError(f"{path}: expected a whole number, got {value!r}")
    if t in _FLOAT_TYPES:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        raise ValueError(f"{path}: expected a number, got {value!r}")
    if t == FieldDescriptor.TYPE_BOOL:
        if isinstance(value, bool):
            return value
        raise ValueError(f"{path}: expected true or false, got {value!r}")
    if t == FieldDescriptor.TYPE_STRING:
        if isinstance(value, str):
            return value
        raise ValueError(f"{path}: expected a string, got {value!r}")
    raise ValueError(f"{path}: unsupported field type")


def load_cost_model(value: Any) -> research_pb2.CostModel:
    """A CostModel from a dict, a JSON file path, or a CostModel message."""
    if isinstance(value, research_pb2.CostModel):
        return value
    if isinstance(value, (str, os.PathLike)):
        try:
            with open(value, encoding="utf-8") as f:
                data = json.load(f)
        except OSError as e:
            raise ValueError(f"cost_model: cannot read {os.fspath(value)!r}: {e.strerror}") from None
        except json.JSONDecodeError as e:
            raise ValueError(f"cost_model: {os.fspath(value)!r} is not valid JSON: {e}") from None
        return dict_to_message(data, research_pb2.CostModel(), "cost_model")
    if isinstance(value, Mapping):
        return dict_to_message(value, research_pb2.CostModel(), "cost_model")
    raise ValueError(f"cost_model: expected a dict, a JSON file path or a CostModel, got {type(value).__name__}")


# ---------------------------------------------------------------------------
# Messages -> DataFrames
# ---------------------------------------------------------------------------


def scalar_fields(descriptor: Descriptor) -> list[FieldDescriptor]:
    """The fields that become columns: neither repeated nor messages."""
    return [
        f
        for f in descriptor.fields
        if f.label != FieldDescriptor.LABEL_REPEATED and f.type != FieldDescriptor.TYPE_MESSAGE
    ]


def _dtype(field: FieldDescriptor) -> str:
    if field.type in _INT_TYPES:
        return "Int64" if field.has_presence else "int64"
    if field.type in _FLOAT_TYPES:
        return "float64"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "boolean" if field.has_presence else "bool"
    return "object"


def scalar_values(msg: Message, fields: list[FieldDescriptor]) -> list[Any]:
    out = []
    for f in fields:
        if f.has_presence and not msg.HasField(f.name):
            out.append(None)  # suppressed: NA / NaN in the frame
            continue
        v = getattr(msg, f.name)
        out.append(enum_label(f.enum_type, v) if f.type == FieldDescriptor.TYPE_ENUM else v)
    return out


def frame(
    descriptor: Descriptor,
    items: Iterable[tuple[Sequence[tuple[str, Any]], Message]],
    leading: Sequence[str] = ("group",),
    fields: list[FieldDescriptor] | None = None,
) -> pd.DataFrame:
    """One row per (leading values, message); columns: the leading ones, then
    the message's scalar fields in declaration order. Typed even when empty."""
    fields = scalar_fields(descriptor) if fields is None else fields
    names = [f.name for f in fields]
    columns: dict[str, list[Any]] = {c: [] for c in leading}
    for n in names:
        if n in columns:
            raise ValueError(f"column {n!r} would appear twice")
        columns[n] = []
    for lead, msg in items:
        for (c, v) in lead:
            columns[c].append(v)
        for n, v in zip(names, scalar_values(msg, fields)):
            columns[n].append(v)
    data = {}
    for c in leading:
        data[c] = pd.Series(columns[c], dtype="object")
    for f in fields:
        data[f.name] = pd.Series(columns[f.name], dtype=_dtype(f))
    return pd.DataFrame(data, columns=list(leading) + names)


def groups_of(response: Message) -> list[tuple[str, Message]]:
    """(label, group message): the overall row as "all" first, then the groups."""
    out = [(OVERALL, response.overall)]
    for g in response.groups:
        out.append((g.key, g.stats if g.DESCRIPTOR.name == "NetworkSizeGroup" else g))
    return out


def nested_frame(
    response: Message, child: str, descriptor: Descriptor, get=lambda g, child: getattr(g, child)
) -> pd.DataFrame:
    """One row per repeated ``child`` element of every group, with its group."""
    items = []
    for label, g in groups_of(response):
        for element in get(g, child):
            items.append(((("group", label),), element))
    return frame(descriptor, items)
