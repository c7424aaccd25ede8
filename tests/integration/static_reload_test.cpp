// The static backend with a real config file: changes on disk are applied on
// the next poll (mtime) or on reload() (SIGHUP); invalid content is rejected
// whole and the previous services stay.
#include <catch2/catch.hpp>

#include "runtime/service_discovery.hpp"
#include "test_support.hpp"

using namespace orasi;

namespace {

std::string config_listing(const std::string& services_json) {
  // Probing off: these tests are about reloading, and the endpoints are
  // addresses nothing listens on.
  return R"({"service_discovery":{"backend":"static",)"
         R"("health_check":{"enabled":false},"services":)" +
         services_json + "}}";
}

const std::string one_service = R"({"a-1":{"name":"a","endpoints":[
  {"url":"http://127.5.0.1:80","health_status":"Healthy"}]}})";
const std::string two_services = R"({"a-1":{"name":"a","endpoints":[
  {"url":"http://127.5.0.1:80","health_status":"Healthy"}]},
  "b-1":{"name":"b","endpoints":[{"url":"http://127.5.0.2:80"}]}})";

} // namespace

TEST_CASE("static file: a changed file is applied without a signal",
          "[static][reload]") {
  test::temp_config_file file{config_listing(one_service)};
  ServiceDiscovery discovery{GatewayConfig::from_file(file.path())};
  discovery.start();
  REQUIRE(discovery.get_services().size() == 1);
  file.write(config_listing(two_services));
  CHECK(test::eventually([&] { return discovery.get_services().size() == 2; },
                         std::chrono::seconds(5)));
}

TEST_CASE("static file: malformed content keeps the previous services",
          "[static][reload]") {
  test::temp_config_file file{config_listing(one_service)};
  ServiceDiscovery discovery{GatewayConfig::from_file(file.path())};
  discovery.start();
  auto version = discovery.snapshot()->version;
  file.write(R"({"service_discovery": {"services": {"a-1": )");
  try {
    discovery.reload();
    FAIL("reload of a malformed file must throw");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::config_invalid);
    CHECK_THAT(err.message(), Catch::Contains(file.path()));
    CHECK_THAT(err.message(), Catch::Contains("malformed JSON"));
  }
  // Also through the poller: still the old content, same version.
  std::this_thread::sleep_for(std::chrono::milliseconds(1500));
  CHECK(discovery.get_services().size() == 1);
  CHECK(discovery.snapshot()->version == version);

  // A file with one bad service is rejected whole.
  file.write(config_listing(
      R"({"ok-1":{"name":"ok"},"bad-1":{"name":"bad","endpoints":[{"url":"x"}]}})"));
  CHECK_THROWS_AS(discovery.reload(), GatewayError);
  CHECK(discovery.get_services().count("ok-1") == 0);

  // Fixing the file applies it.
  file.write(config_listing(two_services));
  discovery.reload();
  CHECK(discovery.get_services().size() == 2);
}

TEST_CASE("static file: API registrations survive a reload and deregistered "
          "file services stay hidden until the file changes",
          "[static][reload]") {
  test::temp_config_file file{config_listing(two_services)};
  ServiceDiscovery discovery{GatewayConfig::from_file(file.path())};
  discovery.start();
  ServiceInfo api;
  api.name = "api";
  discovery.register_service("api-1", api);
  discovery.deregister_service("b-1");
  discovery.reload(); // same file content
  CHECK(discovery.get_services().count("api-1") == 1);
  CHECK(discovery.get_services().count("b-1") == 0);
  file.write(config_listing(one_service));
  discovery.reload();
  CHECK(discovery.get_services().count("api-1") == 1);
  CHECK(discovery.get_services().count("a-1") == 1);
  CHECK(discovery.get_services().count("b-1") == 0);
  file.write(config_listing(two_services));
  discovery.reload();
  CHECK(discovery.get_services().count("b-1") == 1); // the file changed
}

TEST_CASE("static file: a reload validates the whole config, not only the "
          "services",
          "[static][reload]") {
  test::temp_config_file file{config_listing(one_service)};
  ServiceDiscovery discovery{GatewayConfig::from_file(file.path())};
  discovery.start();
  // Valid services, but a field the launcher would refuse at start.
  file.write(R"({"service_discovery":{"backend":"zookeeper","services":)" +
             two_services + "}}");
  try {
    discovery.reload();
    FAIL("a config the launcher would refuse must not be applied");
  } catch (const GatewayError& err) {
    CHECK(err.kind() == errc::config_invalid);
    CHECK_THAT(err.message(), Catch::Contains("service_discovery.backend"));
  }
  CHECK(discovery.get_services().size() == 1);
  file.write(R"({"loggin":{},"service_discovery":{"services":)" + two_services +
             "}}");
  CHECK_THROWS_WITH(discovery.reload(), Catch::Contains("config.loggin"));
  CHECK(discovery.get_services().size() == 1);
}
