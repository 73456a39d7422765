#include "cli/audit_commands.h"

#include <google/protobuf/descriptor.h>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <unordered_map>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/time/clock.h"
#include "absl/time/time.h"
#include "cli/console.h"
#include "cli/research_commands.h"
#include "common/time.h"
#include "eventstore/chain.h"
#include "kring/v1/audit.grpc.pb.h"

namespace kring::client {
namespace {

using Json = nlohmann::ordered_json;

int Fail(const char* command, const grpc::Status& s) {
  std::cerr << "kringctl " << command << ": " << ErrorText(s) << "\n";
  return ExitFor(s);
}

// ---------------------------------------------------------------------------
// Formatting
// ---------------------------------------------------------------------------

std::string Rfc3339(const google::protobuf::Timestamp& t) {
  return absl::FormatTime("%Y-%m-%d%ET%H:%M:%E*SZ", FromTimestamp(t), absl::UTCTimeZone());  // like protobuf JSON
}

std::string Format(const google::protobuf::Timestamp& t, const char* format) {
  return absl::FormatTime(format, FromTimestamp(t), absl::UTCTimeZone());
}

// "2024-03-01T10:00:00Z" (RFC 3339, any offset), or a date "2024-03-01",
// meaning the end of that day in UTC: everything recorded on it is included.
std::optional<google::protobuf::Timestamp> ParseKnownAt(const std::string& text, std::string* err) {
  absl::Time t;
  if (!absl::ParseTime(absl::RFC3339_full, text, &t, err)) {
    absl::CivilDay day;
    if (!absl::ParseCivilTime(text, &day)) return std::nullopt;
    t = absl::FromCivil(day + 1, absl::UTCTimeZone()) - absl::Nanoseconds(1);
  }
  return ToTimestamp(t);
}

const google::protobuf::Message* Payload(const v1::Event& event) {
  const auto* oneof = v1::Event::descriptor()->FindOneofByName("payload");
  const auto* field = v1::Event::GetReflection()->GetOneofFieldDescriptor(event, oneof);
  return field ? &v1::Event::GetReflection()->GetMessage(event, field) : nullptr;
}

std::string EventType(const v1::Event& event) {
  const auto* payload = Payload(event);
  return payload ? payload->GetDescriptor()->name() : "(no payload)";
}

// An enum value without its type's prefix: DOMAIN_HOUSING -> HOUSING.
std::string ShortEnumName(const google::protobuf::EnumValueDescriptor* value) {
  std::string prefix = value->type()->value(0)->name();  // e.g. DOMAIN_UNSPECIFIED
  prefix = prefix.substr(0, prefix.rfind("UNSPECIFIED"));
  const std::string& name = value->name();
  return name.rfind(prefix, 0) == 0 ? name.substr(prefix.size()) : name;
}

// The payload's fields without personal data or free text: enums, flags,
// numbers, codes (fields named *_code, currency), and of lists and ids only
// how many there are. `version_of` turns a retracted event id into its
// version where the case is at hand.
std::string Summary(const v1::Event& event,
                    const std::function<std::optional<uint64_t>(const std::string&)>& version_of) {
  if (event.has_case_access_granted()) {
    // An identity name from the server's identities file, not personal data.
    return absl::StrCat("partner=", event.case_access_granted().partner());
  }
  if (event.has_event_retracted()) {
    const std::string& id = event.event_retracted().retracted_event_id();
    if (auto v = version_of ? version_of(id) : std::nullopt; v) return absl::StrCat("retracts v", *v);
    return absl::StrCat("retracts event ", id.substr(0, 8));
  }
  const auto* payload = Payload(event);
  if (payload == nullptr) return "";
  const auto* reflection = payload->GetReflection();
  std::vector<std::string> parts;
  const auto* descriptor = payload->GetDescriptor();
  for (int i = 0; i < descriptor->field_count(); ++i) {
    const auto* f = descriptor->field(i);
    const std::string& name = f->name();
    if (f->is_repeated()) {
      const int n = reflection->FieldSize(*payload, f);
      if (n > 0) parts.push_back(absl::StrCat(name, ":", n));
      continue;
    }
    if (!reflection->HasField(*payload, f) && f->has_presence()) continue;
    using FD = google::protobuf::FieldDescriptor;
    switch (f->cpp_type()) {
      case FD::CPPTYPE_ENUM:
        if (reflection->GetEnumValue(*payload, f) != 0) {
          parts.push_back(absl::StrCat(name, "=", ShortEnumName(reflection->GetEnum(*payload, f))));
        }
        break;
      case FD::CPPTYPE_BOOL:
        if (reflection->GetBool(*payload, f)) parts.push_back(name);
        break;
      case FD::CPPTYPE_INT64:
        if (name == "amount_cents") {
          const int64_t cents = reflection->GetInt64(*payload, f);
          char buf[32];
          std::snprintf(buf, sizeof(buf), "%s%lld.%02lld", cents < 0 ? "-" : "",
                        static_cast<long long>(std::llabs(cents) / 100),
                        static_cast<long long>(std::llabs(cents) % 100));
          parts.push_back(absl::StrCat("amount=", buf));
        } else if (int64_t v = reflection->GetInt64(*payload, f); v != 0) {
          parts.push_back(absl::StrCat(name, "=", v));
        }
        break;
      case FD::CPPTYPE_UINT32:
        if (uint32_t v = reflection->GetUInt32(*payload, f); v != 0) parts.push_back(absl::StrCat(name, "=", v));
        break;
      case FD::CPPTYPE_STRING: {
        const bool code = name == "currency" || (name.size() > 5 && name.compare(name.size() - 5, 5, "_code") == 0);
        const std::string value = reflection->GetString(*payload, f);
        if (code && !value.empty()) parts.push_back(absl::StrCat(name, "=", value));
        break;
      }
      default:
        break;
    }
  }
  return absl::StrJoin(parts, " ");
}

std::string ShortHash(const std::string& hash) { return hash.empty() ? "-" : eventstore::ToHex(hash).substr(0, 12); }

// The table's word for an event's personal part: "-" (none), "opened", "erased".
const char* PersonalCell(v1::PersonalDataState state) {
  switch (state) {
    case v1::PERSONAL_DATA_STATE_OPENED:
      return "opened";
    case v1::PERSONAL_DATA_STATE_ERASED:
      return "erased";
    default:
      return "-";
  }
}

// The same for JSON: "none", "opened", "erased".
const char* PersonalJson(v1::PersonalDataState state) {
  const char* cell = PersonalCell(state);
  return cell[0] == '-' ? "none" : cell;
}

// A role as in the identities file: ROLE_AUDITOR -> "auditor".
std::string RoleName(v1::Role role) {
  const auto* value = v1::Role_descriptor()->FindValueByNumber(role);
  if (value == nullptr) return absl::StrCat(static_cast<int>(role));
  return absl::AsciiStrToLower(ShortEnumName(value));
}

// One event as a line of an export: the fields in a fixed order, the event
// (and its sealed personal part, when it has one) in the protobuf JSON
// mapping (field names as in the .proto), hashes in hex.
Json EventJson(const v1::RecordedEvent& e) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  std::string event;
  (void)google::protobuf::util::MessageToJsonString(e.event(), &event, options);
  Json j;
  j["case_id"] = e.case_id();
  j["stream_version"] = e.stream_version();
  j["global_position"] = e.global_position();
  j["recorded_at"] = Rfc3339(e.recorded_at());
  j["source"] = e.source();
  j["event"] = Json::parse(event);
  if (e.has_sealed_personal()) {  // as stored: key id, then nonce and ciphertext in base64
    std::string sealed;
    (void)google::protobuf::util::MessageToJsonString(e.sealed_personal(), &sealed, options);
    j["sealed_personal"] = Json::parse(sealed);
  }
  j["prev_hash"] = eventstore::ToHex(e.prev_hash());
  j["case_prev_hash"] = eventstore::ToHex(e.case_prev_hash());
  j["hash"] = eventstore::ToHex(e.hash());
  return j;
}

}  // namespace

