// SPDX-License-Identifier: GPL-3.0-or-later
// SSH device profiles: parsing, parameter validation (nothing unsafe is ever rendered into a
// command) and reply matching.
#include <catch2/catch.hpp>

#include <cstdio>
#include <fstream>

#include "transport/ssh/profile.hpp"

using namespace fleetpower;
using namespace fleetpower::ssh;

namespace {

const Profile& builtin(const std::string& name) {
  static ProfileSet set;
  const Profile* p = set.find(name);
  REQUIRE(p != nullptr);
  return *p;
}

Bound bind_ok(const Profile& p, Action a, std::map<std::string, std::string> vars) {
  Bound b;
  std::string err;
  INFO(err);
  REQUIRE(bind_params_map(p, *p.action(a), vars, &b, &err));
  return b;
}

std::string bind_err(const Profile& p, Action a, std::map<std::string, std::string> vars) {
  Bound b;
  std::string err;
  CHECK_FALSE(bind_params_map(p, *p.action(a), vars, &b, &err));
  return err;
}

std::string command(const Profile& p, Action a, const Bound& b, std::size_t i = 0) {
  std::string out, err;
  REQUIRE(render(p.action(a)->send.at(i), b, &out, &err));
  return out;
}

}  // namespace

TEST_CASE("every built-in profile parses and reads the power state", "[ssh][profile]") {
  for (auto& [name, text] : builtin_profile_texts()) {
    Profile p;
    std::string err;
    INFO(name << ": " << err);
    REQUIRE(parse_profile(text, "built-in", &p, &err));
    CHECK(p.name == name);
    CHECK(p.action(Action::Status) != nullptr);
    CHECK(p.action(Action::On) != nullptr);
    CHECK(p.action(Action::Off) != nullptr);
  }
  ProfileSet set;
  CHECK(set.names() == std::vector<std::string>{"apc", "racadm", "raritan", "servertech", "smash-clp"});
}

TEST_CASE("built-in commands", "[ssh][profile]") {
  auto& apc = builtin("apc");
  CHECK(apc.mode == Mode::Shell);
  CHECK(command(apc, Action::Off, bind_ok(apc, Action::Off, {{"outlet", "5"}})) == "olOff 5");
  CHECK(command(apc, Action::Cycle, bind_ok(apc, Action::Cycle, {{"outlet", "12"}})) == "olReboot 12");

  auto& smash = builtin("smash-clp");
  CHECK(smash.mode == Mode::Exec);
  auto b = bind_ok(smash, Action::On, {});  // system defaults to /system1
  CHECK(command(smash, Action::On, b) == "start /system1");
  CHECK(command(smash, Action::Off, bind_ok(smash, Action::Off, {})) == "stop -force /system1");
  CHECK(command(smash, Action::Reset, bind_ok(smash, Action::Reset, {})) == "reset /system1");
  CHECK(command(smash, Action::Status, bind_ok(smash, Action::Status, {{"system", "/system2"}})) ==
        "show /system2 powerstate");
  CHECK(smash.action(Action::Cycle)->send.size() == 2);

  auto& racadm = builtin("racadm");
  CHECK(command(racadm, Action::Cycle, bind_ok(racadm, Action::Cycle, {})) == "racadm serveraction powercycle");
  CHECK(command(racadm, Action::Reset, bind_ok(racadm, Action::Reset, {})) == "racadm serveraction hardreset");
  CHECK(command(racadm, Action::On, bind_ok(racadm, Action::On, {})) == "racadm serveraction powerup");

  auto& st = builtin("servertech");
  CHECK(command(st, Action::On, bind_ok(st, Action::On, {{"outlet", ".A5"}})) == "on .A5");
  auto& rar = builtin("raritan");
  CHECK(command(rar, Action::Off, bind_ok(rar, Action::Off, {{"outlet", "7"}})) == "power outlets 7 off /y");
}

