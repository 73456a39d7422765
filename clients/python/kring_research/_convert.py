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

from kring_research._proto.kring.v1 import events_pb2, research_pb2

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


def is_repeated(field: FieldDescriptor) -> bool:
    """Whether ``field`` is repeated, on every protobuf runtime the package
    allows: protobuf 7 removed ``FieldDescriptor.label``; protobuf 4 has no
    ``is_repeated``."""
    flag = getattr(field, "is_repeated", None)
    if flag is not None:
        return bool(flag)
    return field.label == FieldDescriptor.LABEL_REPEATED

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


def parse_group_by(value: Any, arg: str = "group_by") -> int:
    """None, "" or "none": one overall row; else year, quarter, domain,
    municipality or legal_framework (also for then_by)."""
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", "none", "all")):
        return 0
    return parse_enum(_GROUPING, value, arg)


def set_grouping(request: Message, group_by: Any, then_by: Any, compare_with: Any) -> None:
    """Sets group_by, then_by and compare_with, refusing what the server would
    refuse anyway (ValueError naming the argument):

    * then_by needs group_by and must differ from it;
    * compare_with is a group's label as the answer lists it: a key
      ("2023", "DOMAIN_HOUSING"), or "key/key2" with then_by; it needs
      group_by, and "all" (the overall row) is not a listed group.

    Whether the label names a listed group only the server knows
    (INVALID_ARGUMENT "compare_with: ...")."""
    request.group_by = parse_group_by(group_by)
    then = parse_group_by(then_by, "then_by")
    if then and not request.group_by:
        raise ValueError("then_by: needs group_by (then_by is the second grouping, within each group_by group)")
    if then and then == request.group_by:
        raise ValueError(f"then_by: must differ from group_by (both are {enum_label(_GROUPING, then)})")
    request.then_by = then
    if compare_with is None:
        return
    if not isinstance(compare_with, str) or not compare_with.strip():
        raise ValueError(f"compare_with: expected a group's label such as \"2023\" or \"DOMAIN_HOUSING\", "
                         f"got {compare_with!r}")
    label = compare_with.strip()
    if not request.group_by:
        raise ValueError("compare_with: needs group_by (it names one of the listed groups)")
    if label == OVERALL:
        raise ValueError("compare_with: \"all\" is the overall row, not a listed group")
    if then and label.count("/") != 1:
        raise ValueError(f"compare_with: with then_by a group's label is \"key/key2\" "
                         f"(e.g. \"2023/DOMAIN_HOUSING\"), got {label!r}")
    if not then and "/" in label:
        raise ValueError(f"compare_with: {label!r} is a two-way label (key/key2) but then_by is not set")
    request.compare_with = "/".join(_label_key(part.strip(), grouping)
                                    for part, grouping in zip(label.split("/"), (request.group_by, then)))


# The enum whose full value names are a grouping's keys (other groupings' keys
# are years, quarters and CBS codes).
_KEY_ENUMS = {research_pb2.GROUPING_DOMAIN: events_pb2.Domain.DESCRIPTOR,
              research_pb2.GROUPING_LEGAL_FRAMEWORK: events_pb2.LegalFramework.DESCRIPTOR}


def _label_key(part: str, grouping: int) -> str:
    """A compare_with key as the answer's groups name it: a domain or legal
    framework also by its short name ("housing" -> "DOMAIN_HOUSING", as
    kringctl --compare-with takes it); anything else as given."""
    enum = _KEY_ENUMS.get(grouping)
    if enum is None:
        return part
    try:
        return enum.values_by_number[parse_enum(enum, part, "compare_with")].name
    except ValueError:
        return part  # the server says whether a group has this key


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
    then_by: Any = None,
    compare_with: Any = None,
) -> Message:
    """Sets the selection fields 1-8 and 20-21 that every ResearchService
    request shares."""
    enum_of = lambda name: request.DESCRIPTOR.fields_by_name[name].enum_type  # noqa: E731
    request.domains.extend(parse_enum_list(enum_of("domains"), domains, "domains"))
    request.municipality_codes.extend(string_list(municipality_codes, "municipality_codes"))
    set_date_range(request.conference_period, conference_period, "conference_period")
    set_grouping(request, group_by, then_by, compare_with)
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
        if is_repeated(field):
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
        if is_repeated(field):
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

_INTERVAL = "kring.v1.ConfidenceInterval"


def scalar_fields(descriptor: Descriptor) -> list[FieldDescriptor]:
    """The fields that become columns as they are: neither repeated nor messages."""
    return [f for f in descriptor.fields if not is_repeated(f) and f.type != FieldDescriptor.TYPE_MESSAGE]