struct AuditCommands::Args {
  // Each command twice: `kringctl X` and `kringctl audit X`.
  std::vector<CLI::App*> show_cmds, tail_cmds, verify_cmds, export_cmds, access_log_cmds;

  // case show
  std::string case_id;
  std::string as_known_at;
  bool json = false;
  // tail
  uint64_t tail_from = 0;
  uint64_t tail_lines = 10;
  bool follow = false;
  uint32_t batch_size = 0;
  // verify
  uint64_t from = 0, to = 0;
  std::string verify_case;
  // export
  std::string export_case;
  std::string export_as_known_at;
  std::string output;
  bool progress = false;
  bool no_progress = false;
  // access-log
  std::string log_case;
  uint64_t log_from = 0;
  uint32_t log_limit = 0;
  std::string log_format = "table";

  void Register(CLI::App* parent);
};

namespace {

bool AnyParsed(const std::vector<CLI::App*>& commands) {
  return std::any_of(commands.begin(), commands.end(), [](const CLI::App* c) { return c->parsed(); });
}

}  // namespace

AuditCommands::AuditCommands(CLI::App& app, const ConnectOptions& connect)
    : connect_(connect), args_(std::make_unique<Args>()) {
  args_->Register(&app);
  CLI::App* audit = app.add_subcommand("audit", "the auditors' commands (each also without `audit`)");
  audit->require_subcommand(1);
  args_->Register(audit);
}

