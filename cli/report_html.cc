#include "cli/report_html.h"

#include <google/protobuf/descriptor.h>

#include <algorithm>
#include <cstdio>
#include <optional>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/research_commands.h"

namespace kring::client::report {
namespace {

using research::TextTable;
using research::TitledTable;

// A number for SVG coordinates: two decimals.
std::string N(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f", v);
  return buf;
}

std::string Table(const TextTable& t, const std::string& css_class = "figures") {
  std::string out = absl::StrCat("<table class=\"", css_class, "\"><thead><tr>");
  for (size_t i = 0; i < t.headers().size(); ++i) {
    absl::StrAppend(&out, "<th", t.left_aligned()[i] ? " class=\"l\"" : "", ">", HtmlEscape(t.headers()[i]), "</th>");
  }
  out += "</tr></thead><tbody>";
  for (const auto& row : t.rows()) {
    out += "<tr>";
    for (size_t i = 0; i < row.size(); ++i) {
      absl::StrAppend(&out, "<td", t.left_aligned()[i] ? " class=\"l\"" : "", ">", HtmlEscape(row[i]), "</td>");
    }
    out += "</tr>";
  }
  return out + "</tbody></table>\n";
}

std::string Tables(const std::vector<TitledTable>& tables) {
  std::string out;
  for (const auto& t : tables) {
    if (!t.title.empty()) absl::StrAppend(&out, "<h3>", HtmlEscape(t.title), "</h3>\n");
    out += Table(t.table);
  }
  return out;
}

std::string Header(const v1::ReadModelWatermark& w, uint64_t as_of) {
  std::string text = absl::StrCat("Read model: ", research::Thousands(w.events_applied()),
                                  " events applied, up to log position ", w.max_global_position());
  if (as_of != 0) absl::StrAppend(&text, "; as of position ", as_of);
  return absl::StrCat("<p class=\"meta\">", HtmlEscape(text), "</p>\n");
}

std::string Disclosure(const v1::DisclosureReport& d) {
  TextTable t({"<disclosure control", "<value"});
  t.AddRow({"k (min_cell_size)", std::to_string(d.min_cell_size())});
  t.AddRow({"primary suppressions", std::to_string(d.primary_cells())});
  t.AddRow({"secondary suppressions", std::to_string(d.secondary_cells())});
  t.AddRow({"method", d.method()});
  t.AddRow({"ptable version", d.ptable_version()});
  t.AddRow({"largest count perturbation", std::to_string(d.max_count_perturbation())});
  t.AddRow({"sums", d.sum_rule()});
  return "<h3>Disclosure report</h3>\n" + Table(t, "kv");
}

std::string Provenance(const v1::Provenance& p) {
  std::string out = "<h3>Provenance</h3>\n<table class=\"kv provenance\"><tbody>";
  const auto* d = v1::Provenance::descriptor();
  const auto* r = p.GetReflection();
  for (int i = 0; i < d->field_count(); ++i) {
    const auto* f = d->field(i);
    std::string value;
    if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT64) {
      value = std::to_string(r->GetUInt64(p, f));
    } else if (f->cpp_type() == google::protobuf::FieldDescriptor::CPPTYPE_UINT32) {
      value = std::to_string(r->GetUInt32(p, f));
    } else {
      value = r->GetString(p, f);
    }
    absl::StrAppend(&out, "<tr><th class=\"l\">", HtmlEscape(f->name()), "</th><td class=\"l\"><code data-field=\"",
                    HtmlEscape(f->name()), "\">", HtmlEscape(value), "</code></td></tr>");
  }
  return out + "</tbody></table>\n";
}

std::string Definition(const std::string& definition) {
  return absl::StrCat("<h3>Definition</h3>\n<p class=\"definition\">", HtmlEscape(definition), "</p>\n");
}

// Horizontal bars: (label, value, text shown) scaled to the largest value.
struct Bar {
  std::string label;
  double value;  // < 0: no bar (suppressed or absent)
  std::string text;
};

std::string HorizontalBars(const std::vector<Bar>& bars, const char* colour, const std::string& css_class) {
  const double width = 560, label_w = 190, row_h = 22;
  double peak = 0;
  for (const auto& b : bars) peak = std::max(peak, b.value);
  if (peak <= 0) peak = 1;
  const double height = row_h * static_cast<double>(bars.size()) + 8;
  std::string out =
      absl::StrCat("<svg class=\"", css_class, "\" xmlns=\"http://www.w3.org/2000/svg\" width=\"", N(width),
                   "\" height=\"", N(height), "\" viewBox=\"0 0 ", N(width), " ", N(height), "\" role=\"img\">");
  for (size_t i = 0; i < bars.size(); ++i) {
    const double y = 4 + row_h * static_cast<double>(i);
    absl::StrAppend(&out, "<text x=\"", N(label_w - 6), "\" y=\"", N(y + 15),
                    "\" text-anchor=\"end\" font-size=\"12\">", HtmlEscape(bars[i].label), "</text>");
    double w = 0;
    if (bars[i].value > 0) {
      w = (width - label_w - 90) * bars[i].value / peak;
      absl::StrAppend(&out, "<rect x=\"", N(label_w), "\" y=\"", N(y + 2), "\" width=\"", N(w), "\" height=\"",
                      N(row_h - 6), "\" fill=\"", colour, "\"/>");
    }
    absl::StrAppend(&out, "<text x=\"", N(label_w + w + 6), "\" y=\"", N(y + 15), "\" font-size=\"12\">",
                    HtmlEscape(bars[i].text), "</text>");
  }
  return out + "</svg>\n";
}

template <typename T>
std::optional<T> Opt(bool has, T value) {
  return has ? std::optional<T>(value) : std::nullopt;
}

std::string Name(const google::protobuf::EnumValueDescriptor* v) { return v ? research::ShortEnumName(v) : "?"; }

std::string Histogram(const v1::NetworkSizeStats& s) {
  const double width = 560, height = 220, left = 40, bottom = 30, top = 10;
  uint64_t peak = 1;
  for (const auto& b : s.histogram()) peak = std::max<uint64_t>(peak, b.has_conferences() ? b.conferences() : 0);
  const size_t n = std::max<size_t>(s.histogram_size(), 1);
  const double slot = (width - left - 10) / static_cast<double>(n);
  std::string out =
      absl::StrCat("<svg class=\"histogram\" xmlns=\"http://www.w3.org/2000/svg\" width=\"", N(width), "\" height=\"",
                   N(height), "\" viewBox=\"0 0 ", N(width), " ", N(height), "\" role=\"img\">");
  absl::StrAppend(&out, "<line x1=\"", N(left), "\" y1=\"", N(height - bottom), "\" x2=\"", N(width - 10), "\" y2=\"",
                  N(height - bottom), "\" stroke=\"#444\"/>");
  absl::StrAppend(&out, "<text x=\"4\" y=\"", N(top + 10), "\" font-size=\"11\">", research::Thousands(peak),
                  "</text>");
  for (int i = 0; i < s.histogram_size(); ++i) {
    const auto& b = s.histogram(i);
    const double x = left + slot * i;
    if (b.has_conferences() && b.conferences() > 0) {
      const double h = (height - bottom - top) * static_cast<double>(b.conferences()) / static_cast<double>(peak);
      absl::StrAppend(&out, "<rect x=\"", N(x + 1), "\" y=\"", N(height - bottom - h), "\" width=\"",
                      N(std::max(slot - 2, 1.0)), "\" height=\"", N(h), "\" fill=\"", kHistogramColour, "\"/>");
    } else if (!b.has_conferences()) {
      absl::StrAppend(&out, "<text x=\"", N(x + slot / 2), "\" y=\"", N(height - bottom - 4),
                      "\" text-anchor=\"middle\" font-size=\"9\">",
                      HtmlEscape(research::CountCell(std::nullopt, b.suppression())), "</text>");
    }
    if (b.size() % 5 == 0 || b.size() >= 30) {
      absl::StrAppend(&out, "<text x=\"", N(x + slot / 2), "\" y=\"", N(height - bottom + 14),
                      "\" text-anchor=\"middle\" font-size=\"11\">", b.size(), b.size() >= 30 ? "+" : "", "</text>");
    }
  }
  absl::StrAppend(&out, "<text x=\"", N(width / 2), "\" y=\"", N(height - 2),
                  "\" text-anchor=\"middle\" font-size=\"11\">network size (attendees per conference)</text>");
  return out + "</svg>\n";
}

std::string Composition(const v1::NetworkSizeStats& s) {
  std::vector<Bar> bars;
  for (const auto& c : s.composition()) {
    const std::string name = c.relation() == v1::RELATION_UNSPECIFIED
                                 ? "unknown (not invited)"
                                 : Name(v1::Relation_descriptor()->FindValueByNumber(c.relation()));
    bars.push_back({name, c.has_share() ? c.share() : -1,
                    research::IntervalCell(Opt(c.has_share(), c.share()), c.has_share_ci() ? &c.share_ci() : nullptr,
                                           "%.1f", 100, "%")});
  }
  return HorizontalBars(bars, kShareColour, "composition");
}

std::string FunnelBars(const v1::FunnelGroup& g) {
  std::vector<Bar> bars;
  for (const auto& s : g.steps()) {
    bars.push_back({Name(v1::FunnelStep_descriptor()->FindValueByNumber(s.step())),
                    s.has_cases() ? static_cast<double>(s.cases()) : -1,
                    research::CountCell(Opt(s.has_cases(), s.cases()), s.suppression())});
  }
  return HorizontalBars(bars, kFunnelColour, "funnel");
}

constexpr char kStyle[] = R"(
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px; color: #222; max-width: 1150px; }
h1 { font-size: 24px; } h2 { font-size: 19px; border-bottom: 2px solid #ccc; margin-top: 32px; }
h3 { font-size: 15px; margin-bottom: 4px; } h4 { font-size: 13px; margin: 8px 0 2px; }
table { border-collapse: collapse; font-size: 12px; margin: 4px 0 12px; }
th, td { border: 1px solid #ccc; padding: 2px 6px; text-align: right; }
th.l, td.l { text-align: left; } thead th { background: #eee; }
code { font-size: 11px; word-break: break-all; }
p.meta, p.legend { font-size: 12px; color: #555; } p.definition { font-size: 12px; }
svg { display: block; margin: 4px 0 12px; background: #fff; }
.curves { display: flex; flex-wrap: wrap; gap: 12px; }
)";

}  // namespace

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string KaplanMeierSvg(const v1::SupportGroup& group, const std::string& label) {
  if (group.curve().empty()) return "";
  const double width = 540, height = 260, left = 44, right = 12, top = 12, bottom = 34;
  const double last_day = group.curve(group.curve_size() - 1).day();
  const double max_day = std::max(730.0, last_day);
  auto x = [&](double day) { return left + (width - left - right) * day / max_day; };
  auto y = [&](double s) { return top + (height - top - bottom) * (1 - std::clamp(s, 0.0, 1.0)); };
  // Each row's value holds from its day to the next row's day (the last: to its own day).
  std::vector<double> until;
  for (int i = 0; i < group.curve_size(); ++i) {
    until.push_back(i + 1 < group.curve_size() ? group.curve(i + 1).day() : group.curve(i).day());
  }
  std::string band;
  for (int i = 0; i < group.curve_size(); ++i) {
    const auto& r = group.curve(i);
    absl::StrAppend(&band, N(x(r.day())), ",", N(y(r.upper_95())), " ", N(x(until[i])), ",", N(y(r.upper_95())), " ");
  }
  for (int i = group.curve_size() - 1; i >= 0; --i) {
    const auto& r = group.curve(i);
    absl::StrAppend(&band, N(x(until[i])), ",", N(y(r.lower_95())), " ", N(x(r.day())), ",", N(y(r.lower_95())), " ");
  }
  std::string path = absl::StrCat("M", N(x(group.curve(0).day())), ",", N(y(group.curve(0).survival())));
  for (int i = 1; i < group.curve_size(); ++i) {
    absl::StrAppend(&path, " H", N(x(group.curve(i).day())), " V", N(y(group.curve(i).survival())));
  }
  std::string out =
      absl::StrCat("<svg class=\"km\" xmlns=\"http://www.w3.org/2000/svg\" width=\"", N(width), "\" height=\"",
                   N(height), "\" viewBox=\"0 0 ", N(width), " ", N(height),
                   "\" role=\"img\" aria-label=\"Kaplan-Meier curve of support held, ", HtmlEscape(label), "\">");
  absl::StrAppend(&out, "<polygon class=\"km-band\" points=\"", band, "\" fill=\"", kBandColour,
                  "\" stroke=\"none\"/>");
  // Axes and ticks.
  absl::StrAppend(&out, "<path d=\"M", N(left), ",", N(top), " V", N(height - bottom), " H", N(width - right),
                  "\" stroke=\"#444\" fill=\"none\"/>");
  for (double s : {0.0, 0.25, 0.5, 0.75, 1.0}) {
    absl::StrAppend(&out, "<text x=\"", N(left - 4), "\" y=\"", N(y(s) + 4), "\" text-anchor=\"end\" font-size=\"10\">",
                    N(s), "</text>");
  }
  for (double d = 0; d <= max_day + 0.5; d += 182.5) {
    absl::StrAppend(&out, "<text x=\"", N(x(d)), "\" y=\"", N(height - bottom + 13),
                    "\" text-anchor=\"middle\" font-size=\"10\">", static_cast<int>(d), "</text>");
  }
  absl::StrAppend(&out, "<text x=\"", N((left + width) / 2), "\" y=\"", N(height - 4),
                  "\" text-anchor=\"middle\" font-size=\"11\">days since the first conference</text>");
  absl::StrAppend(&out, "<path class=\"km-curve\" d=\"", path, "\" stroke=\"", kCurveColour,
                  "\" stroke-width=\"3\" fill=\"none\"/>");
  return out + "</svg>\n";
}

std::string RenderReport(const ReportAnswers& a) {
  std::string out = absl::StrCat(
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>Kring research report</title>\n"
      "<style>",
      kStyle, "</style>\n</head>\n<body>\n<h1>Kring research report</h1>\n<p class=\"meta\">", HtmlEscape(a.selection),
      "</p>\n<p class=\"meta\">", HtmlEscape(a.generator),
      ". Every figure passed disclosure control (each answer's disclosure report below); each answer's provenance "
      "names its log position, filters and the SHA-256 of the answer.</p>\n<p class=\"legend\">",
      HtmlEscape(research::kLegend),
      ". Figures with a 95% confidence interval print as \"estimate [lower, upper]\".</p>\n");

  // The figures first, the tables of each answer below.
  const auto& ns = a.network_size;
  const auto& su = a.support;
  const auto& fu = a.funnel;
  out += "<section id=\"figures\">\n<h2>Figures</h2>\n<h3>Kaplan-Meier: support held, with its 95% band</h3>\n";
  out += "<div class=\"curves\">\n";
  auto curve = [&out](const std::string& label, const v1::SupportGroup& g) {
    absl::StrAppend(&out, "<div class=\"curve\"><h4>", HtmlEscape(label), "</h4>\n");
    const std::string svg = KaplanMeierSvg(g, label);
    if (svg.empty()) {
      absl::StrAppend(&out, "<p class=\"meta\">No curve: ",
                      g.has_cases() ? "no rows with at least k cases at risk" : "the cases are suppressed", "</p>\n");
    }
    absl::StrAppend(&out, svg, "</div>\n");
  };
  curve("all", su.overall());
  for (const auto& g : su.groups()) curve(g.key2().empty() ? g.key() : g.key() + "/" + g.key2(), g);
  absl::StrAppend(&out, "</div>\n<h3>Network size: histogram (all conferences)</h3>\n", Histogram(ns.overall()),
                  "<h3>Network size: share of attendees by relation (all conferences)</h3>\n",
                  Composition(ns.overall()), "<h3>Funnel (all cases)</h3>\n", FunnelBars(fu.overall()), "</section>\n");

  // Network size.
  absl::StrAppend(&out, "<section id=\"network-size\">\n<h2>Network size per conference</h2>\n",
                  Header(ns.watermark(), ns.as_of_position()), Tables(research::NetworkSizeTables(ns)),
                  Tables(research::ComparisonTables(ns.comparison())), Definition(ns.definition()),
                  Disclosure(ns.disclosure()), Provenance(ns.provenance()), "</section>\n");

  // Outcomes.
  const auto& oc = a.outcomes;
  absl::StrAppend(&out, "<section id=\"outcomes\">\n<h2>Outcomes per referral cohort and per held conference</h2>\n",
                  Header(oc.watermark(), oc.as_of_position()), Tables(research::OutcomesTables(oc)),
                  Tables(research::ComparisonTables(oc.comparison())), Definition(oc.definition()),
                  Disclosure(oc.disclosure()), Provenance(oc.provenance()), "</section>\n");

  // Cost–benefit.
  const auto& cb = a.cost_benefit;
  absl::StrAppend(&out, "<section id=\"cost-benefit\">\n<h2>Cost-benefit of the held conferences</h2>\n",
                  Header(cb.watermark(), cb.as_of_position()), "<p class=\"meta\">Cost model ",
                  HtmlEscape(cb.cost_model().version().empty() ? "(unversioned)" : cb.cost_model().version()), " (",
                  HtmlEscape(cb.cost_model().currency()), ")</p>\n", Tables(research::CostBenefitTables(cb)),
                  Tables(research::ComparisonTables(cb.comparison())), Definition(cb.definition()),
                  Disclosure(cb.disclosure()), Provenance(cb.provenance()), "</section>\n");

  // Sustained support.
  absl::StrAppend(&out, "<section id=\"support\">\n<h2>Two-year sustained support</h2>\n",
                  Header(su.watermark(), su.as_of_position()), Tables(research::SupportTables(su)),
                  "<h3>Kaplan-Meier table (all)</h3>\n", Table(research::CurveTable(su.overall())),
                  Tables(research::ComparisonTables(su.comparison())), Definition(su.definition()),
                  Disclosure(su.disclosure()), Provenance(su.provenance()), "</section>\n");

  // Funnel.
  absl::StrAppend(&out, "<section id=\"funnel\">\n<h2>Funnel and the right to a plan</h2>\n",
                  Header(fu.watermark(), fu.as_of_position()), Tables(research::FunnelTables(fu)),
                  Tables(research::ComparisonTables(fu.comparison())), Definition(fu.definition()),
                  Disclosure(fu.disclosure()), Provenance(fu.provenance()), "</section>\n");
  return out + "</body>\n</html>\n";
}

}  // namespace kring::client::report
