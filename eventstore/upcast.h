// Schema evolution on read (docs/schema-evolution.md). A payload whose shape
// must change in a way that is not additive gets a new payload version
// (Event.payload_version; 0 and 1 both mean the first). Events are stored as
// sent and never rewritten; an Upcaster registered for (payload, version v)
// turns a version-v payload into version v+1 when it is read, and the chain
// runs until no upcaster applies, so every reader sees the current shape.
// The stored bytes (and the hash chain over them) stay as they were.
#pragma once

#include <functional>
#include <map>
#include <utility>

#include "absl/status/status.h"
#include "kring/v1/events.pb.h"

namespace kring::eventstore {

class Upcasters {
 public:
  // Turns `event`, whose payload is at version `from`, into version from+1
  // (the chain then sets payload_version). Must be deterministic.
  using Upcaster = std::function<absl::Status(v1::Event& event)>;

  // The upcasters of this server version: the payload shapes it has
  // outgrown. Empty so far: every payload is at its first version.
  static const Upcasters& Current();

  void Register(v1::Event::PayloadCase payload, uint32_t from, Upcaster upcaster);
  bool empty() const { return chain_.empty(); }
  // Upcasts `event` to the newest version this set knows; a no-op for an
  // event already there.
  absl::Status Apply(v1::Event& event) const;

 private:
  std::map<std::pair<int, uint32_t>, Upcaster> chain_;
};

}  // namespace kring::eventstore
