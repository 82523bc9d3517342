// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ipmi/ipmi_backend.hpp"

#include <boost/asio/post.hpp>

namespace fleetpower::ipmi {

namespace {
class IpmiBackend final : public Backend {
 public:
  IpmiBackend(asio::any_io_executor ex, Options opts) : ex_(std::move(ex)), opts_(opts) {}
  std::string_view name() const override { return "ipmi"; }
  void start(OpContext ctx, CompletionFn done) override {
    (void)ctx;
    asio::post(ex_, [done = std::move(done)] {
      done(Outcome::failure(ErrorKind::Internal, "ipmi backend not implemented yet"));
    });
  }

 private:
  asio::any_io_executor ex_;
  Options opts_;
};
}  // namespace

std::unique_ptr<Backend> make_backend(asio::any_io_executor ex, Options opts) {
  return std::make_unique<IpmiBackend>(std::move(ex), opts);
}

}  // namespace fleetpower::ipmi