TEST_CASE("injection attempts are refused before rendering", "[ssh][profile][security]") {
  auto& apc = builtin("apc");
  for (std::string bad : std::vector<std::string>{"5;olOff 6", "5 && reboot", "5`id`", "$(id)", "5\nolOff 6", "5\rolOff 6", "5|x", "5 6",
                          "-1", "", "5'", "5\"", "1234", "5\t", std::string("5\0", 2), "../5", "five"}) {
    INFO("value: " << bad);
    auto err = bind_err(apc, Action::Off, {{"outlet", bad}});
    CHECK(err.find("refused outlet") != std::string::npos);
    CHECK(err.find("nothing was sent") != std::string::npos);
    CHECK(err.find('\n') == std::string::npos);  // the value is shown escaped
  }
  auto& smash = builtin("smash-clp");
  for (std::string bad : {"/system1;reboot", "/system1 -force", "/system1/../x", "system1", "/system1\n"}) {
    INFO("value: " << bad);
    CHECK(bind_err(smash, Action::On, {{"system", bad}}).find("refused system") != std::string::npos);
  }
  CHECK(bind_err(apc, Action::On, {}).find("'outlet' is required") != std::string::npos);
}

TEST_CASE("a sloppy site profile still cannot be injected through", "[ssh][profile][security]") {
  Profile p;
  std::string err;
  REQUIRE(parse_profile(R"(
name: loose
mode: exec
params:
  outlet: '.*'
actions:
  status: {send: 'show {outlet}', on: 'On', off: 'Off'}
)",
                        "test", &p, &err));
  for (std::string bad : {"1;reboot", "1 2", "`x`", "$(x)", "a\nb", "-x", "a&b", "a|b", "a>b", "a\\b", "a'b"}) {
    INFO(bad);
    Bound b;
    CHECK_FALSE(bind_params_map(p, *p.action(Action::Status), {{"outlet", bad}}, &b, &err));
  }
  Bound b;
  CHECK(bind_params_map(p, *p.action(Action::Status), {{"outlet", "A.5"}}, &b, &err));
}

TEST_CASE("value and host safety", "[ssh][profile][security]") {
  CHECK(value_is_safe("5"));
  CHECK(value_is_safe("/system1"));
  CHECK(value_is_safe(".A5"));
  CHECK_FALSE(value_is_safe("-force"));
  CHECK_FALSE(value_is_safe(std::string(65, 'a')));
  CHECK(host_is_safe("pdu-a1.example.org"));
  CHECK(host_is_safe("127.0.0.1"));
  CHECK(host_is_safe("fe80::1"));
  CHECK_FALSE(host_is_safe("-oProxyCommand=x"));
  CHECK_FALSE(host_is_safe("pdu;id"));
  CHECK_FALSE(host_is_safe("pdu a"));
  CHECK_FALSE(host_is_safe("user@pdu"));
  CHECK_FALSE(host_is_safe(""));
}

TEST_CASE("profile parsing errors name the key", "[ssh][profile]") {
  auto fails = [](const char* text, const char* want) {
    Profile p;
    std::string err;
    INFO(text);
    CHECK_FALSE(parse_profile(text, "t", &p, &err));
    INFO(err);
    CHECK(err.find(want) != std::string::npos);
  };
  fails("name: x\nmode: exec\nactions: {on: {send: 'on'}}", "actions.status");
  fails("name: x\nmode: shell\nactions: {status: {send: s, on: a, off: b}}", "prompt");
  fails("name: x\nmode: telnet\n", "mode");
  fails("name: x\nmode: exec\nactions: {status: {send: 'show {outlet}', on: a, off: b}}", "not declared");
  fails("name: x\nmode: exec\nactions: {status: {send: s, on: '(', off: b}}", "bad regular expression");
  fails("name: x\nmode: exec\nactions: {status: {send: s, on: a}}", "both 'on' and 'off'");
  fails("name: x\nmode: exec\nactions: {status: {send: s, on: a, off: b}, boot: {send: x}}", "not an action");
  fails("name: x\nmode: exec\nprompts: x\n", "unknown key");
  fails("name: 'a b'\n", "name");
  fails("name: x\nparams: {outlet: {pattern: '[0-9]+', default: '1;x'}}\n", "unsafe");
  fails("{{{", "YAML");
  fails("- a\n- b\n", "mapping");
}

