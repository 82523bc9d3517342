// SPDX-License-Identifier: GPL-3.0-or-later
// Fleet operations on top of the engine: verification, idempotence, lost replies, waves.
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include <map>

#include "core/fleet.hpp"
#include "core/inventory.hpp"
#include "core/scheduler.hpp"
#include "core/test_backend.hpp"
#include "core/waves.hpp"
#include "support/test_fleet.hpp"

using namespace fleetpower;
using namespace std::chrono_literals;

namespace {
using Fleet = testing::TestFleet;

std::string fact(const Outcome& o, std::string_view key) {
  for (auto& [k, v] : o.facts)
    if (k == key) return v;
  return {};
}

FleetOptions fast() {
  FleetOptions o;
  o.op_timeout = 1s;
  o.poll_initial = 20ms;
  o.poll_max = 50ms;
  o.wait_timeout = 2s;
  return o;
}

/// The test backend behind a scheduler: what most cases here start from.
struct TestRig {
  asio::io_context io;
  BackendRegistry reg;
  TestBackend* test = add_backend(io, reg);
  Scheduler s{io, reg, {}};
  static TestBackend* add_backend(asio::io_context& io, BackendRegistry& reg) {
    auto tb = std::make_unique<TestBackend>(io.get_executor());
    auto* t = tb.get();
    reg.add("test", std::move(tb));
    return t;
  }
};

/// A BMC whose power-control replies are lost (the action is carried out, the answer never
/// arrives), to check that the fleet layer never sends the action twice.
class LossyBackend final : public Backend {
 public:
  explicit LossyBackend(asio::any_io_executor ex) : ex_(ex) {}
  std::string_view name() const override { return "lossy"; }
  void start(OpContext ctx, CompletionFn done) override {
    auto& st = state[ctx.target.name];
    if (ctx.request.action == Action::Status) {
      asio::post(ex_, [st, done] { done(Outcome::success(st ? "on" : "off", st ? PowerState::On : PowerState::Off)); });
      return;
    }
    ++actions[ctx.target.name];
    if (!requests_lost) st = ctx.request.action == Action::On;
    // The reply is lost: time out at the deadline, naming the step.
    auto t = std::make_shared<asio::steady_timer>(ex_, ctx.deadline);
    t->async_wait([t, done](boost::system::error_code) {
      done(Outcome::failure(ErrorKind::Timeout, "timed out waiting for the Chassis Control reply"));
    });
  }
  asio::any_io_executor ex_;
  std::map<std::string, bool> state;
  std::map<std::string, int> actions;
  bool requests_lost = false;  ///< the request itself never reaches the BMC
};

/// Slow BMCs: every operation takes `latency` and needed a retransmission (they answer late),
/// and power reaches on `transition` after the request.  Counts operations at once.
class SlowPowerBackend final : public Backend {
 public:
  SlowPowerBackend(asio::any_io_executor ex, Millis latency, Millis transition)
      : ex_(ex), latency_(latency), transition_(transition) {}
  std::string_view name() const override { return "slowpower"; }
  void start(OpContext ctx, CompletionFn done) override {
    ++active;
    starts.emplace_back(Clock::now(), active);
    auto t = std::make_shared<asio::steady_timer>(ex_, latency_);
    t->async_wait([this, t, name = ctx.target.name, a = ctx.request.action, done = std::move(done)](
                      boost::system::error_code) {
      --active;
      const auto now = Clock::now();
      Outcome o;
      if (a == Action::On) {
        on_at.try_emplace(name, now + transition_);
        o = Outcome::success("ok");
      } else {
        auto it = on_at.find(name);
        const bool on = it != on_at.end() && now >= it->second;
        o = Outcome::success(on ? "on" : "off", on ? PowerState::On : PowerState::Off);
      }
      o.retransmits = 1;
      done(std::move(o));
    });
  }
  asio::any_io_executor ex_;
  Millis latency_, transition_;
  std::map<std::string, Clock::time_point> on_at;
  std::vector<std::pair<Clock::time_point, int>> starts;  ///< when, and how many at once then
  int active = 0;
};
}  // namespace

