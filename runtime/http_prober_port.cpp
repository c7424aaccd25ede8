#include "runtime/http_prober_port.hpp"

#include <caf/send.hpp>

namespace orasi {

namespace {

class http_prober_port : public prober_port {
public:
  explicit http_prober_port(std::shared_ptr<http_prober> engine)
      : engine_(std::move(engine)) {}

  void submit(attempt_request request, caf::actor reply_to) override {
    // The completion runs on the engine thread; anon_send is the
    // thread-safe way back into the actor world.
    engine_->submit(std::move(request),
                    [reply_to = std::move(reply_to)](attempt_result result) {
                      caf::anon_send(reply_to, std::move(result));
                    });
  }

private:
  std::shared_ptr<http_prober> engine_;
};

} // namespace

prober_port_ptr make_http_prober_port(std::shared_ptr<http_prober> engine) {
  return std::make_shared<http_prober_port>(std::move(engine));
}

} // namespace orasi
