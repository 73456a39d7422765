// The input format of the append fuzz target: a sequence of frames, each one
// serialized kring.v1.AppendRequest. A frame is written as field 1
// (length-delimited) of a protobuf message, so an input is exactly the
// encoding of `message Input { repeated kring.v1.AppendRequest requests = 1; }`
// and concatenating two inputs gives a valid input holding both.
//
// Decoding mirrors what gRPC does with a request message: a frame whose bytes
// do not parse as an AppendRequest would be refused by gRPC before Kring sees
// it, so it is skipped. Decoding stops at the first byte that does not start
// a frame, at a truncated frame, or after kMaxRequestsPerInput requests.
#pragma once

#include <google/protobuf/io/coded_stream.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "kring/v1/ingest.pb.h"

namespace kring::fuzz {

// Bounds the work of one input, so that one execution stays fast.
inline constexpr size_t kMaxRequestsPerInput = 32;
// Field 1, wire type 2 (length-delimited).
inline constexpr uint32_t kFrameTag = (1 << 3) | 2;

inline std::vector<v1::AppendRequest> DecodeRequests(const uint8_t* data, size_t size) {
  std::vector<v1::AppendRequest> out;
  google::protobuf::io::CodedInputStream in(data, static_cast<int>(size));
  std::string frame;
  while (out.size() < kMaxRequestsPerInput) {
    if (in.ReadTag() != kFrameTag) break;  // 0 at the end of the input
    uint32_t length = 0;
    if (!in.ReadVarint32(&length) || !in.ReadString(&frame, static_cast<int>(length))) break;
    v1::AppendRequest request;
    if (request.ParseFromString(frame)) out.push_back(std::move(request));
  }
  return out;
}

inline std::string EncodeRequests(const std::vector<v1::AppendRequest>& requests) {
  std::string out;
  for (const v1::AppendRequest& r : requests) {
    const std::string bytes = r.SerializeAsString();
    out.push_back(static_cast<char>(kFrameTag));
    for (uint64_t n = bytes.size();; n >>= 7) {
      if (n < 0x80) {
        out.push_back(static_cast<char>(n));
        break;
      }
      out.push_back(static_cast<char>((n & 0x7f) | 0x80));
    }
    out.append(bytes);
  }
  return out;
}

}  // namespace kring::fuzz