TEST_CASE("once slow BMCs show congestion, verification reads wait for a window slot", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto be = std::make_unique<SlowPowerBackend>(io.get_executor(), 40ms, 400ms);
  auto* backend = be.get();
  reg.add("test", std::move(be));
  Fleet f(40);
  SchedulerOptions so;
  so.fanout = 4;
  so.timeout = 5s;
  Scheduler s(io, reg, so);
  FleetOptions fo = fast();
  fo.wait_timeout = 20s;
  s.set_runner(make_fleet_runner(fo));
  // Congestion is known once eight answered jobs all needed retransmissions.
  std::optional<Clock::time_point> congested_at;
  std::size_t done = 0;
  s.on_result([&](std::size_t, const Outcome&) {
    if (++done == 8) congested_at = Clock::now();
  });
  auto out = s.run(f.jobs(Action::On));
  for (auto& o : out) {
    INFO(outcome_text(o));
    CHECK(o.ok());
    CHECK(o.result == "on");
  }
  REQUIRE(congested_at);
  // Jobs between reads leave the window, so up to 40 were powering on at once; once the reads
  // in flight then have ended (40 ms each), reads (and any start) take a window slot each
  // instead of all reading at once.
  int after = 0, most = 0;
  for (auto& [t, n] : backend->starts)
    if (t > *congested_at + 100ms) {
      ++after;
      most = std::max(most, n);
    }
  CHECK(after >= 20);
  CHECK(most <= 4);
}

TEST_CASE("the pause of a verification does not count as the BMCs queueing", "[fleet]") {
  // The first 20 nodes are already on (a few milliseconds each); the others take 300 ms to
  // come on, so each of their jobs spends about 300 ms between its reads but a few
  // milliseconds on the wire.  Only the time on the wire says whether answers queue: the
  // window keeps doubling to its maximum.  (Counted with the pauses, eight verified answers in
  // a row at ~300 ms against the first ones at a few ms would stop the doubling near 90.)
  TestRig r;
  Fleet f(700, {{"test_transition", "300ms"}});
  for (std::size_t i = 0; i < 20; ++i) f.targets[i].vars["test_state"] = "on";
  r.s.set_runner(make_fleet_runner(fast()));
  auto out = r.s.run(f.jobs(Action::On));
  for (std::size_t i = 0; i < out.size(); ++i) {
    INFO(outcome_text(out[i]));
    CHECK(out[i].ok());
    CHECK(out[i].result == (i < 20 ? "already on" : "on"));
  }
  CHECK(r.s.window_max() == 256);
}

TEST_CASE("on verifies the end state, already-on nodes are left alone", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto tb = std::make_unique<TestBackend>(io.get_executor());
  auto* test = tb.get();
  reg.add("test", std::move(tb));
  Fleet f(10, {{"test_transition", "150ms"}});
  for (std::size_t i = 0; i < 4; ++i) f.targets[i].vars["test_state"] = "on";
  Scheduler s(io, reg, {});
  s.set_runner(make_fleet_runner(fast()));
  auto out = s.run(f.jobs(Action::On));
  for (std::size_t i = 0; i < 10; ++i) {
    INFO(f.targets[i].name << ": " << outcome_text(out[i]));
    REQUIRE(out[i].ok());
    CHECK(out[i].result == (i < 4 ? "already on" : "on"));
  }
  CHECK(test->events().size() == 6);  // nothing sent to the 4 that were on
  // --force sends anyway
  FleetOptions forced = fast();
  forced.force = true;
  s.set_runner(make_fleet_runner(forced));
  out = s.run(f.jobs(Action::On));
  CHECK(test->events().size() == 16);
}

TEST_CASE("a state read right after the action verifies without polling", "[fleet]") {
  TestRig rig;
  auto* test = rig.test;
  auto& s = rig.s;
  s.set_runner(make_fleet_runner(fast()));
  // Switches at once: one read before, the backend's read after the action, no poll.
  Fleet f(6, {{"test_read_after", "true"}});
  for (Action a : {Action::On, Action::Off}) {
    int before = test->status_reads();
    auto out = s.run(f.jobs(a));
    for (auto& o : out) {
      INFO(outcome_text(o));
      REQUIRE(o.ok());
      CHECK(o.result == (a == Action::On ? "on" : "off"));
    }
    CHECK(test->status_reads() - before == 6);
  }
  // Still powering on when read after the action: verified by polling as before.
  Fleet slow(6, {{"test_read_after", "true"}, {"test_transition", "150ms"}});
  int before = test->status_reads();
  auto out = s.run(slow.jobs(Action::On));
  for (auto& o : out) {
    INFO(outcome_text(o));
    REQUIRE(o.ok());
    CHECK(o.result == "on");
  }
  CHECK(test->status_reads() - before >= 12);
  // A cycle is never verified by the read after it (power reads on before the cycle began).
  Fleet cyc(3, {{"test_read_after", "true"}, {"test_state", "on"}});
  before = test->status_reads();
  out = s.run(cyc.jobs(Action::Cycle));
  for (auto& o : out) REQUIRE(o.ok());
  CHECK(test->status_reads() - before >= 6);
}

