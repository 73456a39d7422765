#!/usr/bin/env python3
"""Generates docs/codebook.md: every field of every research answer, its
definition (the proto comment) and its unit, and the definition versions.

Sources: proto/kring/v1/research.proto (messages reachable from the five
responses, each field's leading and trailing comments) and
services/provenance.h (Provenance.definition_version of each answer). Units
come from the UNITS table below (first matching field-name pattern), else
from the field's type.

  python3 scripts/codebook.py --write   # rewrite docs/codebook.md
  python3 scripts/codebook.py --check   # exit 1 when docs/codebook.md is stale (ctest codebook_fresh)
  python3 scripts/codebook.py           # print to stdout
"""
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROTO = ROOT / "proto/kring/v1/research.proto"
VERSIONS = ROOT / "services/provenance.h"
OUT = ROOT / "docs/codebook.md"

RESPONSES = [("GetNetworkSize", "NetworkSizeResponse"), ("GetOutcomes", "OutcomesResponse"),
             ("GetCostBenefit", "CostBenefitResponse"), ("GetSustainedSupport", "SupportResponse"),
             ("GetFunnel", "FunnelResponse")]

# (message or "*", field-name regex, unit): the first match wins.
UNITS = [
    ("ConfidenceInterval", r"lower|upper", "the unit of the figure it accompanies"),
    ("*", r".*_cents", "EUR cents"),
    ("*", r"per_100_.*", "per 100 cases"),
    ("*", r"share.*|survival.*|lower_95|upper_95|mean_retention", "proportion (0 to 1)"),
    ("*", r"rmst_24m_days|.*_days|day|median_days_from_previous|window_days", "days"),
    ("*", r"months", "months (30.44 days)"),
    ("HistogramBin", r"size", "attendees (network size)"),
    ("NetworkSizeStats", r"mean|median|p10|p25|p75|p90", "attendees per conference"),
    ("NetworkSizeStats", r"central_persons_mean", "central persons per conference"),
    ("RelationShare", r"mean_per_conference", "attendees per conference"),
    ("RelationShare", r"attendees", "attendees (perturbed count)"),
    ("*", r"conferences|conferences_with_recorded_cost", "cases or conferences (perturbed count)"),
    ("*", r"cases|referred|referred_cases|conference_cases|protection_cases|plan_offered|plan_made|plan_rejected|"
          r"at_risk|events|censored|units", "cases (perturbed count)"),
    ("*", r"estimate", "the unit of the figure compared"),
    ("*", r"chi_square", "chi-square statistic"),
    ("*", r"p_value", "probability"),
    ("*", r"degrees_of_freedom", "count"),
    ("*", r"log_position|max_global_position|as_of_position", "log position"),
    ("*", r"answer_sha256", "lowercase hex SHA-256"),
    ("*", r"filters_json", "JSON"),
    ("*", r"min_cell_size|max_count_perturbation", "cases"),
    ("*", r"primary_cells|secondary_cells|events_applied", "count"),
    ("*", r"professional_input_reduction", "proportion (0 to 1)"),
    ("*", r"key|key2|group|reference|groups", "group label"),
]

