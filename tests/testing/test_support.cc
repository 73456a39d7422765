#include "tests/testing/test_support.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <stdexcept>

#include "absl/time/time.h"
#include "common/uuid.h"

namespace kring::testing {

TempDir::TempDir() {
  const char* base = getenv("TMPDIR");
  std::string tmpl = std::string(base && *base ? base : "/tmp") + "/kring-test-XXXXXX";
  if (mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
  path_ = tmpl;
}

TempDir::~TempDir() {
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
}

std::string NewUuid() {
  thread_local std::mt19937_64 rng(std::random_device{}());
  const uint64_t hi = rng(), lo = rng();
  std::string out;
  FormatUuidV4(hi, lo, &out);
  return out;
}

v1::Event EventOn(int year, int month, int day) {
  v1::Event e;
  e.set_event_id(NewUuid());
  const absl::Time t = absl::FromCivil(absl::CivilSecond(year, month, day, 12, 0, 0), absl::UTCTimeZone());
  e.mutable_occurred_at()->set_seconds(absl::ToUnixSeconds(t));
  return e;
}

v1::Event CaseReferredEvent(v1::Domain domain, const std::string& municipality, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  auto* p = e.mutable_case_referred();
  p->set_domain(domain);
  p->set_legal_framework(v1::LEGAL_FRAMEWORK_JEUGDWET);
  p->set_referrer_kind(v1::REFERRER_KIND_CERTIFIED_INSTITUTION);
  p->set_municipality_code(municipality);
  p->add_preferred_languages("nl");
  return e;
}

v1::Event CoordinatorAssignedEvent(const std::string& coordinator_id, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  auto* p = e.mutable_coordinator_assigned();
  p->set_coordinator_id(coordinator_id);
  p->add_languages("nl");
  p->set_language_preference_met(true);
  return e;
}

v1::Event ParticipantInvitedEvent(const std::string& participant_id, v1::Relation relation, bool central_person) {
  v1::Event e = EventOn(2023, 1, 20);
  auto* p = e.mutable_participant_invited();
  p->set_participant_id(participant_id);
  p->set_relation(relation);
  p->set_central_person(central_person);
  return e;
}

v1::Event ConferenceHeldEvent(const std::vector<std::string>& attendee_ids, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  auto* p = e.mutable_conference_held();
  for (const auto& id : attendee_ids) p->add_attendee_ids(id);
  p->set_private_family_time_held(true);
  return e;
}

eventstore::AppendBatch Batch(const std::string& case_id, std::vector<v1::Event> events,
                              eventstore::ExpectedVersion expected) {
  eventstore::AppendBatch b;
  b.case_id = CaseId(case_id);
  b.expected = expected;
  b.events = std::move(events);
  b.source = "test-partner";
  return b;
}

v1::Event CostRecordedEvent(int64_t amount_cents) {
  v1::Event e = EventOn(2023, 6, 1);
  auto* p = e.mutable_cost_recorded();
  p->set_kind(v1::COST_KIND_CONFERENCE);
  p->set_amount_cents(amount_cents);
  p->set_currency("EUR");
  return e;
}

std::vector<v1::Event> SomeEvents(size_t n) {
  std::vector<v1::Event> out;
  if (n > 0) out.push_back(CaseReferredEvent());
  while (out.size() < n) out.push_back(CostRecordedEvent());
  return out;
}

std::vector<v1::Event> MoreEvents(size_t n) {
  std::vector<v1::Event> out;
  while (out.size() < n) out.push_back(CostRecordedEvent());
  return out;
}

v1::Event PlanAdoptedEvent(const std::vector<std::pair<std::string, v1::ActionOwnerKind>>& owners, int year, int month,
                           int day) {
  v1::Event e = EventOn(year, month, day);
  auto* p = e.mutable_plan_adopted();
  for (size_t i = 0; i < owners.size(); ++i) {
    v1::PlanAction* a = p->add_actions();
    a->set_action_id("a" + std::to_string(i + 1));
    a->set_owner_id(owners[i].first);
    a->set_owner_kind(owners[i].second);
    a->set_category_code("support");
  }
  return e;
}

v1::Event PlanDecidedEvent(v1::PlanDecision decision, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  e.mutable_plan_decided()->set_decision(decision);
  return e;
}

v1::Event PlanRightOfferedEvent(v1::LegalFramework framework, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  e.mutable_plan_right_offered()->set_legal_framework(framework);
  return e;
}

v1::Event PreparationStoppedEvent(v1::PreparationStopReason reason, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  e.mutable_preparation_stopped()->set_reason(reason);
  return e;
}

v1::Event FollowUpRecordedEvent(const std::vector<std::string>& active_supporter_ids, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  auto* p = e.mutable_follow_up_recorded();
  for (const auto& id : active_supporter_ids) p->add_active_supporter_ids(id);
  p->set_plan_execution(v1::PLAN_EXECUTION_MOSTLY);
  p->set_reported_by(v1::REPORTER_COORDINATOR);
  return e;
}

v1::Event OutcomeRecordedEvent(v1::OutcomeType outcome, uint32_t children_affected, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  e.mutable_outcome_recorded()->set_outcome(outcome);
  e.mutable_outcome_recorded()->set_children_affected(children_affected);
  return e;
}

v1::Event RetractionOf(const v1::Event& target, int year, int month, int day) {
  v1::Event e = EventOn(year, month, day);
  e.mutable_event_retracted()->set_retracted_event_id(target.event_id());
  e.mutable_event_retracted()->set_reason("entered in the wrong case");
  return e;
}

}  // namespace kring::testing

#include <grpcpp/generic/generic_stub.h>
#include <librdkafka/rdkafkacpp.h>

#include <thread>

namespace kring::testing {

std::string ServerReflectionCall(const std::shared_ptr<grpc::Channel>& channel, const std::string& request_text) {
  grpc::GenericStub generic(channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
  grpc::CompletionQueue cq;
  auto call = generic.PrepareCall(&context, "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo", &cq);
  auto step = [&](auto&& op) {
    op();
    void* tag;
    bool ok = false;
    cq.Next(&tag, &ok);
    return ok;
  };
  grpc::Slice request_bytes(request_text);
  grpc::ByteBuffer request(&request_bytes, 1), response;
  grpc::Status status;
  std::string bytes;
  if (step([&] { call->StartCall(nullptr); }) && step([&] { call->Write(request, nullptr); }) &&
      step([&] { call->WritesDone(nullptr); }) && step([&] { call->Read(&response, nullptr); })) {
    std::vector<grpc::Slice> slices;
    (void)response.Dump(&slices);
    for (const auto& sl : slices) bytes.append(reinterpret_cast<const char*>(sl.begin()), sl.size());
  }
  step([&] { call->Finish(&status, nullptr); });
  cq.Shutdown();
  return bytes;
}

std::shared_ptr<grpc::Channel> NewChannel(const std::string& address) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(-1);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

std::string ClusterId(const std::string& bootstrap) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  std::unique_ptr<RdKafka::Producer> producer(RdKafka::Producer::create(conf.get(), err));
  return producer ? producer->clusterid(10000) : "";
}

std::map<int32_t, std::pair<int64_t, int64_t>> TopicOffsets(const std::string& bootstrap, const std::string& topic) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  std::unique_ptr<RdKafka::Producer> client(RdKafka::Producer::create(conf.get(), err));
  std::map<int32_t, std::pair<int64_t, int64_t>> out;
  if (!client) return out;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(client.get(), topic, nullptr, err));
  RdKafka::Metadata* md = nullptr;
  if (client->metadata(false, t.get(), &md, 10000) != RdKafka::ERR_NO_ERROR) return out;
  std::unique_ptr<RdKafka::Metadata> owned(md);
  for (const auto* tm : *md->topics()) {
    for (const auto* pm : *tm->partitions()) {
      int64_t low = 0, high = 0;
      if (client->query_watermark_offsets(topic, pm->id(), &low, &high, 10000) != RdKafka::ERR_NO_ERROR) return {};
      out[pm->id()] = {low, high};
    }
  }
  return out;
}