void AuditCommands::Args::Register(CLI::App* parent) {
  Args& a = *this;
  auto* case_cmd = parent->add_subcommand("case", "the history of one case (auditors)");
  case_cmd->require_subcommand(1);
  CLI::App* show_cmd =
      case_cmd->add_subcommand("show", "print a case's events in order, optionally as known at a time");
  show_cmd->add_option("case", a.case_id, "the case id")->required();
  show_cmd->add_option("--as-known-at", a.as_known_at,
                       "only what was recorded by then: RFC 3339 (2024-03-01T10:00:00Z) or a date (its end, UTC)");
  show_cmd->add_flag("--json", a.json, "print the case as one JSON object, with the opened personal data");

  CLI::App* tail_cmd =
      parent->add_subcommand("tail", "print the log's events, one line each; --follow waits for new ones");
  auto* tail_from = tail_cmd->add_option("--from", a.tail_from, "first position (default: the last --lines events)");
  tail_cmd->add_option("-n,--lines", a.tail_lines, "without --from: start this many events before the head")
      ->capture_default_str()
      ->excludes(tail_from);
  tail_cmd->add_flag("-f,--follow", a.follow, "keep running and print events as they are recorded (Ctrl-C ends)");
  tail_cmd->add_flag("--json", a.json, "NDJSON: one export line per event");

  CLI::App* verify_cmd = parent->add_subcommand("verify", "check the hash chain over a range of positions or one case");
  auto* vfrom = verify_cmd->add_option("--from", a.from, "first position (default: 1)");
  auto* vto = verify_cmd->add_option("--to", a.to, "last position (default: the head)");
  verify_cmd->add_option("--case", a.verify_case, "verify one case instead")->excludes(vfrom)->excludes(vto);
  verify_cmd->add_flag("--json", a.json, "print the result as one JSON object");

  CLI::App* export_cmd =
      parent->add_subcommand("export", "write a case or a range of the log as NDJSON, hashes in hex");
  auto* efrom = export_cmd->add_option("--from", a.from, "first position (default: 1)");
  auto* eto = export_cmd->add_option("--to", a.to, "last position (default: the head)");
  auto* ecase =
      export_cmd->add_option("--case", a.export_case, "export one case instead")->excludes(efrom)->excludes(eto);
  export_cmd->add_option("--as-known-at", a.export_as_known_at, "with --case: only what was recorded by then")
      ->needs(ecase);
  export_cmd->add_option("-o,--output", a.output, "the file to write (default: standard output)");
  auto* progress = export_cmd->add_flag("--progress", a.progress, "always draw the progress bar on stderr");
  export_cmd->add_flag("--no-progress", a.no_progress, "never draw the progress bar")->excludes(progress);

  CLI::App* access_log_cmd = parent->add_subcommand(
      "access-log", "who read which case, when and why (the server's access log; needs --purpose)");
  access_log_cmd->add_option("--case", a.log_case, "only the entries about this case");
  access_log_cmd->add_option("--from", a.log_from, "first sequence number (default: 1)");
  access_log_cmd->add_option("--limit", a.log_limit, "at most this many entries (default: the server's, 1000)")
      ->check(CLI::Range(0, 10000));
  access_log_cmd->add_option("--format", a.log_format, "table or json")
      ->check(CLI::IsMember({"table", "json"}))
      ->capture_default_str();

  a.show_cmds.push_back(show_cmd);
  a.tail_cmds.push_back(tail_cmd);
  a.verify_cmds.push_back(verify_cmd);
  a.export_cmds.push_back(export_cmd);
  a.access_log_cmds.push_back(access_log_cmd);
}