TEST_CASE("read, decide and act in one exchange when the backend can", "[fleet]") {
  TestRig rig;
  auto* test = rig.test;
  auto& s = rig.s;
  s.set_runner(make_fleet_runner(fast()));
  // Off nodes powered on: one exchange each (read, act, read after), no poll, no second read.
  Fleet f(6, {{"test_read_first", "true"}, {"test_read_after", "true"}});
  int starts = test->starts();
  auto out = s.run(f.jobs(Action::On));
  for (auto& o : out) {
    INFO(outcome_text(o));
    REQUIRE(o.ok());
    CHECK(o.result == "on");
    CHECK(fact(o, "initial_state") == "off");
    CHECK(fact(o, "state_before").empty());  // folded into initial_state, not repeated
    CHECK(fact(o, "acted").empty());
  }
  CHECK(test->starts() - starts == 6);
  CHECK(test->events().size() == 6);
  CHECK(test->read_backs() == 6);
  // The read keeps one operation's timeout (1 s here), the action gets another.
  auto [deadline, read_deadline] = test->last_deadlines();
  REQUIRE(read_deadline != Clock::time_point{});
  CHECK(deadline - read_deadline == std::chrono::seconds(1));
  // Already on: one exchange, nothing sent.
  starts = test->starts();
  out = s.run(f.jobs(Action::On));
  for (auto& o : out) {
    REQUIRE(o.ok());
    CHECK(o.result == "already on");
  }
  CHECK(test->starts() - starts == 6);
  CHECK(test->events().size() == 6);
  // Off, then a cycle of an off node powers it on, as in the two-exchange path.
  out = s.run(f.jobs(Action::Off));
  for (auto& o : out) CHECK(o.result == "off");
  CHECK(test->events().size() == 12);
  out = s.run(f.jobs(Action::Cycle));
  for (auto& o : out) {
    INFO(outcome_text(o));
    REQUIRE(o.ok());
    CHECK(o.result == "on (was off)");
  }
  for (std::size_t i = 12; i < test->events().size(); ++i) CHECK(test->events()[i].action == Action::On);
  CHECK(test->events().size() == 18);
  // A failure before anything was sent names the read, as before.
  Fleet bad(2, {{"test_read_first", "true"}, {"test_fail", "auth:unknown user"}});
  out = s.run(bad.jobs(Action::Off));
  for (auto& o : out) {
    REQUIRE_FALSE(o.ok());
    CHECK(o.reason == "reading the power state: unknown user");
  }
  CHECK(test->events().size() == 18);
  // --no-wait: still one exchange that decides, but no read-back nobody would look at.
  FleetOptions nowait = fast();
  nowait.wait = false;
  s.set_runner(make_fleet_runner(nowait));
  int read_backs = test->read_backs();
  starts = test->starts();
  out = s.run(f.jobs(Action::Off));
  for (auto& o : out) CHECK(o.result == "ok");
  CHECK(test->starts() - starts == 6);
  CHECK(test->read_backs() == read_backs);
  CHECK(test->events().size() == 24);
  out = s.run(f.jobs(Action::Off));
  for (auto& o : out) CHECK(o.result == "already off");
  CHECK(test->events().size() == 24);
  // --dry-run keeps the separate read (the decision is not the backend's to make).
  FleetOptions dry = fast();
  dry.dry_run = true;
  s.set_runner(make_fleet_runner(dry));
  out = s.run(f.jobs(Action::On));
  for (auto& o : out) CHECK(o.result == "would power on");
  CHECK(test->events().size() == 24);
  // --force off of nodes that are off: no read before (it would decide nothing), the action
  // goes out and the read right after it verifies; no initial state is claimed.
  FleetOptions forced = fast();
  forced.force = true;
  s.set_runner(make_fleet_runner(forced));
  int reads = test->status_reads();
  read_backs = test->read_backs();
  starts = test->starts();
  out = s.run(f.jobs(Action::Off));
  for (auto& o : out) {
    INFO(outcome_text(o));
    REQUIRE(o.ok());
    CHECK(o.result == "off");
    CHECK(fact(o, "initial_state").empty());
  }
  CHECK(test->starts() - starts == 6);
  CHECK(test->status_reads() == reads);
  CHECK(test->read_backs() - read_backs == 6);
  CHECK(test->events().size() == 30);
  for (std::size_t i = 24; i < 30; ++i) CHECK(test->events()[i].action == Action::Off);
  // --force cycle still reads first: a node that is off is powered on, not cycled.
  reads = test->status_reads();
  out = s.run(f.jobs(Action::Cycle));
  for (auto& o : out) {
    INFO(outcome_text(o));
    REQUIRE(o.ok());
    CHECK(o.result == "on (was off)");
    CHECK(fact(o, "initial_state") == "off");
  }
  CHECK(test->status_reads() - reads >= 6);
  REQUIRE(test->events().size() == 36);
  for (std::size_t i = 30; i < 36; ++i) CHECK(test->events()[i].action == Action::On);
}

