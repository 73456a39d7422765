#include "cli/append_file.h"

#include <google/protobuf/struct.pb.h>
#include <google/protobuf/util/json_util.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <map>
#include <mutex>
#include <thread>
#include <unordered_map>
#include <unordered_set>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "google/rpc/error_details.pb.h"
#include "kring/v1/ingest.grpc.pb.h"

namespace kring::client {
namespace {

bool IsBlankOrComment(const std::string& line) {
  const size_t first = line.find_first_not_of(" \t\r");
  return first == std::string::npos || line[first] == '#';
}

// The parser's reason: its first line (the next ones quote the input with a
// caret under the position).
std::string Reason(const std::string& text) {
  std::string reason = text.substr(0, text.find('\n'));
  while (!reason.empty() && reason.back() == ' ') reason.pop_back();
  return reason.empty() ? "not a CaseEvent in JSON" : reason;
}

std::string CodeName(int code) { return absl::StatusCodeToString(static_cast<absl::StatusCode>(code)); }

// The case_id of a line that is JSON but not a valid CaseEvent, if it names one.
bool ReadCaseId(const std::string& line, std::string* case_id) {
  google::protobuf::Struct object;
  if (!google::protobuf::util::JsonStringToMessage(line, &object).ok()) return false;
  for (const char* key : {"case_id", "caseId"}) {
    auto it = object.fields().find(key);
    if (it != object.fields().end() && it->second.kind_case() == google::protobuf::Value::kStringValue) {
      *case_id = it->second.string_value();
      return true;
    }
  }
  return false;
}

}  // namespace

std::string FormatLineError(const std::string& file, const LineError& error) {
  std::string out = absl::StrCat(file, ":", error.line, ": ", error.code, ": ", error.message);
  if (error.lines > 1) {
    absl::StrAppend(&out, " (", error.lines, " lines, ", error.line, "-", error.last_line, ")");
  }
  return out;
}

LineError LocateServerError(int code, const std::string& message, const std::vector<uint64_t>& lines) {
  LineError error;
  error.code = CodeName(code);
  if (absl::StartsWith(message, "events[")) {
    const size_t close = message.find(']');
    size_t index = 0;
    if (close != std::string::npos && close > 7 &&
        absl::SimpleAtoi(absl::string_view(message).substr(7, close - 7), &index) && index < lines.size()) {
      error.line = error.last_line = lines[index];
      error.lines = 1;
      error.message = absl::StrCat("event", message.substr(close + 1));
      return error;
    }
  }
  error.line = lines.empty() ? 0 : lines.front();
  error.last_line = lines.empty() ? 0 : lines.back();
  error.lines = lines.size();
  error.message = message;
  return error;
}

std::vector<LineError> LocateServerErrors(int code, const std::string& message,
                                          const google::protobuf::RepeatedPtrField<google::protobuf::Any>& details,
                                          const std::vector<uint64_t>& lines) {
  std::vector<LineError> errors;
  std::string info;  // the ErrorInfos, as " [REASON key=value ...]"
  for (const google::protobuf::Any& any : details) {
    if (google::rpc::BadRequest bad; any.UnpackTo(&bad)) {
      for (const auto& v : bad.field_violations()) {
        errors.push_back(LocateServerError(code, absl::StrCat(v.field(), ": ", v.description()), lines));
      }
    } else if (google::rpc::PreconditionFailure failure; any.UnpackTo(&failure)) {
      for (const auto& v : failure.violations()) {
        errors.push_back(
            LocateServerError(code, absl::StrCat(v.subject(), ": ", v.description(), " (rule ", v.type(), ")"), lines));
      }
    } else if (google::rpc::ErrorInfo error_info; any.UnpackTo(&error_info)) {
      // Sorted by key: the same error always prints the same way.
      const std::map<std::string, std::string> metadata(error_info.metadata().begin(), error_info.metadata().end());
      absl::StrAppend(&info, " [", error_info.reason());
      for (const auto& [key, value] : metadata) absl::StrAppend(&info, " ", key, "=", value);
      absl::StrAppend(&info, "]");
    }
  }
  if (errors.empty() || !info.empty()) errors.push_back(LocateServerError(code, message + info, lines));
  return errors;
}

// ---------------------------------------------------------------------------
// BatchReader
// ---------------------------------------------------------------------------

absl::StatusOr<std::unique_ptr<BatchReader>> BatchReader::Open(const std::string& path,
                                                               const AppendFileOptions& options) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) return absl::NotFoundError(absl::StrCat(path, ": is a folder"));
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat(path, ": cannot open the file"));
  const uint64_t size = std::filesystem::file_size(path, ec);
  return std::unique_ptr<BatchReader>(new BatchReader(std::move(in), ec ? 0 : size, options));
}