AuditCommands::~AuditCommands() = default;

bool AuditCommands::parsed() const {
  const Args& a = *args_;
  return AnyParsed(a.show_cmds) || AnyParsed(a.tail_cmds) || AnyParsed(a.verify_cmds) || AnyParsed(a.export_cmds) ||
         AnyParsed(a.access_log_cmds);
}

namespace {

// ---------------------------------------------------------------------------
// case show
// ---------------------------------------------------------------------------

int ReadCase(const ConnectOptions& connect, const char* command, const std::string& case_id,
             const std::string& as_known_at, v1::ReadCaseResponse* response) {
  v1::ReadCaseRequest request;
  request.set_case_id(case_id);
  if (!as_known_at.empty()) {
    std::string err;
    auto t = ParseKnownAt(as_known_at, &err);
    if (!t) {
      std::cerr << "kringctl " << command
                << ": --as-known-at: must be RFC 3339 (2024-03-01T10:00:00Z) or a date (2024-03-01)\n";
      return kExitUsage;
    }
    *request.mutable_as_known_at() = *t;
  }
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed(command, channel.status());
  auto stub = v1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  grpc::Status s = stub->ReadCase(&context, request, response);
  if (!s.ok()) return Fail(command, s);
  return 0;
}

int RunCaseShow(const ConnectOptions& connect, const std::string& case_id, const std::string& as_known_at, bool json) {
  v1::ReadCaseResponse response;
  if (int code = ReadCase(connect, "case show", case_id, as_known_at, &response); code != 0) return code;
  std::unordered_map<std::string, uint64_t> versions;
  for (const auto& a : response.events()) versions[a.event().event().event_id()] = a.event().stream_version();
  auto version_of = [&versions](const std::string& id) -> std::optional<uint64_t> {
    auto it = versions.find(id);
    return it == versions.end() ? std::nullopt : std::optional<uint64_t>(it->second);
  };
  if (json) {
    Json j;
    j["case_id"] = response.case_id();
    j["version"] = response.version();
    if (!as_known_at.empty()) {
      std::string err;
      j["as_known_at"] = Rfc3339(*ParseKnownAt(as_known_at, &err));
    }
    j["events"] = Json::array();
    for (const auto& a : response.events()) {
      Json e = EventJson(a.event());
      e["retracted"] = a.retracted();
      if (a.retracted()) e["retracted_by_event_id"] = a.retracted_by_event_id();
      e["personal_state"] = PersonalJson(a.personal_state());
      if (a.personal_state() == v1::PERSONAL_DATA_STATE_OPENED) {
        Json fields = Json::object();
        // Sorted by key, so that the output does not depend on the map's order.
        std::map<std::string, std::string> sorted(a.personal().fields().begin(), a.personal().fields().end());
        for (const auto& [key, value] : sorted) fields[key] = value;
        e["personal"] = std::move(fields);
      }
      j["events"].push_back(std::move(e));
    }
    std::cout << j.dump(2) << "\n";
    return 0;
  }
  std::string known = "everything recorded";
  if (!as_known_at.empty()) {
    std::string err;
    known = absl::StrCat("as known at ", Rfc3339(*ParseKnownAt(as_known_at, &err)));
  }
  std::printf("Case %s: version %llu (%s)\n", response.case_id().c_str(),
              static_cast<unsigned long long>(response.version()), known.c_str());
  if (response.events().empty()) {
    std::printf("The case was not known then: no events had been recorded.\n");
    return 0;
  }
  // The PERSONAL column ("-", "opened", "erased") only for a case with personal data.
  const bool personal = std::any_of(response.events().begin(), response.events().end(), [](const v1::AuditEvent& a) {
    return a.personal_state() != v1::PERSONAL_DATA_STATE_UNSPECIFIED;
  });
  std::printf("\n%4s %9s  %-19s  %-16s  %-24s %-10s %s%-12s  %s\n", "VER", "POSITION", "RECORDED_AT (UTC)",
              "OCCURRED_AT", "TYPE", "RETRACTED", personal ? "PERSONAL " : "", "HASH", "SUMMARY");
  for (const auto& a : response.events()) {
    const auto& e = a.event();
    std::string retracted = "";
    if (a.retracted()) {
      auto v = version_of(a.retracted_by_event_id());
      retracted = v ? absl::StrCat("by v", *v) : "yes";
    }
    char personal_cell[16] = "";
    if (personal) std::snprintf(personal_cell, sizeof(personal_cell), "%-8s ", PersonalCell(a.personal_state()));
    std::printf(
        "%4llu %9llu  %-19s  %-16s  %-24s %-10s %s%-12s  %s\n", static_cast<unsigned long long>(e.stream_version()),
        static_cast<unsigned long long>(e.global_position()), Format(e.recorded_at(), "%Y-%m-%d %H:%M:%S").c_str(),
        Format(e.event().occurred_at(), "%Y-%m-%d %H:%M").c_str(), EventType(e.event()).c_str(), retracted.c_str(),
        personal_cell, ShortHash(e.hash()).c_str(), Summary(e.event(), version_of).c_str());
  }
  return 0;
}

// ---------------------------------------------------------------------------
// tail and export: ReadAll
// ---------------------------------------------------------------------------

// Reads positions [from, to] (to 0: the head; with follow, no end) and calls
// `on_batch` for every message. Returns the call's status.
grpc::Status ReadAll(const std::shared_ptr<grpc::Channel>& channel, uint64_t from, uint64_t to, bool follow,
                     uint32_t batch_size, const std::function<void(const v1::ReadAllResponse&)>& on_batch) {
  auto stub = v1::AuditService::NewStub(channel);
  grpc::ClientContext context;
  v1::ReadAllRequest request;
  request.set_from_position(from);
  request.set_to_position(to);
  request.set_follow(follow);
  request.set_batch_size(batch_size);
  auto reader = stub->ReadAll(&context, request);
  v1::ReadAllResponse response;
  while (reader->Read(&response)) on_batch(response);
  return reader->Finish();
}

std::string TailLine(const v1::RecordedEvent& e) {
  char prefix[160];
  std::snprintf(prefix, sizeof(prefix), "%9llu  %s  %-24s v%-4llu %-24s ",
                static_cast<unsigned long long>(e.global_position()),
                Format(e.recorded_at(), "%Y-%m-%d %H:%M:%S").c_str(), e.case_id().c_str(),
                static_cast<unsigned long long>(e.stream_version()), EventType(e.event()).c_str());
  return absl::StrCat(prefix, Summary(e.event(), nullptr));
}

int RunTail(const ConnectOptions& connect, uint64_t from_option, uint64_t lines, bool follow, bool json) {
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed("tail", channel.status());
  const std::shared_ptr<grpc::Channel>& server = *channel;
  uint64_t from = from_option;
  if (from == 0) {
    // The head, from the first message of a one-event read.
    uint64_t head = 0;
    grpc::Status s =
        ReadAll(server, 1, 1, false, 1, [&head](const v1::ReadAllResponse& r) { head = r.head_position(); });
    if (!s.ok()) return Fail("tail", s);
    from = head >= lines ? head - lines + 1 : 1;
  }
  grpc::Status s = ReadAll(server, from, 0, follow, 0, [json](const v1::ReadAllResponse& r) {
    for (const auto& e : r.events()) {
      if (json) {
        std::cout << EventJson(e).dump() << "\n";
      } else {
        std::cout << TailLine(e) << "\n";
      }
    }
    std::cout.flush();
  });
  if (!s.ok()) return Fail("tail", s);
  return 0;
}

int RunExport(const ConnectOptions& connect, const AuditCommands::Args& a);
int RunAccessLog(const ConnectOptions& connect, const AuditCommands::Args& a);

// ---------------------------------------------------------------------------
// verify
// ---------------------------------------------------------------------------

int RunVerify(const ConnectOptions& connect, uint64_t from, uint64_t to, const std::string& case_id, bool json) {
  v1::VerifyChainRequest request;
  if (!case_id.empty()) {
    request.set_case_id(case_id);
  } else if (from != 0 || to != 0) {
    request.mutable_range()->set_from(from);
    request.mutable_range()->set_to(to);
  }
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed("verify", channel.status());
  auto stub = v1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  v1::VerifyChainResponse r;
  grpc::Status s = stub->VerifyChain(&context, request, &r);
  if (!s.ok()) return Fail("verify", s);
  if (json) {
    Json j;
    j["ok"] = r.ok();
    j["events_verified"] = r.events_verified();
    j["last_position"] = r.last_position();
    j["head_hash"] = eventstore::ToHex(r.head_hash());
    if (!r.ok()) {
      j["first_bad_position"] = r.first_bad_position();
      j["reason"] = r.reason();
    }
    std::cout << j.dump() << "\n";
  } else {
    const std::string scope = !case_id.empty() ? absl::StrCat("case ", case_id) : "the log";
    if (r.ok()) {
      std::printf("OK: the hash chain of %s verifies\n", scope.c_str());
    } else {
      std::printf("BROKEN: the hash chain of %s does not verify at position %llu: %s\n", scope.c_str(),
                  static_cast<unsigned long long>(r.first_bad_position()), r.reason().c_str());
    }
    std::printf("%-16s %llu\n", "events verified", static_cast<unsigned long long>(r.events_verified()));
    std::printf("%-16s %llu\n", "last position", static_cast<unsigned long long>(r.last_position()));
    std::printf("%-16s %s\n", "head hash", r.head_hash().empty() ? "-" : eventstore::ToHex(r.head_hash()).c_str());
  }
  return r.ok() ? 0 : kExitChainBroken;
}

}  // namespace