TEST_CASE("verification times out with the last state seen", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  reg.add("test", std::make_unique<TestBackend>(io.get_executor()));
  Fleet f(3, {{"test_transition", "10s"}});  // never settles within the wait
  Scheduler s(io, reg, {});
  FleetOptions o = fast();
  o.wait_timeout = 300ms;
  s.set_runner(make_fleet_runner(o));
  auto out = s.run(f.jobs(Action::On));
  for (auto& r : out) {
    CHECK(r.error == ErrorKind::Timeout);
    CHECK(r.reason == "timed out waiting for the node to reach on (last state: powering on)");
  }
}

TEST_CASE("cycle and reset of a node that is off power it on, dry-run sends nothing", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto tb = std::make_unique<TestBackend>(io.get_executor());
  auto* test = tb.get();
  reg.add("test", std::move(tb));
  Fleet f(4);
  f.targets[0].vars["test_state"] = "on";
  f.targets[1].vars["test_state"] = "on";
  Scheduler s(io, reg, {});
  FleetOptions dry = fast();
  dry.dry_run = true;
  s.set_runner(make_fleet_runner(dry));
  auto out = s.run(f.jobs(Action::Off));
  CHECK(out[0].result == "would power off");
  CHECK(out[2].result == "already off");
  CHECK(test->events().empty());
  s.set_runner(make_fleet_runner(fast()));
  out = s.run(f.jobs(Action::Cycle));
  CHECK(out[2].result == "on (was off)");
  CHECK(out[0].ok());
  for (auto& e : test->events())
    if (e.target == "n002") CHECK(e.action == Action::On);
}

TEST_CASE("dry-run sends no nmi, bootdev or identify either", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto tb = std::make_unique<TestBackend>(io.get_executor());
  auto* test = tb.get();
  reg.add("test", std::move(tb));
  Fleet f(3);
  f.targets[2].vars["test_fail"] = "auth";
  Scheduler s(io, reg, {});
  FleetOptions dry = fast();
  dry.dry_run = true;
  s.set_runner(make_fleet_runner(dry));
  auto out = s.run(f.jobs(Action::Nmi));
  CHECK(out[0].result == "would send a diagnostic interrupt (NMI)");
  CHECK(!out[2].ok());
  CHECK(out[2].reason.rfind("reading the power state: ", 0) == 0);
  auto jobs = f.jobs(Action::BootDev);
  for (auto& j : jobs) {
    j.request.bootdev = BootDevice::Pxe;
    j.request.persistent = true;
  }
  out = s.run(jobs);
  CHECK(out[1].result == "would set boot device pxe (persistent)");
  CHECK(out[1].ok());
  jobs = f.jobs(Action::Identify);
  for (auto& j : jobs) j.request.identify_seconds = -1;
  out = s.run(jobs);
  CHECK(out[0].result == "would turn identify off");
  CHECK(test->events().empty());
  // Without dry-run the same requests reach the backend.
  s.set_runner(make_fleet_runner(fast()));
  out = s.run(f.jobs(Action::Nmi));
  CHECK(out[0].ok());
  CHECK(test->events().size() >= 2);
}

