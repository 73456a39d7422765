#include "eventstore/upcast.h"

#include <algorithm>

#include "absl/strings/str_cat.h"

namespace kring::eventstore {

const Upcasters& Upcasters::Current() {
  static const Upcasters* current = new Upcasters();
  return *current;
}

void Upcasters::Register(v1::Event::PayloadCase payload, uint32_t from, Upcaster upcaster) {
  chain_[{static_cast<int>(payload), std::max<uint32_t>(from, 1)}] = std::move(upcaster);
}

absl::Status Upcasters::Apply(v1::Event& event) const {
  if (chain_.empty()) return absl::OkStatus();
  while (true) {
    const uint32_t version = std::max<uint32_t>(event.payload_version(), 1);
    auto it = chain_.find({static_cast<int>(event.payload_case()), version});
    if (it == chain_.end()) return absl::OkStatus();
    if (absl::Status s = it->second(event); !s.ok()) {
      return absl::DataLossError(
          absl::StrCat("upcasting event ", event.event_id(), " from payload version ", version, ": ", s.message()));
    }
    event.set_payload_version(version + 1);
  }
}

}  // namespace kring::eventstore
