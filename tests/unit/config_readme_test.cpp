// The README's config table and the config description
// (runtime/config/config_fields.hpp) name the same fields, and each config
// struct's description lists all its members: a field added in code but not
// documented (or documented but gone) fails here.
#include <fstream>
#include <set>
#include <sstream>

#include <boost/pfr/core.hpp>

#include "runtime/config/gateway_config.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;

namespace {

/// Members a struct has beyond its description: not fields of the file.
template <class T>
constexpr size_t undescribed_members = 0;
template <>
constexpr size_t undescribed_members<GatewayConfig> = 1; // source_file

/// The dotted path of every described field that is a value (a struct is
/// walked into; `services`, a map of ServiceInfo, is one value), and in
/// `incomplete` each struct whose description misses a member.
template <class T>
void walk(const std::string& path, std::set<std::string>& fields,
          std::set<std::string>& incomplete) {
  size_t described = 0;
  for_each_config_field<T>([&](const char* name, auto member) {
    using member_type = std::decay_t<decltype(std::declval<T&>().*member)>;
    auto field = path.empty() ? std::string{name} : path + "." + name;
    ++described;
    if constexpr (has_config_fields_v<member_type>)
      walk<member_type>(field, fields, incomplete);
    else
      fields.insert(field);
  });
  // Boost.PFR counts an aggregate's members. GCC 12 crashes (an internal
  // compiler error in fields_count.hpp) on a member whose default is a
  // braced list of strings: write such a default as a constructor call.
  if (described + undescribed_members<T> != boost::pfr::tuple_size_v<T>)
    incomplete.insert(path.empty() ? "the root" : path);
}

/// The text between backticks in `cell`, in order.
std::vector<std::string> quoted(const std::string& cell) {
  std::vector<std::string> result;
  for (auto open = cell.find('`'); open != std::string::npos;) {
    auto close = cell.find('`', open + 1);
    if (close == std::string::npos)
      break;
    result.push_back(cell.substr(open + 1, close - open - 1));
    open = cell.find('`', close + 1);
  }
  return result;
}

/// The fields of the config table in README.md's "Configuration" section.
/// A row may document siblings: "`a.b.username` / `password`".
std::set<std::string> documented_fields() {
  std::ifstream in{std::string{ORASI_SOURCE_DIR} + "/README.md"};
  REQUIRE(in);
  std::set<std::string> fields;
  bool in_section = false;
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("## ", 0) == 0)
      in_section = line == "## Configuration";
    if (!in_section || line.rfind("| `", 0) != 0)
      continue;
    auto names = quoted(line.substr(0, line.find('|', 1)));
    REQUIRE_FALSE(names.empty()); // a row whose first cell is not `a.b`
    auto parent = names.front().substr(0, names.front().rfind('.') + 1);
    fields.insert(names.front());
    for (size_t i = 1; i < names.size(); ++i)
      fields.insert(parent + names[i]);
  }
  return fields;
}

std::vector<std::string> difference(const std::set<std::string>& a,
                                    const std::set<std::string>& b) {
  std::vector<std::string> result;
  std::set_difference(a.begin(), a.end(), b.begin(), b.end(),
                      std::back_inserter(result));
  return result;
}

} // namespace

TEST_CASE("config description: every member of a config struct is described",
          "[config][readme]") {
  std::set<std::string> fields;
  std::set<std::string> incomplete;
  walk<GatewayConfig>("", fields, incomplete);
  CAPTURE(incomplete);
  CHECK(incomplete.empty());
  CHECK(fields.count("service_discovery.health_check.path") == 1);
  CHECK(fields.count("service_discovery.services") == 1);
}

TEST_CASE("config description: the README's config table lists exactly the "
          "described fields",
          "[config][readme]") {
  std::set<std::string> described;
  std::set<std::string> incomplete;
  walk<GatewayConfig>("", described, incomplete);
  auto documented = documented_fields();
  REQUIRE_FALSE(documented.empty());
  auto undocumented = difference(described, documented);
  auto gone = difference(documented, described);
  CAPTURE(undocumented, gone);
  CHECK(undocumented.empty());
  CHECK(gone.empty());
}
