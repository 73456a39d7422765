// Provenance on every research answer (issue 15, docs/research.md
// "Provenance"), through the real gRPC surface of an in-process KringServer
// (event store, relay, embedded Kafka, the read-model workers) fed a
// SYNTHETIC cohort:
//  - every field is what the request and the answer say: log position, k,
//    the disclosure method, the filters (canonical JSON, keys sorted at every
//    level, the disclosure left out), the definition and cost-model versions,
//    the server's version;
//  - answer_sha256 recomputed here (OpenSSL, deterministic serialization of
//    the received response without its provenance) equals the one sent;
//  - a changed filter changes filters_json and the hash; a changed k leaves
//    filters_json alone and changes the hash;
//  - an answer as of position P says log_position P while the log grows.
#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <google/protobuf/util/json_util.h>
#include <google/protobuf/util/message_differencer.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <openssl/evp.h>

#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "cli/cohort_client.h"
#include "common/version.h"
#include "kring/v1/research.grpc.pb.h"
#include "projections/outcomes.h"
#include "services/server.h"
#include "tests/testing/test_support.h"

namespace kring {
namespace {

using google::protobuf::util::MessageDifferencer;
using testing::NewChannel;

// SHA-256 of the response serialized deterministically with its provenance
// cleared, computed independently of services/provenance.cc.
template <typename Response>
std::string RecomputedHash(Response response) {
  response.clear_provenance();
  std::string bytes;
  {
    google::protobuf::io::StringOutputStream stream(&bytes);
    google::protobuf::io::CodedOutputStream out(&stream);
    out.SetSerializationDeterministic(true);
    response.SerializeToCodedStream(&out);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int length = 0;
  EXPECT_EQ(EVP_Digest(bytes.data(), bytes.size(), md, &length, EVP_sha256(), nullptr), 1);
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  for (unsigned int i = 0; i < length; ++i) {
    hex.push_back(kDigits[md[i] >> 4]);
    hex.push_back(kDigits[md[i] & 0xf]);
  }
  return hex;
}

// Whether every object in `j`, at every depth, lists its keys in sorted order.
bool KeysSortedEverywhere(const nlohmann::ordered_json& j) {
  if (j.is_object()) {
    std::string previous;
    bool first = true;
    for (const auto& [key, value] : j.items()) {
      if (!first && !(previous < key)) return false;
      previous = key;
      first = false;
      if (!KeysSortedEverywhere(value)) return false;
    }
  }
  if (j.is_array()) {
    for (const auto& value : j) {
      if (!KeysSortedEverywhere(value)) return false;
    }
  }
  return true;
}

// filters_json read back into a request equals the request without its
// disclosure, and lists its keys sorted at every level.
template <typename Request>
void ExpectFiltersOf(const Request& request, const std::string& filters_json) {
  const auto parsed = nlohmann::ordered_json::parse(filters_json, nullptr, /*allow_exceptions=*/false);
  ASSERT_FALSE(parsed.is_discarded()) << filters_json;
  EXPECT_TRUE(KeysSortedEverywhere(parsed)) << filters_json;
  EXPECT_EQ(filters_json.find("disclosure"), std::string::npos) << filters_json;
  EXPECT_EQ(parsed.dump(), filters_json) << "compact: no whitespace between tokens";
  Request back;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(filters_json, &back).ok()) << filters_json;
  Request expected = request;
  expected.clear_disclosure();
  EXPECT_TRUE(MessageDifferencer::Equals(back, expected))
      << "read back: " << back.ShortDebugString() << "\nasked: " << expected.ShortDebugString();
}

class ProvenanceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    services::ServerOptions options;
    options.data_dir = dir_.Sub("data");
    options.listen = "127.0.0.1:0";
    options.shutdown_timeout = std::chrono::milliseconds(5000);
    auto server = services::KringServer::Start(options);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = *std::move(server);
    channel_ = NewChannel(server_->address());
    research_ = v1::ResearchService::NewStub(channel_);
    Append(1, 200);
  }