TEST_CASE("site profiles load from a directory and replace built-ins", "[ssh][profile]") {
  char tmpl[] = "/tmp/fp-prof.XXXXXX";
  REQUIRE(::mkdtemp(tmpl));
  std::string dir = tmpl;
  std::ofstream(dir + "/apc.yaml") << "name: apc\nmode: exec\nactions: {status: {send: 'st', on: ON, off: OFF}}\n";
  std::ofstream(dir + "/bad.yaml") << "name: bad\nmode: nope\n";
  std::ofstream(dir + "/ignored.txt") << "garbage";
  ProfileSet set;
  std::vector<std::string> errors;
  set.load_dir(dir, false, &errors);
  REQUIRE(errors.size() == 1);
  CHECK(errors[0].find("bad.yaml: mode") != std::string::npos);
  REQUIRE(set.find("apc"));
  CHECK(set.find("apc")->mode == Mode::Exec);
  CHECK(set.find("apc")->origin == dir + "/apc.yaml");
  CHECK(set.find("bad") == nullptr);
  errors.clear();
  set.load_dir(dir + "/missing", true, &errors);
  CHECK(errors.empty());
  set.load_dir(dir + "/missing", false, &errors);
  CHECK(errors.size() == 1);
  std::remove((dir + "/apc.yaml").c_str());
  std::remove((dir + "/bad.yaml").c_str());
  std::remove((dir + "/ignored.txt").c_str());
  ::rmdir(dir.c_str());
}

TEST_CASE("reply matching: APC", "[ssh][reply]") {
  auto& apc = builtin("apc");
  auto b = bind_ok(apc, Action::Status, {{"outlet", "5"}});
  auto st = [&](const std::string& reply) { return judge(apc, Action::Status, *apc.action(Action::Status), b, reply, -1); };
  CHECK(st("E000: Success\r\n 5: Outlet 5: On\r\n").state == PowerState::On);
  CHECK(st("E000: Success\r\n 5: Web server: Off\r\n").state == PowerState::Off);
  // Another outlet's line does not count.
  auto other = st("E000: Success\r\n 15: Outlet 15: On\r\n");
  CHECK(other.error == ErrorKind::Protocol);
  CHECK(other.detail.find("unrecognised reply") != std::string::npos);
  auto e = st("E102: Parameter Error\r\n");
  CHECK(e.error == ErrorKind::BmcError);
  CHECK(e.detail == "E102: Parameter Error");

  auto bo = bind_ok(apc, Action::On, {{"outlet", "5"}});
  CHECK(judge(apc, Action::On, *apc.action(Action::On), bo, "E000: Success\r\n", -1).error == ErrorKind::None);
  auto none = judge(apc, Action::On, *apc.action(Action::On), bo, "something else\r\n", -1);
  CHECK(none.error == ErrorKind::Protocol);
  CHECK(none.detail.find("no success reply") != std::string::npos);
}

