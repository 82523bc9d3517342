// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ssh/ssh_backend.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <libssh/libssh.h>

#include <cstdlib>
#include <deque>
#include <map>

#include "core/inventory.hpp"
#include "transport/ssh/libssh_api.hpp"
#include "transport/ssh/profile.hpp"

namespace fleetpower::ssh {

namespace asio = boost::asio;

namespace {

/// An operation waiting for its device (one conversation per device at a time: outlets of
/// one PDU are switched one after the other).
struct Waiter {
  SessionSpec spec;
  asio::cancellation_slot cancel;
  CompletionFn done;
  std::unique_ptr<asio::steady_timer> timer;
  bool finished = false;
};

class SshBackend final : public Backend {
 public:
  SshBackend(asio::any_io_executor ex, Options o, LoadReport* report) : ex_(ex), opts_(std::move(o)) {
    // libssh is loaded here, on the first SSH target; when it cannot be, each SSH operation
    // fails with the loader's reason (run_session).
    if (load_libssh()) sshlib().ssh_init();
    std::vector<std::string> errors;
    if (opts_.system_profile_dir) profiles_.load_dir(kSystemProfileDir, true, &errors);
    for (auto& d : opts_.profile_dirs) profiles_.load_dir(d, false, &errors);
    if (report) report->errors = std::move(errors);
  }

  std::string_view name() const override { return "ssh"; }

  void start(OpContext ctx, CompletionFn done) override {
    SessionSpec spec;
    std::string err;
    ErrorKind kind = prepare(ctx, &spec, &err);
    if (kind != ErrorKind::None) {
      asio::post(ex_, [done = std::move(done), o = Outcome::failure(kind, std::move(err))] { done(o); });
      return;
    }
    auto w = std::make_shared<Waiter>();
    w->spec = std::move(spec);
    w->cancel = ctx.cancel;
    w->done = std::move(done);
    std::string key = ctx.target.bmc + ":" + std::to_string(w->spec.port);
    auto& dev = devices_[key];
    if (!dev.busy) return launch(key, w);
    // Queued behind another operation on the same device, within this one's deadline.
    dev.queue.push_back(w);
    w->timer = std::make_unique<asio::steady_timer>(ex_, w->spec.deadline);
    std::weak_ptr<Waiter> ww = w;
    w->timer->async_wait([ww, label = w->spec.label](boost::system::error_code ec) {
      auto x = ww.lock();
      if (ec || !x || x->finished) return;
      x->finished = true;
      if (x->cancel.is_connected()) x->cancel.clear();
      x->done(Outcome::failure(ErrorKind::Timeout,
                               fmt::format("timed out waiting for {} (busy with earlier operations)", label)));
    });
    if (w->cancel.is_connected()) {
      w->cancel.assign([ww, label = w->spec.label](asio::cancellation_type t) {
        auto x = ww.lock();
        if (!x || x->finished) return;
        x->finished = true;
        x->timer->cancel();
        bool intr = (t & asio::cancellation_type::terminal) != asio::cancellation_type::none;
        auto o = Outcome::failure(intr ? ErrorKind::Interrupted : ErrorKind::Timeout,
                                  fmt::format("{} waiting for {} (busy with earlier operations)",
                                              intr ? "interrupted" : "timed out", label));
        x->cancel.clear();
        x->done(std::move(o));
      });
    }
  }

 private:
  struct Device {
    bool busy = false;
    std::deque<std::shared_ptr<Waiter>> queue;
  };

  void launch(const std::string& key, std::shared_ptr<Waiter> w) {
    devices_[key].busy = true;
    if (w->timer) w->timer->cancel();
    auto done = std::move(w->done);
    run_session(
        ex_, std::move(w->spec), w->cancel, [done = std::move(done)](Outcome o) { done(std::move(o)); },
        [this, key] { next(key); });
  }

  void next(const std::string& key) {
    auto& dev = devices_[key];
    dev.busy = false;
    while (!dev.queue.empty()) {
      auto w = dev.queue.front();
      dev.queue.pop_front();
      if (w->finished) continue;
      w->finished = true;
      if (Clock::now() >= w->spec.deadline) {
        if (w->cancel.is_connected()) w->cancel.clear();
        w->done(Outcome::failure(ErrorKind::Timeout, fmt::format("timed out waiting for {} (busy with earlier operations)",
                                                                 w->spec.label)));
        continue;
      }
      return launch(key, w);
    }
  }

