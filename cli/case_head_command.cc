#include "cli/case_head_command.h"

#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>

#include <iostream>

#include "absl/strings/str_format.h"
#include "kring/v1/ingest.grpc.pb.h"

namespace kring::client {

std::string FormatCaseHead(const v1::CaseHead& head) {
  std::string out;
  auto row = [&out](const char* name, const std::string& value) { out += absl::StrFormat("%-22s %s\n", name, value); };
  row("case_id", head.case_id());
  row("exists", head.exists() ? "true" : "false");
  row("version", std::to_string(head.version()));
  row("last_event_id", head.last_event_id());
  row("last_global_position", std::to_string(head.last_global_position()));
  row("closed", head.closed() ? "true" : "false");
  return out;
}

std::string CaseHeadJson(const v1::CaseHead& head) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  options.always_print_primitive_fields = true;
  std::string text;
  (void)google::protobuf::util::MessageToJsonString(head, &text, options);
  return text;
}

int RunCaseHead(const ConnectOptions& connect, const std::string& case_id, bool json) {
  if (connect.purpose.empty()) {
    std::cerr << "kringctl case-head: --purpose: required (the read is recorded in the access log with why it was "
                 "made, e.g. \"resume after ABORTED\"); or set KRING_PURPOSE\n";
    return kExitUsage;
  }
  auto channel = Connect(connect);
  if (!channel.ok()) return ConnectFailed("case-head", channel.status());
  if (!(*channel)->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::cerr << "kringctl case-head: cannot reach " << connect.server << "\n";
    return kExitUnreachable;
  }
  v1::ReadCaseHeadRequest request;
  request.set_case_id(case_id);
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  v1::CaseHead head;
  const grpc::Status result = v1::IngestService::NewStub(*channel)->ReadCaseHead(&context, request, &head);
  if (!result.ok()) {
    std::cerr << "kringctl case-head: " << ErrorText(result) << "\n";
    return ExitFor(result);
  }
  std::cout << (json ? CaseHeadJson(head) + "\n" : FormatCaseHead(head));
  return kExitOk;
}

}  // namespace kring::client
