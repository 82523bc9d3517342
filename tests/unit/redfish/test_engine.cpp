// SPDX-License-Identifier: GPL-3.0-or-later
// Protocol flows of the Redfish engine against a fake BMC serving the real vendor trees.
#include <catch2/catch.hpp>

#include <boost/asio/steady_timer.hpp>

#include "fake_peer.hpp"
#include "transport/redfish/engine.hpp"

using namespace fleetpower;
using namespace fleetpower::redfish;
using fptest::FakeBmc;

namespace {

struct Harness {
  boost::asio::io_context io;
  std::shared_ptr<FakeBmc> bmc;
  std::shared_ptr<BmcState> st = std::make_shared<BmcState>();
  Target target;
  Credential cred;
  Options opts;
  boost::asio::cancellation_signal sig;
  int completions = 0;

  explicit Harness(const std::string& tree) : bmc(std::make_shared<FakeBmc>(io, tree)) {
    target.name = "node1";
    target.bmc = "127.0.0.1";
    target.protocol = "redfish";
    cred.name = "lab";
    cred.username = "admin";
    cred.password = Secret("s3cret-pw");
    opts.cycle_off_poll = Millis(5);
    opts.session_linger = Millis(0);
  }

  Outcome run(Request r, Millis budget = Millis(5000), std::function<void()> meanwhile = {}) {
    Outcome out;
    OpContext ctx{target, cred, r, Clock::now() + budget, sig.slot()};
    run_operation(io.get_executor(), bmc, st, ctx, opts, [&](Outcome o) {
      ++completions;
      out = std::move(o);
    });
    if (meanwhile) meanwhile();
    io.run();
    io.restart();
    return out;
  }
  Outcome run(Action a) {
    Request r;
    r.action = a;
    return run(r);
  }
};

bool has_fact(const Outcome& o, const std::string& k, const std::string& v) {
  for (auto& [fk, fv] : o.facts)
    if (fk == k && fv == v) return true;
  return false;
}

}  // namespace

TEST_CASE("status: session login, X-Auth-Token, session deleted at the end", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  auto o = h.run(Action::Status);
  INFO(o.reason);
  REQUIRE(o.ok());
  CHECK(o.result == "on");
  CHECK(o.state == PowerState::On);
  CHECK(h.completions == 1);
  CHECK(h.bmc->sessions_created == 1);
  CHECK(h.bmc->sessions_deleted == 1);
  // Every authenticated request used the token, never Basic.
  for (auto& s : h.bmc->log) {
    CHECK(s.authorization.empty());
    if (s.method == Method::Get && s.target.find("/Systems") != std::string::npos)
      CHECK(s.token == "tok1");
  }
  // The login body carried the password, but nothing else did.
  for (auto& s : h.bmc->log)
    if (s.target.find("/Sessions") == std::string::npos || s.method != Method::Post)
      CHECK(s.body.find("s3cret-pw") == std::string::npos);
}

TEST_CASE("status: PoweringOn and PoweringOff are shown as such", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("csm-OpenBMC-stock");
  h.bmc->power = "PoweringOn";
  auto o = h.run(Action::Status);
  REQUIRE(o.ok());
  CHECK(o.state == PowerState::PoweringOn);
  CHECK(o.result == "powering on");
  h.bmc->power = "PoweringOff";
  o = h.run(Action::Status);
  CHECK(o.state == PowerState::PoweringOff);
}