def is_interval(field: FieldDescriptor) -> bool:
    """A (non-repeated) ConfidenceInterval field: two columns, ``*_lower`` and ``*_upper``."""
    return (field.type == FieldDescriptor.TYPE_MESSAGE and not is_repeated(field)
            and field.message_type.full_name == _INTERVAL)


def _dtype(field: FieldDescriptor) -> str:
    if field.type in _INT_TYPES:
        return "Int64" if field.has_presence else "int64"
    if field.type in _FLOAT_TYPES:
        return "float64"
    if field.type == FieldDescriptor.TYPE_BOOL:
        return "boolean" if field.has_presence else "bool"
    return "object"


def _scalar_reader(f: FieldDescriptor):
    def read(msg: Message) -> Any:
        if f.has_presence and not msg.HasField(f.name):
            return None  # suppressed: NA / NaN in the frame
        v = getattr(msg, f.name)
        return enum_label(f.enum_type, v) if f.type == FieldDescriptor.TYPE_ENUM else v

    return read


def _bound_reader(f: FieldDescriptor, bound: str):
    # An interval that is absent (its figure is) reads as NaN.
    return lambda msg: getattr(getattr(msg, f.name), bound) if msg.HasField(f.name) else None


def columns(descriptor: Descriptor, exclude: Sequence[str] = ()) -> list[tuple[str, str, Any]]:
    """(name, dtype, reader) of every column a message gives, in declaration
    order, except that each ConfidenceInterval ``x_ci`` becomes the columns
    ``x_ci_lower`` and ``x_ci_upper`` right after its figure: the field ``x``,
    or the first field named ``x_...`` (``rmst_24m_ci`` follows
    ``rmst_24m_days``); without one, where it is declared."""
    cols = [(f.name, _dtype(f), _scalar_reader(f)) for f in scalar_fields(descriptor) if f.name not in exclude]
    for f in descriptor.fields:
        if not is_interval(f) or f.name in exclude:
            continue
        base = f.name[:-3] if f.name.endswith("_ci") else f.name
        names = [c[0] for c in cols]
        if base in names:
            at = names.index(base) + 1
        else:
            at = next((i + 1 for i, n in enumerate(names) if n.startswith(base + "_")), len(cols))
        cols[at:at] = [(f"{f.name}_lower", "float64", _bound_reader(f, "lower")),
                       (f"{f.name}_upper", "float64", _bound_reader(f, "upper"))]
    return cols


def scalar_values(msg: Message, fields: list[FieldDescriptor]) -> list[Any]:
    return [_scalar_reader(f)(msg) for f in fields]


def frame(
    descriptor: Descriptor,
    items: Iterable[tuple[Sequence[tuple[str, Any]], Message]],
    leading: Sequence[str] = ("group",),
    exclude: Sequence[str] = (),
) -> pd.DataFrame:
    """One row per (leading values, message); columns: the leading ones, then
    the message's columns (``columns``). Typed even when empty."""
    cols = columns(descriptor, exclude)
    data_cols: dict[str, list[Any]] = {c: [] for c in leading}
    for name, _, _ in cols:
        if name in data_cols:
            raise ValueError(f"column {name!r} would appear twice")
        data_cols[name] = []
    for lead, msg in items:
        for (c, v) in lead:
            data_cols[c].append(v)
        for name, _, read in cols:
            data_cols[name].append(read(msg))
    data = {c: pd.Series(data_cols[c], dtype="object") for c in leading}
    for name, dtype, _ in cols:
        data[name] = pd.Series(data_cols[name], dtype=dtype)
    return pd.DataFrame(data, columns=list(leading) + [c[0] for c in cols])


def is_two_way(response: Message) -> bool:
    """Whether the answer's groups are (key, key2) pairs (then_by)."""
    return any(g.key2 for g in response.groups)


def leading_columns(two_way: bool) -> tuple[str, ...]:
    """("group",), or ("group", "key2") for an answer with then_by."""
    return ("group", "key2") if two_way else ("group",)


def group_label(key: str, key2: str = "") -> str:
    """A group's label: its key, or "key/key2" with then_by (what
    compare_with takes and comparisons name); "all" for the overall row."""
    if not key and not key2:
        return OVERALL
    return f"{key}/{key2}" if key2 else key


