// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <functional>
#include <map>
#include <set>

#include "core/scheduler.hpp"
#include "core/test_backend.hpp"
#include "support/test_fleet.hpp"

using namespace fleetpower;
using namespace std::chrono_literals;

namespace {
using Fleet = testing::TestFleet;

Fleet make_fleet(std::size_t n, std::size_t hang_every = 0) {
  Fleet f(n, {}, 5);
  for (std::size_t i = 0; hang_every && i < n; i += hang_every) f.targets[i].vars["test_hang"] = "true";
  return f;
}

/// Counts concurrent operations per BMC and in total, to check the engine's limits.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(asio::any_io_executor ex) : ex_(ex) {}
  std::string_view name() const override { return "counting"; }
  void start(OpContext ctx, CompletionFn done) override {
    ++starts[ctx.target.name];
    int& b = per_bmc[ctx.target.bmc_key()];
    ++b;
    max_per_bmc = std::max(max_per_bmc, b);
    ++active;
    max_active = std::max(max_active, active);
    auto t = std::make_shared<asio::steady_timer>(ex_, 1ms);
    std::string key = ctx.target.bmc_key();
    t->async_wait([this, t, key, done = std::move(done)](boost::system::error_code) {
      --per_bmc[key];
      --active;
      done(Outcome::success("on", PowerState::On));
    });
  }
  asio::any_io_executor ex_;
  std::map<std::string, int> per_bmc;
  std::map<std::string, int> starts;
  int active = 0, max_active = 0, max_per_bmc = 0;
};

/// Calls its completion twice and never honours cancellation: the engine must cope.
class RudeBackend final : public Backend {
 public:
  explicit RudeBackend(asio::any_io_executor ex) : ex_(ex) {}
  std::string_view name() const override { return "rude"; }
  void start(OpContext ctx, CompletionFn done) override {
    if (ctx.target.name == "hang") return;  // never completes, ignores cancel
    asio::post(ex_, [done] {
      done(Outcome::success("first"));
      done(Outcome::success("second"));
    });
  }
  asio::any_io_executor ex_;
};
}  // namespace

TEST_CASE("every job completes exactly once, in input order", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(1000);
  SchedulerOptions so;
  so.fanout = 64;
  Scheduler s(io, reg, so);
  std::vector<int> seen(1000, 0);
  s.on_result([&](std::size_t i, const Outcome&) { ++seen[i]; });
  auto out = s.run(fleet.jobs());
  REQUIRE(out.size() == 1000);
  for (auto& o : out) {
    CHECK(o.ok());
    CHECK(o.result == "off");
  }
  for (int c : seen) REQUIRE(c == 1);
}

TEST_CASE("10,000 targets with 5% hanging finish within the timeout plus a margin", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(10000, 20);  // every 20th hangs: 500 hung BMCs
  SchedulerOptions so;
  so.fanout = 256;
  so.timeout = 1s;
  Scheduler s(io, reg, so);
  auto t0 = Clock::now();
  auto out = s.run(fleet.jobs());
  auto took = Clock::now() - t0;
  std::size_t ok = 0, timeouts = 0;
  for (auto& o : out) {
    ok += o.ok();
    timeouts += o.error == ErrorKind::Timeout;
  }
  CHECK(ok == 9500);
  CHECK(timeouts == 500);
  // A window held by hung BMCs would take 500/256 x 1s and more; the bound is timeout + margin.
  CHECK(took < 2500ms);
  for (std::size_t i = 0; i < out.size(); i += 20) CHECK(out[i].reason.find("timed out waiting") != std::string::npos);
}