  // Streams cases first .. first+cases-1 of a SYNTHETIC cohort and waits
  // until every read model has applied the whole log.
  void Append(size_t first, size_t cases) {
    client::CohortStreamOptions o;
    o.cohort.seed = 15;
    o.cohort.first_case = first;
    o.cohort.cases = cases;
    o.streams = 2;
    const client::CohortStreamTotals totals = client::StreamCohort(channel_, o);
    ASSERT_TRUE(totals.status.ok()) << totals.status;
    ASSERT_EQ(totals.refused, 0u);
    head_ = server_->store().Head().value();
    const bool applied = testing::WaitFor([&] {
      v1::NetworkSizeResponse n;
      v1::OutcomesResponse o;
      v1::SupportResponse s;
      v1::FunnelResponse f;
      return Call(&v1::ResearchService::Stub::GetNetworkSize, v1::NetworkSizeRequest(), &n).ok() &&
             Call(&v1::ResearchService::Stub::GetOutcomes, v1::OutcomesRequest(), &o).ok() &&
             Call(&v1::ResearchService::Stub::GetSustainedSupport, v1::SupportRequest(), &s).ok() &&
             Call(&v1::ResearchService::Stub::GetFunnel, v1::FunnelRequest(), &f).ok() &&
             n.watermark().max_global_position() == head_ && o.watermark().max_global_position() == head_ &&
             s.watermark().max_global_position() == head_ && f.watermark().max_global_position() == head_;
    });
    ASSERT_TRUE(applied) << "the read models did not apply the log up to " << head_;
  }

  template <typename Request, typename Response>
  grpc::Status Call(grpc::Status (v1::ResearchService::Stub::*method)(grpc::ClientContext*, const Request&, Response*),
                    const Request& request, Response* response) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(120));
    response->Clear();
    return ((*research_).*method)(&context, request, response);
  }

  // The checks every answer passes: the fields from the request and the
  // answer, and the hash recomputed from what was received.
  template <typename Request, typename Response>
  void ExpectProvenance(const Request& request, const Response& response, const std::string& definition_version) {
    const v1::Provenance& p = response.provenance();
    EXPECT_EQ(p.log_position(), head_);
    EXPECT_EQ(p.log_position(), response.watermark().max_global_position());
    EXPECT_EQ(p.min_cell_size(), response.disclosure().min_cell_size());
    EXPECT_EQ(p.disclosure_method(), "threshold suppression, cell key (kring-ptable-1)");
    EXPECT_EQ(p.definition_version(), definition_version);
    EXPECT_EQ(p.server_version(), Version());
    ExpectFiltersOf(request, p.filters_json());
    EXPECT_EQ(p.answer_sha256().size(), 64u);
    EXPECT_EQ(p.answer_sha256(), RecomputedHash(response));
  }

  testing::TempDir dir_;
  std::unique_ptr<services::KringServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  std::unique_ptr<v1::ResearchService::Stub> research_;
  uint64_t head_ = 0;
};

template <typename Request>
Request Selection(Request r, uint32_t k = 5) {
  r.set_group_by(v1::GROUPING_YEAR);
  // Field 2 before field 3 on the wire, but "conference_period" sorts first.
  r.add_municipality_codes("GM0363");
  r.add_municipality_codes("GM0599");
  r.mutable_conference_period()->set_from("2019-01-01");
  r.mutable_conference_period()->set_to("2026-06-30");
  r.add_domains(v1::DOMAIN_YOUTH_PROTECTION);
  r.add_domains(v1::DOMAIN_HOUSING);
  r.mutable_disclosure()->set_min_cell_size(k);
  return r;
}

TEST_F(ProvenanceTest, EveryAnswerCarriesItsPositionKFiltersVersionsAndAHashOfItself) {
  v1::NetworkSizeResponse network_size;
  const auto n = Selection(v1::NetworkSizeRequest());
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetNetworkSize, n, &network_size).ok());
  ExpectProvenance(n, network_size, "network-size/2");
  EXPECT_EQ(network_size.provenance().min_cell_size(), 5u);
  EXPECT_EQ(network_size.provenance().cost_model_version(), "");
  EXPECT_EQ(network_size.provenance().filters_json(),
            "{\"conference_period\":{\"from\":\"2019-01-01\",\"to\":\"2026-06-30\"},"
            "\"domains\":[\"DOMAIN_YOUTH_PROTECTION\",\"DOMAIN_HOUSING\"],\"group_by\":\"GROUPING_YEAR\","
            "\"municipality_codes\":[\"GM0363\",\"GM0599\"]}");

  v1::OutcomesResponse outcomes;
  const auto o = Selection(v1::OutcomesRequest());
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetOutcomes, o, &outcomes).ok());
  ExpectProvenance(o, outcomes, "outcomes/2");
  EXPECT_EQ(outcomes.provenance().cost_model_version(), "");

  // With a cost model of its own: nested keys sorted too ("currency" before
  // "version"), and its version named.
  v1::CostBenefitResponse cost_benefit;
  auto c = Selection(v1::CostBenefitRequest(), 7);
  *c.mutable_cost_model() = projections::BuiltInCostModel();
  c.mutable_cost_model()->set_version("SYNTHETIC-2026-12-04");
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetCostBenefit, c, &cost_benefit).ok());
  ExpectProvenance(c, cost_benefit, "cost-benefit/2");
  EXPECT_EQ(cost_benefit.provenance().min_cell_size(), 7u);
  EXPECT_EQ(cost_benefit.provenance().cost_model_version(), "SYNTHETIC-2026-12-04");
  v1::CostBenefitResponse built_in;
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetCostBenefit, v1::CostBenefitRequest(), &built_in).ok());
  EXPECT_EQ(built_in.provenance().cost_model_version(), projections::BuiltInCostModel().version());
  EXPECT_FALSE(built_in.provenance().cost_model_version().empty());

  v1::SupportResponse support;
  auto s = Selection(v1::SupportRequest());
  s.set_window_days(60);
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetSustainedSupport, s, &support).ok());
  ExpectProvenance(s, support, "support/2");

  v1::FunnelResponse funnel;
  const auto f = Selection(v1::FunnelRequest());
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetFunnel, f, &funnel).ok());
  ExpectProvenance(f, funnel, "funnel/2");

  // Nothing selected: "{}"; the server's default k.
  v1::FunnelResponse everything;
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetFunnel, v1::FunnelRequest(), &everything).ok());
  EXPECT_EQ(everything.provenance().filters_json(), "{}");
  EXPECT_EQ(everything.provenance().min_cell_size(), 10u);
  ExpectProvenance(v1::FunnelRequest(), everything, "funnel/2");
}