def groups_of(response: Message, two_way: bool = False) -> list[tuple[tuple[tuple[str, Any], ...], Message]]:
    """(leading values, group message): the overall row first, as group
    "all" (and key2 "all" with then_by), then the groups in the answer's
    order. For network size the message is the group's ``stats``."""

    def lead(key: str, key2: str) -> tuple[tuple[str, Any], ...]:
        return (("group", key or OVERALL),) + ((("key2", key2 or OVERALL),) if two_way else ())

    out = [(lead("", ""), response.overall)]
    for g in response.groups:
        out.append((lead(g.key, g.key2), g.stats if g.DESCRIPTOR.name == "NetworkSizeGroup" else g))
    return out


def nested_frame(response: Message, child: str, descriptor: Descriptor, two_way: bool = False) -> pd.DataFrame:
    """One row per repeated ``child`` element of every group, with its group."""
    items = []
    for lead, g in groups_of(response, two_way):
        for element in getattr(g, child):
            items.append((lead, element))
    return frame(descriptor, items, leading_columns(two_way))


def group_frame(response: Message, descriptor: Descriptor, two_way: bool = False) -> pd.DataFrame:
    """One row per group from the group message's own columns (``key`` and
    ``key2`` left out: the leading columns hold them)."""
    return frame(descriptor, groups_of(response, two_way), leading_columns(two_way), exclude=("key", "key2"))


# ---------------------------------------------------------------------------
# Comparisons (compare_with)
# ---------------------------------------------------------------------------

COMPARISON_COLUMNS = ["group", "measure", "item", "estimate", "ci_lower", "ci_upper", "method"]
LOG_RANK_COLUMNS = ["test", "group", "groups", "chi_square", "degrees_of_freedom", "p_value", "absent_reason"]

# Enums whose value names a Difference's item may carry.
_ITEM_ENUMS = (events_pb2.OutcomeType.DESCRIPTOR, research_pb2.FunnelStep.DESCRIPTOR)


def _item_label(item: str) -> str:
    """A Difference's item as the frames name it: an outcome or funnel step
    by its short name ("ots_prevented"), anything else as given."""
    for enum in _ITEM_ENUMS:
        value = enum.values_by_name.get(item)
        if value is not None:
            return enum_label(enum, value.number)
    return item


def comparisons_frame(comparison: Message) -> pd.DataFrame:
    """One row per Difference of every compared group: group (its label),
    measure, item, estimate (group minus reference; NaN when absent),
    ci_lower, ci_upper, method."""
    rows: dict[str, list[Any]] = {c: [] for c in COMPARISON_COLUMNS}
    for gc in comparison.groups:
        for d in gc.differences:
            has_ci = d.HasField("ci")
            rows["group"].append(gc.group)
            rows["measure"].append(d.measure)
            rows["item"].append(_item_label(d.item))
            rows["estimate"].append(d.estimate if d.HasField("estimate") else None)
            rows["ci_lower"].append(d.ci.lower if has_ci else None)
            rows["ci_upper"].append(d.ci.upper if has_ci else None)
            rows["method"].append(d.method)
    dtypes = {"estimate": "float64", "ci_lower": "float64", "ci_upper": "float64"}
    return pd.DataFrame({c: pd.Series(rows[c], dtype=dtypes.get(c, "object")) for c in COMPARISON_COLUMNS},
                        columns=COMPARISON_COLUMNS)


def log_rank_frame(comparison: Message) -> pd.DataFrame:
    """The log-rank tests of a support answer: one "pairwise" row per
    compared group (that group against the reference) and one "k-sample"
    row for all listed groups at once (its group is ""). ``groups`` lists
    the labels tested, joined by ", "; chi_square and p_value are NaN with
    the absent_reason when a group's cases are not published."""
    rows: dict[str, list[Any]] = {c: [] for c in LOG_RANK_COLUMNS}

    def add(test: str, group: str, t: Message) -> None:
        rows["test"].append(test)
        rows["group"].append(group)
        rows["groups"].append(", ".join(t.groups))
        rows["chi_square"].append(t.chi_square if t.HasField("chi_square") else None)
        rows["degrees_of_freedom"].append(t.degrees_of_freedom)
        rows["p_value"].append(t.p_value if t.HasField("p_value") else None)
        rows["absent_reason"].append(t.absent_reason)

    for gc in comparison.groups:
        if gc.HasField("log_rank"):
            add("pairwise", gc.group, gc.log_rank)
    if comparison.HasField("log_rank_all"):
        add("k-sample", "", comparison.log_rank_all)
    dtypes = {"chi_square": "float64", "p_value": "float64", "degrees_of_freedom": "int64"}
    return pd.DataFrame({c: pd.Series(rows[c], dtype=dtypes.get(c, "object")) for c in LOG_RANK_COLUMNS},
                        columns=LOG_RANK_COLUMNS)
