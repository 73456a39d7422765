// Why a request did not decode: a walk over the protobuf wire format guided by
// the message's descriptor, run only after the protobuf parser refused the
// bytes (the normal path never pays for it). It names the first thing that
// cannot be decoded, with the field path where one is known:
//   events[2].conference_held.attendee_ids[0]: invalid UTF-8 in a string field
//   truncated varint at byte 17
//   events[0]: nesting deeper than 100
// and reads a top-level varint field (AppendRequest.request_id) whenever the
// top-level framing is intact, so that a stream can acknowledge the request.
//
// Pure functions over bytes: thread-safe, no allocation beyond the result.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/descriptor.h"

namespace kring::services {

// Protobuf's default recursion limit (CodedInputStream): messages and groups
// nested deeper than this do not parse.
inline constexpr int kMaxWireNesting = 100;

struct WireProblem {
  std::string field;  // path of the field that failed, e.g. "events[2].event_id"; empty at top level
  std::string rule;   // what is wrong, e.g. "truncated varint at byte 17"
};

// The first problem in `bytes` read as a `type`, or nullopt when the walk
// finds none (the caller then reports the parser's refusal without a path).
std::optional<WireProblem> FindWireProblem(const google::protobuf::Descriptor& type, absl::string_view bytes);

// The last value of the top-level varint field `field_number` that can be read
// before the top-level framing breaks (nested fields are skipped by their
// length, so damage inside them does not matter); nullopt if none.
std::optional<uint64_t> ReadTopLevelVarint(absl::string_view bytes, int field_number);

// True when `s` is well-formed UTF-8 (no overlong forms, no surrogates, at most
// U+10FFFF): what the protobuf parser demands of a proto3 string field.
bool IsValidUtf8(absl::string_view s);

}  // namespace kring::services
