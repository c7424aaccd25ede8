#include "messages/service_table.hpp"

#include <algorithm>
#include <atomic>
#include <stdexcept>

namespace orasi {

namespace {

/// A split leaves two halves; a chunk that shrinks below this merges with
/// its right neighbour when both fit in one half.
constexpr size_t half_chunk = ServiceTable::max_chunk / 2;

bool record_before(const ServiceRecordPtr& record, const std::string& id) {
  return record->first < id;
}

/// Whether `ptr` has no other owner. The fence orders our later writes
/// after the last other owner's release of it (its reference count
/// decrement), so no reader still looks at what we are about to change.
template <class T>
bool owned_alone(const std::shared_ptr<T>& ptr) {
  if (ptr.use_count() != 1)
    return false;
  std::atomic_thread_fence(std::memory_order_acquire);
  return true;
}

} // namespace

ServiceTable::const_iterator& ServiceTable::const_iterator::operator++() {
  if (++index_ == (*dir_)[chunk_]->size()) {
    ++chunk_;
    index_ = 0;
  }
  return *this;
}

ServiceTable::ServiceTable(const ServiceMap& services) {
  if (services.empty())
    return;
  dir_ = std::make_shared<directory>();
  for (const auto& [id, service] : services) {
    if (dir_->empty() || dir_->back()->size() == half_chunk) {
      dir_->push_back(std::make_shared<chunk>());
      dir_->back()->reserve(half_chunk);
    }
    dir_->back()->push_back(std::make_shared<const ServiceRecord>(id, service));
  }
  size_ = services.size();
}

ServiceTable::const_iterator ServiceTable::begin() const {
  return const_iterator{dir_.get(), 0, 0};
}

ServiceTable::const_iterator ServiceTable::end() const {
  return const_iterator{dir_.get(), dir_ ? dir_->size() : 0, 0};
}

size_t ServiceTable::chunk_for(const std::string& id) const {
  // The last chunk whose first id is not after `id`.
  auto after = std::upper_bound(
      dir_->begin(), dir_->end(), id,
      [](const std::string& key, const std::shared_ptr<chunk>& c) {
        return key < c->front()->first;
      });
  return after == dir_->begin() ? 0 : (after - dir_->begin()) - 1;
}

ServiceTable::const_iterator ServiceTable::find(const std::string& id) const {
  if (!dir_)
    return end();
  auto index = chunk_for(id);
  const auto& records = *(*dir_)[index];
  auto at = std::lower_bound(records.begin(), records.end(), id, record_before);
  if (at == records.end() || (*at)->first != id)
    return end();
  return const_iterator{dir_.get(), index,
                        static_cast<size_t>(at - records.begin())};
}

const ServiceInfo& ServiceTable::at(const std::string& id) const {
  auto found = find(id);
  if (found == end())
    throw std::out_of_range("ServiceTable::at: no service " + id);
  return found->second;
}

ServiceRecordPtr ServiceTable::record(const std::string& id) const {
  auto found = find(id);
  return found == end() ? nullptr : found.record();
}

ServiceEntry ServiceTable::entry(const std::string& id) const {
  auto found = record(id);
  if (!found)
    return nullptr;
  // Shares the record's ownership, points at its service.
  return ServiceEntry{found, &found->second};
}

ServiceTable::directory& ServiceTable::own_directory() {
  if (!dir_)
    dir_ = std::make_shared<directory>();
  else if (!owned_alone(dir_))
    dir_ = std::make_shared<directory>(*dir_);
  return *dir_;
}

ServiceTable::chunk& ServiceTable::own_chunk(size_t index) {
  auto& slot = own_directory()[index];
  if (!owned_alone(slot))
    slot = std::make_shared<chunk>(*slot);
  return *slot;
}

void ServiceTable::insert_or_assign(ServiceRecordPtr record) {
  const auto& id = record->first;
  auto& dir = own_directory();
  if (dir.empty()) {
    dir.push_back(std::make_shared<chunk>(1, std::move(record)));
    size_ = 1;
    return;
  }
  auto index = chunk_for(id);
  auto& records = own_chunk(index);
  auto at = std::lower_bound(records.begin(), records.end(), id, record_before);
  if (at != records.end() && (*at)->first == id) {
    *at = std::move(record);
    return;
  }
  records.insert(at, std::move(record));
  ++size_;
  if (records.size() > max_chunk) {
    auto upper =
        std::make_shared<chunk>(records.begin() + half_chunk, records.end());
    records.resize(half_chunk);
    dir.insert(dir.begin() + static_cast<std::ptrdiff_t>(index) + 1,
               std::move(upper));
  }
}

void ServiceTable::insert_or_assign(const std::string& id,
                                    ServiceInfo service) {
  insert_or_assign(
      std::make_shared<const ServiceRecord>(id, std::move(service)));
}

bool ServiceTable::erase(const std::string& id) {
  if (find(id) == end())
    return false;
  auto index = chunk_for(id);
  auto& records = own_chunk(index);
  records.erase(
      std::lower_bound(records.begin(), records.end(), id, record_before));
  --size_;
  auto& dir = *dir_;
  auto position = dir.begin() + static_cast<std::ptrdiff_t>(index);
  if (records.empty()) {
    dir.erase(position);
  } else if (index + 1 < dir.size() &&
             records.size() + dir[index + 1]->size() <= half_chunk) {
    // Keeps chunks from thinning out into a long directory.
    const auto& next = *dir[index + 1];
    records.insert(records.end(), next.begin(), next.end());
    dir.erase(position + 1);
  }
  if (dir.empty())
    dir_.reset();
  return true;
}

ServiceMap ServiceTable::to_map() const {
  ServiceMap result;
  for (const auto& [id, service] : *this)
    result.emplace_hint(result.end(), id, service);
  return result;
}

bool operator==(const ServiceTable& x, const ServiceTable& y) {
  if (x.size() != y.size())
    return false;
  if (x.dir_ == y.dir_)
    return true;
  auto i = x.begin();
  for (auto j = y.begin(); j != y.end(); ++i, ++j)
    if (i.record() != j.record() &&
        (i->first != j->first || i->second != j->second))
      return false;
  return true;
}

} // namespace orasi