TEST_CASE("a power action whose reply is lost is confirmed by reading state, never re-sent", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto lb = std::make_unique<LossyBackend>(io.get_executor());
  auto* lossy = lb.get();
  reg.add("lossy", std::move(lb));
  Fleet f(5);
  for (auto& t : f.targets) t.protocol = "lossy";
  Scheduler s(io, reg, {});
  FleetOptions o = fast();
  o.op_timeout = 200ms;
  s.set_runner(make_fleet_runner(o));
  auto out = s.run(f.jobs(Action::On));
  for (auto& r : out) {
    CHECK(r.ok());
    CHECK(r.result == "on");
  }
  for (auto& [n, c] : lossy->actions) CHECK(c == 1);
}

TEST_CASE("a cycle whose request or reply was lost is not reported as done when off is never seen", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto lb = std::make_unique<LossyBackend>(io.get_executor());
  auto* lossy = lb.get();
  lossy->requests_lost = true;
  reg.add("lossy", std::move(lb));
  Fleet f(3);
  for (auto& t : f.targets) {
    t.protocol = "lossy";
    lossy->state[t.name] = true;  // on: the cycle never happens
  }
  Scheduler s(io, reg, {});
  FleetOptions o = fast();
  o.op_timeout = 200ms;
  o.wait_timeout = 500ms;
  s.set_runner(make_fleet_runner(o));
  for (auto a : {Action::Cycle, Action::Reset}) {
    auto out = s.run(f.jobs(a));
    for (auto& r : out) {
      CHECK_FALSE(r.ok());
      CHECK(r.reason.find("not confirmed") != std::string::npos);
    }
  }
  for (auto& [n, c] : lossy->actions) CHECK(c == 2);  // one cycle, one reset: never re-sent
}

TEST_CASE("soft --then-force forces off what stays on", "[fleet]") {
  asio::io_context io;
  BackendRegistry reg;
  auto tb = std::make_unique<TestBackend>(io.get_executor());
  reg.add("test", std::move(tb));
  Fleet f(2, {{"test_state", "on"}});
  // n000 ignores the soft shutdown for longer than the grace: its transition is 5s.
  f.targets[0].vars["test_transition"] = "5s";
  Scheduler s(io, reg, {});
  FleetOptions o = fast();
  o.then_force = 300ms;
  s.set_runner(make_fleet_runner(o));
  auto out = s.run(f.jobs(Action::Soft));
  CHECK(out[1].result == "off");
  CHECK(out[0].result == "off (forced after 300ms)");
}

TEST_CASE("waves, canary and max-fail", "[fleet][waves]") {
  TestRig rig;
  auto& io = rig.io;
  auto* test = rig.test;
  auto& s = rig.s;
  s.set_runner(make_fleet_runner(fast()));

  SECTION("waves of 20 with a delay run in order") {
    Fleet f(100);
    WavePolicy p;
    p.batch = 20;
    p.batch_delay = 50ms;
    std::vector<std::size_t> sizes;
    auto t0 = Clock::now();
    auto out = run_waves(io, s, f.jobs(Action::On), p, {}, [&](std::size_t, std::size_t n) { sizes.push_back(n); });
    CHECK(Clock::now() - t0 >= 200ms);  // four pauses between five waves
    CHECK(sizes == std::vector<std::size_t>{20, 20, 20, 20, 20});
    for (auto& o : out) CHECK(o.ok());
    // Every target of wave k acted before any of wave k+1.
    std::map<std::string, std::size_t> order;
    for (std::size_t i = 0; i < test->events().size(); ++i) order[test->events()[i].target] = i;
    for (std::size_t i = 0; i + 20 < 100; ++i) CHECK(order[f.targets[i].name] < order[f.targets[i + 20].name] + 20);
  }
  SECTION("a failing canary stops the rest") {
    Fleet f(50);
    f.targets[1].vars["test_fail"] = "auth:bad password";
    WavePolicy p;
    p.canary = 5;
    auto out = run_waves(io, s, f.jobs(Action::Off), p);
    CHECK(out[1].error == ErrorKind::Auth);
    for (std::size_t i = 5; i < 50; ++i) {
      CHECK(out[i].error == ErrorKind::NotAttempted);
      CHECK(out[i].reason == "not started: 1 of 5 canary targets failed");
    }
  }
  SECTION("max-fail stops starting new targets") {
    Fleet f(60);
    for (std::size_t i = 0; i < 60; i += 2) f.targets[i].vars["test_fail"] = "no-response:no response";
    WavePolicy p;
    p.batch = 10;
    p.max_fail = 4;
    auto out = run_waves(io, s, f.jobs(Action::On), p);
    std::size_t failed = 0, skipped = 0;
    for (auto& o : out) {
      failed += !o.ok() && o.error != ErrorKind::NotAttempted;
      skipped += o.error == ErrorKind::NotAttempted;
    }
    CHECK(failed == 5);  // the first wave's five failures exceed 4
    CHECK(skipped == 50);
  }
  SECTION("percentages") {
    std::size_t n = 0;
    double pct = 0;
    CHECK(WavePolicy::parse_count("10%", &n, &pct));
    CHECK(pct == 10);
    CHECK(WavePolicy::parse_count("7", &n, &pct));
    CHECK(n == 7);
    CHECK_FALSE(WavePolicy::parse_count("x", &n, &pct));
    CHECK_FALSE(WavePolicy::parse_count("150%", &n, &pct));
  }
}