  /// Everything checked before a byte is sent.  Returns the error kind (None when ready).
  ErrorKind prepare(const OpContext& ctx, SessionSpec* s, std::string* err) {
    const Target& t = ctx.target;
    if (t.bmc.empty()) {
      *err = "no device address ('bmc' in the inventory)";
      return ErrorKind::Config;
    }
    if (!host_is_safe(t.bmc)) {
      *err = fmt::format("refused address '{}': a host name or IP address only; nothing was sent", sanitize(t.bmc, 64));
      return ErrorKind::Config;
    }
    const std::string* pname = t.var("ssh_profile");
    if (!pname || pname->empty()) {
      *err = fmt::format("no ssh_profile for {} (one of: {})", t.name, fmt::join(profiles_.names(), ", "));
      return ErrorKind::Config;
    }
    const Profile* p = profiles_.find(*pname);
    if (!p) {
      auto dym = did_you_mean(*pname, profiles_.names(), 1);
      *err = fmt::format("unknown ssh_profile '{}'{} (known: {})", sanitize(*pname, 64),
                         dym.empty() ? "" : fmt::format(", did you mean '{}'?", dym[0]), fmt::join(profiles_.names(), ", "));
      return ErrorKind::Config;
    }
    Action a = ctx.request.action;
    const ActionSpec* spec = p->action(a);
    if (!spec) {
      *err = fmt::format("SSH profile {} has no '{}' command", p->name, action_name(a));
      return ErrorKind::Unsupported;
    }
    if (p->kind == "pdu" && !t.var("outlet")) {
      *err = fmt::format("{} is a PDU (ssh_profile {}): name an outlet (inventory 'outlet', or --via pdu with the "
                         "node's 'outlets')",
                         t.name, p->name);
      return ErrorKind::Config;
    }
    Bound b;
    if (!bind_params(*p, *spec, [&](const std::string& k) { return t.var(k); }, &b, err)) return ErrorKind::Config;
    for (auto& tmpl : spec->send) {
      std::string cmd;
      if (!render(tmpl, b, &cmd, err)) return ErrorKind::Config;
      s->commands.push_back(std::move(cmd));
    }
    // Authentication material.
    if (ctx.credential.username.empty()) {
      *err = "no user name in the credentials";
      return ErrorKind::Config;
    }
    s->username = ctx.credential.username;
    s->password = &ctx.credential.password;
    std::string idf = t.var_or("identity_file", ctx.credential.identity_file);
    if (!idf.empty()) {
      auto it = keys_.find(idf);
      if (it == keys_.end()) {
        std::string kerr;
        auto key = load_identity(idf, &kerr);
        it = keys_.emplace(idf, std::make_pair(key, kerr)).first;
      }
      if (!it->second.first) {
        *err = it->second.second;
        return ErrorKind::Config;
      }
      s->identity = it->second.first;
      s->identity_file = idf;
    }
    // Host key checking.
    std::string policy = t.var_or("host_key_policy", "strict");
    if (policy == "strict") s->policy = HostKeyPolicy::Strict;
    else if (policy == "accept-new") s->policy = HostKeyPolicy::AcceptNew;
    else {
      *err = fmt::format("host_key_policy '{}' is not strict or accept-new", sanitize(policy, 32));
      return ErrorKind::Config;
    }
    if (auto* kh = t.var("known_hosts"); kh && !kh->empty()) {
      s->known_hosts = *kh;
      s->global_known_hosts = "/dev/null";  // the inventory's file alone decides
    } else {
      const char* home = std::getenv("HOME");
      if (!home || !*home) {
        *err = "no known_hosts: set 'known_hosts' in the inventory ($HOME is not set)";
        return ErrorKind::Config;
      }
      s->known_hosts = std::string(home) + "/.ssh/known_hosts";
    }
    s->host = t.bmc;
    s->port = t.port ? t.port : 22;
    s->label = s->port == 22 ? t.bmc : fmt::format("{}:{}", t.bmc, s->port);
    if (t.name != t.bmc) s->label = fmt::format("{} ({})", t.name, s->label);
    s->profile = p;
    s->action = a;
    s->spec = spec;
    s->bound = std::move(b);
    s->deadline = ctx.deadline;
    s->limits = opts_.limits;
    return ErrorKind::None;
  }

  asio::any_io_executor ex_;
  Options opts_;
  ProfileSet profiles_;
  std::map<std::string, Device> devices_;
  std::map<std::string, std::pair<std::shared_ptr<ssh_key_struct>, std::string>> keys_;
};

}  // namespace

std::unique_ptr<Backend> make_backend(asio::any_io_executor ex, Options opts, LoadReport* report) {
  return std::make_unique<SshBackend>(std::move(ex), std::move(opts), report);
}

}  // namespace fleetpower::ssh