BatchReader::BatchReader(std::ifstream in, uint64_t total_bytes, const AppendFileOptions& options)
    : in_(std::move(in)), options_(options), total_bytes_(total_bytes) {}

bool BatchReader::ReadLine(Line* line) {
  std::string text;
  while (std::getline(in_, text)) {
    ++lines_read_;
    bytes_read_ += text.size() + 1;
    if (IsBlankOrComment(text)) {
      ++skipped_;
      continue;
    }
    if (!text.empty() && text.back() == '\r') text.pop_back();
    *line = Line();
    line->number = lines_read_;
    v1::CaseEvent parsed;
    const auto status = google::protobuf::util::JsonStringToMessage(text, &parsed);
    if (status.ok()) {
      line->parsed = true;
      line->case_known = true;
      line->case_id = std::move(*parsed.mutable_case_id());
      line->event = std::move(*parsed.mutable_event());
      line->bytes = line->event.ByteSizeLong();
      if (line->bytes > options_.max_batch_bytes) {
        line->parsed = false;
        line->error_code = CodeName(static_cast<int>(absl::StatusCode::kResourceExhausted));
        line->error =
            absl::StrCat("event: ", line->bytes, " bytes serialized; a batch holds at most ", options_.max_batch_bytes);
      }
    } else {
      line->error_code = kUnparsable;
      line->error = Reason(std::string(status.message().data(), status.message().size()));
      line->bytes = text.size();
      line->case_known = ReadCaseId(text, &line->case_id);
    }
    // A line whose case cannot be read most likely continues the run before it.
    if (!line->case_known && have_last_case_) {
      line->case_known = true;
      line->case_id = last_case_;
    }
    if (line->case_known) {
      have_last_case_ = true;
      last_case_ = line->case_id;
    }
    return true;
  }
  return false;
}

bool BatchReader::Next(FileBatch* batch) {
  *batch = FileBatch();
  size_t bytes = 0;
  Line line;
  while (true) {
    if (have_carry_) {
      line = std::move(carry_);
      have_carry_ = false;
    } else if (!ReadLine(&line)) {
      break;
    }
    if (!batch->lines.empty() &&
        (line.case_known != batch->case_known || line.case_id != batch->request.case_id() ||
         batch->lines.size() + 1 > options_.max_batch_events || bytes + line.bytes > options_.max_batch_bytes)) {
      carry_ = std::move(line);
      have_carry_ = true;
      break;
    }
    if (batch->lines.empty()) {
      batch->case_known = line.case_known;
      batch->request.set_case_id(line.case_id);
    }
    batch->lines.push_back(line.number);
    bytes += line.bytes;
    if (line.parsed) {
      *batch->request.add_events() = std::move(line.event);
    } else {
      LineError error;
      error.line = error.last_line = line.number;
      error.code = line.error_code;
      error.message = line.error;
      batch->unparsable.push_back(std::move(error));
    }
  }
  return !batch->lines.empty();
}

// ---------------------------------------------------------------------------
// AppendFile
// ---------------------------------------------------------------------------

