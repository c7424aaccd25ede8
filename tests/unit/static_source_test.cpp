// The static backend: services from the config file plus API registrations,
// with a file that can change (or break) under it.
#include "backends/static_source.hpp"
#include "messages/errors.hpp"
#include "unit/unit_support.hpp"

using namespace orasi;
using orasi::backends::load_static_services;
using orasi::backends::source_listing;
using orasi::backends::static_source;
using orasi::backends::static_source_options;

namespace {

ServiceInfo service(const std::string& name, const std::string& url) {
  ServiceInfo result;
  result.name = name;
  result.endpoints = {test::endpoint(url)};
  return result;
}

/// A config file listing `services` (plus unrelated sections).
std::string config_with(const ServiceMap& services) {
  return R"({"service_discovery":{"backend":"static","services":)" +
         encode(services) + R"(},"logging":{"level":"info"}})";
}

const ServiceMap file_v1{{"alpha", service("alpha", "http://127.0.0.1:80")},
                         {"beta", service("beta", "http://127.0.0.2:80")}};

const ServiceMap file_v2{
    {"alpha", service("alpha", "http://127.0.0.1:8080")},
    {"gamma", service("gamma", "http://127.0.0.3:80")},
    {"delta", service("delta-with-a-longer-name", "http://127.0.0.4:80")}};

/// A static source over `file`, started with the file's services as the
/// launcher does it.
static_source source_over(const test::temp_file& file) {
  auto initial = load_static_services(file.path());
  REQUIRE(initial);
  return static_source{static_source_options{*initial, file.path()}};
}

ServiceMap services_of(static_source& source) {
  auto listing = source.list();
  REQUIRE(listing);
  return listing->services;
}

/// The new listing from poll(); fails the test if there is none.
source_listing changed_listing(static_source& source) {
  auto update = source.poll();
  REQUIRE(update);
  REQUIRE(update->has_value());
  REQUIRE((*update)->full);
  return (*update)->listing;
}

bool poll_reports_no_change(static_source& source) {
  auto update = source.poll();
  return update && !update->has_value();
}

} // namespace

TEST_CASE("static source: load_static_services", "[static_source]") {
  SECTION("reads the services of a config file") {
    test::temp_file file{config_with(file_v1)};
    auto services = load_static_services(file.path());
    REQUIRE(services);
    CHECK(*services == file_v1);
  }
  SECTION("no services section means no services") {
    test::temp_file file{R"({"logging":{"level":"info"}})"};
    auto services = load_static_services(file.path());
    REQUIRE(services);
    CHECK(services->empty());
  }
  SECTION("a missing file is an error naming it") {
    auto path = test::temp_file{}.path(); // removed again right away
    auto services = load_static_services(path);
    REQUIRE_FALSE(services);
    CHECK(services.error().code() ==
          static_cast<uint8_t>(errc::config_invalid));
    CHECK_THAT(error_message(services.error()), Catch::Contains(path));
  }
  SECTION("malformed JSON is an error naming the file") {
    test::temp_file file{R"({"service_discovery":)"};
    auto services = load_static_services(file.path());
    REQUIRE_FALSE(services);
    CHECK_THAT(error_message(services.error()), Catch::Contains(file.path()));
  }
  SECTION("unknown fields are errors naming file and field") {
    test::temp_file file{
        R"({"service_discovery":{"services":{"s":{"name":"s","nmae":"x"}}}})"};
    auto services = load_static_services(file.path());
    REQUIRE_FALSE(services);
    auto message = error_message(services.error());
    CHECK_THAT(message, Catch::Contains(file.path()));
    CHECK_THAT(message, Catch::Contains("service_discovery.services.s.nmae"));
  }
}

TEST_CASE("static source: list returns the initial services",
          "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);
  CHECK(source.name() == "static");
  CHECK(services_of(source) == file_v1);
}

TEST_CASE("static source: without a file it lives in memory",
          "[static_source]") {
  static_source source{static_source_options{file_v1, ""}};
  CHECK(services_of(source) == file_v1);
  CHECK(poll_reports_no_change(source));
  REQUIRE_FALSE(source.put("extra", service("extra", "http://e:1")));
  CHECK(services_of(source).count("extra") == 1);
  REQUIRE_FALSE(source.remove("alpha"));
  CHECK(services_of(source).count("alpha") == 0);
  CHECK(poll_reports_no_change(source));
}

