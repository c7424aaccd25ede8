// Services by id in an ordered, persistent table: copying a table is O(1)
// and a copy shares every service with the original, so the registry
// publishes a new version by changing the services that changed instead of
// copying all of them.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "messages/service_info.hpp"

namespace orasi {

/// One service under its id. Immutable once in a table.
using ServiceRecord = std::pair<const std::string, ServiceInfo>;
using ServiceRecordPtr = std::shared_ptr<const ServiceRecord>;
/// One service, shared with the table it was read from: keeping it costs a
/// reference count, not a copy.
using ServiceEntry = std::shared_ptr<const ServiceInfo>;

/// Reads like a `const std::map<std::string, ServiceInfo>` (ordered by id,
/// iterators yield `const std::pair<const std::string, ServiceInfo>&`).
///
/// Layout: a directory of chunks, each a sorted run of at most
/// `max_chunk` shared records. A change copies the directory (pointers
/// only) and the one chunk it touches, unless this table is their only
/// owner, in which case it changes them in place. So a copy costs O(1), a
/// change O(log n + max_chunk + n / max_chunk) pointer copies, and no
/// service is ever copied by the table.
///
/// A table is a value: copies are independent, and one that is no longer
/// changed may be read by any number of threads. Changing one table from
/// two threads at once needs a lock, as with any container.
class ServiceTable {
  using chunk = std::vector<ServiceRecordPtr>;
  using directory = std::vector<std::shared_ptr<chunk>>;

public:
  using key_type = std::string;
  using mapped_type = ServiceInfo;
  using value_type = ServiceRecord;
  using size_type = size_t;

  class const_iterator {
  public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = ServiceRecord;
    using difference_type = std::ptrdiff_t;
    using pointer = const ServiceRecord*;
    using reference = const ServiceRecord&;

    const_iterator() = default;
    reference operator*() const { return *(*dir_)[chunk_]->at(index_); }
    pointer operator->() const { return &**this; }
    /// The shared record this iterator points at.
    const ServiceRecordPtr& record() const {
      return (*dir_)[chunk_]->at(index_);
    }
    const_iterator& operator++();
    const_iterator operator++(int) {
      auto before = *this;
      ++*this;
      return before;
    }
    friend bool operator==(const const_iterator& x, const const_iterator& y) {
      return x.chunk_ == y.chunk_ && x.index_ == y.index_;
    }
    friend bool operator!=(const const_iterator& x, const const_iterator& y) {
      return !(x == y);
    }

  private:
    friend class ServiceTable;
    const_iterator(const directory* dir, size_t chunk, size_t index)
        : dir_(dir), chunk_(chunk), index_(index) {}
    const directory* dir_ = nullptr;
    size_t chunk_ = 0;
    size_t index_ = 0;
  };
  using iterator = const_iterator;

  /// Records per chunk before a chunk splits in two.
  static constexpr size_t max_chunk = 256;

  ServiceTable() = default;
  /// Builds the table from a map in one pass: O(n).
  explicit ServiceTable(const ServiceMap& services);

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const_iterator begin() const;
  const_iterator end() const;

  /// O(log n), like std::map.
  const_iterator find(const std::string& id) const;
  size_t count(const std::string& id) const { return find(id) != end(); }
  /// Throws std::out_of_range if `id` is absent, like std::map::at.
  const ServiceInfo& at(const std::string& id) const;
  /// The shared record of `id`, or null.
  ServiceRecordPtr record(const std::string& id) const;
  /// The shared service `id` (the cheap per-service read), or null.
  ServiceEntry entry(const std::string& id) const;

  /// Adds `record` or replaces the record with its id.
  void insert_or_assign(ServiceRecordPtr record);
  void insert_or_assign(const std::string& id, ServiceInfo service);
  /// Removes `id`; false if it was absent.
  bool erase(const std::string& id);

  /// A copy as a plain map (for the spec's by-value API): O(n) copies.
  ServiceMap to_map() const;

  /// Equal ids and equal services (shared records compare by address
  /// first, so comparing two versions of a table is cheap where they share).
  friend bool operator==(const ServiceTable& x, const ServiceTable& y);
  friend bool operator!=(const ServiceTable& x, const ServiceTable& y) {
    return !(x == y);
  }

private:
  /// The chunk that holds or would hold `id` (dir_ non-empty).
  size_t chunk_for(const std::string& id) const;
  /// Makes the directory, and chunk `index` if given, owned by this table
  /// alone, copying what is shared.
  directory& own_directory();
  chunk& own_chunk(size_t index);

  std::shared_ptr<directory> dir_; // null while empty; chunks never empty
  size_t size_ = 0;
};

} // namespace orasi
