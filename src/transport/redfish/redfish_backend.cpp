// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/redfish/redfish_backend.hpp"

#include <boost/asio/post.hpp>

#include <sys/resource.h>

#include <algorithm>
#include <map>

#include "transport/redfish/engine.hpp"
#include "transport/redfish/pool.hpp"

namespace fleetpower::redfish {

namespace {

/// The global cap never exceeds what the file descriptor limit allows (minus a reserve).
int connection_cap(int wanted) {
  struct rlimit rl {};
  if (::getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
    long room = static_cast<long>(rl.rlim_cur) - 64;
    if (room < 8) room = 8;
    if (wanted > room) wanted = static_cast<int>(room);
  }
  return wanted < 1 ? 1 : wanted;
}

bool truthy(const std::string* v) {
  return v && (*v == "1" || *v == "true" || *v == "yes" || *v == "on");
}

class RedfishBackend final : public Backend {
 public:
  RedfishBackend(boost::asio::any_io_executor ex, Options o)
      : ex_(std::move(ex)),
        opts_(std::move(o)),
        budget_(std::make_shared<ConnBudget>(ex_, connection_cap(opts_.max_conns_total))) {}

  ~RedfishBackend() override {
    for (auto& [k, b] : bmcs_) b.ep->close_all();
  }

  std::string_view name() const override { return "redfish"; }

  void start(OpContext ctx, CompletionFn done) override {
    const Target& t = ctx.target;
    auto fail = [&](ErrorKind k, std::string why) {
      boost::asio::post(
          ex_, [done = std::move(done), o = Outcome::failure(k, std::move(why))] { done(o); });
    };
    if (t.bmc.empty()) return fail(ErrorKind::Config, "no BMC address");
    TlsSettings tls;
    const std::string scheme = t.var_or("scheme", opts_.plain_http ? "http" : "https");
    if (scheme != "http" && scheme != "https")
      return fail(ErrorKind::Config, "inventory key scheme must be https or http");
    tls.plain = scheme == "http";
    tls.insecure = opts_.insecure || truthy(t.var("insecure"));
    if (auto* fp = t.var("tls_fingerprint"); fp && !fp->empty()) {
      auto n = normalize_fingerprint(*fp);
      if (!n)
        return fail(ErrorKind::Config,
                    "tls_fingerprint is not a SHA-256 fingerprint (64 hex digits)");
      tls.pin = *n;
    }
    const std::string ca_file = t.var_or("ca_file", opts_.ca_file);
    const std::uint16_t port = t.port ? t.port : (tls.plain ? 80 : 443);
    std::string key = t.bmc + ":" + std::to_string(port) + "|" + scheme + "|" +
                      (tls.insecure ? "i" : "") + "|" + tls.pin + "|" + ca_file;
    auto it = bmcs_.find(key);
    if (it == bmcs_.end()) {
      std::shared_ptr<boost::asio::ssl::context> ctx_ssl;
      if (!tls.plain) {
        auto cit = tls_ctx_.find(ca_file);
        if (cit == tls_ctx_.end()) {
          std::string err;
          auto c = make_tls_context(ca_file, &err);
          if (!c) return fail(ErrorKind::Config, err);
          cit = tls_ctx_.emplace(ca_file, std::move(c)).first;
        }
        ctx_ssl = cit->second;
      }
      WireLimits lim;
      lim.max_body = opts_.max_body_bytes;
      lim.connect = opts_.connect_timeout;
      lim.handshake = opts_.handshake_timeout;
      lim.request = opts_.request_timeout;
      lim.hedge = opts_.hedge_after;
      lim.max_per_host = std::clamp(opts_.max_conns_per_bmc, 1, 2);
      Bmc b;
      b.ep = std::make_shared<Endpoint>(ex_, t.bmc, port, tls, std::move(ctx_ssl), budget_, lim);
      b.st = std::make_shared<BmcState>();
      it = bmcs_.emplace(key, std::move(b)).first;
    }
    const bool insecure = tls.insecure && !tls.plain;
    CompletionFn wrapped = std::move(done);
    if (insecure) {
      wrapped = [d = std::move(wrapped)](Outcome o) {
        o.facts.emplace_back("tls", "insecure: certificate not verified");
        d(std::move(o));
      };
    }
    run_operation(ex_, it->second.ep, it->second.st, std::move(ctx), opts_, std::move(wrapped));
  }

  void shutdown() override {
    for (auto& [k, b] : bmcs_) {
      auto ep = b.ep;
      if (b.st->linger) b.st->linger->cancel();
      if (b.st->active_ops != 0) continue;  // its operation closes the session when it ends
      if (!b.st->token.empty())
        logout(ex_, ep, b.st, Millis(1500), [ep] { ep->close_all(); });
      else if (b.st->logouts_pending > 0)
        b.st->close_after_logout = true;  // let the DELETE in flight finish first
      else
        ep->close_all();
    }
  }

 private:
  struct Bmc {
    std::shared_ptr<Endpoint> ep;
    std::shared_ptr<BmcState> st;
  };
  boost::asio::any_io_executor ex_;
  Options opts_;
  std::shared_ptr<ConnBudget> budget_;
  std::map<std::string, Bmc> bmcs_;
  std::map<std::string, std::shared_ptr<boost::asio::ssl::context>> tls_ctx_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(boost::asio::any_io_executor ex, Options opts) {
  return std::make_unique<RedfishBackend>(std::move(ex), std::move(opts));
}

}  // namespace fleetpower::redfish
