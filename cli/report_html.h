// `kringctl research report`: one self-contained HTML page of the five
// research answers (docs/research.md "The HTML report"): inline CSS and SVG,
// no script, nothing fetched. Every answer's tables (as the text output
// prints them), the Kaplan–Meier curve of support held with its 95% band
// (overall, and per group when grouped), the network-size histogram and
// composition, the funnel, each answer's comparison, definition, disclosure
// report and provenance. All text is escaped.
#pragma once

#include <string>

#include "kring/v1/research.pb.h"

namespace kring::client::report {

// The colours of the charts (tests/report_render_test.py looks for them in
// the rendered page's pixels).
inline constexpr char kCurveColour[] = "#1b4f9c";      // KM step line
inline constexpr char kBandColour[] = "#f2c14e";       // KM 95% band (opaque fill)
inline constexpr char kHistogramColour[] = "#2e7d32";  // network-size bins
inline constexpr char kShareColour[] = "#8e44ad";      // composition shares
inline constexpr char kFunnelColour[] = "#c0392b";     // funnel steps

struct ReportAnswers {
  v1::NetworkSizeResponse network_size;
  v1::OutcomesResponse outcomes;
  v1::CostBenefitResponse cost_benefit;
  v1::SupportResponse support;
  v1::FunnelResponse funnel;
  // The command line's selection in words (what was asked), shown at the top.
  std::string selection;
  // kringctl's version, shown at the top.
  std::string generator;
};

// Text for HTML: & < > " ' escaped.
std::string HtmlEscape(const std::string& text);

// The Kaplan–Meier curve of one group as an inline <svg>: the band as a
// <polygon class="km-band">, the curve as a <path class="km-curve"> of
// horizontal and vertical steps from day 0; days 0 to max(730, the last
// row's day) across, survival 0 to 1 up. Empty when the group has no curve.
std::string KaplanMeierSvg(const v1::SupportGroup& group, const std::string& label);

// The whole page.
std::string RenderReport(const ReportAnswers& answers);

}  // namespace kring::client::report
