// Writes the seed corpus of the append fuzz target (fuzz/corpus/append/):
//   append_fuzz_seeds <folder>
// Each seed is one input in the format of fuzz/append_input.h. The output is
// deterministic (fixed dates, UUIDs from a generator seeded per seed), so
// running it again rewrites the same bytes. All ids are SYNTHETIC.
#include <google/protobuf/unknown_field_set.h>

#include <cstdio>
#include <fstream>
#include <functional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/civil_time.h"
#include "absl/time/time.h"
#include "common/uuid.h"
#include "fuzz/append_input.h"

namespace kring::fuzz {
namespace {

using Requests = std::vector<v1::AppendRequest>;

// Builds the requests of one seed; ids come from a generator seeded with the
// seed's number, so seeds do not share event ids by accident.
class Builder {
 public:
  explicit Builder(uint64_t seed) : rng_(seed) {}

  std::string Uuid() {
    std::string out;
    const uint64_t hi = rng_(), lo = rng_();
    FormatUuidV4(hi, lo, &out);
    return out;
  }

  // An event with a fresh id on the given day (UTC, 12:00 plus `minute`).
  v1::Event On(int year, int month, int day, int minute = 0) {
    v1::Event e;
    e.set_event_id(Uuid());
    const absl::Time t = absl::FromCivil(absl::CivilSecond(year, month, day, 12, minute, 0), absl::UTCTimeZone());
    e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(t));
    return e;
  }

  v1::Event Referred(int year = 2023, int month = 1, int day = 10) {
    v1::Event e = On(year, month, day);
    auto* p = e.mutable_case_referred();
    p->set_domain(v1::DOMAIN_YOUTH_PROTECTION);
    p->set_legal_framework(v1::LEGAL_FRAMEWORK_JEUGDWET);
    p->add_threatened_measures(v1::PROTECTION_MEASURE_OTS);
    p->set_referrer_kind(v1::REFERRER_KIND_CERTIFIED_INSTITUTION);
    p->set_municipality_code("GM0363");
    p->add_preferred_languages("nl");
    p->add_central_person_ids("SYNTH-P-1");
    return e;
  }
  v1::Event Coordinator(const std::string& id = "SYNTH-C-1") {
    v1::Event e = On(2023, 1, 12);
    auto* p = e.mutable_coordinator_assigned();
    p->set_coordinator_id(id);
    p->add_languages("nl");
    p->set_language_preference_met(true);
    return e;
  }
  v1::Event Invited(const std::string& id, v1::Relation relation, bool central = false) {
    v1::Event e = On(2023, 1, 20);
    auto* p = e.mutable_participant_invited();
    p->set_participant_id(id);
    p->set_relation(relation);
    p->set_central_person(central);
    return e;
  }
  v1::Event Responded(const std::string& id, v1::InvitationResponse response) {
    v1::Event e = On(2023, 1, 25);
    auto* p = e.mutable_participant_responded();
    p->set_participant_id(id);
    p->set_response(response);
    return e;
  }
  v1::Event Conference(const std::vector<std::string>& attendees) {
    v1::Event e = On(2023, 3, 1);
    auto* p = e.mutable_conference_held();
    for (const auto& a : attendees) p->add_attendee_ids(a);
    p->set_private_family_time_held(true);
    p->add_languages("nl");
    return e;
  }
  v1::Event Plan() {
    v1::Event e = On(2023, 3, 1, 30);
    auto* a = e.mutable_plan_adopted()->add_actions();
    a->set_action_id("SYNTH-A-1");
    a->set_owner_id("SYNTH-P-2");
    a->set_owner_kind(v1::ACTION_OWNER_KIND_NETWORK);
    a->set_category_code("school");
    return e;
  }
  v1::Event Decided() {
    v1::Event e = On(2023, 3, 8);
    e.mutable_plan_decided()->set_decision(v1::PLAN_DECISION_ACCEPTED);
    return e;
  }
  v1::Event ActionStatus() {
    v1::Event e = On(2023, 5, 1);
    auto* p = e.mutable_plan_action_status_changed();
    p->set_action_id("SYNTH-A-1");
    p->set_status(v1::ACTION_STATUS_DONE);
    return e;
  }
  v1::Event FollowUp() {
    v1::Event e = On(2023, 9, 1);
    auto* p = e.mutable_follow_up_recorded();
    p->add_active_supporter_ids("SYNTH-P-2");
    p->set_plan_execution(v1::PLAN_EXECUTION_MOSTLY);
    p->set_problems_resolved(true);
    p->set_reported_by(v1::REPORTER_COORDINATOR);
    return e;
  }
  v1::Event Review() {
    v1::Event e = On(2023, 10, 1);
    auto* p = e.mutable_review_conference_held();
    p->add_attendee_ids("SYNTH-P-1");
    p->set_plan_adjusted(true);
    return e;
  }
  v1::Event Outcome() {
    v1::Event e = On(2024, 3, 1);
    auto* p = e.mutable_outcome_recorded();
    p->set_outcome(v1::OUTCOME_TYPE_OTS_PREVENTED);
    p->set_children_affected(2);
    return e;
  }
  v1::Event Cost() {
    v1::Event e = On(2024, 3, 2);
    auto* p = e.mutable_cost_recorded();
    p->set_kind(v1::COST_KIND_CONFERENCE);
    p->set_amount_cents(350000);
    p->set_currency("EUR");
    return e;
  }
  v1::Event Closed() {
    v1::Event e = On(2024, 4, 1);
    e.mutable_case_closed()->set_end_reason(v1::END_REASON_COMPLETED_AS_PLANNED);
    return e;
  }
  v1::Event Retracted(const std::string& event_id) {
    v1::Event e = On(2023, 2, 1);
    auto* p = e.mutable_event_retracted();
    p->set_retracted_event_id(event_id);
    p->set_reason("entered in the wrong case");
    return e;
  }