TEST_CASE("fan-out window and one operation per BMC", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  auto cb = std::make_unique<CountingBackend>(io.get_executor());
  auto* counting = cb.get();
  reg.add("counting", std::move(cb));
  Fleet f;
  // 40 blades behind 4 chassis BMCs, plus 100 ordinary nodes.
  for (int i = 0; i < 140; ++i) {
    Target t;
    t.name = fmt::format("b{:03}", i);
    t.protocol = "counting";
    t.bmc = i < 40 ? fmt::format("chassis{}", i % 4) : fmt::format("bmc{}", i);
    t.vars["system"] = std::to_string(i);
    f.targets.push_back(t);
  }
  SchedulerOptions so;
  so.fanout = 16;
  Scheduler s(io, reg, so);
  auto out = s.run(f.jobs());
  for (auto& o : out) CHECK(o.ok());
  CHECK(counting->max_per_bmc == 1);
  CHECK(counting->max_active <= 16);
  CHECK(counting->max_active >= 8);
  for (auto& [n, c] : counting->starts) CHECK(c == 1);
}

TEST_CASE("a backend that completes twice or never is contained", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("rude", std::make_unique<RudeBackend>(io.get_executor()));
  Fleet f;
  for (auto n : {"a", "hang", "b"}) {
    Target t;
    t.name = n;
    t.protocol = "rude";
    f.targets.push_back(t);
  }
  SchedulerOptions so;
  so.timeout = 200ms;
  so.grace = 100ms;
  Scheduler s(io, reg, so);
  int calls = 0;
  s.on_result([&](std::size_t, const Outcome&) { ++calls; });
  auto out = s.run(f.jobs());
  CHECK(calls == 3);
  CHECK(out[0].result == "first");
  CHECK(out[1].error == ErrorKind::Timeout);
  CHECK(out[2].result == "first");
}

TEST_CASE("interrupt: in-flight become interrupted, the rest not attempted", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(100, 1);  // all hang
  SchedulerOptions so;
  so.fanout = 10;
  so.timeout = 30s;
  Scheduler s(io, reg, so);
  asio::steady_timer t(io, 100ms);
  t.async_wait([&](boost::system::error_code) { s.interrupt(); });
  auto t0 = Clock::now();
  auto out = s.run(fleet.jobs());
  CHECK(Clock::now() - t0 < 5s);
  CHECK(s.interrupted());
  std::size_t interrupted = 0, skipped = 0;
  for (auto& o : out) {
    interrupted += o.error == ErrorKind::Interrupted;
    skipped += o.error == ErrorKind::NotAttempted;
  }
  // 10 in the window; those that stalled released their slot, so a few more may have started.
  CHECK(interrupted >= 10);
  CHECK(interrupted + skipped == 100);
}

TEST_CASE("run deadline: unfinished targets are timed out, unstarted not attempted", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(50, 1);
  SchedulerOptions so;
  so.fanout = 5;
  so.timeout = 30s;
  so.deadline = 300ms;
  so.min_stall = 10s;  // keep the window held so some targets never start
  Scheduler s(io, reg, so);
  auto out = s.run(fleet.jobs());
  std::size_t timeouts = 0, skipped = 0;
  for (auto& o : out) {
    timeouts += o.error == ErrorKind::Timeout;
    skipped += o.error == ErrorKind::NotAttempted;
  }
  CHECK(timeouts == 5);
  CHECK(skipped == 45);
  CHECK(out[0].reason.find("run deadline") != std::string::npos);
}

TEST_CASE("admission stops new starts (max-fail)", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(40);
  for (auto& t : fleet.targets) t.vars["test_fail"] = "auth:bad password";
  SchedulerOptions so;
  so.fanout = 1;
  Scheduler s(io, reg, so);
  std::size_t failures = 0;
  s.on_result([&](std::size_t, const Outcome& o) { failures += !o.ok() && o.error != ErrorKind::NotAttempted; });
  s.set_admission([&](std::string* why) {
    if (failures < 3) return true;
    *why = "more than 2 failures";
    return false;
  });
  auto out = s.run(fleet.jobs());
  CHECK(failures == 3);
  CHECK(out[3].error == ErrorKind::NotAttempted);
  CHECK(out[39].reason == "more than 2 failures");
}

