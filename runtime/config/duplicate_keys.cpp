#include "runtime/config/duplicate_keys.hpp"

#include <set>
#include <vector>

#include <boost/json/basic_parser_impl.hpp>

namespace json = boost::json;

namespace orasi {

namespace {

/// A basic_parser handler that only tracks keys per open object.
class key_tracker {
public:
  static constexpr std::size_t max_array_size = -1;
  static constexpr std::size_t max_object_size = -1;
  static constexpr std::size_t max_string_size = -1;
  static constexpr std::size_t max_key_size = -1;

  std::optional<std::string> duplicate;

  bool on_document_begin(json::error_code&) { return true; }
  bool on_document_end(json::error_code&) { return true; }
  bool on_array_begin(json::error_code&) { return enter(false); }
  bool on_array_end(std::size_t, json::error_code&) { return leave(); }
  bool on_object_begin(json::error_code&) { return enter(true); }
  bool on_object_end(std::size_t, json::error_code&) { return leave(); }
  bool on_string_part(json::string_view, std::size_t, json::error_code&) {
    return true;
  }
  bool on_string(json::string_view, std::size_t, json::error_code&) {
    return true;
  }
  bool on_key_part(json::string_view s, std::size_t, json::error_code&) {
    key_.append(s.data(), s.size());
    return true;
  }
  bool on_key(json::string_view s, std::size_t, json::error_code& ec) {
    key_.append(s.data(), s.size());
    auto& frame = frames_.back();
    frame.current_key = std::move(key_);
    key_.clear();
    if (!frame.keys.insert(frame.current_key).second && !duplicate) {
      duplicate = path();
      ec = json::error::syntax; // stop parsing: we have our answer
      return false;
    }
    return true;
  }
  bool on_number_part(json::string_view, json::error_code&) { return true; }
  bool on_int64(int64_t, json::string_view, json::error_code&) { return true; }
  bool on_uint64(uint64_t, json::string_view, json::error_code&) {
    return true;
  }
  bool on_double(double, json::string_view, json::error_code&) { return true; }
  bool on_bool(bool, json::error_code&) { return true; }
  bool on_null(json::error_code&) { return true; }
  bool on_comment_part(json::string_view, json::error_code&) { return true; }
  bool on_comment(json::string_view, json::error_code&) { return true; }

private:
  struct frame {
    bool is_object = false;
    std::set<std::string> keys;
    std::string current_key;
  };

  bool enter(bool is_object) {
    frames_.push_back(frame{is_object, {}, {}});
    return true;
  }

  bool leave() {
    frames_.pop_back();
    return true;
  }

  std::string path() const {
    std::string result;
    for (const auto& frame : frames_) {
      if (!frame.is_object)
        continue; // array positions are not tracked; keys suffice to find it
      if (!result.empty())
        result += '.';
      result += frame.current_key;
    }
    return result;
  }

  std::vector<frame> frames_;
  std::string key_; // the key being assembled from parts
};

} // namespace

std::optional<std::string> find_duplicate_key(std::string_view text) {
  json::basic_parser<key_tracker> parser{json::parse_options{}};
  json::error_code ec;
  parser.write_some(false, text.data(), text.size(), ec);
  return parser.handler().duplicate;
}

} // namespace orasi
