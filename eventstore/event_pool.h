// RecordedEventPool: messages for events parsed in rounds (a chunk of a scan,
// a poll of the Kafka consumer), kept in a protobuf arena and parsed into
// again in the next round, so that neither parsing nor dropping a round's
// events goes through the allocator message by message.
//
// A message parsed into again keeps its strings' capacity (the characters of
// a long string are allocated one by one even in an arena). What a parse
// replaces (sub-messages: protobuf 3.21 drops them on Clear) stays in the
// arena until it is reset, at the end of a round, once it holds
// `reset_after` bytes. The first block is the pool's own and survives the
// reset.
#pragma once

#include <google/protobuf/arena.h>

#include <memory>
#include <vector>

#include "kring/v1/events.pb.h"

namespace kring::eventstore {

class RecordedEventPool {
 public:
  RecordedEventPool(size_t initial_block, size_t reset_after)
      : block_(new char[initial_block]), arena_(Options(block_.get(), initial_block)), reset_after_(reset_after) {}

  // The i-th message of this round (i <= the number used so far this round),
  // holding whatever an earlier round left in it: parse into it.
  v1::RecordedEvent* At(size_t i) {
    if (i == pool_.size()) pool_.push_back(google::protobuf::Arena::CreateMessage<v1::RecordedEvent>(&arena_));
    return pool_[i];
  }
  // Ends a round: no message of it is used any more.
  void EndRound() {
    if (arena_.SpaceUsed() < reset_after_) return;
    pool_.clear();
    arena_.Reset();
  }

 private:
  static google::protobuf::ArenaOptions Options(char* block, size_t size) {
    google::protobuf::ArenaOptions o;
    o.initial_block = block;
    o.initial_block_size = size;
    o.max_block_size = 4 << 20;
    return o;
  }

  std::unique_ptr<char[]> block_;
  google::protobuf::Arena arena_;
  std::vector<v1::RecordedEvent*> pool_;  // in the arena
  const size_t reset_after_;
};

}  // namespace kring::eventstore