TEST_CASE("reply matching: SMASH-CLP and racadm", "[ssh][reply]") {
  auto& smash = builtin("smash-clp");
  auto b = bind_ok(smash, Action::Status, {});
  auto st = [&](const std::string& reply, int rc = 0) {
    return judge(smash, Action::Status, *smash.action(Action::Status), b, reply, rc);
  };
  CHECK(st("/system1\n  Properties:\n    powerstate = on\nstatus=0\n").state == PowerState::On);
  CHECK(st("/system1\n  Properties:\n    PowerState=Off\n").state == PowerState::Off);
  CHECK(st("power: on\n").state == PowerState::On);
  CHECK(st("EnabledState = Disabled\n").state == PowerState::Off);
  auto failed = st("status=2\nstatus_tag=COMMAND PROCESSING FAILED\n", 1);
  CHECK(failed.error == ErrorKind::BmcError);
  auto amb = st("powerstate = on\npowerstate = off\n");
  CHECK(amb.error == ErrorKind::Protocol);

  auto bon = bind_ok(smash, Action::On, {});
  CHECK(judge(smash, Action::On, *smash.action(Action::On), bon, "status=0\nstatus_tag=COMMAND COMPLETED\n", 0).error ==
        ErrorKind::None);
  auto rc = judge(smash, Action::On, *smash.action(Action::On), bon, "weird\n", 3);
  CHECK(rc.error == ErrorKind::BmcError);
  CHECK(rc.detail.find("exit status 3") != std::string::npos);

  auto& racadm = builtin("racadm");
  Bound none;
  CHECK(judge(racadm, Action::Status, *racadm.action(Action::Status), none, "Server power status: ON\n", 0).state ==
        PowerState::On);
  CHECK(judge(racadm, Action::Status, *racadm.action(Action::Status), none, "Server power status: OFF\n", 0).state ==
        PowerState::Off);
  auto err = judge(racadm, Action::On, *racadm.action(Action::On), none, "ERROR: Server is already powered ON.\n", 1);
  CHECK(err.error == ErrorKind::BmcError);
  CHECK(err.detail == "ERROR: Server is already powered ON.");
}

TEST_CASE("prompt detection", "[ssh][reply]") {
  auto& apc = builtin("apc");
  CHECK(ends_with_prompt(apc, "banner\r\n\r\napc>"));
  CHECK(ends_with_prompt(apc, "E000: Success\r\napc> "));
  CHECK_FALSE(ends_with_prompt(apc, "apc>\r\nE000: Success\r\n"));
  CHECK_FALSE(ends_with_prompt(apc, "olOn 5"));
  auto& st = builtin("servertech");
  CHECK(ends_with_prompt(st, "Command successful\r\n\r\nSwitched CDU: "));
}

TEST_CASE("sanitize keeps reasons on one printable line", "[ssh][reply]") {
  CHECK(sanitize("a\nb\tc\x01") == "a b c\\x01");
  CHECK(sanitize(std::string(200, 'x'), 10) == "xxxxxxxxxx...");
}

TEST_CASE("the site profile example of fleetpower-inventory(5) parses", "[ssh][profile]") {
  Profile p;
  std::string err;
  INFO(err);
  REQUIRE(parse_profile(R"(
name: mypdu
description: Example switched PDU
kind: pdu
mode: shell
pty: true
prompt: '^mypdu>\s*$'
exit: exit
newline: "\r"
error: '(?i)^\s*error'
params:
  outlet: { pattern: '[0-9]{1,2}', help: 'an outlet number (1-48)' }
actions:
  status: { send: 'show {outlet}', on: '^\s*{outlet}:.*\bOn$', off: '^\s*{outlet}:.*\bOff$' }
  on:     { send: 'on {outlet}',   success: '^OK' }
  off:    { send: 'off {outlet}',  success: '^OK' }
  cycle:  { send: ['off {outlet}', 'on {outlet}'], success: '^OK' }
)",
                        "man", &p, &err));
  Bound b;
  REQUIRE(bind_params_map(p, *p.action(Action::Status), {{"outlet", "7"}}, &b, &err));
  CHECK(judge(p, Action::Status, *p.action(Action::Status), b, " 7: rack fan: On\r\n", -1).state == PowerState::On);
  CHECK(judge(p, Action::Status, *p.action(Action::Status), b, " 17: x: On\r\n", -1).error == ErrorKind::Protocol);
  CHECK(p.action(Action::Cycle)->send.size() == 2);
}
