// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/ipmi_backend.hpp"

#include "transport/ipmi/engine.hpp"

namespace fleetpower::ipmi {

namespace {
class IpmiBackend final : public Backend {
 public:
  IpmiBackend(asio::any_io_executor ex, Options opts)
      : engine_(std::make_shared<Engine>(std::move(ex), opts)) {}
  ~IpmiBackend() override { engine_->shutdown(); }
  std::string_view name() const override { return "ipmi"; }
  void start(OpContext ctx, CompletionFn done) override {
    engine_->start(std::move(ctx), std::move(done));
  }
  void shutdown() override { engine_->shutdown(); }
  /// Verified power actions read, decide and act in one RMCP+ session (Request::read_first).
  bool reads_first(const Target&) const override { return true; }

 private:
  std::shared_ptr<Engine> engine_;
};
}  // namespace

std::unique_ptr<Backend> make_backend(asio::any_io_executor ex, Options opts) {
  crypto_init();  // before any session; failures surface per operation
  return std::make_unique<IpmiBackend>(std::move(ex), opts);
}

}  // namespace fleetpower::ipmi
