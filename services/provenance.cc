#include "services/provenance.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>

#include <memory>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/version.h"
#include "eventstore/chain.h"

namespace kring::services {
namespace {

template <typename Request, typename Response>
void Fill(const Request& request, Response* response, const char* definition_version,
          const std::string& cost_model_version) {
  v1::Provenance p;
  p.set_log_position(request.as_of_position() != 0 ? request.as_of_position()
                                                   : response->watermark().max_global_position());
  const v1::DisclosureReport& disclosure = response->disclosure();
  p.set_min_cell_size(disclosure.min_cell_size());
  p.set_disclosure_method(
      absl::StrCat("threshold suppression, ", disclosure.method(), " (", disclosure.ptable_version(), ")"));
  p.set_filters_json(FiltersJson(request));
  p.set_definition_version(definition_version);
  p.set_cost_model_version(cost_model_version);
  p.set_server_version(Version());
  response->clear_provenance();
  p.set_answer_sha256(AnswerSha256(*response));  // last: over everything but the provenance
  *response->mutable_provenance() = std::move(p);
}

}  // namespace

std::string FiltersJson(const google::protobuf::Message& request) {
  std::unique_ptr<google::protobuf::Message> selection(request.New());
  selection->CopyFrom(request);
  if (const auto* field = selection->GetDescriptor()->FindFieldByName("disclosure"); field != nullptr) {
    selection->GetReflection()->ClearField(selection.get(), field);
  }
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string json;
  // Printing a valid message cannot fail.
  (void)google::protobuf::util::MessageToJsonString(*selection, &json, options);
  // nlohmann::json keeps object keys in a std::map: sorted at every level.
  return nlohmann::json::parse(json).dump();
}

std::string AnswerSha256(const google::protobuf::Message& response) {
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    response.SerializeToCodedStream(&out);
  }  // the coded stream flushes into `bytes` here
  return eventstore::ToHex(eventstore::Sha256(bytes));
}

void SetProvenance(const v1::NetworkSizeRequest& request, v1::NetworkSizeResponse* response) {
  Fill(request, response, kNetworkSizeDefinitionVersion, "");
}

void SetProvenance(const v1::OutcomesRequest& request, v1::OutcomesResponse* response) {
  Fill(request, response, kOutcomesDefinitionVersion, "");
}

void SetProvenance(const v1::CostBenefitRequest& request, v1::CostBenefitResponse* response) {
  Fill(request, response, kCostBenefitDefinitionVersion, response->cost_model().version());
}

void SetProvenance(const v1::SupportRequest& request, v1::SupportResponse* response) {
  Fill(request, response, kSupportDefinitionVersion, "");
}

void SetProvenance(const v1::FunnelRequest& request, v1::FunnelResponse* response) {
  Fill(request, response, kFunnelDefinitionVersion, "");
}

}  // namespace kring::services