TEST_CASE("auth: basic when asked, auto falls back when sessions are refused",
          "[redfish][engine][auth]") {
  FP_REQUIRE_MOCKUPS();
  SECTION("basic") {
    Harness h("dmtf-public-rackmount1");
    h.target.vars["auth"] = "basic";
    auto o = h.run(Action::Status);
    REQUIRE(o.ok());
    CHECK(h.bmc->sessions_created == 0);
    CHECK(h.bmc->count(Method::Post, "/Sessions") == 0);
  }
  SECTION("auto -> basic on 405") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->sessions_supported = false;
    auto o = h.run(Action::Status);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(h.bmc->count(Method::Post, "/Sessions") == 1);
    CHECK_FALSE(h.bmc->log.back().authorization.empty());
  }
  SECTION("session mode does not fall back") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->sessions_supported = false;
    h.target.vars["auth"] = "session";
    auto o = h.run(Action::Status);
    CHECK(o.error == ErrorKind::BmcError);
  }
  SECTION("bad password: Auth with the BMC's message, password never echoed") {
    Harness h("dmtf-public-rackmount1");
    h.cred.password = Secret("wrong-pw-123");
    auto o = h.run(Action::Status);
    CHECK(o.error == ErrorKind::Auth);
    CHECK(o.reason.find("Invalid username or password") != std::string::npos);
    CHECK(o.reason.find("wrong-pw-123") == std::string::npos);
  }
  SECTION("bad auth value") {
    Harness h("dmtf-public-rackmount1");
    h.target.vars["auth"] = "kerberos";
    CHECK(h.run(Action::Status).error == ErrorKind::Config);
  }
}

TEST_CASE("401 on a token: re-authenticate once, then give up", "[redfish][engine][auth]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  h.bmc->expire_tokens = 1;
  auto o = h.run(Action::Status);
  INFO(o.reason);
  REQUIRE(o.ok());
  CHECK(h.bmc->sessions_created == 2);
  Harness h2("dmtf-public-rackmount1");
  h2.bmc->expire_tokens = 100;
  o = h2.run(Action::Status);
  CHECK(o.error == ErrorKind::Auth);
  CHECK(h2.bmc->sessions_created == 2);
}

TEST_CASE("actions use the discovered target and allowed values", "[redfish][engine][reset]") {
  FP_REQUIRE_MOCKUPS();
  SECTION("off on a DMTF tree: ForceOff to the advertised target") {
    Harness h("dmtf-public-rackmount1");
    auto o = h.run(Action::Off);
    REQUIRE(o.ok());
    CHECK(o.result == "ok");
    REQUIRE(h.bmc->resets == std::vector<std::string>{"ForceOff"});
    CHECK(h.bmc->count(Method::Post, "/Systems/437XR1138R2/Actions/ComputerSystem.Reset") == 1);
    // The system read once more after the reset: the fleet layer verifies off from it.
    CHECK(o.state == PowerState::Off);
    CHECK(has_fact(o, "state_after", "off"));
    // Without the read-after, no state is claimed.
    h.opts.read_after_reset = false;
    h.bmc->power = "On";
    o = h.run(Action::Off);
    REQUIRE(o.ok());
    CHECK(o.state == PowerState::Unknown);
    CHECK_FALSE(has_fact(o, "state_after", "off"));
  }
  SECTION("iLO-style success wrapped in an error object is still success") {
    Harness h("csm-DL325");
    auto o = h.run(Action::Reset);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(h.bmc->resets == std::vector<std::string>{"ForceRestart"});
  }
  SECTION("on when already on sends nothing") {
    Harness h("dmtf-public-rackmount1");
    auto o = h.run(Action::On);
    CHECK(o.result == "already on");
    CHECK(h.bmc->resets.empty());
  }
  SECTION("cycle: PowerCycle from the ActionInfo (OpenBMC)") {
    Harness h("csm-OpenBMC-stock");
    h.bmc->power = "On";
    auto o = h.run(Action::Cycle);
    REQUIRE(o.ok());
    CHECK(h.bmc->resets == std::vector<std::string>{"PowerCycle"});
    CHECK(h.bmc->count(Method::Get, "ResetActionInfo") == 1);
    // Cached per BMC per run.
    h.bmc->power = "On";
    h.run(Action::Reset);
    CHECK(h.bmc->count(Method::Get, "ResetActionInfo") == 1);
    CHECK(h.bmc->count(Method::Get, "/redfish/v1/Systems") >= 2);
    CHECK(h.bmc->count(Method::Get, "/redfish/v1/") >= 1);
  }
  SECTION("cycle emulated without PowerCycle: ForceOff, wait for Off, On") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->off_delay_polls = true;
    auto o = h.run(Action::Cycle);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(h.bmc->resets == std::vector<std::string>{"ForceOff", "On"});
    CHECK(has_fact(o, "cycle", "emulated"));
  }
  SECTION("nmi not allowed: Unsupported, nothing sent") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] = R"({
      "@odata.id":"/redfish/v1/Systems/437XR1138R2","Id":"437XR1138R2","PowerState":"On",
      "Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
      "ResetType@Redfish.AllowableValues":["On","ForceOff","GracefulRestart"]}}})";
    auto o = h.run(Action::Nmi);
    CHECK(o.error == ErrorKind::Unsupported);
    CHECK(o.reason.find("allowed: On,ForceOff,GracefulRestart") != std::string::npos);
    CHECK(h.bmc->resets.empty());
    // reset falls back to GracefulRestart.
    o = h.run(Action::Reset);
    REQUIRE(o.ok());
    CHECK(h.bmc->resets == std::vector<std::string>{"GracefulRestart"});
  }
  SECTION("malformed inline list: not trusted, the BMC decides") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] = R"({
      "@odata.id":"/redfish/v1/Systems/437XR1138R2","PowerState":"On",
      "Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset",
      "ResetType@Redfish.AllowableValues":"On ForceOff"}}})";
    auto o = h.run(Action::Off);
    REQUIRE(o.ok());
    CHECK(h.bmc->resets == std::vector<std::string>{"ForceOff"});
  }
  SECTION("a refused reset shows @Message.ExtendedInfo") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->status_for["POST /redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"] = 400;
    h.bmc->status_body = *fptest::mockup("sushy-json_samples/error.json");
    auto o = h.run(Action::Off);
    CHECK(o.error == ErrorKind::BmcError);
    CHECK(o.reason.find("HTTP 400") != std::string::npos);
    CHECK(o.reason.find("The value Red for the property IndicatorLED") != std::string::npos);
  }
  SECTION("403 is a privilege error") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->status_for["POST /redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset"] = 403;
    CHECK(h.run(Action::Off).error == ErrorKind::Privilege);
  }
}

