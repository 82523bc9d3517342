// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/outlets.hpp"

#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <set>

#include "core/duration.hpp"

namespace fleetpower {

namespace {

bool host_chars(std::string_view s) {
  if (s.empty() || s.size() > 253 || s.front() == '-') return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == '_')) return false;
  return true;
}

bool outlet_chars(std::string_view s) {
  if (s.empty() || s.size() > 32 || s.front() == '-') return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '-')) return false;
  return true;
}

std::string printable(std::string_view s) {
  std::string out;
  for (char c : s) {
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
    if (out.size() > 64) return out + "...";
  }
  return out;
}

}  // namespace

bool parse_outlets(const std::string& spec, std::vector<OutletRef>* out, std::string* err) {
  out->clear();
  std::size_t start = 0;
  while (start <= spec.size()) {
    auto comma = spec.find(',', start);
    std::string item = spec.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    // trim spaces around list items only
    auto b = item.find_first_not_of(' ');
    auto e = item.find_last_not_of(' ');
    item = b == std::string::npos ? std::string() : item.substr(b, e - b + 1);
    auto colon = item.rfind(':');
    if (colon == std::string::npos || colon == 0 || colon + 1 == item.size()) {
      *err = fmt::format("'{}' is not PDU:OUTLET (like pdu-a1:5)", printable(item));
      return false;
    }
    OutletRef r{item.substr(0, colon), item.substr(colon + 1)};
    if (!host_chars(r.pdu)) {
      *err = fmt::format("'{}' is not a PDU name (an inventory host)", printable(r.pdu));
      return false;
    }
    if (!outlet_chars(r.outlet)) {
      *err = fmt::format("refused outlet '{}' on {}: letters, digits, '.', '_' and '-' only; nothing was sent",
                         printable(r.outlet), r.pdu);
      return false;
    }
    out->push_back(std::move(r));
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (out->empty() || out->size() > 8) {
    *err = "a node has 1 to 8 outlets";
    return false;
  }
  return true;
}

bool build_outlet_table(const Inventory& inv, const std::vector<const Target*>& nodes, CredentialStore& creds,
                        OutletTable* out, std::string* err) {
  std::vector<std::string> missing;
  for (auto* n : nodes)
    if (!n->var("outlets")) missing.push_back(n->name);
  if (!missing.empty()) {
    *err = fmt::format("--via pdu: {} ha{} no 'outlets' in the inventory", fmt::join(missing, ","),
                       missing.size() == 1 ? "s" : "ve");
    return false;
  }
  for (auto* n : nodes) {
    std::vector<OutletRef> refs;
    if (!parse_outlets(*n->var("outlets"), &refs, err)) {
      *err = fmt::format("{}: outlets: {}", n->name, *err);
      return false;
    }
    OutletPath path;
    if (auto* d = n->var("cycle_delay")) {
      auto ms = parse_duration(*d);
      if (!ms) {
        *err = fmt::format("{}: cycle_delay '{}' is not a duration", n->name, *d);
        return false;
      }
      path.cycle_delay = *ms;
    }
    std::set<std::string> seen;
    for (std::size_t i = 0; i < refs.size(); ++i) {
      const Target* pdu = inv.find(refs[i].pdu);
      if (!pdu) {
        std::vector<std::string> pool;
        for (auto& t : inv.targets) pool.push_back(t.name);
        auto dym = did_you_mean(refs[i].pdu, pool, 1);
        *err = fmt::format("{}: outlets: PDU '{}' is not an inventory host{}", n->name, refs[i].pdu,
                           dym.empty() ? "" : fmt::format(" (did you mean {}?)", dym[0]));
        return false;
      }
      if (pdu->var("outlets")) {
        *err = fmt::format("{}: outlets: {} is itself powered through outlets; name the PDU", n->name, pdu->name);
        return false;
      }
      std::string name = refs[i].pdu + ":" + refs[i].outlet;
      if (!seen.insert(name).second) {
        *err = fmt::format("{}: outlets: {} is listed twice", n->name, name);
        return false;
      }
      OutletPath::Feed f;
      f.label = std::string(1, static_cast<char>('A' + i));
      f.name = name;
      f.target = std::make_unique<Target>(*pdu);
      f.target->vars["outlet"] = refs[i].outlet;
      std::string cname = pdu->credentials.empty() ? "env" : pdu->credentials;
      f.credential = creds.resolve(cname, err);
      if (!f.credential) {
        *err = fmt::format("{} (PDU of {}): {}", pdu->name, n->name, *err);
        return false;
      }
      path.feeds.push_back(std::move(f));
    }
    (*out)[n->name] = std::move(path);
  }
  return true;
}

namespace {

/// One node's operation over its outlets: an explicit state machine.
class OutletOp : public std::enable_shared_from_this<OutletOp> {
 public:
  enum class Phase { Status, Switch, Off, Delay, On, Done };

  OutletOp(asio::any_io_executor ex, const BackendRegistry& reg, const OutletPath& path, OpContext ctx,
           CompletionFn done)
      : ex_(ex), reg_(reg), path_(path), ctx_(std::move(ctx)), done_(std::move(done)), timer_(ex) {
    for (std::size_t i = 0; i < path_.feeds.size(); ++i) signals_.push_back(std::make_unique<asio::cancellation_signal>());
    results_.resize(path_.feeds.size());
  }

  void begin() {
    started_ = Clock::now();
    if (ctx_.cancel.is_connected()) {
      ctx_.cancel.assign([w = weak_from_this()](asio::cancellation_type t) {
        if (auto self = w.lock()) self->on_cancel(t);
      });
    }
    switch (ctx_.request.action) {
      case Action::Status:
        return run(Phase::Status, Action::Status);
      case Action::On:
        return run(Phase::Switch, Action::On);
      case Action::Off:
        return run(Phase::Switch, Action::Off);
      case Action::Cycle:
      case Action::Reset:
        return run(Phase::Off, Action::Off);
      default:
        return finish(Outcome::failure(
            ErrorKind::Unsupported, fmt::format("{} is not possible through PDU outlets (status, on, off, cycle, reset)",
                                                action_name(ctx_.request.action))));
    }
  }

 private:
  void run(Phase p, Action a) {
    phase_ = p;
    pending_ = path_.feeds.size();
    for (std::size_t i = 0; i < path_.feeds.size(); ++i) {
      auto& f = path_.feeds[i];
      Backend* b = reg_.find(f.target->protocol);
      if (!b) {
        results_[i] = Outcome::failure(ErrorKind::Config, fmt::format("no '{}' backend in this build", f.target->protocol));
        --pending_;
        continue;
      }
      Request r = ctx_.request;
      r.action = a;
      b->start(OpContext{*f.target, *f.credential, r, ctx_.deadline, signals_[i]->slot()},
               [self = shared_from_this(), i, p](Outcome o) { self->on_feed(p, i, std::move(o)); });
    }
    if (pending_ == 0) asio::post(ex_, [self = shared_from_this()] { self->phase_done(); });
  }

  void on_feed(Phase p, std::size_t i, Outcome o) {
    if (phase_ != p) return;
    results_[i] = std::move(o);
    if (--pending_ == 0) phase_done();
  }

  void phase_done() {
    if (phase_ == Phase::Done) return;
    switch (phase_) {
      case Phase::Status:
        return finish(combine_status());
      case Phase::Switch:
        return finish(combine_switch(std::string(action_name(ctx_.request.action))));
      case Phase::Off:
        off_results_ = results_;
        if (cancelled_) return finish(combine_switch("off"));
        phase_ = Phase::Delay;
        if (Clock::now() + path_.cycle_delay >= ctx_.deadline)
          return finish(Outcome::failure(ErrorKind::Timeout,
                                         fmt::format("no time left for the {} off time of the cycle: outlets are OFF",
                                                     format_duration(path_.cycle_delay))));
        timer_.expires_after(path_.cycle_delay);
        timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
          if (self->phase_ != Phase::Delay) return;
          if (ec) return;
          self->run(Phase::On, Action::On);
        });
        return;
      case Phase::On: {
        auto on = combine_switch("on");
        std::vector<std::string> off_failed;
        for (std::size_t i = 0; i < off_results_.size(); ++i)
          if (!off_results_[i].ok())
            off_failed.push_back(fmt::format("outlet {} ({}): switching off: {}", path_.feeds[i].label,
                                             path_.feeds[i].name, off_results_[i].reason));
        if (!off_failed.empty()) {
          auto o = Outcome::failure(off_results_[0].ok() ? ErrorKind::BmcError : off_results_[0].error,
                                    fmt::format("{}; the outlets were switched on again", fmt::join(off_failed, "; ")));
          for (std::size_t i = 0; i < off_results_.size(); ++i)
            if (!off_results_[i].ok()) o.error = off_results_[i].error;
          return finish(std::move(o));
        }
        if (on.ok()) on.facts.emplace_back("cycled", "off-on");
        return finish(std::move(on));
      }
      default:
        return;
    }
  }

  Outcome combine_status() {
    std::size_t n = results_.size(), on = 0, off = 0;
    std::vector<std::string> errors, parts;
    Outcome o;
    for (std::size_t i = 0; i < n; ++i) {
      auto& r = results_[i];
      auto& f = path_.feeds[i];
      if (!r.ok()) {
        if (errors.empty()) o.error = r.error;
        errors.push_back(fmt::format("outlet {} ({}): {}", f.label, f.name, r.reason));
        o.facts.emplace_back("outlet_" + f.label, f.name + " error");
        parts.push_back(f.label + " error");
        continue;
      }
      if (r.state == PowerState::On) ++on;
      if (r.state == PowerState::Off) ++off;
      o.facts.emplace_back("outlet_" + f.label, fmt::format("{} {}", f.name, power_state_name(r.state)));
      parts.push_back(fmt::format("{} {}", f.label, power_state_name(r.state)));
    }
    if (!errors.empty()) {
      o.reason = fmt::format("{}", fmt::join(errors, "; "));
      return o;
    }
    const char* word = n == 1 ? "outlet" : "outlets";
    if (on == n) {
      o.result = fmt::format("on ({}/{} {})", n, n, word);
      o.state = PowerState::On;
    } else if (off == n) {
      o.result = fmt::format("off ({}/{} {})", n, n, word);
      o.state = PowerState::Off;
    } else {
      o.result = fmt::format("partial: {}", fmt::join(parts, ", "));
    }
    return o;
  }

  Outcome combine_switch(const std::string& what) {
    std::vector<std::string> errors, done;
    Outcome o;
    for (std::size_t i = 0; i < results_.size(); ++i) {
      auto& r = results_[i];
      auto& f = path_.feeds[i];
      if (r.ok()) {
        done.push_back(f.label);
        o.facts.emplace_back("outlet_" + f.label, fmt::format("{} {}", f.name, what));
      } else {
        if (errors.empty()) o.error = r.error;
        errors.push_back(fmt::format("outlet {} ({}): {}", f.label, f.name, r.reason));
      }
    }
    if (errors.empty()) {
      o.result = "ok";
      return o;
    }
    o.reason = fmt::format("{}", fmt::join(errors, "; "));
    if (!done.empty()) o.reason += fmt::format(" (outlet{} {} switched {})", done.size() > 1 ? "s" : "", fmt::join(done, ", "), what);
    return o;
  }

  void on_cancel(asio::cancellation_type t) {
    if (phase_ == Phase::Done) return;
    cancelled_ = true;
    if (phase_ == Phase::Delay) {
      timer_.cancel();
      bool intr = (t & asio::cancellation_type::terminal) != asio::cancellation_type::none;
      return finish(Outcome::failure(intr ? ErrorKind::Interrupted : ErrorKind::Timeout,
                                     intr ? "interrupted during the off time of the cycle: outlets are OFF"
                                          : "timed out during the off time of the cycle: outlets are OFF"));
    }
    for (auto& s : signals_) s->emit(t);  // each feed completes with its own reason
  }

  void finish(Outcome o) {
    if (phase_ == Phase::Done) return;
    phase_ = Phase::Done;
    timer_.cancel();
    if (ctx_.cancel.is_connected()) ctx_.cancel.clear();
    o.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - started_);
    asio::post(ex_, [d = std::move(done_), o = std::move(o)]() mutable { d(std::move(o)); });
  }

  asio::any_io_executor ex_;
  const BackendRegistry& reg_;
  const OutletPath& path_;
  OpContext ctx_;
  CompletionFn done_;
  asio::steady_timer timer_;
  std::vector<std::unique_ptr<asio::cancellation_signal>> signals_;
  std::vector<Outcome> results_, off_results_;
  std::size_t pending_ = 0;
  Phase phase_ = Phase::Status;
  bool cancelled_ = false;
  Clock::time_point started_;
};

class OutletBackend final : public Backend {
 public:
  OutletBackend(asio::any_io_executor ex, const BackendRegistry& reg, std::shared_ptr<const OutletTable> table)
      : ex_(ex), reg_(reg), table_(std::move(table)) {}
  std::string_view name() const override { return "pdu"; }
  void start(OpContext ctx, CompletionFn done) override {
    auto it = table_->find(ctx.target.name);
    if (it == table_->end()) {
      asio::post(ex_, [done = std::move(done), n = ctx.target.name] {
        done(Outcome::failure(ErrorKind::Config, fmt::format("{} has no outlets", n)));
      });
      return;
    }
    auto op = std::make_shared<OutletOp>(ex_, reg_, it->second, std::move(ctx), std::move(done));
    op->begin();
  }

 private:
  asio::any_io_executor ex_;
  const BackendRegistry& reg_;
  std::shared_ptr<const OutletTable> table_;
};

}  // namespace

std::unique_ptr<Backend> make_outlet_backend(asio::any_io_executor ex, const BackendRegistry& registry,
                                             std::shared_ptr<const OutletTable> table) {
  return std::make_unique<OutletBackend>(std::move(ex), registry, std::move(table));
}

}  // namespace fleetpower
