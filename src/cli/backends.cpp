// SPDX-License-Identifier: GPL-3.0-or-later
// The one place where transports are wired into the CLI.
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <unordered_map>

#include "cli/common.hpp"
#include "core/test_backend.hpp"
#if FLEETPOWER_HAVE_IPMI
#include "transport/ipmi/ipmi_backend.hpp"
#endif
#if FLEETPOWER_HAVE_REDFISH
#include "transport/redfish/redfish_backend.hpp"
#endif
#if FLEETPOWER_HAVE_SSH
#include "transport/ssh/ssh_backend.hpp"
#endif

namespace fleetpower::cli {

namespace {

using tcp = asio::ip::tcp;

/// `protocol: auto`: Redfish when the BMC answers it, else IPMI.  "Answers" is first a TCP
/// connect to the Redfish port (short, bounded); a connected BMC whose service root is missing
/// (a web UI without Redfish) also falls back to IPMI.  The choice is kept per BMC for the run.
/// A probe asks both protocols and reports which answered.
class AutoBackend : public Backend {
 public:
  AutoBackend(asio::any_io_executor ex, const BackendRegistry* reg)
      : ex_(ex), redfish_(reg->find("redfish")), ipmi_(reg->find("ipmi")) {}
  std::string_view name() const override { return "auto"; }

  void start(OpContext ctx, CompletionFn done) override {
    auto op = std::make_shared<Op>(this, ctx, std::move(done));
    op->begin();
  }

 private:
  struct Op : std::enable_shared_from_this<Op> {
    Op(AutoBackend* b, const OpContext& c, CompletionFn d)
        : be(b), ctx(c), done(std::move(d)), timer(b->ex_), sock(b->ex_), resolver(b->ex_) {}
    AutoBackend* be;
    OpContext ctx;
    CompletionFn done;
    asio::steady_timer timer;
    tcp::socket sock;
    tcp::resolver resolver;
    asio::cancellation_signal sub_rf, sub_ipmi;
    bool finished = false, cancelled = false, connect_done = false;
    int pending = 0;
    std::optional<Outcome> rf, ipmi;

    void begin() {
      if (ctx.cancel.is_connected()) {
        ctx.cancel.assign([w = weak_from_this()](asio::cancellation_type t) {
          if (auto s = w.lock()) s->on_cancel(t);
        });
      }
      const std::string key = ctx.target.bmc_key();
      auto it = be->chosen_.find(key);
      if (it != be->chosen_.end() && ctx.request.action != Action::Probe)
        return run_one(it->second == "redfish" ? be->redfish_ : be->ipmi_, it->second);
      if (!be->redfish_ && !be->ipmi_)
        return finish(Outcome::failure(ErrorKind::Config, "protocol 'auto': this build has neither Redfish nor IPMI"));
      if (!be->redfish_) return run_one(be->ipmi_, "ipmi");
      if (!be->ipmi_) return run_one(be->redfish_, "redfish");
      // Does anything listen on the Redfish port?
      const bool plain = ctx.target.var_or("scheme", "https") == "http";
      const std::uint16_t port = ctx.target.port ? ctx.target.port : (plain ? 80 : 443);
      auto remaining = std::chrono::duration_cast<Millis>(ctx.deadline - Clock::now());
      timer.expires_after(std::clamp(remaining / 3, Millis(1), Millis(3000)));
      timer.async_wait([s = shared_from_this()](boost::system::error_code ec) {
        if (!ec && !s->connect_done) {
          boost::system::error_code ig;
          s->resolver.cancel();
          s->sock.close(ig);
        }
      });
      resolver.async_resolve(ctx.target.bmc, std::to_string(port),
                             [s = shared_from_this()](boost::system::error_code ec, tcp::resolver::results_type r) {
                               if (s->finished) return;
                               if (ec || r.empty()) return s->connected(false);
                               asio::async_connect(s->sock, r,
                                                   [s](boost::system::error_code cec, const tcp::endpoint&) {
                                                     s->connected(!cec);
                                                   });
                             });
    }

    void connected(bool ok) {
      if (connect_done) return;
      connect_done = true;
      timer.cancel();
      boost::system::error_code ig;
      sock.close(ig);
      if (finished) return;
      if (cancelled) return finish(Outcome::failure(ErrorKind::Timeout, "timed out choosing the protocol (auto)"));
      spdlog::debug("{}: protocol auto: Redfish port {}", ctx.target.name, ok ? "answers" : "does not answer");
      if (ctx.request.action == Action::Probe) return probe_both(ok);
      if (ok) return try_redfish();
      run_one(be->ipmi_, "ipmi");
    }

    OpContext sub(asio::cancellation_signal& sig, Clock::time_point deadline) {
      OpContext c{ctx.target, ctx.credential, ctx.request, deadline, sig.slot()};
      return c;
    }

    static bool no_redfish(const Outcome& o) {
      if (o.error == ErrorKind::NoResponse || o.error == ErrorKind::Connection) return true;
      // A web server without a Redfish service root.
      return (o.error == ErrorKind::BmcError || o.error == ErrorKind::Protocol) &&
             o.reason.find("service root") != std::string::npos;
    }

    void try_redfish() {
      ++pending;
      be->redfish_->start(sub(sub_rf, ctx.deadline), [s = shared_from_this()](Outcome o) {
        --s->pending;
        if (s->finished) return;
        if (no_redfish(o) && !s->cancelled && Clock::now() < s->ctx.deadline) {
          spdlog::debug("{}: protocol auto: Redfish failed ({}); trying IPMI", s->ctx.target.name, o.reason);
          return s->run_one(s->be->ipmi_, "ipmi");
        }
        s->be->chosen_[s->ctx.target.bmc_key()] = "redfish";
        o.facts.emplace_back("protocol", "redfish");
        s->finish(std::move(o));
      });
    }