TEST_CASE("202 with a task monitor is polled until done", "[redfish][engine][task]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  h.bmc->reset_202 = true;
  h.bmc->task_polls = 2;
  auto o = h.run(Action::Off);
  INFO(o.reason);
  REQUIRE(o.ok());
  CHECK(h.bmc->count(Method::Get, "/taskmon/1") == 3);
}

TEST_CASE("503 busy is retried with Retry-After, then Busy", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  h.bmc->busy = 2;
  REQUIRE(h.run(Action::Status).ok());
  Harness h2("dmtf-public-rackmount1");
  h2.bmc->busy = 100;
  auto o = h2.run(Action::Status);
  CHECK(o.error == ErrorKind::Busy);
  CHECK(o.reason.find("503") != std::string::npos);
}

TEST_CASE("malformed JSON is a protocol error", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] = R"({"PowerState": "On", )";
  auto o = h.run(Action::Status);
  CHECK(o.error == ErrorKind::Protocol);
  CHECK(o.reason.find("system resource") != std::string::npos);
}

TEST_CASE("bootdev: PATCH Boot with If-Match and the 412 dance, then read back",
          "[redfish][engine][boot]") {
  FP_REQUIRE_MOCKUPS();
  Request r;
  r.action = Action::BootDev;
  r.bootdev = BootDevice::Pxe;
  SECTION("ETag accepted first time; UEFI mode echoed") {
    Harness h("dmtf-public-rackmount1");
    auto o = h.run(r);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(o.result == "pxe (once)");
    auto& p = h.bmc->patches["/redfish/v1/Systems/437XR1138R2"];
    CHECK(p["Boot"].as_object()["BootSourceOverrideTarget"] == "Pxe");
    CHECK(p["Boot"].as_object()["BootSourceOverrideEnabled"] == "Once");
    CHECK(p["Boot"].as_object()["BootSourceOverrideMode"] == "UEFI");
    CHECK(h.bmc->count(Method::Patch, "/Systems/") == 1);
    CHECK(h.bmc->log[h.bmc->log.size() - 2].method == Method::Get);  // read-back before logout
  }
  SECTION("412: retried with the strong variant of a weak ETag") {
    Harness h("csm-DL325");
    h.bmc->etag = "W/\"e1\"";  // served weak; the BMC only accepts it strong
    h.bmc->etag_mode = "strong-only";
    r.persistent = true;
    auto o = h.run(r);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(o.result == "pxe (persistent)");
    std::vector<std::string> im;
    for (auto& s : h.bmc->log)
      if (s.method == Method::Patch) im.push_back(s.if_match);
    CHECK(im == std::vector<std::string>{"W/\"e1\"", "\"e1\""});
    CHECK(
        h.bmc->patches["/redfish/v1/Systems/1"]["Boot"].as_object()["BootSourceOverrideEnabled"] ==
        "Continuous");
  }
  SECTION("412 twice: the last try goes without If-Match") {
    Harness h("csm-DL325");
    h.bmc->etag_mode = "never";
    auto o = h.run(r);
    INFO(o.reason);
    REQUIRE(o.ok());
    std::vector<std::string> im;
    for (auto& s : h.bmc->log)
      if (s.method == Method::Patch) im.push_back(s.if_match);
    CHECK(im == std::vector<std::string>{"\"e1\"", "W/\"e1\"", ""});
  }
  SECTION("legacy mode echoed unless --efi") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] =
        R"({"@odata.id":"/redfish/v1/Systems/437XR1138R2",
      "PowerState":"On","Boot":{"BootSourceOverrideTarget":"None","BootSourceOverrideEnabled":"Disabled",
      "BootSourceOverrideMode":"Legacy"}})";
    auto o = h.run(r);
    REQUIRE(o.ok());
    CHECK(h.bmc->patches["/redfish/v1/Systems/437XR1138R2"]["Boot"]
              .as_object()["BootSourceOverrideMode"] == "Legacy");
    r.efi = true;
    o = h.run(r);
    REQUIRE(o.ok());
    CHECK(h.bmc->patches["/redfish/v1/Systems/437XR1138R2"]["Boot"]
              .as_object()["BootSourceOverrideMode"] == "UEFI");
  }
  SECTION("@Redfish.Settings: PATCH goes to the settings object") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] =
        R"({"@odata.id":"/redfish/v1/Systems/437XR1138R2",
      "PowerState":"On","Boot":{"BootSourceOverrideTarget":"None","BootSourceOverrideEnabled":"Disabled"},
      "@Redfish.Settings":{"SettingsObject":{"@odata.id":"/redfish/v1/Systems/437XR1138R2/Settings"},"ETag":"\"e1\""}})";
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2/Settings"] =
        R"({"@odata.id":"/redfish/v1/Systems/437XR1138R2/Settings",
      "Boot":{"BootSourceOverrideTarget":"None","BootSourceOverrideEnabled":"Disabled"}})";
    auto o = h.run(r);
    INFO(o.reason);
    REQUIRE(o.ok());
    CHECK(h.bmc->patches.count("/redfish/v1/Systems/437XR1138R2/Settings") == 1);
    CHECK(h.bmc->patches.count("/redfish/v1/Systems/437XR1138R2") == 0);
  }
  SECTION("a BMC that ignores the PATCH is caught by the read-back") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->ignore_patch = true;
    r.bootdev = BootDevice::Disk;  // the tree already says Pxe/Once
    auto o = h.run(r);
    CHECK(o.error == ErrorKind::BmcError);
    CHECK(o.reason.find("not applied") != std::string::npos);
  }
  SECTION("a boot target the BMC does not list is unsupported, nothing PATCHed") {
    Harness h("dmtf-public-rackmount1");
    h.bmc->override_get["/redfish/v1/Systems/437XR1138R2"] =
        R"({"@odata.id":"/redfish/v1/Systems/437XR1138R2",
      "PowerState":"On","Boot":{"BootSourceOverrideTarget":"None",
      "BootSourceOverrideTarget@Redfish.AllowableValues":["None","Pxe","Hdd"]}})";
    r.bootdev = BootDevice::Cdrom;
    auto o = h.run(r);
    CHECK(o.error == ErrorKind::Unsupported);
    CHECK(h.bmc->count(Method::Patch, "/") == 0);
  }
}