TEST_CASE("test backend: power actions change state and are recorded once", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  auto tb = std::make_unique<TestBackend>(io.get_executor());
  auto* test = tb.get();
  reg.add("test", std::move(tb));
  auto fleet = make_fleet(20);
  Scheduler s(io, reg, {});
  auto out = s.run(fleet.jobs(Action::On));
  for (auto& o : out) CHECK(o.ok());
  CHECK(test->events().size() == 20);
  out = s.run(fleet.jobs(Action::Status));
  for (auto& o : out) CHECK(o.state == PowerState::On);
}

namespace {
Fleet named_fleet(std::size_t n, const std::string& protocol) {
  Fleet f;
  for (std::size_t i = 0; i < n; ++i) {
    Target t;
    t.name = fmt::format("n{:04}", i);
    t.protocol = protocol;
    t.bmc = fmt::format("bmc{}", i);
    f.targets.push_back(t);
  }
  return f;
}
}  // namespace

TEST_CASE("adaptive window: grows to the maximum on clean answers, fixed when not adaptive", "[scheduler]") {
  SECTION("clean") {
    asio::io_context io;
    BackendRegistry reg;
    auto cb = std::make_unique<CountingBackend>(io.get_executor());
    auto* counting = cb.get();
    reg.add("counting", std::move(cb));
    auto f = named_fleet(2000, "counting");
    SchedulerOptions so;
    so.fanout = 256;
    Scheduler s(io, reg, so);
    auto out = s.run(f.jobs());
    for (auto& o : out) CHECK(o.ok());
    CHECK(s.window_min() == 64);   // starts at initial_window
    CHECK(s.window_max() == 256);  // and grows to the maximum
    CHECK(counting->max_active <= 256);
  }
  SECTION("fixed window when not adaptive") {
    asio::io_context io;
    BackendRegistry reg;
    auto cb = std::make_unique<CountingBackend>(io.get_executor());
    reg.add("counting", std::move(cb));
    auto f = named_fleet(500, "counting");
    SchedulerOptions so;
    so.fanout = 100;
    so.adaptive = false;
    Scheduler s(io, reg, so);
    s.run(f.jobs());
    CHECK(s.window_min() == 100);
    CHECK(s.window_max() == 100);
  }
}

namespace {
/// Answers cleanly after a latency chosen per operation from the target's index and the number
/// of operations in flight when it started.
class LatencyBackend final : public Backend {
 public:
  using LatencyFn = std::function<Millis(std::size_t index, int active)>;
  LatencyBackend(asio::any_io_executor ex, LatencyFn fn) : ex_(ex), fn_(std::move(fn)) {}
  std::string_view name() const override { return "latency"; }
  void start(OpContext ctx, CompletionFn done) override {
    max_active = std::max(max_active, ++active);
    const auto index = static_cast<std::size_t>(std::stoul(ctx.target.name.substr(1)));
    auto t = std::make_shared<asio::steady_timer>(ex_, fn_(index, active));
    t->async_wait([this, t, done = std::move(done)](boost::system::error_code) {
      --active;
      done(Outcome::success("on", PowerState::On));
    });
  }
  asio::any_io_executor ex_;
  LatencyFn fn_;
  int active = 0, max_active = 0;
};

/// Runs 1500 targets through LatencyBackend(fn) with a maximum window of 256; returns the
/// largest window of the run and the most operations the backend saw in flight at once.
std::pair<std::size_t, int> run_with_latency(LatencyBackend::LatencyFn fn) {
  asio::io_context io;
  BackendRegistry reg;
  auto be = std::make_unique<LatencyBackend>(io.get_executor(), std::move(fn));
  auto* backend = be.get();
  reg.add("latency", std::move(be));
  auto f = named_fleet(1500, "latency");
  SchedulerOptions so;
  so.fanout = 256;
  so.min_stall = 10s;  // nothing leaves the window by stalling
  Scheduler s(io, reg, so);
  auto out = s.run(f.jobs());
  for (auto& o : out) CHECK(o.ok());
  CHECK(s.window_min() == 64);
  return {s.window_max(), backend->max_active};
}
}  // namespace