namespace {

// One run of AppendFile: the sending thread (the caller's) reads batches and
// writes them; a reader thread takes the acknowledgements.
class FileAppender {
 public:
  FileAppender(const AppendFileOptions& options, BatchReader* reader) : options_(options), reader_(reader) {}

  void Run(v1::IngestService::Stub& stub) {
    started_ = std::chrono::steady_clock::now();
    grpc::ClientContext context;
    auto stream = stub.AppendStream(&context);
    std::thread acks([&] { ReadAcks(stream.get()); });

    FileBatch batch;
    while (reader_->Next(&batch)) {
      if (!Dispatch(std::move(batch), stream.get())) break;
      MaybeReportProgress(false);
    }
    stream->WritesDone();
    acks.join();
    const grpc::Status finished = stream->Finish();
    std::lock_guard<std::mutex> lock(mu_);
    for (const auto& [id, sent] : in_flight_) result_.unacknowledged += sent.lines.size();
    if (!finished.ok()) {
      result_.status = absl::Status(static_cast<absl::StatusCode>(finished.error_code()),
                                    absl::StrCat("append stream failed: ", finished.error_message()));
    } else if (!in_flight_.empty()) {
      result_.status = absl::UnavailableError("append stream ended before every batch was acknowledged");
    }
  }

  AppendFileResult Finish() {
    MaybeReportProgress(true);
    std::lock_guard<std::mutex> lock(mu_);
    result_.lines_read = reader_->lines_read();
    result_.skipped = reader_->skipped();
    result_.seconds = Seconds();
    std::stable_sort(result_.errors.begin(), result_.errors.end(),
                     [](const LineError& a, const LineError& b) { return a.line < b.line; });
    return std::move(result_);
  }

 private:
  struct Sent {
    std::string case_id;
    std::vector<uint64_t> lines;
  };

  double Seconds() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count(); }

  // Sends the batch, or reports why it is held back. False once the stream is
  // broken.
  bool Dispatch(FileBatch batch, grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendAck>* stream) {
    const std::string& case_id = batch.request.case_id();
    if (!batch.unparsable.empty()) {
      const uint64_t first_bad = batch.unparsable.front().line;
      std::lock_guard<std::mutex> lock(mu_);
      result_.refused += batch.lines.size();
      result_.held_back += batch.lines.size() - batch.unparsable.size();
      if (batch.case_known) refused_cases_.emplace(case_id, first_bad);
      std::vector<uint64_t> others;  // the batch's lines that parsed
      for (uint64_t line : batch.lines) {
        if (std::none_of(batch.unparsable.begin(), batch.unparsable.end(),
                         [line](const LineError& e) { return e.line == line; })) {
          others.push_back(line);
        }
      }
      for (auto& e : batch.unparsable) Report(std::move(e));
      if (!others.empty()) {
        Report(HeldBack(others, absl::StrCat("not sent: line ", first_bad,
                                             " of the same batch is refused, and a batch is stored all or nothing")));
      }
      return true;
    }
    {
      std::unique_lock<std::mutex> lock(mu_);
      // One batch of a case at a time: a later batch of a case goes only once
      // the earlier one is stored, so the case keeps the file's order.
      cv_.wait(lock, [&] { return broken_ || (outstanding() < options_.window && !in_flight_cases_.count(case_id)); });
      if (broken_) return false;
      if (auto it = refused_cases_.find(case_id); it != refused_cases_.end()) {
        result_.refused += batch.lines.size();
        result_.held_back += batch.lines.size();
        Report(HeldBack(batch.lines, absl::StrCat("not sent: line ", it->second,
                                                  " of this case was refused, so its later lines are held back to "
                                                  "keep the case in order")));
        return true;
      }
      batch.request.set_request_id(next_request_id_);
      in_flight_.emplace(next_request_id_++, Sent{case_id, std::move(batch.lines)});
      in_flight_cases_.insert(case_id);
      ++result_.batches;
    }
    if (!stream->Write(batch.request)) {
      std::lock_guard<std::mutex> lock(mu_);
      broken_ = true;
      return false;
    }
    return true;
  }

