#include "cli/status_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <cstdio>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "kring/v1/audit.grpc.pb.h"

namespace kring::client {

namespace {

std::string Size(uint64_t bytes) {
  if (bytes >= (uint64_t{1} << 30)) return absl::StrFormat("%.1f GiB", bytes / 1073741824.0);
  return absl::StrFormat("%.1f MiB", bytes / 1048576.0);
}

const char* YesNo(bool b) { return b ? "yes" : "no"; }

}  // namespace

std::string FormatStatus(const v1::GetStatusResponse& s) {
  std::string out;
  absl::StrAppend(&out, "kringd ", s.version(), " | roles ", absl::StrJoin(s.roles(), ","), "\n");
  absl::StrAppend(&out, "head position   ", s.head_position(), "\n");
  const v1::StoreStatus& store = s.store();
  absl::StrAppend(&out, "store           ", store.writable() ? "writable" : "NOT WRITABLE", " (", store.write_state(),
                  store.reason().empty() ? "" : ": " + store.reason(), ") | disk ", Size(store.disk_free_bytes()),
                  " free of ", Size(store.disk_total_bytes()), ", appends refused below ", Size(store.min_free_bytes()),
                  "\n");
  const v1::KafkaStatus& kafka = s.kafka();
  absl::StrAppend(&out, "kafka           ", kafka.bootstrap(), " topic ", kafka.topic(), " | ",
                  kafka.reachable() ? absl::StrCat("reachable, ", kafka.brokers(), " broker(s)")
                                    : absl::StrCat("UNREACHABLE: ", kafka.error()),
                  "\n");
  if (kafka.embedded()) {
    absl::StrAppend(&out, "                embedded cluster (in memory, newest ~5 MiB per partition)",
                    kafka.embedded_unauthenticated() ? "; PRODUCTION MODE: readable without credentials" : "", "\n");
    absl::StrAppend(&out, "                topic holds every event from position ", kafka.embedded_complete_from(),
                    kafka.embedded_complete_from() > 1 ? " (older events dropped by the embedded cluster)" : "", "\n");
  }
  absl::StrAppend(&out, "relay           published up to ", kafka.published_position(), " | lag ",
                  kafka.relay_lag_events(), " events, ", absl::StrFormat("%.0f", kafka.relay_lag_seconds()),
                  " s | producer ", kafka.producer_ok() ? "ok" : "FAILING", "\n");
  absl::StrAppend(&out, "\n",
                  absl::StrFormat("%-14s %12s %14s %10s %8s %8s %10s\n", "read model", "applied", "events applied",
                                  "lag events", "lag s", "serving", "rebuilding"));
  for (const v1::ReadModelStatus& m : s.read_models()) {
    absl::StrAppend(&out, absl::StrFormat("%-14s %12d %14d %10d %8.0f %8s %10s\n", m.name(), m.applied_position(),
                                          m.events_applied(), m.lag_events(), m.lag_seconds(), YesNo(m.serving()),
                                          YesNo(m.rebuilding())));
  }
  absl::StrAppend(&out, "\nhealth\n");
  for (const v1::HealthStatus& h : s.health()) {
    absl::StrAppend(
        &out, absl::StrFormat("  %-30s %-11s %s\n", h.service(), h.serving() ? "SERVING" : "NOT_SERVING", h.reason()));
  }
  return out;
}

int RunStatus(const ConnectOptions& connect, bool json) {
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed("status", channel.status());
  if (!(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "kringctl status: cannot reach " << connect.server << "\n";
    return kExitUnreachable;
  }
  auto stub = v1::OperationsService::NewStub(*channel);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::GetStatusResponse status;
  const grpc::Status result = stub->GetStatus(&context, v1::GetStatusRequest(), &status);
  if (!result.ok()) {
    std::cerr << "kringctl status: " << ErrorText(result) << "\n";
    return ExitFor(result);
  }
  if (json) {
    google::protobuf::util::JsonPrintOptions options;
    options.preserve_proto_field_names = true;
    options.always_print_primitive_fields = true;
    std::string text;
    (void)google::protobuf::util::MessageToJsonString(status, &text, options);
    std::cout << text << "\n";
  } else {
    std::cout << FormatStatus(status);
  }
  return 0;
}

}  // namespace kring::client