TEST_CASE("identify prefers LocationIndicatorActive, else IndicatorLED", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Request r;
  r.action = Action::Identify;
  r.identify_seconds = 15;
  Harness h("csm-OpenBMC-stock");
  auto o = h.run(r);
  INFO(o.reason);
  REQUIRE(o.ok());
  CHECK(h.bmc->patches["/redfish/v1/Systems/system"]["LocationIndicatorActive"] == true);
  Harness h2("dmtf-public-rackmount1");
  r.identify_seconds = -1;
  o = h2.run(r);
  REQUIRE(o.ok());
  CHECK(h2.bmc->patches["/redfish/v1/Systems/437XR1138R2"]["IndicatorLED"] == "Off");
}

TEST_CASE("probe: vendor, manager firmware, reset types", "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("csm-DL325");
  auto o = h.run(Action::Probe);
  INFO(o.reason);
  REQUIRE(o.ok());
  CHECK(has_fact(o, "vendor", "hpe"));
  CHECK(has_fact(o, "tls_fingerprint", "AA:BB"));
  bool fw = false, rt = false;
  for (auto& [k, v] : o.facts) {
    if (k == "firmware") fw = !v.empty();
    if (k == "reset_types") rt = v.find("ForceOff") != std::string::npos;
  }
  CHECK(fw);
  CHECK(rt);
}