bool ConsumedToTheEnd(const std::string& bootstrap, const std::string& topic,
                      const std::function<std::optional<int64_t>(const std::string&, int32_t)>& next_offset) {
  const std::string cluster_id = ClusterId(bootstrap);
  const auto ends = TopicOffsets(bootstrap, topic);
  if (cluster_id.empty() || ends.empty()) return false;
  for (const auto& [partition, range] : ends) {
    if (next_offset(cluster_id, partition).value_or(range.first) != range.second) return false;
  }
  return true;
}

namespace {

// Field `field` (numbered as in proc(5): 3 is the state) of /proc/self/task/*/stat
// of every thread of this process, by thread name.
std::map<std::string, std::multiset<int>> ThreadStatField(int field) {
  std::map<std::string, std::multiset<int>> values;
  for (const auto& task : std::filesystem::directory_iterator("/proc/self/task")) {
    std::string name, stat;
    std::getline(std::ifstream(task.path() / "comm"), name);
    std::getline(std::ifstream(task.path() / "stat"), stat);
    // After "(comm) " comes field 3.
    std::istringstream fields(stat.substr(stat.rfind(')') + 2));
    std::string value;
    for (int i = 3; i <= field && fields >> value; ++i) {
    }
    values[name].insert(std::stoi(value));
  }
  return values;
}

}  // namespace