  static LineError HeldBack(const std::vector<uint64_t>& lines, std::string message) {
    LineError e;
    e.line = lines.front();
    e.last_line = lines.back();
    e.lines = lines.size();
    e.code = kNotSent;
    e.message = std::move(message);
    return e;
  }

  void ReadAcks(grpc::ClientReaderWriter<v1::AppendRequest, v1::AppendAck>* stream) {
    v1::AppendAck ack;
    while (stream->Read(&ack)) {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = in_flight_.find(ack.request_id());
      if (it == in_flight_.end()) continue;  // not ours; cannot happen with a correct server
      Sent sent = std::move(it->second);
      in_flight_.erase(it);
      in_flight_cases_.erase(sent.case_id);
      const uint64_t n = sent.lines.size();
      events_acknowledged_ += n;
      if (ack.code() != 0) {
        result_.refused += n;
        refused_cases_.emplace(sent.case_id, sent.lines.front());
        for (LineError& e : LocateServerErrors(ack.code(), ack.message(), ack.details(), sent.lines)) {
          Report(std::move(e));
        }
      } else if (ack.result().already_recorded()) {
        result_.already_present += n;
      } else {
        result_.appended += n;
      }
      cv_.notify_all();
    }
    std::lock_guard<std::mutex> lock(mu_);
    broken_ = true;  // no more acknowledgements come
    cv_.notify_all();
  }

  // Under mu_.
  int outstanding() const { return static_cast<int>(in_flight_.size()); }

  // Under mu_.
  void Report(LineError error) {
    {
      std::lock_guard<std::mutex> lock(report_mu_);
      if (options_.on_error) options_.on_error(error);
    }
    if (result_.errors.size() < options_.max_errors_kept) result_.errors.push_back(std::move(error));
  }

  void MaybeReportProgress(bool final) {
    if (!options_.on_progress) return;
    const auto now = std::chrono::steady_clock::now();
    if (!final && now - last_progress_ < absl::ToChronoNanoseconds(options_.progress_interval)) return;
    last_progress_ = now;
    AppendFileProgress p;
    p.bytes_read = reader_->bytes_read();
    p.total_bytes = reader_->total_bytes();
    p.lines_read = reader_->lines_read();
    p.seconds = Seconds();
    {
      std::lock_guard<std::mutex> lock(mu_);
      p.events_acknowledged = events_acknowledged_;
    }
    std::lock_guard<std::mutex> lock(report_mu_);
    options_.on_progress(p);
  }

  const AppendFileOptions& options_;
  BatchReader* const reader_;
  std::chrono::steady_clock::time_point started_, last_progress_;

  std::mutex report_mu_;  // serializes the callbacks; taken after mu_, never before
  std::mutex mu_;
  std::condition_variable cv_;
  AppendFileResult result_;
  uint64_t next_request_id_ = 0;
  uint64_t events_acknowledged_ = 0;
  std::unordered_map<uint64_t, Sent> in_flight_;  // by request id
  std::unordered_set<std::string> in_flight_cases_;
  std::unordered_map<std::string, uint64_t> refused_cases_;  // case -> first refused line
  bool broken_ = false;                                      // no more acknowledgements will come
};

}  // namespace

AppendFileResult AppendFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                            const AppendFileOptions& options) {
  AppendFileResult result;
  auto reader = BatchReader::Open(path, options);
  if (!reader.ok()) {
    result.status = reader.status();
    return result;
  }
  if (!channel->WaitForConnected(absl::ToChronoTime(absl::Now() + options.connect_timeout))) {
    result.status = absl::UnavailableError("cannot reach the server");
    return result;
  }
  auto stub = v1::IngestService::NewStub(channel);
  FileAppender appender(options, reader->get());
  appender.Run(*stub);
  return appender.Finish();
}

}  // namespace kring::client
