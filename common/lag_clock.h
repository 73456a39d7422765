// LagClock: how long a follower (the relay, a read model) has been behind
// the log's head, in seconds, from a once-per-interval sample of the head.
//
// The lag of a follower at position p is the age of the oldest sample whose
// head was above p: the earliest event the follower lacks was appended no
// earlier than one interval before that sample (docs/operations.md,
// "Lag"). 0 when the follower has every sampled event. Not thread-safe: the
// health monitor's thread owns it.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>

namespace kring {

class LagClock {
 public:
  using Clock = std::chrono::steady_clock;

  // Records the head at `now`; heads are non-decreasing. Of equal heads the
  // oldest sample counts.
  void Sample(uint64_t head, Clock::time_point now) {
    if (!samples_.empty() && samples_.back().head >= head) return;
    samples_.push_back({head, now});
  }

  // Seconds since the oldest sample above `position`; 0 when none is.
  double LagSeconds(uint64_t position, Clock::time_point now) const {
    for (const Sample_& s : samples_) {
      if (s.head > position) return std::chrono::duration<double>(now - s.time).count();
    }
    return 0;
  }

  // Forgets samples that no follower needs: every follower is at or past
  // `slowest`.
  void Forget(uint64_t slowest) {
    while (!samples_.empty() && samples_.front().head <= slowest) samples_.pop_front();
  }

 private:
  struct Sample_ {
    uint64_t head;
    Clock::time_point time;
  };
  std::deque<Sample_> samples_;
};

}  // namespace kring