TEST_F(ProvenanceTest, AChangedFilterChangesTheFiltersAndTheHashAChangedKOnlyTheHash) {
  const auto base = Selection(v1::NetworkSizeRequest());
  v1::NetworkSizeResponse a, again, other_filter, other_k;
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetNetworkSize, base, &a).ok());
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetNetworkSize, base, &again).ok());
  // The same question asked twice: the same provenance, byte for byte.
  EXPECT_TRUE(MessageDifferencer::Equals(a.provenance(), again.provenance()));

  auto narrower = base;
  narrower.mutable_conference_period()->set_to("2022-12-31");
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetNetworkSize, narrower, &other_filter).ok());
  EXPECT_NE(other_filter.provenance().filters_json(), a.provenance().filters_json());
  EXPECT_NE(other_filter.provenance().answer_sha256(), a.provenance().answer_sha256());
  EXPECT_EQ(other_filter.provenance().answer_sha256(), RecomputedHash(other_filter));

  const auto k8 = Selection(v1::NetworkSizeRequest(), 8);
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetNetworkSize, k8, &other_k).ok());
  EXPECT_EQ(other_k.provenance().filters_json(), a.provenance().filters_json());
  EXPECT_EQ(other_k.provenance().min_cell_size(), 8u);
  EXPECT_NE(other_k.provenance().answer_sha256(), a.provenance().answer_sha256());
  EXPECT_EQ(other_k.provenance().answer_sha256(), RecomputedHash(other_k));

  // Any change to a received answer shows against its hash.
  v1::NetworkSizeResponse tampered = a;
  tampered.mutable_overall()->set_mean(tampered.overall().mean() + 1);
  EXPECT_NE(RecomputedHash(tampered), a.provenance().answer_sha256());
}

TEST_F(ProvenanceTest, AnAnswerAsOfAPositionNamesThatPositionWhileTheLogGrows) {
  const uint64_t p = head_;
  Append(201, 100);
  ASSERT_GT(head_, p);

  auto request = Selection(v1::SupportRequest());
  request.set_as_of_position(p);
  v1::SupportResponse as_of, live;
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetSustainedSupport, request, &as_of).ok());
  EXPECT_EQ(as_of.provenance().log_position(), p);
  EXPECT_EQ(as_of.provenance().answer_sha256(), RecomputedHash(as_of));
  ExpectFiltersOf(request, as_of.provenance().filters_json());
  EXPECT_NE(as_of.provenance().filters_json().find("\"as_of_position\":\"" + std::to_string(p) + "\""),
            std::string::npos)
      << as_of.provenance().filters_json();

  request.clear_as_of_position();
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetSustainedSupport, request, &live).ok());
  EXPECT_EQ(live.provenance().log_position(), head_);
  EXPECT_NE(live.provenance().answer_sha256(), as_of.provenance().answer_sha256());

  // Asked again later: the same answer, the same provenance.
  Append(301, 20);
  request.set_as_of_position(p);
  v1::SupportResponse as_of_again;
  ASSERT_TRUE(Call(&v1::ResearchService::Stub::GetSustainedSupport, request, &as_of_again).ok());
  EXPECT_TRUE(MessageDifferencer::Equals(as_of_again.provenance(), as_of.provenance()))
      << as_of_again.provenance().ShortDebugString() << "\n"
      << as_of.provenance().ShortDebugString();
}

}  // namespace
}  // namespace kring