TEST_CASE("blades: `system` selects one, several without it is a config error",
          "[redfish][engine]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-bladed");
  auto o = h.run(Action::Status);
  CHECK(o.error == ErrorKind::Config);
  h.target.vars["system"] = "529QB9451R6";
  o = h.run(Action::Off);
  REQUIRE(o.ok());
  CHECK(h.bmc->count(Method::Post, "/Systems/529QB9451R6/Actions") == 1);
}

TEST_CASE("cancellation: terminal interrupts, total times out, exactly once",
          "[redfish][engine][cancel]") {
  FP_REQUIRE_MOCKUPS();
  for (auto type :
       {boost::asio::cancellation_type::terminal, boost::asio::cancellation_type::total}) {
    Harness h("dmtf-public-rackmount1");
    h.bmc->hang_on = "/redfish/v1/Systems/437XR1138R2";
    boost::asio::steady_timer t(h.io);
    Request r;
    auto o = h.run(r, Millis(10000), [&] {
      t.expires_after(Millis(20));
      t.async_wait([&](auto) { h.sig.emit(type); });
    });
    CHECK(h.completions == 1);
    if (type == boost::asio::cancellation_type::terminal) {
      CHECK(o.error == ErrorKind::Interrupted);
      CHECK(o.reason == "while waiting for the reply to the system resource");
    } else {
      CHECK(o.error == ErrorKind::Timeout);
      CHECK(o.reason == "timed out waiting for the reply to the system resource");
    }
    // Session still deleted (best effort) after the cancelled operation.
    CHECK(h.bmc->sessions_deleted == 1);
  }
}

TEST_CASE("the engine's own deadline fires without a scheduler", "[redfish][engine][cancel]") {
  FP_REQUIRE_MOCKUPS();
  Harness h("dmtf-public-rackmount1");
  h.bmc->hang_on = "/redfish/v1/Systems";
  Request r;
  auto t0 = Clock::now();
  auto o = h.run(r, Millis(100));
  CHECK(Clock::now() - t0 < Millis(2000));
  CHECK(h.completions == 1);
  CHECK(o.error == ErrorKind::Timeout);
  CHECK(o.reason.find("Systems collection") != std::string::npos);
}

TEST_CASE("missing credentials is a config error, posted not inline", "[redfish][engine]") {
  Harness h("dmtf-public-rackmount1");
  h.cred.username.clear();
  Outcome out;
  bool inline_call = true;
  OpContext ctx{h.target, h.cred, Request{}, Clock::now() + Millis(1000), h.sig.slot()};
  run_operation(h.io.get_executor(), h.bmc, h.st, ctx, h.opts, [&](Outcome o) {
    out = o;
    ++h.completions;
  });
  inline_call = h.completions != 0;
  h.io.run();
  CHECK_FALSE(inline_call);
  CHECK(h.completions == 1);
  CHECK(out.error == ErrorKind::Config);
}