    void run_one(Backend* b, const std::string& proto) {
      auto& sig = proto == "redfish" ? sub_rf : sub_ipmi;
      ++pending;
      b->start(sub(sig, ctx.deadline), [s = shared_from_this(), proto](Outcome o) {
        --s->pending;
        if (s->finished) return;
        if (o.ok() || (o.error != ErrorKind::NoResponse && o.error != ErrorKind::Connection))
          s->be->chosen_[s->ctx.target.bmc_key()] = proto;
        o.facts.emplace_back("protocol", proto);
        s->finish(std::move(o));
      });
    }

    void probe_both(bool redfish_port) {
      // IPMI gets a short budget when Redfish is there (a Redfish-only BMC never answers UDP).
      auto ipmi_deadline = redfish_port ? std::min(ctx.deadline, Clock::now() + Millis(3000)) : ctx.deadline;
      if (redfish_port) {
        ++pending;
        be->redfish_->start(sub(sub_rf, ctx.deadline), [s = shared_from_this()](Outcome o) {
          --s->pending;
          s->rf = std::move(o);
          s->probe_done();
        });
      }
      ++pending;
      be->ipmi_->start(sub(sub_ipmi, ipmi_deadline), [s = shared_from_this()](Outcome o) {
        --s->pending;
        s->ipmi = std::move(o);
        s->probe_done();
      });
    }

    void probe_done() {
      if (pending > 0 || finished) return;
      const bool rf_ok = rf && rf->ok();
      const bool ipmi_ok = ipmi && ipmi->ok();
      std::string answered;
      if (rf_ok) answered = "redfish";
      if (ipmi_ok) answered += answered.empty() ? "ipmi" : ",ipmi";
      Outcome o;
      if (rf_ok) o = *rf;
      else if (ipmi_ok) o = *ipmi;
      else if (rf && !no_redfish(*rf)) o = *rf;
      else if (ipmi) o = *ipmi;
      else o = Outcome::failure(ErrorKind::NoResponse, "neither Redfish nor IPMI answered");
      if (rf_ok) be->chosen_[ctx.target.bmc_key()] = "redfish";
      else if (ipmi_ok) be->chosen_[ctx.target.bmc_key()] = "ipmi";
      o.facts.emplace_back("protocols", answered.empty() ? "none" : answered);
      o.facts.emplace_back("protocol", rf_ok ? "redfish" : ipmi_ok ? "ipmi" : "none");
      // The other protocol's facts, prefixed, when both answered.
      if (rf_ok && ipmi_ok)
        for (auto& [k, v] : ipmi->facts)
          if (k == "cipher_suite" || k == "cipher_suites" || k == "manufacturer_id" || k == "product_id" ||
              k == "plugin")
            o.facts.emplace_back("ipmi_" + k, v);
      finish(std::move(o));
    }

    void on_cancel(asio::cancellation_type t) {
      if (finished) return;
      cancelled = true;
      sub_rf.emit(t);
      sub_ipmi.emit(t);
      if (!connect_done) {
        boost::system::error_code ig;
        resolver.cancel();
        sock.close(ig);
        timer.cancel();
      }
    }

    void finish(Outcome o) {
      if (finished) return;
      finished = true;
      if (ctx.cancel.is_connected()) ctx.cancel.clear();
      asio::post(be->ex_, [d = std::move(done), o = std::move(o)]() mutable { d(std::move(o)); });
    }
  };

  asio::any_io_executor ex_;
  Backend* redfish_;
  Backend* ipmi_;
  std::unordered_map<std::string, std::string> chosen_;
};

}  // namespace

void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g,
                       std::shared_ptr<const plugin::Registry> plugins) {
  // Built on first use (BackendRegistry::add_lazy): a run pays only for the protocols its
  // targets use (SSH device profiles are parsed and their patterns compiled; TLS set up).
  reg.add("test", std::make_unique<TestBackend>(ex));
  bool have_rf = false, have_ipmi = false;
#if FLEETPOWER_HAVE_IPMI
  have_ipmi = true;
  reg.add_lazy("ipmi", [ex, plugins] {
    ipmi::Options io;
    io.plugins = plugins;
    return ipmi::make_backend(ex, io);
  });
#endif
#if FLEETPOWER_HAVE_REDFISH
  have_rf = true;
  if (g.insecure) spdlog::warn("--insecure: BMC certificates are NOT verified");
  reg.add_lazy("redfish", [ex, plugins, ca_file = g.ca_file, insecure = g.insecure] {
    redfish::Options ro;
    ro.ca_file = ca_file;
    ro.insecure = insecure;
    ro.plugins = plugins;
    return redfish::make_backend(ex, ro);
  });
#endif
#if FLEETPOWER_HAVE_SSH
  reg.add_lazy("ssh", [ex, dirs = g.ssh_profile_dirs] {
    ssh::Options so;
    so.profile_dirs = dirs;
    ssh::LoadReport report;
    auto b = ssh::make_backend(ex, so, &report);
    for (auto& e : report.errors) spdlog::error("SSH profile: {}", e);
    return b;
  });
#endif
  (void)g;
  if (have_rf || have_ipmi)
    reg.add_lazy("auto", [ex, r = &reg] { return std::make_unique<AutoBackend>(ex, r); });
}

void register_backends(BackendRegistry& reg, asio::any_io_executor ex, const Globals& g) {
  auto plugins = std::make_shared<plugin::Registry>();
  load_plugins(g, plugins.get());
  register_backends(reg, ex, g, std::move(plugins));
}

}  // namespace fleetpower::cli