int AuditCommands::Run() {
  const Args& a = *args_;
  if (AnyParsed(a.show_cmds)) return RunCaseShow(connect_, a.case_id, a.as_known_at, a.json);
  if (AnyParsed(a.tail_cmds)) return RunTail(connect_, a.tail_from, a.tail_lines, a.follow, a.json);
  if (AnyParsed(a.verify_cmds)) return RunVerify(connect_, a.from, a.to, a.verify_case, a.json);
  if (AnyParsed(a.access_log_cmds)) return RunAccessLog(connect_, a);
  return RunExport(connect_, a);
}

namespace {

int RunExport(const ConnectOptions& connect, const AuditCommands::Args& a) {
  if (a.to != 0 && a.to < a.from) {
    std::cerr << "kringctl export: --to: must be at least --from\n";
    return kExitUsage;
  }
  std::ofstream file;
  std::ostream* out = &std::cout;
  const std::string part = a.output + ".part";
  if (!a.output.empty()) {
    file.open(part, std::ios::out | std::ios::trunc);
    if (!file) {
      std::cerr << "kringctl export: --output: cannot write " << part << "\n";
      return kExitUsage;
    }
    out = &file;
  }
  auto abandon = [&](int code) {
    if (!a.output.empty()) {
      file.close();
      std::error_code ec;
      std::filesystem::remove(part, ec);
    }
    return code;
  };
  uint64_t exported = 0, first = 0, last = 0;
  auto write = [&](const v1::RecordedEvent& e) {
    *out << EventJson(e).dump() << "\n";
    if (exported++ == 0) first = e.global_position();
    last = e.global_position();
  };

  if (!a.export_case.empty()) {
    v1::ReadCaseResponse response;
    if (int code = ReadCase(connect, "export", a.export_case, a.export_as_known_at, &response); code != 0) {
      return abandon(code);
    }
    for (const auto& ae : response.events()) write(ae.event());
  } else {
    const bool may_draw = !a.output.empty() && !a.no_progress && (a.progress || isatty(STDERR_FILENO));
    std::optional<ProgressLine> bar;
    const auto started = std::chrono::steady_clock::now();
    uint64_t total = 0;
    const uint64_t from = std::max<uint64_t>(1, a.from);
    auto channel = Connect(connect);
    if (!channel.ok()) return abandon(ConnectFailed("export", channel.status()));
    grpc::Status s = ReadAll(*channel, from, a.to, false, 0, [&](const v1::ReadAllResponse& r) {
      if (total == 0) {
        const uint64_t end = a.to == 0 ? r.head_position() : std::min(a.to, r.head_position());
        total = end >= from ? end - from + 1 : 0;
        // Only a large range is worth a bar (forced with --progress).
        if (may_draw && (a.progress || total >= 20000)) bar.emplace();
      }
      for (const auto& e : r.events()) write(e);
      if (bar) {
        const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
        const double rate = seconds > 0 ? exported / seconds : 0;
        bar->Draw(total ? double(exported) / total : 1.0, absl::StrCat(exported, "/", total, " events"), rate,
                  rate > 0 ? (total - exported) / rate : -1);
      }
    });
    if (bar) bar->Clear();
    if (!s.ok()) return abandon(Fail("export", s));
  }
  out->flush();
  if (!*out) {
    std::cerr << "kringctl export: cannot write " << (a.output.empty() ? "standard output" : part) << "\n";
    return abandon(kExitRefused);
  }
  if (!a.output.empty()) {
    file.close();
    std::error_code ec;
    std::filesystem::rename(part, a.output, ec);
    if (ec) {
      std::cerr << "kringctl export: --output: " << ec.message() << "\n";
      return abandon(kExitRefused);
    }
  }
  if (exported == 0) {
    std::cerr << "exported 0 events\n";
  } else {
    std::cerr << "exported " << exported << " events (positions " << first << ".." << last << ")"
              << (a.output.empty() ? "" : absl::StrCat(" to ", a.output)) << "\n";
  }
  return 0;
}

// ---------------------------------------------------------------------------
// access-log
// ---------------------------------------------------------------------------

Json AccessLogJson(const v1::AccessLogEntry& e) {
  Json j;
  j["sequence"] = e.sequence();
  j["at"] = Rfc3339(e.at());
  j["identity"] = e.identity();
  j["role"] = RoleName(e.role());
  j["rpc"] = e.rpc();
  j["case_id"] = e.case_id();
  j["scope"] = e.scope();
  j["purpose"] = e.purpose();
  j["prev_hash"] = eventstore::ToHex(e.prev_hash());
  j["hash"] = eventstore::ToHex(e.hash());
  return j;
}

int RunAccessLog(const ConnectOptions& connect, const AuditCommands::Args& a) {
  if (connect.purpose.empty()) {
    std::cerr << "kringctl access-log: --purpose: required (why the access log is read, e.g. \"audit 2024-Q3\"); "
                 "or set KRING_PURPOSE\n";
    return kExitUsage;
  }
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed("access-log", channel.status());
  auto stub = v1::AuditService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
  v1::ReadAccessLogRequest request;
  request.set_from_sequence(a.log_from);
  request.set_case_id(a.log_case);
  request.set_limit(a.log_limit);
  v1::ReadAccessLogResponse r;
  grpc::Status s = stub->ReadAccessLog(&context, request, &r);
  if (!s.ok()) return Fail("access-log", s);
  if (a.log_format == "json") {
    Json j;
    j["entries"] = Json::array();
    for (const auto& e : r.entries()) j["entries"].push_back(AccessLogJson(e));
    j["next_sequence"] = r.next_sequence();
    j["chain_ok"] = r.chain_ok();
    if (!r.chain_ok()) j["chain_reason"] = r.chain_reason();
    std::cout << j.dump(2) << "\n";
  } else if (r.entries().empty()) {
    std::printf("No access log entries%s from sequence %llu.\n",
                a.log_case.empty() ? "" : absl::StrCat(" about case ", a.log_case).c_str(),
                static_cast<unsigned long long>(std::max<uint64_t>(1, a.log_from)));
  } else {
    research::TextTable table({"SEQUENCE", "<AT (UTC)", "<IDENTITY", "<ROLE", "<RPC", "<CASE", "<SCOPE", "<PURPOSE"});
    for (const auto& e : r.entries()) {
      table.AddRow({absl::StrCat(e.sequence()), Format(e.at(), "%Y-%m-%d %H:%M:%S"), e.identity(), RoleName(e.role()),
                    e.rpc(), e.case_id().empty() ? "-" : e.case_id(), e.scope().empty() ? "-" : e.scope(),
                    e.purpose()});
    }
    std::cout << table.Render();
    std::printf("\n%d entries (sequences %llu..%llu); the next page starts at --from %llu\n", r.entries_size(),
                static_cast<unsigned long long>(r.entries(0).sequence()),
                static_cast<unsigned long long>(r.entries(r.entries_size() - 1).sequence()),
                static_cast<unsigned long long>(r.next_sequence()));
    if (r.chain_ok()) std::printf("OK: the access log's hash chain verifies\n");
  }
  if (!r.chain_ok()) {
    std::cout.flush();
    std::cerr << "WARNING: the access log's hash chain does not verify: " << r.chain_reason() << "\n";
    return kExitChainBroken;
  }
  return 0;
}

}  // namespace

}  // namespace kring::client