# Fields the proto leaves without a comment: their definition here.
FALLBACK = {
    "overall": "the row over every selected unit (the group \"all\")",
    "groups": "one row per group (group_by), or per (group_by, then_by) pair, in key order",
    "watermark": "how far the read model is: events applied, highest log position",
    "disclosure": "what disclosure control did to this answer",
    "provenance": "what this answer is: log position, k, filters, versions, SHA-256 (research.md \"Provenance\")",
    "conferences": "count of held conferences (network size) or of cases with a held conference",
    "mean": "mean network size: attendees per conference, coordinator and professionals excluded",
    "median": "median network size (exact values)",
    "p10": "10th percentile of network size (exact values)",
    "p25": "25th percentile of network size (exact values)",
    "p75": "75th percentile of network size (exact values)",
    "p90": "90th percentile of network size (exact values)",
    "histogram": "conferences per network size",
    "composition": "attendees per relation",
    "central_persons_mean": "mean number of central persons per conference",
    "suppression": "why the count is absent, or SUPPRESSION_NONE",
    "size": "network size of the bin (30: 30 and more)",
    "attendees": "attendees of this relation over the conferences",
    "mean_per_conference": "attendees of this relation per conference",
    "lower": "lower bound",
    "upper": "upper bound",
    "stats": "the group's figures",
    "differences": "the group's differences from the reference, one per figure compared",
    "chi_square": "the log-rank statistic",
    "p_value": "its p-value (chi-square distribution with degrees_of_freedom)",
    "definition": "the definition the figures follow, in words",
    "as_of_position": "as asked; 0 for the live read model",
    "referred_suppression": "of referred / referred_cases",
    "conferences_suppression": "of conferences",
    "conference_suppression": "of conference_cases",
    "outcome": "the outcome type",
    "key": "the group's key (\"2023\", \"2023-Q2\", \"DOMAIN_HOUSING\", \"GM0363\", \"LEGAL_FRAMEWORK_WMO\")",
    "conferences_with_recorded_cost": "conference cases that record a cost of their own",
    "lines": "the savings per outcome",
    "savings_cents": "the line's savings: units times the saving",
    "conference_cost_source": "where the conference cost comes from",
    "savings": "the published saving per outcome",
    "professional_input_source": "where professional_input_reduction comes from",
    "domain": "the domain",
    "amount_cents": "the saving",
    "at_risk": "cases at risk just before the day",
    "cases": "cases counted in this row",
    "day": "days since the first conference",
    "made_suppression": "of plan_made",
    "offered_suppression": "of plan_offered",
    "plan_rejected_suppression": "of plan_rejected",
    "protection_suppression": "of protection_cases",
    "plan_right": "the right to a plan (cases referred with a threatened protection measure)",
    "reason": "the preparation stop reason",
    "retention": "mean retention at follow-ups near 6, 12 and 24 months",
    "share_made": "plan_made / protection_cases",
    "share_of_referred": "cases / referred cases",
    "share_offered": "plan_offered / protection_cases",
    "step": "the funnel step",
    "steps": "one row per funnel step",
    "stop_reasons": "one row per stop reason",
    "survival": "Kaplan-Meier estimate of support held after the day",
    "upper_95": "upper bound of the 95% log(-log) band",
    "source": "where the figure comes from",
}

SCALARS = {"double": "number", "float": "number", "bool": "true/false", "string": "text", "uint32": "count",
           "uint64": "count", "int32": "number", "int64": "number"}


def parse(text):
    """message name -> (comment, [(label, type, name, comment)]), in file order; enum names."""
    messages, enums = {}, set()
    pending, current, depth = [], None, 0
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("//"):
            pending.append(line[2:].strip())
            continue
        m = re.match(r"(message|enum|service)\s+(\w+)\s*\{", line)
        if m and depth == 0:
            kind, name = m.groups()
            if kind == "message":
                current = name
                messages[name] = (" ".join(pending), [])
            else:
                current = None
                if kind == "enum":
                    enums.add(name)
            depth = 1
            pending = []
            continue
        if depth and line.startswith("}"):
            depth, current, pending = 0, None, []
            continue
        f = re.match(r"(optional\s+|repeated\s+)?([\w.]+)\s+(\w+)\s*=\s*\d+\s*;\s*(?://\s*(.*))?$", line)
        if f and current:
            label, ftype, name, trailing = f.groups()
            comment = " ".join(pending + ([trailing.strip()] if trailing else []))
            messages[current][1].append(((label or "").strip(), ftype, name, comment))
        pending = [] if not line.startswith("//") else pending
    return messages, enums