TEST_CASE("adaptive window: the doubling stops when answers queue, not when BMCs merely differ", "[scheduler]") {
  SECTION("shared capacity: latency grows with the operations in flight") {
    // 1 ms per operation in flight when it starts: 1000 operations a second whatever the window
    // (a chassis manager or a shared CPU serving them one after the other).  The first answer
    // takes 1 ms; once eight in a row take more than 2 x 1 + 50 ms (the first wave's last ones,
    // started with more than 52 in flight) the window stops doubling, near 64 + 60.  Without the
    // rule the clean answers take it to 256, where every answer takes 256 ms and adds nothing.
    auto [window_max, max_active] = run_with_latency([](std::size_t, int active) { return Millis(active); });
    CHECK(window_max > 100);   // it grew while answers stayed fast enough ...
    CHECK(window_max <= 160);  // ... and stopped once they queued
    CHECK(max_active <= 160);
  }
  SECTION("a mixed fleet: fast and slow BMCs whose latency does not depend on the load") {
    // Every other BMC takes 100 ms, the others 2 ms, however many are in flight: the fastest
    // of any eight recent answers stays near the best, so the window grows to the maximum.
    auto [window_max, max_active] =
        run_with_latency([](std::size_t i, int) { return i % 2 ? Millis(100) : Millis(2); });
    CHECK(window_max == 256);
  }
}

TEST_CASE("the timeout counts from ready: hung BMCs behind a small window end after one timeout", "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  auto fleet = make_fleet(40, 1);  // all hang
  SchedulerOptions so;
  so.fanout = 2;
  so.adaptive = false;
  so.timeout = 400ms;
  so.grace = 100ms;
  so.min_stall = 10s;  // the window stays held: only the queue-wait limit lets them start
  Scheduler s(io, reg, so);
  auto jobs = fleet.jobs();
  for (auto& j : jobs) j.timeout_from_ready = true;
  auto t0 = Clock::now();
  auto out = s.run(std::move(jobs));
  auto took = Clock::now() - t0;
  for (auto& o : out) CHECK(o.error == ErrorKind::Timeout);
  // Counting from each start, 40 hung targets two at a time would need 20 x 400 ms = 8 s.
  CHECK(took < 1500ms);
}

namespace {
/// Every start costs its caller a few milliseconds of the loop (as thousands of IPMI starts
/// do), records when it came and the deadline it got, and never answers (a dead BMC).
class CostlyStartBackend final : public Backend {
 public:
  explicit CostlyStartBackend(Millis cost) : cost_(cost) {}
  std::string_view name() const override { return "costly"; }
  void start(OpContext ctx, CompletionFn) override {
    const auto t = Clock::now();
    starts.push_back(t);
    deadlines.push_back(ctx.deadline);
    while (Clock::now() - t < cost_) {
    }
  }
  Millis cost_;
  std::vector<Clock::time_point> starts, deadlines;
};
}  // namespace

