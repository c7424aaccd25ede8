#include "admin/listing_cache.hpp"

#include <boost/json.hpp>

#include "messages/json_codec.hpp"

namespace json = boost::json;

namespace orasi {

namespace {

/// `"<id>":{...}`: one member of the listing's object, as json::serialize()
/// writes it inside the object.
std::string serialize_member(const ServiceRecord& record) {
  auto text = json::serialize(json::string(record.first));
  text += ':';
  text += json::serialize(to_json(record.second));
  return text;
}

} // namespace

listing_format services_listing() {
  return {[](const RegistrySnapshot& s) -> const ServiceTable& {
            return s.services;
          },
          nullptr, "\n"};
}

listing_format routable_listing() {
  return {[](const RegistrySnapshot& s) -> const ServiceTable& {
            return s.healthy;
          },
          nullptr, "\n"};
}

listing_format watch_listing() {
  return {[](const RegistrySnapshot& s) -> const ServiceTable& {
            return s.services;
          },
          [](const RegistrySnapshot& s) {
            // {"version":V,"stale":S} without its closing brace.
            auto head = json::serialize(
                json::object{{"version", s.version}, {"stale", s.stale}});
            head.pop_back();
            head += ",\"services\":";
            return head;
          },
          "}\n"};
}

std::shared_ptr<const std::string>
listing_cache::body(const RegistrySnapshot& snapshot) {
  // Held while building: readers woken by one version wait for one build
  // instead of each serializing the changes again.
  std::lock_guard<std::mutex> guard{mutex_};
  if (body_ && version_ == snapshot.version)
    return body_;
  if (!body_ || snapshot.version > version_) {
    try {
      body_ = build(snapshot, true);
    } catch (...) {
      // The build moves fragments out as it goes: start over next time.
      fragments_.clear();
      body_.reset();
      throw;
    }
    version_ = snapshot.version;
    return body_;
  }
  // A reader that holds an older snapshot than the last built one: its own
  // body, leaving the newer fragments as they are.
  return build(snapshot, false);
}

uint64_t listing_cache::fragments_serialized() const {
  std::lock_guard<std::mutex> guard{mutex_};
  return serialized_;
}

std::shared_ptr<const std::string>
listing_cache::build(const RegistrySnapshot& snapshot, bool keep) {
  const auto& table = format_.table(snapshot);
  std::string out = format_.head ? format_.head(snapshot) : std::string{};
  out.reserve(out.size() + (body_ ? body_->size() : 0) + 1024);
  out += '{';
  std::vector<fragment> next;
  if (keep)
    next.reserve(table.size());
  // Both the table and fragments_ are in id order: walk them side by side.
  // An unchanged service has the same record pointer, so the common case is
  // one pointer compare; ids are compared only around a change.
  auto old = fragments_.begin();
  bool first = true;
  for (auto it = table.begin(); it != table.end(); ++it) {
    const auto& record = it.record();
    while (old != fragments_.end() && old->record != record &&
           old->record->first < record->first)
      ++old; // removed since, or left out of this view
    if (!first)
      out += ',';
    first = false;
    if (old != fragments_.end() && old->record == record) {
      out += old->text;
      if (keep)
        next.push_back({record, std::move(old->text)});
      ++old;
      continue;
    }
    auto text = serialize_member(*record);
    ++serialized_;
    if (old != fragments_.end() && old->record->first == record->first)
      ++old; // the same id, changed: its old fragment goes
    out += text;
    if (keep)
      next.push_back({record, std::move(text)});
  }
  out += '}';
  out += format_.tail;
  if (keep)
    fragments_ = std::move(next);
  return std::make_shared<const std::string>(std::move(out));
}

} // namespace orasi
