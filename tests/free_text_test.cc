// Free text outside `personal` (issue 12, defect 11; docs/security.md "Free
// text outside personal", docs/schema-evolution.md rule 4). What is not
// sealed is stored and published in clear and outlives an erasure, so:
//  - a retraction's reason is at most 100 bytes (a code or a short phrase);
//    a longer note goes in the event's sealed personal part;
//  - fields this server's schema does not define are refused, at the top of
//    an event and inside its payload, its lists and its personal part, with
//    INVALID_ARGUMENT naming where they sit and their number, never their
//    content; nothing of the batch is stored.
#include <gtest/gtest.h>

#include "absl/strings/str_cat.h"
#include "common/errors.h"
#include "eventstore/event_store.h"
#include "eventstore/validation.h"
#include "tests/testing/test_support.h"

namespace kring::eventstore {
namespace {

// The field violations of a refusal, as "field: description".
std::vector<std::string> Violations(const absl::Status& s) {
  std::vector<std::string> out;
  auto payload = s.GetPayload(kBadRequestTypeUrl);
  if (!payload) return out;
  google::rpc::BadRequest details;
  if (!details.ParseFromString(std::string(*payload))) return out;
  for (const auto& v : details.field_violations()) out.push_back(absl::StrCat(v.field(), ": ", v.description()));
  return out;
}

v1::Event Retraction(const std::string& reason) {
  v1::Event e = testing::RetractionOf(testing::CostRecordedEvent());
  e.mutable_event_retracted()->set_reason(reason);
  return e;
}

class FreeTextTest : public ::testing::Test {
 protected:
  void SetUp() override {
    EventStoreOptions options;
    options.path = dir_.Sub("events");
    auto store = EventStore::Open(options);
    ASSERT_TRUE(store.ok()) << store.status();
    store_ = *std::move(store);
  }
  absl::Status Validate(std::vector<v1::Event> events) {
    return ValidateBatch(testing::Batch("case-1", std::move(events)), ValidationOptions(), absl::Now());
  }

  testing::TempDir dir_;
  std::unique_ptr<EventStore> store_;
};

TEST_F(FreeTextTest, ARetractionReasonIsAtMost100Bytes) {
  EXPECT_TRUE(Validate({Retraction(std::string(100, 'r'))}).ok());
  EXPECT_TRUE(Validate({Retraction("entered twice")}).ok());
  const std::string planted = "Jan de Vries, Dorpsstraat 12, called about his son's placement " + std::string(38, '.');
  ASSERT_EQ(planted.size(), 101u);
  const absl::Status long_reason = Validate({Retraction(planted)});
  EXPECT_EQ(long_reason.code(), absl::StatusCode::kInvalidArgument);
  ASSERT_EQ(Violations(long_reason).size(), 1u);
  EXPECT_EQ(Violations(long_reason)[0].rfind("events[0].event_retracted.reason: is required: 1-100 bytes", 0), 0u)
      << Violations(long_reason)[0];
  EXPECT_NE(long_reason.message().find("personal part"), std::string::npos) << long_reason;
  EXPECT_EQ(long_reason.ToString().find("Jan de Vries"), std::string::npos) << "the value is never echoed";
  EXPECT_EQ(Validate({Retraction("")}).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(FreeTextTest, UnknownFieldsAreRefusedWhereverTheySitAndNothingIsStored) {
  v1::Event top = testing::CostRecordedEvent();
  top.GetReflection()->MutableUnknownFields(&top)->AddLengthDelimited(99, "Jan de Vries, a field of a newer schema");
  v1::Event in_payload = testing::CostRecordedEvent();
  auto* cost = in_payload.mutable_cost_recorded();
  cost->GetReflection()->MutableUnknownFields(cost)->AddVarint(15, 7);
  v1::Event in_list = testing::PlanAdoptedEvent({{"p-1", v1::ACTION_OWNER_KIND_NETWORK}});
  auto* action = in_list.mutable_plan_adopted()->mutable_actions(0);
  action->GetReflection()->MutableUnknownFields(action)->AddFixed32(9, 1);
  v1::Event in_timestamp = testing::CostRecordedEvent();
  auto* at = in_timestamp.mutable_occurred_at();
  at->GetReflection()->MutableUnknownFields(at)->AddLengthDelimited(3, "x");

  const absl::Status refused =
      store_->Append(testing::Batch("case-new", {testing::CaseReferredEvent(), top, in_payload, in_list, in_timestamp}))
          .status();
  EXPECT_EQ(refused.code(), absl::StatusCode::kInvalidArgument) << refused;
  const std::vector<std::string> violations = Violations(refused);
  ASSERT_EQ(violations.size(), 4u) << refused;
  const std::string rule =
      ", which this server's schema (kring/v1/events.proto) does not define; unknown fields are refused";
  EXPECT_EQ(violations[0].rfind("events[1]: carries field number 99" + rule, 0), 0u) << violations[0];
  EXPECT_EQ(violations[1].rfind("events[2].cost_recorded: carries field number 15" + rule, 0), 0u) << violations[1];
  EXPECT_EQ(violations[2].rfind("events[3].plan_adopted.actions[0]: carries field number 9" + rule, 0), 0u)
      << violations[2];
  EXPECT_EQ(violations[3].rfind("events[4].occurred_at: carries field number 3" + rule, 0), 0u) << violations[3];
  EXPECT_EQ(refused.ToString().find("Jan de Vries"), std::string::npos) << "the content is never echoed";
  EXPECT_EQ(store_->Head().value(), 0u) << "nothing of the batch is stored";

  // Inside the personal part as well (it would be sealed, but a field the
  // server does not know is refused everywhere alike).
  v1::Event personal = testing::CaseReferredEvent();
  (*personal.mutable_personal()->mutable_fields())["name"] = "x";
  auto* p = personal.mutable_personal();
  p->GetReflection()->MutableUnknownFields(p)->AddVarint(2, 1);
  const absl::Status in_personal = Validate({personal});
  ASSERT_EQ(Violations(in_personal).size(), 1u) << in_personal;
  EXPECT_EQ(Violations(in_personal)[0].rfind("events[0].personal: carries field number 2", 0), 0u);

  // The same events without the unknown fields are stored.
  for (v1::Event* e : {&top, &in_payload, &in_list, &in_timestamp}) e->DiscardUnknownFields();
  EXPECT_TRUE(store_->Append(testing::Batch("case-new", {testing::CaseReferredEvent(), top, in_payload})).ok());
}

}  // namespace
}  // namespace kring::eventstore
