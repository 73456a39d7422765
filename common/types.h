// Vocabulary types shared by every subsystem: strong ids and positions, so
// that a global position can never be passed where a stream version belongs.
#pragma once

#include <cstdint>
#include <functional>
#include <ostream>
#include <string>
#include <utility>

namespace kring {

// A value of type T that only compares and converts with its own kind.
template <typename T, typename Tag>
class Named {
 public:
  using value_type = T;
  Named() = default;
  explicit Named(T v) : value_(std::move(v)) {}
  const T& value() const { return value_; }
  friend bool operator==(const Named& a, const Named& b) { return a.value_ == b.value_; }
  friend bool operator!=(const Named& a, const Named& b) { return a.value_ != b.value_; }
  friend bool operator<(const Named& a, const Named& b) { return a.value_ < b.value_; }
  friend bool operator<=(const Named& a, const Named& b) { return a.value_ <= b.value_; }
  friend bool operator>(const Named& a, const Named& b) { return a.value_ > b.value_; }
  friend bool operator>=(const Named& a, const Named& b) { return a.value_ >= b.value_; }
  friend std::ostream& operator<<(std::ostream& os, const Named& n) { return os << n.value_; }

 private:
  T value_{};
};

using CaseId = Named<std::string, struct CaseIdTag>;
using EventId = Named<std::string, struct EventIdTag>;
// Version of one case stream: 1 for its first event; 0 means "no events".
using StreamVersion = Named<uint64_t, struct StreamVersionTag>;
// Position in the global log: 1 for the first event ever; 0 means "none".
using GlobalPosition = Named<uint64_t, struct GlobalPositionTag>;
using KafkaPartition = Named<int32_t, struct KafkaPartitionTag>;
using KafkaOffset = Named<int64_t, struct KafkaOffsetTag>;

}  // namespace kring

template <typename T, typename Tag>
struct std::hash<kring::Named<T, Tag>> {
  size_t operator()(const kring::Named<T, Tag>& n) const { return std::hash<T>()(n.value()); }
};