TEST_CASE("targets held back by a full window start at 40% of their timeout: a slow loop does not lengthen the run",
          "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  auto be = std::make_unique<CostlyStartBackend>(2ms);
  auto* backend = be.get();
  reg.add("test", std::move(be));
  auto fleet = make_fleet(42);
  SchedulerOptions so;
  so.fanout = 2;
  so.adaptive = false;
  so.timeout = 2000ms;
  so.grace = 50ms;
  so.min_stall = 10s;  // the two first hold the window: the rest start only when overdue
  Scheduler s(io, reg, so);
  auto jobs = fleet.jobs();
  for (auto& j : jobs) j.timeout_from_ready = true;
  const auto t0 = Clock::now();
  auto out = s.run(std::move(jobs));
  REQUIRE(backend->starts.size() == 42);
  for (auto& o : out) CHECK(o.error == ErrorKind::Timeout);
  // 40 overdue starts at 2 ms each keep the loop busy for 80 ms.  They begin once 40% of the
  // timeout (800 ms) has passed, so even the last one starts before half the timeout and gets
  // the same deadline as the first two: one timeout from the start of the run.  Had they
  // waited half the timeout, the later ones would have got half a timeout from their own
  // start, and the run would have lasted that much longer.
  for (std::size_t i = 2; i < 42; ++i) {
    INFO("target " << i);
    CHECK(backend->starts[i] - t0 >= 800ms);
    CHECK(backend->deadlines[i] == backend->deadlines[0]);
  }
  CHECK(backend->deadlines[0] - t0 >= 2000ms);
  CHECK(backend->deadlines[0] - t0 < 2050ms);
}

namespace {
/// Slow BMCs: every operation answers after `latency`, but only after a retransmission (the
/// reply came too late for the first copy), as an overloaded fleet does.  Records when each
/// operation started, the deadline it got, and how many ran at once.
class SlowAnsweringBackend final : public Backend {
 public:
  SlowAnsweringBackend(asio::any_io_executor ex, Millis latency) : ex_(ex), latency_(latency) {}
  std::string_view name() const override { return "slow"; }
  void start(OpContext ctx, CompletionFn done) override {
    starts.push_back(Clock::now());
    deadlines.push_back(ctx.deadline);
    max_active = std::max(max_active, ++active);
    auto t = std::make_shared<asio::steady_timer>(ex_, latency_);
    t->async_wait([this, t, done = std::move(done)](boost::system::error_code) {
      --active;
      auto o = Outcome::success("off", PowerState::Off);
      o.retransmits = 1;
      done(std::move(o));
    });
  }
  asio::any_io_executor ex_;
  Millis latency_;
  std::vector<Clock::time_point> starts, deadlines;
  int active = 0, max_active = 0;
};
}  // namespace

TEST_CASE("once BMCs that answer show congestion, held-back targets wait for the window and get their whole timeout",
          "[scheduler]") {
  asio::io_context io;
  BackendRegistry reg;
  auto be = std::make_unique<SlowAnsweringBackend>(io.get_executor(), 100ms);
  auto* backend = be.get();
  reg.add("test", std::move(be));
  auto fleet = make_fleet(40);
  SchedulerOptions so;
  so.fanout = 4;
  so.timeout = 1000ms;
  so.min_stall = 10s;  // nothing leaves the window by stalling
  Scheduler s(io, reg, so);
  auto jobs = fleet.jobs();
  for (auto& j : jobs) j.timeout_from_ready = true;
  const auto t0 = Clock::now();
  auto out = s.run(std::move(jobs));
  REQUIRE(backend->starts.size() == 40);
  // 40 targets, 4 at a time, 100 ms each: about a second, so the last ones wait longer than
  // 40% of the timeout.  Every BMC answered after a retransmission, with no clean answer to
  // compare with: congestion.  Starting the overdue ones at once would only add load to slow
  // BMCs, so the window keeps holding them back ...
  CHECK(backend->max_active <= 4);
  for (auto& o : out) CHECK(o.ok());
  // ... and each gets its whole timeout from its own start, not what is left of it.
  std::size_t late = 0;
  for (std::size_t i = 0; i < 40; ++i) {
    INFO("target " << i);
    if (backend->starts[i] - t0 < 500ms) continue;
    ++late;
    CHECK(backend->deadlines[i] - backend->starts[i] > 950ms);
    CHECK(backend->deadlines[i] - backend->starts[i] <= 1000ms);
  }
  CHECK(late >= 8);
}
