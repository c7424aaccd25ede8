// A binary min-heap of timers holding at most one item per owner. Each owner
// keeps the position of its item, so re-arming moves that item in place and
// disarming erases it. A heap with lazy deletion instead pushes a new item
// on every re-arm and skips the old ones when they surface, so it carries
// several stale items per owner, each costing memory and a pop.
//
// Items are (due time, owner pointer): the owner must not move while it is
// armed (e.g. a node of an unordered_map, a heap allocation). The heap
// reads two things of an owner through `Traits`:
//   static uint32_t& position(Owner&);  // timer_heap::npos while unarmed
//   static bool before(const Owner& a, const Owner& b);
// `before` orders items with equal due times (a strict weak order), so
// that owners due together fire in an order the owner chose, not in one
// that depends on the history of the heap. It is only consulted on ties.
#pragma once

#include <cassert>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <vector>

namespace orasi {

/// The position of an owner that is not armed (for owners to initialise
/// theirs with, before the heap's type is complete).
inline constexpr uint32_t timer_heap_npos =
    std::numeric_limits<uint32_t>::max();

template <class Owner, class Traits>
class timer_heap {
public:
  using time_point = std::chrono::steady_clock::time_point;

  static constexpr uint32_t npos = timer_heap_npos;

  bool empty() const { return items_.empty(); }
  size_t size() const { return items_.size(); }

  /// The owner due first (ties broken by Traits::before). Not empty().
  Owner& top() const { return *items_.front().owner; }
  time_point top_due() const { return items_.front().due; }

  static bool armed(Owner& owner) { return Traits::position(owner) != npos; }

  /// When `owner` is due; it must be armed.
  time_point due(Owner& owner) const {
    assert(armed(owner));
    return items_[Traits::position(owner)].due;
  }

  /// Arms `owner` to fire at `due`: inserts its item, or moves the one it
  /// has.
  void arm(Owner& owner, time_point due) {
    auto& position = Traits::position(owner);
    if (position == npos) {
      assert(items_.size() < npos);
      items_.push_back(item{due, &owner});
      position = static_cast<uint32_t>(items_.size() - 1);
      sift_up(position);
      return;
    }
    items_[position].due = due;
    restore(position);
  }

  /// Removes the item of `owner`, if it has one.
  void disarm(Owner& owner) {
    auto& position = Traits::position(owner);
    if (position == npos)
      return;
    auto hole = position;
    position = npos;
    auto last = static_cast<uint32_t>(items_.size() - 1);
    if (hole != last) {
      place(hole, items_[last]);
      items_.pop_back();
      restore(hole);
    } else {
      items_.pop_back();
    }
  }

  /// Disarms the owner due first. Not empty().
  void pop() { disarm(top()); }

  /// Disarms every owner.
  void clear() {
    for (auto& x : items_)
      Traits::position(*x.owner) = npos;
    items_.clear();
  }

private:
  struct item {
    time_point due;
    Owner* owner;
  };

  static bool earlier(const item& a, const item& b) {
    if (a.due != b.due)
      return a.due < b.due;
    return Traits::before(*a.owner, *b.owner);
  }

  void place(uint32_t at, const item& x) {
    items_[at] = x;
    Traits::position(*x.owner) = at;
  }

  /// Moves the item at `at`, whose due time changed, to where it belongs.
  void restore(uint32_t at) {
    if (at > 0 && earlier(items_[at], items_[(at - 1) / 2]))
      sift_up(at);
    else
      sift_down(at);
  }

  void sift_up(uint32_t at) {
    auto x = items_[at];
    while (at > 0) {
      auto parent = (at - 1) / 2;
      if (!earlier(x, items_[parent]))
        break;
      place(at, items_[parent]);
      at = parent;
    }
    place(at, x);
  }

  void sift_down(uint32_t at) {
    auto x = items_[at];
    auto count = items_.size();
    for (;;) {
      size_t child = 2 * size_t{at} + 1;
      if (child >= count)
        break;
      if (child + 1 < count && earlier(items_[child + 1], items_[child]))
        ++child;
      if (!earlier(items_[child], x))
        break;
      place(at, items_[child]);
      at = static_cast<uint32_t>(child);
    }
    place(at, x);
  }

  std::vector<item> items_;
};

} // namespace orasi