TEST_CASE("the power governor holds circuit budgets on actual send times", "[fleet][plan]") {
  Inventory inv;
  std::vector<Diagnostic> d;
  std::string text =
      "defaults: {protocol: test}\npower:\n  start_duration: 300ms\n  circuits:\n"
      "    a: { max_concurrent_starts: 3, max_watts: 1000, min_spacing: 20ms }\n"
      "    b: { max_concurrent_starts: 2, min_spacing: 0ms }\n"
      "groups:\n  ga: {hosts: \"a[01-24]\", circuit: a, watts: 300}\n  gb: {hosts: \"b[01-16]\", circuit: b, watts: 300}\n";
  REQUIRE(load_inventory_text(text, "x.yaml", &inv, &d));
  // Each BMC answers with its own latency, so send times drift from the plan.
  for (std::size_t i = 0; i < inv.targets.size(); ++i) inv.targets[i].vars["test_delay"] = std::to_string(1 + (i * 7) % 23) + "ms";
  std::vector<const Target*> all;
  for (auto& t : inv.targets) all.push_back(&t);
  auto plan = make_power_plan(inv, all);

  TestRig rig;
  auto& io = rig.io;
  auto* test = rig.test;
  auto& s = rig.s;
  FleetOptions o = fast();
  o.governor = std::make_shared<PowerGovernor>(io.get_executor(), inv, plan);
  s.set_runner(make_fleet_runner(o));
  Credential cred{"none", "", Secret(), Secret()};
  std::vector<Job> jobs;
  for (auto* t : all) {
    Job j;
    j.target = t;
    j.credential = &cred;
    j.request.action = Action::On;
    j.timeout = 20s;
    jobs.push_back(j);
  }
  auto out = s.run(std::move(jobs));
  for (auto& r : out) CHECK(r.ok());
  // Every power-on was granted once and executed once.
  REQUIRE(test->events().size() == 40);
  REQUIRE(o.governor->grants().size() == 40);
  std::map<std::string, std::vector<Clock::time_point>> per_circuit;
  for (auto& e : test->events()) per_circuit[e.target.substr(0, 1)].push_back(e.at);
  REQUIRE(per_circuit["a"].size() == 24);
  REQUIRE(per_circuit["b"].size() == 16);
  // Checked on the backend's own execution times: a start happens between grant and reply,
  // and the governor counts it from the grant to start_duration after the reply.
  auto check = [&](const std::string& c, std::size_t max_n, double max_w, Millis spacing) {
    auto& v = per_circuit[c];
    std::sort(v.begin(), v.end());
    for (std::size_t i = 0; i < v.size(); ++i) {
      std::size_t n = 0;
      for (std::size_t j = 0; j <= i; ++j)
        if (v[j] + 300ms > v[i]) ++n;
      CHECK(n <= max_n);
      CHECK(n * 300.0 <= max_w);
      if (i > 0) CHECK(v[i] - v[i - 1] >= spacing);
    }
  };
  check("a", 3, 1000, 20ms);
  check("b", 2, 1e9, 0ms);
}
