// SPDX-License-Identifier: GPL-3.0-or-later
// The Redfish protocol engine (run_operation, then logout) against a scripted peer whose every
// answer comes from the fuzz input: HTTP status, ETag, Location, Retry-After, X-Auth-Token and
// body, or a transport failure.  Checks the engine's contract: the operation completes exactly
// once, by its deadline, whatever the BMC says.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <memory>
#include <string>

#include "fuzz_input.hpp"
#include "transport/redfish/engine.hpp"

namespace rf = fleetpower::redfish;
namespace fp = fleetpower;

namespace {

class ScriptedBmc final : public rf::HttpEndpoint {
 public:
  ScriptedBmc(boost::asio::io_context& io, fpfuzz::Input& in) : io_(io), in_(in) {}
  void request(rf::HttpRequest, fp::Clock::time_point, boost::asio::cancellation_slot,
               rf::HttpHandler h) override {
    rf::HttpResult r;
    r.step = rf::WireStep::Receive;
    if (in_.empty() || ++requests_ > 64) {
      r.error = fp::ErrorKind::Connection;
      r.reason = "script exhausted";
    } else {
      std::uint8_t k = in_.u8();
      if (k < 12) {
        static constexpr fp::ErrorKind kErr[] = {fp::ErrorKind::Timeout, fp::ErrorKind::Connection,
                                                 fp::ErrorKind::Protocol, fp::ErrorKind::Tls};
        r.error = kErr[k % 4];
        r.step = static_cast<rf::WireStep>(k % 6);
        r.reason = "scripted failure";
      } else {
        static constexpr unsigned kStatus[] = {200, 200, 200, 201, 202, 204, 301, 400, 401,
                                               403, 404, 405, 409, 412, 500, 501, 503, 999};
        r.response.status = kStatus[k % (sizeof kStatus / sizeof kStatus[0])];
        std::uint8_t mask = in_.u8();  // which headers follow
        if (mask & 1) r.response.etag = in_.str(40);
        if (mask & 2) r.response.location = in_.str(80);
        if (mask & 4) r.response.retry_after = in_.str(4);
        if (mask & 8) r.response.auth_token = in_.str(40);
        if (mask & 16) r.response.content_type = "application/json";
        r.response.body = in_.str(8192);
      }
    }
    boost::asio::post(io_, [h = std::move(h), r = std::move(r)] { h(r); });
  }
  std::string peer_fingerprint() const override { return {}; }

 private:
  boost::asio::io_context& io_;
  fpfuzz::Input& in_;
  int requests_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fpfuzz::Input in(data, size);
  boost::asio::io_context io;
  auto bmc = std::make_shared<ScriptedBmc>(io, in);
  auto st = std::make_shared<rf::BmcState>();
  fp::Target target;
  target.name = "node1";
  target.bmc = "127.0.0.1";
  target.protocol = "redfish";
  const std::uint8_t mode = in.u8();
  static constexpr const char* kAuth[] = {"auto", "session", "basic", "auto"};
  target.vars["auth"] = kAuth[mode & 3];
  if (mode & 4) target.vars["system"] = "1";
  fp::Credential cred;
  cred.name = "lab";
  cred.username = "admin";
  cred.password = fp::Secret("pw");
  rf::Options opts;
  opts.cycle_off_poll = fp::Millis(1);
  opts.session_linger = fp::Millis(0);
  opts.max_body_bytes = 64 * 1024;
  opts.busy_retries = 1;
  fp::Request req;
  req.action = static_cast<fp::Action>(in.u8() % (static_cast<int>(fp::Action::Probe) + 1));
  req.bootdev = static_cast<fp::BootDevice>(in.u8() % 5);
  req.persistent = mode & 8;
  req.efi = mode & 16;
  req.identify_seconds = (mode & 32) ? -1 : 15;
  boost::asio::cancellation_signal sig;
  int completions = 0;
  const auto budget = fp::Millis(40);  // waits (Retry-After, polls) end at the deadline
  fp::OpContext ctx{target, cred, req, fp::Clock::now() + budget, sig.slot()};
  rf::run_operation(io.get_executor(), bmc, st, ctx, opts,
                    [&](fp::Outcome) { ++completions; });
  io.run();
  if (completions != 1) std::abort();  // exactly once
  io.restart();
  bool logged_out = false;
  rf::logout(io.get_executor(), bmc, st, fp::Millis(20), [&] { logged_out = true; });
  io.run();
  if (!logged_out) std::abort();
  return 0;
}
