// Provenance of the research answers (docs/research.md "Provenance"): what an
// answer is, enough to cite it and to check that a copy is unchanged. The
// ResearchService sets it on every response, last, after the figures and the
// comparison are final.
#pragma once

#include <google/protobuf/message.h>

#include <string>

#include "kring/v1/research.pb.h"

namespace kring::services {

// Provenance.definition_version of each answer: "<read model>/<n>", n raised
// whenever a figure's definition changes (2: the issue-15 definitions, with
// intervals, comparisons, the day-0 Kaplan–Meier row and RMST).
// scripts/codebook.py reads these lines into docs/codebook.md.
inline constexpr char kNetworkSizeDefinitionVersion[] = "network-size/2";
inline constexpr char kOutcomesDefinitionVersion[] = "outcomes/2";
inline constexpr char kCostBenefitDefinitionVersion[] = "cost-benefit/2";
inline constexpr char kSupportDefinitionVersion[] = "support/2";
inline constexpr char kFunnelDefinitionVersion[] = "funnel/2";

// Provenance.filters_json of a request: the request with `disclosure`
// cleared, in the protobuf JSON mapping with proto field names (fields at
// their default left out), keys sorted at every level, no spaces. "{}" when
// the request selects everything.
std::string FiltersJson(const google::protobuf::Message& request);

// Provenance.answer_sha256: the lowercase hex SHA-256 of `response`
// serialized with deterministic serialization. The caller clears the
// response's provenance first.
std::string AnswerSha256(const google::protobuf::Message& response);

// Sets response->provenance for the answer to `request`: log_position (the
// as_of_position asked, else the watermark's max_global_position),
// min_cell_size and disclosure_method from the response's disclosure report,
// filters_json, definition_version, cost_model_version (cost–benefit: the
// model applied), server_version (common/version.h) and, computed last over
// everything else, answer_sha256.
void SetProvenance(const v1::NetworkSizeRequest& request, v1::NetworkSizeResponse* response);
void SetProvenance(const v1::OutcomesRequest& request, v1::OutcomesResponse* response);
void SetProvenance(const v1::CostBenefitRequest& request, v1::CostBenefitResponse* response);
void SetProvenance(const v1::SupportRequest& request, v1::SupportResponse* response);
void SetProvenance(const v1::FunnelRequest& request, v1::FunnelResponse* response);

}  // namespace kring::services
