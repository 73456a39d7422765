// Appends the events of an NDJSON file (one kring.v1.CaseEvent per line, in
// the protobuf JSON mapping) to a Kring server over AppendStream. Used by
// `kringctl append --file` and its tests.
//
// The file is cut into batches deterministically (BatchReader), so running
// the same file again sends the same batches, and the server answers each
// stored one as already recorded. Errors are reported per line of the file.
#pragma once

#include <grpcpp/channel.h>

#include <cstdint>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "kring/v1/ingest.pb.h"

namespace kring::client {

// Pseudo code names of errors found by the client (the server's are gRPC code
// names such as INVALID_ARGUMENT).
inline constexpr char kUnparsable[] = "UNPARSABLE";  // the line is not a CaseEvent in JSON
inline constexpr char kNotSent[] = "NOT_SENT";       // held back because of another line's error

// One error, located in the file.
struct LineError {
  uint64_t line = 0;       // 1-based line of the event the error is about, or the batch's first line
  uint64_t last_line = 0;  // last line covered (== line when it is about one line)
  uint64_t lines = 1;      // events (lines) the error covers: 1, or every line of a refused batch
  std::string code;        // gRPC code name from the server, or kUnparsable / kNotSent
  // The reason. A server message's "events[i]" prefix is replaced by "event",
  // the path within the line (a CaseEvent).
  std::string message;
};

// "FILE:LINE: CODE: message" (and the lines covered, for a batch).
std::string FormatLineError(const std::string& file, const LineError& error);

struct AppendFileProgress {
  uint64_t bytes_read = 0;
  uint64_t total_bytes = 0;
  uint64_t lines_read = 0;
  uint64_t events_acknowledged = 0;  // appended + already present + refused by the server
  double seconds = 0;
};

struct AppendFileOptions {
  // Most events in one batch. Default: 500 (the server takes 1000 by default).
  size_t max_batch_events = 500;
  // Most serialized bytes of the events of one batch. A single event larger
  // than this is refused locally (RESOURCE_EXHAUSTED). Default: 3 MiB (the
  // server takes 4 MiB by default, and gRPC refuses messages over 5 MiB).
  size_t max_batch_bytes = 3 << 20;
  // Unacknowledged batches on the stream. Default: 32 (the server reads at
  // most 64 ahead).
  int window = 32;
  // How long to wait for the server to be reachable. Default: 10 s.
  absl::Duration connect_timeout = absl::Seconds(10);
  // Most errors kept in AppendFileResult::errors; every one is still passed to
  // on_error and counted. Default: 10000.
  size_t max_errors_kept = 10000;
  // Called for each error as it is found, from the sending or the receiving
  // thread, never two callbacks at once. Default: none.
  std::function<void(const LineError&)> on_error;
  // Called with the progress at most every progress_interval, and once at the
  // end, serialized with on_error. Default: none, every 200 ms.
  std::function<void(const AppendFileProgress&)> on_progress;
  absl::Duration progress_interval = absl::Milliseconds(200);
};

struct AppendFileResult {
  uint64_t lines_read = 0;       // every line, blank and comment lines included
  uint64_t skipped = 0;          // blank lines and lines starting with '#'
  uint64_t appended = 0;         // events newly recorded
  uint64_t already_present = 0;  // events of batches answered already_recorded
  uint64_t refused = 0;          // lines not stored because of an error, held_back included
  uint64_t held_back = 0;        // of refused: lines not sent because of another line's error
  uint64_t unacknowledged = 0;   // events sent without an answer when the stream broke: unknown
  uint64_t batches = 0;          // batches sent
  double seconds = 0;
  std::vector<LineError> errors;  // sorted by line; at most max_errors_kept
  // NOT_FOUND: the file cannot be read (nothing was sent). UNAVAILABLE or
  // DEADLINE_EXCEEDED: the server is unreachable or the stream broke; the
  // counts hold for what was acknowledged until then.
  absl::Status status;
};

// Appends every event of the NDJSON file at `path`. Refused lines are counted
// and reported, not failures of the call.
AppendFileResult AppendFile(const std::shared_ptr<grpc::Channel>& channel, const std::string& path,
                            const AppendFileOptions& options = {});

// ---------------------------------------------------------------------------
// Building blocks, public for tests.
// ---------------------------------------------------------------------------

// A batch as cut from the file: consecutive lines of one case, within the
// limits. When `unparsable` is empty, lines[i] is the file line of
// request.events(i); otherwise the batch is not sent, and lines also holds the
// unparsable lines.
struct FileBatch {
  bool case_known = false;  // false only for an unparsable first line whose case cannot be read
  v1::AppendRequest request;
  std::vector<uint64_t> lines;
  std::vector<LineError> unparsable;
};

// Reads an NDJSON file and cuts it into batches. Consecutive lines with the
// same case_id form a run; a run is split greedily so that each batch holds at
// most max_batch_events events and max_batch_bytes serialized bytes. The cut
// depends only on the file, so the same file always gives the same batches.
// A line that does not parse belongs to the case named by its "case_id" (or
// "caseId") if that can be read, else to the run it follows; it counts with
// its own length in bytes. Not thread-safe.
class BatchReader {
 public:
  // NOT_FOUND if the file cannot be opened.
  static absl::StatusOr<std::unique_ptr<BatchReader>> Open(const std::string& path, const AppendFileOptions& options);

  // The next batch; false at the end of the file.
  bool Next(FileBatch* batch);

  uint64_t lines_read() const { return lines_read_; }
  uint64_t skipped() const { return skipped_; }
  uint64_t bytes_read() const { return bytes_read_; }
  uint64_t total_bytes() const { return total_bytes_; }

 private:
  struct Line {
    uint64_t number = 0;
    bool case_known = false;
    std::string case_id;
    bool parsed = false;
    v1::Event event;
    size_t bytes = 0;
    std::string error_code, error;
  };
  BatchReader(std::ifstream in, uint64_t total_bytes, const AppendFileOptions& options);
  // Reads the next line that is not skipped; false at the end.
  bool ReadLine(Line* line);

  std::ifstream in_;
  AppendFileOptions options_;
  uint64_t total_bytes_ = 0;
  uint64_t lines_read_ = 0;
  uint64_t skipped_ = 0;
  uint64_t bytes_read_ = 0;
  bool have_carry_ = false;  // carry_ was read but belongs to the next batch
  Line carry_;
  bool have_last_case_ = false;
  std::string last_case_;
};

// Locates a server's refusal of a batch in the file: a message starting with
// "events[i]" (i within the batch) becomes an error on lines[i] with the
// prefix replaced by "event"; any other message is an error on the whole batch.
LineError LocateServerError(int code, const std::string& message, const std::vector<uint64_t>& lines);

// Every problem a server's refusal of a batch names, each located as
// LocateServerError does: one error per google.rpc.BadRequest field violation
// ("field: description") and per PreconditionFailure violation ("subject:
// description (rule TYPE)"); the message alone when `details` holds neither.
// A google.rpc.ErrorInfo adds its reason and metadata to the message, e.g.
// " [WRONG_EXPECTED_VERSION current_version=5 expected_version=3]".
std::vector<LineError> LocateServerErrors(int code, const std::string& message,
                                          const google::protobuf::RepeatedPtrField<google::protobuf::Any>& details,
                                          const std::vector<uint64_t>& lines);

}  // namespace kring::client
