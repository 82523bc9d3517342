// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/redfish/redfish_backend.hpp"

#include <boost/asio/post.hpp>

namespace fleetpower::redfish {

namespace {
class SkeletonBackend final : public Backend {
 public:
  SkeletonBackend(boost::asio::any_io_executor ex, Options o) : ex_(std::move(ex)), opts_(std::move(o)) {}
  std::string_view name() const override { return "redfish"; }
  void start(OpContext, CompletionFn done) override {
    boost::asio::post(ex_, [done = std::move(done)] {
      done(Outcome::failure(ErrorKind::Unsupported, "redfish backend not implemented yet"));
    });
  }

 private:
  boost::asio::any_io_executor ex_;
  Options opts_;
};
}  // namespace

std::unique_ptr<Backend> make_backend(boost::asio::any_io_executor ex, Options opts) {
  return std::make_unique<SkeletonBackend>(std::move(ex), std::move(opts));
}

}  // namespace fleetpower::redfish
