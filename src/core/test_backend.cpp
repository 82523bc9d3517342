// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/test_backend.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include "core/duration.hpp"

#include <cstdlib>

namespace fleetpower {

namespace {
ErrorKind parse_kind(std::string_view s) {
  for (auto k : {ErrorKind::NoResponse, ErrorKind::Timeout, ErrorKind::Auth, ErrorKind::Privilege,
                 ErrorKind::Unsupported, ErrorKind::Busy, ErrorKind::Protocol, ErrorKind::Tls,
                 ErrorKind::Connection, ErrorKind::BmcError})
    if (error_kind_name(k) == s) return k;
  return ErrorKind::BmcError;
}
}  // namespace

TestBackend::TestBackend(asio::any_io_executor ex) : ex_(std::move(ex)) {}
TestBackend::~TestBackend() = default;

PowerState TestBackend::state_of(const std::string& target) const {
  auto it = nodes_.find(target);
  if (it == nodes_.end()) return PowerState::Unknown;
  const Node& n = it->second;
  if (n.settled != n.target && Clock::now() < n.settles_at)
    return n.target == PowerState::On ? PowerState::PoweringOn : PowerState::PoweringOff;
  return n.target;
}

Outcome TestBackend::apply(const OpContext& ctx, Node& n) {
  const Target& t = ctx.target;
  if (!n.initialised) {
    n.initialised = true;
    n.settled = n.target = t.var_or("test_state", "off") == "on" ? PowerState::On : PowerState::Off;
  }
  if (auto* f = t.var("test_fail")) {
    auto colon = f->find(':');
    std::string kind = f->substr(0, colon);
    std::string msg = colon == std::string::npos ? fmt::format("scripted {} failure", kind) : f->substr(colon + 1);
    return Outcome::failure(parse_kind(kind), msg);
  }
  auto now = Clock::now();
  if (n.settled != n.target && now >= n.settles_at) n.settled = n.target;
  auto transition = parse_duration(t.var_or("test_transition", "0")).value_or(Millis(0));
  // A hard power off is immediate; power on and soft shutdown take the scripted transition.
  auto power = [&](PowerState to, Millis takes) {
    events_.push_back({t.name, ctx.request.action, now});
    n.target = to;
    n.settles_at = now + takes;
    if (takes.count() == 0) n.settled = to;
  };
  const Action a = ctx.request.action;
  if (ctx.request.read_first &&
      (a == Action::On || a == Action::Off || a == Action::Soft || a == Action::Cycle || a == Action::Reset)) {
    ++status_reads_;
    auto st = state_of(t.name);
    PowerDecision d = decide_power(a, st);
    Outcome o = Outcome::success(d.result, st);
    if (d.send) {
      Request r = ctx.request;
      r.read_first = false;
      r.action = d.action;
      o = apply(OpContext{ctx.target, ctx.credential, r, ctx.deadline, ctx.cancel}, n);
    }
    o.facts.insert(o.facts.begin(), {{"state_before", std::string(power_state_name(st))},
                                     {"acted", d.send ? std::string(action_name(d.action)) : "none"}});
    return o;
  }
  switch (a) {
    case Action::Status: {
      ++status_reads_;
      auto st = state_of(t.name);
      return Outcome::success(std::string(power_state_name(st)), st);
    }
    case Action::On:
    case Action::Off: {
      power(ctx.request.action == Action::On ? PowerState::On : PowerState::Off,
            ctx.request.action == Action::On ? transition : Millis(0));
      if (t.var_or("test_read_after", "false") != "true" || !ctx.request.read_back) return Outcome::success("ok");
      ++read_backs_;
      auto st = state_of(t.name);
      auto o = Outcome::success("ok", st);
      o.facts.emplace_back("state_after", std::string(power_state_name(st)));
      return o;
    }
    case Action::Soft:
      power(PowerState::Off, transition);
      return Outcome::success("ok");
    case Action::Cycle:
    case Action::Reset:
      events_.push_back({t.name, ctx.request.action, now});
      n.settled = n.target = PowerState::On;
      return Outcome::success("ok");
    case Action::Nmi:
    case Action::Identify:
      events_.push_back({t.name, ctx.request.action, now});
      return Outcome::success("ok");
    case Action::BootDev: {
      events_.push_back({t.name, ctx.request.action, now});
      auto o = Outcome::success(fmt::format("{} ({})", boot_device_name(ctx.request.bootdev),
                                            ctx.request.persistent ? "persistent" : "next boot"));
      return o;
    }
    case Action::PowerReading: {
      // test_watts: a number, or "none" (the BMC has no reading).
      auto st = state_of(t.name);
      auto w = t.var_or("test_watts", "none");
      char* end = nullptr;
      double v = std::strtod(w.c_str(), &end);
      if (w.empty() || *end) {
        auto o = Outcome::success("no reading (test BMC without a meter)", st);
        o.reading_note = "test BMC without a meter";
        return o;
      }
      auto o = Outcome::success(fmt::format("{} W", v), st);
      o.watts = v;
      return o;
    }
    case Action::Probe: {
      auto o = Outcome::success("test");
      o.facts = {{"vendor", "test"}, {"model", "scripted fake BMC"}};
      return o;
    }
  }
  return Outcome::failure(ErrorKind::Internal, "unhandled action");
}

bool TestBackend::reads_first(const Target& t) const { return t.var_or("test_read_first", "false") == "true"; }

void TestBackend::start(OpContext ctx, CompletionFn done) {
  ++starts_;
  last_deadlines_ = {ctx.deadline, ctx.read_deadline};
  const Target& t = ctx.target;
  auto timer = std::make_shared<asio::steady_timer>(ex_);
  bool hang = t.var_or("test_hang", "false") == "true" || t.var_or("test_hang", "false") == "yes";
  auto delay = parse_duration(t.var_or("test_delay", "2ms")).value_or(Millis(2));
  // A hung BMC never answers: the operation gives up at its deadline, as a real backend's
  // does (without one, only cancellation ends it).
  if (hang) timer->expires_at(ctx.deadline == Clock::time_point{} ? Clock::time_point::max() : ctx.deadline);
  else timer->expires_after(delay);
  Node* node = &nodes_[t.name];
  timer->async_wait(asio::bind_cancellation_slot(
      ctx.cancel, [this, timer, ctx, node, hang, done = std::move(done)](boost::system::error_code ec) {
        if (ec || hang) {
          done(Outcome::failure(ErrorKind::Timeout, "timed out waiting for the test BMC's answer"));
          return;
        }
        done(apply(ctx, *node));
      }));
}

}  // namespace fleetpower