TEST_CASE("static source: put and remove", "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);
  auto revision = source.list()->revision;

  SECTION("put adds a service in memory only") {
    auto extra = service("extra", "http://e:1");
    REQUIRE_FALSE(source.put("extra", extra));
    auto listing = source.list();
    REQUIRE(listing);
    CHECK(listing->services.at("extra") == extra);
    CHECK(listing->services.size() == 3);
    CHECK(listing->revision > revision);
    auto on_disk = load_static_services(file.path());
    REQUIRE(on_disk);
    CHECK(*on_disk == file_v1);
  }
  SECTION("put replaces a file service") {
    auto replacement = service("alpha", "http://127.9.9.9:1");
    REQUIRE_FALSE(source.put("alpha", replacement));
    CHECK(services_of(source).at("alpha") == replacement);
  }
  SECTION("remove hides a file service while the file is unchanged") {
    REQUIRE_FALSE(source.remove("alpha"));
    CHECK(services_of(source).count("alpha") == 0);
    CHECK(services_of(source).count("beta") == 1);
    auto reloaded = source.reload();
    REQUIRE(reloaded);
    CHECK(reloaded->services.count("alpha") == 0);
    CHECK(poll_reports_no_change(source));
  }
  SECTION("a file change brings removed file services back") {
    REQUIRE_FALSE(source.remove("beta"));
    auto next = file_v1;
    next["epsilon"] = service("epsilon", "http://127.0.0.5:80");
    file.write(config_with(next));
    auto listing = changed_listing(source);
    CHECK(listing.services == next);
  }
  SECTION("remove of an API service") {
    REQUIRE_FALSE(source.put("extra", service("extra", "http://e:1")));
    REQUIRE_FALSE(source.remove("extra"));
    CHECK(services_of(source) == file_v1);
  }
  SECTION("remove of an unknown id is not_found") {
    auto err = source.remove("no-such-service");
    REQUIRE(err);
    CHECK(err.code() == static_cast<uint8_t>(errc::not_found));
    CHECK_THAT(error_message(err), Catch::Contains("no-such-service"));
  }
  SECTION("removing twice is not_found the second time") {
    REQUIRE_FALSE(source.remove("alpha"));
    auto err = source.remove("alpha");
    REQUIRE(err);
    CHECK(err.code() == static_cast<uint8_t>(errc::not_found));
  }
}

TEST_CASE("static source: poll follows the file", "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);

  SECTION("unchanged file: no update") {
    CHECK(poll_reports_no_change(source));
    CHECK(poll_reports_no_change(source));
  }
  SECTION("new content: the new listing, API services overlaid") {
    auto extra = service("extra", "http://e:1");
    REQUIRE_FALSE(source.put("extra", extra));
    auto revision = source.list()->revision;
    file.write(config_with(file_v2));
    auto listing = changed_listing(source);
    auto expected = file_v2;
    expected["extra"] = extra;
    CHECK(listing.services == expected);
    CHECK(listing.revision > revision);
    CHECK(poll_reports_no_change(source));
    CHECK(services_of(source) == expected);
  }
  SECTION("an API registration wins over a file service of the same id") {
    auto mine = service("gamma-by-api", "http://mine:1");
    REQUIRE_FALSE(source.put("gamma", mine));
    file.write(config_with(file_v2));
    CHECK(changed_listing(source).services.at("gamma") == mine);
  }
}

TEST_CASE("static source: a bad file is rejected whole and reported once",
          "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);
  auto bad =
      GENERATE(as<std::string>{}, R"({"service_discovery":{"services":{)",
               R"({"service_discovery":{"services":{"ok":{"name":"ok"},)"
               R"("bad":{"name":"bad","endpoints":[{"url":"ftp://x"}]}}}})");
  CAPTURE(bad);
  file.write(bad);

  auto update = source.poll();
  REQUIRE_FALSE(update);
  CHECK(update.error().code() == static_cast<uint8_t>(errc::config_invalid));
  CHECK_THAT(error_message(update.error()), Catch::Contains(file.path()));
  // Reported once per change of the file.
  CHECK(poll_reports_no_change(source));

  // Once the file is fixed, the next poll picks it up.
  file.write(config_with(file_v2));
  CHECK(changed_listing(source).services == file_v2);
}

TEST_CASE("static source: a rejected file names the bad service",
          "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);
  file.write(R"({"service_discovery":{"services":{"ok":{"name":"ok"},)"
             R"("bad":{"name":"bad","endpoints":[{"url":"ftp://x"}]}}}})");
  auto update = source.poll();
  REQUIRE_FALSE(update);
  CHECK_THAT(
      error_message(update.error()),
      Catch::Contains("service_discovery.services.bad.endpoints[0].url"));
}

// After a rejected file, list() still serves the previous services (a resync
// after a registry restart must not come back empty); reload() reports it.
TEST_CASE("static source: list after a rejected file serves the previous "
          "services",
          "[static_source]") {
  test::temp_file file{config_with(file_v1)};
  auto source = source_over(file);
  file.write(R"({"service_discovery":)");
  REQUIRE_FALSE(source.poll());
  auto listing = source.list();
  REQUIRE(listing);
  CHECK(listing->services == file_v1);
  auto forced = source.reload();
  REQUIRE_FALSE(forced);
  CHECK_THAT(error_message(forced.error()), Catch::Contains("malformed JSON"));
}