std::map<std::string, std::multiset<int>> ThreadNiceness() { return ThreadStatField(19); }

std::map<std::string, std::multiset<int>> ThreadPolicies() { return ThreadStatField(41); }

bool WaitFor(const std::function<bool()>& done, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!done()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<ConsumedEvent> ConsumeTopic(const std::string& bootstrap, const std::string& topic, size_t expected,
                                        std::chrono::milliseconds timeout, std::chrono::milliseconds settle) {
  std::string err;
  std::unique_ptr<RdKafka::Conf> conf(RdKafka::Conf::create(RdKafka::Conf::CONF_GLOBAL));
  conf->set("bootstrap.servers", bootstrap, err);
  conf->set("group.id", "kring-test-reader-" + NewUuid(), err);
  conf->set("enable.auto.commit", "false", err);
  conf->set("auto.offset.reset", "earliest", err);
  std::unique_ptr<RdKafka::KafkaConsumer> consumer(RdKafka::KafkaConsumer::create(conf.get(), err));
  if (!consumer) throw std::runtime_error("consumer: " + err);
  RdKafka::Metadata* md = nullptr;
  std::unique_ptr<RdKafka::Topic> t(RdKafka::Topic::create(consumer.get(), topic, nullptr, err));
  std::vector<RdKafka::TopicPartition*> parts;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (parts.empty() && std::chrono::steady_clock::now() < deadline) {
    if (consumer->metadata(false, t.get(), &md, 5000) == RdKafka::ERR_NO_ERROR) {
      for (const auto* tm : *md->topics()) {
        for (const auto* pm : *tm->partitions()) {
          parts.push_back(RdKafka::TopicPartition::create(topic, pm->id(), RdKafka::Topic::OFFSET_BEGINNING));
        }
      }
    }
    delete md;
    md = nullptr;
  }
  consumer->assign(parts);
  RdKafka::TopicPartition::destroy(parts);

  std::vector<ConsumedEvent> out;
  auto last_message = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() < deadline) {
    if (out.size() >= expected && std::chrono::steady_clock::now() - last_message >= settle) break;
    std::unique_ptr<RdKafka::Message> m(consumer->consume(100));
    if (m->err() != RdKafka::ERR_NO_ERROR) continue;
    last_message = std::chrono::steady_clock::now();
    ConsumedEvent c;
    c.partition = m->partition();
    c.offset = m->offset();
    if (m->key()) c.key = *m->key();
    if (RdKafka::Headers* h = m->headers()) {
      for (const auto& header : h->get_all()) {
        c.headers[header.key()] = std::string(static_cast<const char*>(header.value()), header.value_size());
      }
    }
    c.event.ParseFromArray(m->payload(), static_cast<int>(m->len()));
    out.push_back(std::move(c));
  }
  consumer->close();
  return out;
}

absl::StatusOr<std::unique_ptr<eventstore::EventStore>> OpenUnsyncedStore(const std::string& path) {
  eventstore::EventStoreOptions options;
  options.path = path;
  options.sync = false;
  return eventstore::EventStore::Open(options);
}

std::vector<std::string> FilesContaining(const std::string& dir, const std::string& needle) {
  std::vector<std::string> hits;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (bytes.find(needle) != std::string::npos) hits.push_back(entry.path().filename().string());
  }
  return hits;
}

}  // namespace kring::testing