def unit(message, name, ftype, messages, enums, events_enums):
    for scope, pattern, u in UNITS:
        if (scope == "*" or scope == message) and re.fullmatch(pattern, name) and ftype not in messages:
            return u
    if ftype in messages:
        return f"message {ftype}"
    if ftype in enums or ftype in events_enums:
        return f"enum {ftype}"
    return SCALARS.get(ftype, ftype)


def reachable(messages):
    order, seen = [], set()

    def visit(name):
        if name in seen or name not in messages:
            return
        seen.add(name)
        order.append(name)
        for _, ftype, _, _ in messages[name][1]:
            visit(ftype)

    for _, response in RESPONSES:
        visit(response)
    return order


def cell(text):
    return text.replace("|", "\\|").strip() or " "


def generate():
    text = PROTO.read_text(encoding="utf-8")
    messages, enums = parse(text)
    events_enums = set(re.findall(r"^enum\s+(\w+)", (ROOT / "proto/kring/v1/events.proto").read_text(), re.M))
    versions = re.findall(r'k(\w+)DefinitionVersion\[\] = "([^"]+)"', VERSIONS.read_text(encoding="utf-8"))
    out = ["# Codebook of the research answers", "",
           "<!-- Generated by scripts/codebook.py from proto/kring/v1/research.proto and services/provenance.h;",
           "     do not edit: run `python3 scripts/codebook.py --write` (ctest codebook_fresh fails when stale). -->",
           "",
           "Every field of every answer of `kring.v1.ResearchService`: its type, its unit and its definition (the",
           "comment in [research.proto](../proto/kring/v1/research.proto)). How the figures are computed, suppressed",
           "and perturbed: [research.md](research.md). A figure that is absent (proto3 `optional` not set; an empty",
           "CSV cell) was suppressed or derived from a suppressed figure.", "",
           "## Definition versions", "",
           "`Provenance.definition_version` of each answer (services/provenance.h); it changes whenever a figure's",
           "definition changes.", "",
           "| RPC | response | definition_version |", "|---|---|---|"]
    by_name = {re.sub(r"(?<!^)([A-Z])", r"-\1", k).lower(): v for k, v in versions}
    for rpc, response in RESPONSES:
        key = {"GetNetworkSize": "network-size", "GetOutcomes": "outcomes", "GetCostBenefit": "cost-benefit",
               "GetSustainedSupport": "support", "GetFunnel": "funnel"}[rpc]
        out.append(f"| `{rpc}` | `{response}` | `{by_name.get(key, '?')}` |")
    out += ["", "## Messages", "",
            "In the order they are reached from the five responses. Types: `optional` figures may be absent;",
            "`repeated` fields are lists.", ""]
    for name in reachable(messages):
        comment, fields = messages[name]
        out += [f"### {name}", ""]
        if comment:
            out += [comment, ""]
        out += ["| field | type | unit | definition |", "|---|---|---|---|"]
        for label, ftype, fname, fcomment in fields:
            t = f"{label} {ftype}".strip()
            if not fcomment:
                fcomment = FALLBACK.get(fname, "")
            if ftype == "ConfidenceInterval" and fname.endswith("_ci"):
                figure = fname[:-3] + ("_days" if fname == "rmst_24m_ci" else "")
                fcomment = f"95% confidence interval of `{figure}`" + (f": {fcomment}" if fcomment else "")
            out.append(f"| `{fname}` | `{t}` | {cell(unit(name, fname, ftype, messages, enums, events_enums))} | "
                       f"{cell(fcomment)} |")
        out.append("")
    return "\n".join(out)


def main(argv):
    text = generate()
    if "--write" in argv:
        OUT.write_text(text, encoding="utf-8")
        return 0
    if "--check" in argv:
        current = OUT.read_text(encoding="utf-8") if OUT.exists() else ""
        if current != text:
            print("docs/codebook.md is stale: run python3 scripts/codebook.py --write", file=sys.stderr)
            return 1
        return 0
    sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