  // Every event type of one case, in lifecycle order.
  std::vector<v1::Event> Lifecycle() {
    return {Referred(),
            Coordinator(),
            Invited("SYNTH-P-1", v1::RELATION_FAMILY, true),
            Invited("SYNTH-P-2", v1::RELATION_FRIEND),
            Invited("SYNTH-P-3", v1::RELATION_PROFESSIONAL),
            Responded("SYNTH-P-2", v1::INVITATION_RESPONSE_ACCEPTED),
            Conference({"SYNTH-P-1", "SYNTH-P-2"}),
            Plan(),
            Decided(),
            ActionStatus(),
            FollowUp(),
            Review(),
            Outcome(),
            Cost(),
            Closed()};
  }

 private:
  std::mt19937_64 rng_;
};

enum class Expect { kUnset, kAny, kNoStream, kExact, kAnyFalse, kNoStreamFalse };

v1::AppendRequest Request(const std::string& case_id, std::vector<v1::Event> events, Expect expect = Expect::kUnset,
                          uint64_t exact = 0) {
  v1::AppendRequest r;
  r.set_case_id(case_id);
  switch (expect) {
    case Expect::kUnset:
      break;
    case Expect::kAny:
      r.mutable_expected_version()->set_any(true);
      break;
    case Expect::kNoStream:
      r.mutable_expected_version()->set_no_stream(true);
      break;
    case Expect::kExact:
      r.mutable_expected_version()->set_exact(exact);
      break;
    case Expect::kAnyFalse:
      r.mutable_expected_version()->set_any(false);
      break;
    case Expect::kNoStreamFalse:
      r.mutable_expected_version()->set_no_stream(false);
      break;
  }
  for (auto& e : events) *r.add_events() = std::move(e);
  return r;
}

// One request per event, each expecting the version the previous one left.
Requests OnePerEvent(const std::string& case_id, std::vector<v1::Event> events) {
  Requests out;
  for (size_t i = 0; i < events.size(); ++i) {
    out.push_back(Request(case_id, {std::move(events[i])}, i == 0 ? Expect::kNoStream : Expect::kExact, i));
  }
  return out;
}

struct Seed {
  const char* name;
  std::function<std::string(Builder&)> make;
};

std::string Encode(Requests r) { return EncodeRequests(r); }

std::vector<Seed> AllSeeds() {
  return {
      // Valid cases.
      {"valid-lifecycle-one-request-per-event",
       [](Builder& b) { return Encode(OnePerEvent("SYNTH-F-1", b.Lifecycle())); }},
      {"valid-lifecycle-one-batch",
       [](Builder& b) { return Encode({Request("SYNTH-F-2", b.Lifecycle(), Expect::kNoStream)}); }},
      {"valid-lifecycle-two-batches-any",
       [](Builder& b) {
         auto events = b.Lifecycle();
         std::vector<v1::Event> second(events.begin() + 7, events.end());
         events.resize(7);
         return Encode({Request("SYNTH-F-3", events, Expect::kAny), Request("SYNTH-F-3", second)});
       }},
      {"valid-plan-right-offered-and-declined",
       [](Builder& b) {
         v1::Event offered = b.On(2023, 1, 11);
         offered.mutable_plan_right_offered()->set_legal_framework(v1::LEGAL_FRAMEWORK_WMO);
         v1::Event declined = b.On(2023, 1, 18);
         declined.mutable_plan_right_declined()->set_reason_code("family-declined");
         return Encode(OnePerEvent("SYNTH-F-4", {b.Referred(), offered, declined, b.Closed()}));
       }},
      {"valid-preparation-stopped",
       [](Builder& b) {
         v1::Event stopped = b.On(2023, 2, 1);
         stopped.mutable_preparation_stopped()->set_reason(v1::PREPARATION_STOP_REASON_NO_NETWORK_REACHED);
         return Encode({Request("SYNTH-F-5",
                                {b.Referred(), b.Coordinator(), b.Invited("SYNTH-P-1", v1::RELATION_FAMILY, true),
                                 b.Responded("SYNTH-P-1", v1::INVITATION_RESPONSE_DECLINED), stopped, b.Closed()},
                                Expect::kNoStream)});
       }},
      {"valid-retraction",
       [](Builder& b) {
         v1::Event invited = b.Invited("SYNTH-P-9", v1::RELATION_NEIGHBOUR);
         const std::string id = invited.event_id();
         return Encode({Request("SYNTH-F-6", {b.Referred(), b.Coordinator(), invited}, Expect::kNoStream),
                        Request("SYNTH-F-6", {b.Retracted(id)}, Expect::kExact, 3)});
       }},
      {"valid-correlation-and-causation",
       [](Builder& b) {
         v1::Event referred = b.Referred();
         v1::Event coordinator = b.Coordinator();
         coordinator.set_correlation_id(b.Uuid());
         coordinator.set_causation_id(referred.event_id());
         coordinator.set_payload_version(1);
         return Encode({Request("SYNTH-F-7", {referred, coordinator}, Expect::kNoStream)});
       }},
      {"valid-two-cases-interleaved",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-8a", {b.Referred()}, Expect::kNoStream),
                        Request("SYNTH-F-8b", {b.Referred(2022, 6, 1)}, Expect::kNoStream),
                        Request("SYNTH-F-8a", {b.Coordinator()}, Expect::kExact, 1),
                        Request("SYNTH-F-8b", {b.Coordinator("SYNTH-C-2")}, Expect::kExact, 1),
                        Request("SYNTH-F-8a", {b.Closed()}, Expect::kAny)});
       }},
      {"valid-case-id-alphabet",
       [](Builder& b) {
         return Encode({Request("0.SYNTH_F:9-z", {b.Referred()}), Request(std::string(64, 'S'), {b.Referred()})});
       }},
      {"valid-nanos-and-floor",
       [](Builder& b) {
         v1::Event floor = b.Referred();
         floor.mutable_occurred_at()->set_seconds(
             absl::ToUnixSeconds(absl::FromCivil(absl::CivilDay(1989, 1, 1), absl::UTCTimeZone())));
         v1::Event nanos = b.Coordinator();
         nanos.mutable_occurred_at()->set_nanos(999999999);
         return Encode({Request("SYNTH-F-10", {floor, nanos})});
       }},
      // Retries and concurrency.
      {"retry-same-batch",
       [](Builder& b) {
         auto r = Request("SYNTH-F-11", {b.Referred(), b.Coordinator()}, Expect::kNoStream);
         return Encode({r, r});
       }},
      {"retry-after-more-events",
       [](Builder& b) {
         auto first = Request("SYNTH-F-12", {b.Referred()}, Expect::kNoStream);
         return Encode({first, Request("SYNTH-F-12", {b.Coordinator()}, Expect::kExact, 1), first});
       }},
      {"retry-spanning-two-batches",
       [](Builder& b) {
         v1::Event a = b.Referred(), c = b.Coordinator();
         return Encode({Request("SYNTH-F-13", {a}), Request("SYNTH-F-13", {c}),
                        Request("SYNTH-F-13", {a, c}, Expect::kExact, 0)});
       }},
      {"refused-stale-exact-version",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-14", {b.Referred()}, Expect::kNoStream),
                        Request("SYNTH-F-14", {b.Coordinator()}, Expect::kExact, 0),
                        Request("SYNTH-F-14", {b.Coordinator()}, Expect::kExact, 7)});
       }},
      {"refused-no-stream-on-existing-case",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-15", {b.Referred()}, Expect::kNoStream),
                        Request("SYNTH-F-15", {b.Referred()}, Expect::kNoStream)});
       }},
      {"refused-mixed-recorded-and-new",
       [](Builder& b) {
         v1::Event a = b.Referred();
         return Encode({Request("SYNTH-F-16", {a}), Request("SYNTH-F-16", {a, b.Coordinator()})});
       }},
      {"refused-same-id-different-content",
       [](Builder& b) {
         v1::Event a = b.Referred();
         v1::Event changed = a;
         changed.mutable_case_referred()->set_municipality_code("GM0599");
         return Encode({Request("SYNTH-F-17", {a}), Request("SYNTH-F-17", {changed})});
       }},
      {"refused-id-recorded-in-another-case",
       [](Builder& b) {
         v1::Event a = b.Referred();
         return Encode({Request("SYNTH-F-18a", {a}), Request("SYNTH-F-18b", {a})});
       }},
      // Malformed envelopes.
      {"invalid-case-ids",
       [](Builder& b) {
         return Encode({Request("", {b.Referred()}), Request("-leading-dash", {b.Referred()}),
                        Request("has space", {b.Referred()}), Request(std::string(65, 'x'), {b.Referred()}),
                        Request("SYNTH/F", {b.Referred()})});
       }},
      {"invalid-event-ids",
       [](Builder& b) {
         auto with_id = [&](const std::string& id) {
           v1::Event e = b.Referred();
           e.set_event_id(id);
           return e;
         };
         return Encode({Request("SYNTH-F-20", {with_id("")}),
                        Request("SYNTH-F-20", {with_id("6F9619FF-8B86-D011-B42D-00C04FC964FF")}),
                        Request("SYNTH-F-20", {with_id("6f9619ff8b86d011b42d00c04fc964ff")}),
                        Request("SYNTH-F-20", {with_id("6f9619ff-8b86-d011-b42d-00c04fc964f")}),
                        Request("SYNTH-F-20", {with_id("6f9619ff-8b86-d011-b42d-00c04fc964fg")})});
       }},
      {"invalid-duplicate-id-in-batch",
       [](Builder& b) {
         v1::Event a = b.Referred();
         v1::Event c = b.Coordinator();
         c.set_event_id(a.event_id());
         return Encode({Request("SYNTH-F-21", {a, c})});
       }},
      {"invalid-empty-batch", [](Builder& b) { return Encode({Request("SYNTH-F-22", {}, Expect::kNoStream)}); }},
      {"invalid-missing-payload-and-time",
       [](Builder& b) {
         v1::Event no_payload = b.On(2023, 1, 10);
         v1::Event no_time = b.Referred();
         no_time.clear_occurred_at();
         return Encode({Request("SYNTH-F-23", {no_payload}), Request("SYNTH-F-23", {no_time})});
       }},
      {"invalid-times",
       [](Builder& b) {
         v1::Event early = b.Referred(1988, 12, 31);
         v1::Event future = b.Referred(2100, 1, 1);
         v1::Event nanos = b.Referred();
         nanos.mutable_occurred_at()->set_nanos(-1);
         v1::Event big_nanos = b.Referred();
         big_nanos.mutable_occurred_at()->set_nanos(1000000000);
         v1::Event extreme = b.Referred();
         extreme.mutable_occurred_at()->set_seconds(INT64_MAX);
         v1::Event negative = b.Referred();
         negative.mutable_occurred_at()->set_seconds(INT64_MIN);
         return Encode({Request("SYNTH-F-24", {early}), Request("SYNTH-F-24", {future}), Request("SYNTH-F-24", {nanos}),
                        Request("SYNTH-F-24", {big_nanos}), Request("SYNTH-F-24", {extreme}),
                        Request("SYNTH-F-24", {negative})});
       }},
      {"invalid-correlation-causation",
       [](Builder& b) {
         v1::Event bad_correlation = b.Referred();
         bad_correlation.set_correlation_id("not-a-uuid");
         v1::Event bad_causation = b.Referred();
         bad_causation.set_causation_id("6F9619FF-8B86-D011-B42D-00C04FC964FF");
         return Encode({Request("SYNTH-F-25", {bad_correlation}), Request("SYNTH-F-25", {bad_causation})});
       }},
      {"invalid-personal-data",
       [](Builder& b) {
         v1::Event personal = b.Referred();
         (*personal.mutable_personal()->mutable_fields())["name"] = "SYNTH Name";
         v1::Event erased = b.On(2023, 1, 10);
         erased.mutable_personal_data_erased()->set_key_id("SYNTH-K-1");
         return Encode({Request("SYNTH-F-26", {personal}), Request("SYNTH-F-26", {erased})});
       }},
      {"invalid-expected-version-flags",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-27", {b.Referred()}, Expect::kAnyFalse),
                        Request("SYNTH-F-27", {b.Referred()}, Expect::kNoStreamFalse)});
       }},
      {"oversize-event-count",
       [](Builder& b) {
         std::vector<v1::Event> events;
         for (int i = 0; i < 33; ++i) events.push_back(b.On(2023, 1, 10, i % 60));
         for (auto& e : events) e.mutable_case_closed();
         return Encode({Request("SYNTH-F-28", events)});
       }},
      {"oversize-bytes",
       [](Builder& b) {
         v1::Event big = b.Referred();
         big.mutable_case_referred()->set_municipality_code(std::string(4200, 'G'));
         return Encode({Request("SYNTH-F-29", {big})});
       }},
      // Payloads the upcoming case rules refuse; today they are stored.
      {"rules-unknown-and-unspecified-enums",
       [](Builder& b) {
         v1::Event referred = b.Referred();
         referred.mutable_case_referred()->set_domain(static_cast<v1::Domain>(999));
         referred.mutable_case_referred()->set_legal_framework(v1::LEGAL_FRAMEWORK_UNSPECIFIED);
         v1::Event invited = b.Invited("SYNTH-P-1", static_cast<v1::Relation>(-5));
         v1::Event closed = b.Closed();
         closed.mutable_case_closed()->set_end_reason(v1::END_REASON_UNSPECIFIED);
         return Encode({Request("SYNTH-F-30", {referred, invited, closed}, Expect::kNoStream)});
       }},
      {"rules-events-before-referral",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-31", {b.Coordinator()}, Expect::kNoStream),
                        Request("SYNTH-F-31", {b.Referred()}, Expect::kExact, 1),
                        Request("SYNTH-F-31", {b.Referred()}, Expect::kExact, 2)});
       }},
      {"rules-conference-without-coordinator-uninvited-attendee",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-32", {b.Referred(), b.Conference({"SYNTH-P-404", "bad id"})})});
       }},
      {"rules-events-after-close-and-retracting-unknown",
       [](Builder& b) {
         return Encode({Request("SYNTH-F-33", {b.Referred(), b.Closed()}, Expect::kNoStream),
                        Request("SYNTH-F-33", {b.Coordinator(), b.Retracted(b.Uuid())}, Expect::kExact, 2),
                        Request("SYNTH-F-33", {b.Retracted("not-a-uuid")})});
       }},
      // Decoding.
      {"decode-unknown-fields",
       [](Builder& b) {
         v1::Event e = b.Referred();
         e.GetReflection()->MutableUnknownFields(&e)->AddVarint(127, 42);
         v1::AppendRequest r = Request("SYNTH-F-34", {e});
         r.set_request_id(77);
         r.GetReflection()->MutableUnknownFields(&r)->AddLengthDelimited(100, "xyz");
         return Encode({r});
       }},
      {"decode-truncated-and-garbage-frames",
       [](Builder& b) {
         std::string good = Encode({Request("SYNTH-F-35", {b.Referred()})});
         std::string bad_frame = "\x0a\x05\xff\xff\xff\xff\xff";  // a frame that is not an AppendRequest
         std::string truncated = good.substr(0, good.size() / 2);
         return good + bad_frame + good + truncated;
       }},
  };
}

}  // namespace
}  // namespace kring::fuzz

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: %s <output folder>\n", argv[0]);
    return 2;
  }
  const std::vector<kring::fuzz::Seed> seeds = kring::fuzz::AllSeeds();
  for (size_t i = 0; i < seeds.size(); ++i) {
    kring::fuzz::Builder builder(1000 + i);
    const std::string bytes = seeds[i].make(builder);
    const std::string path = std::string(argv[1]) + "/" + seeds[i].name;
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    if (!out) {
      fprintf(stderr, "cannot write %s\n", path.c_str());
      return 1;
    }
  }
  printf("wrote %zu seeds to %s\n", seeds.size(), argv[1]);
  return 0;
}
