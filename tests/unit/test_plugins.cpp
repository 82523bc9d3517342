// SPDX-License-Identifier: GPL-3.0-or-later
// The plugin API v1: profile schema, registry precedence, auto-detection, shared objects.
#include <catch2/catch.hpp>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "plugin/registry.hpp"

using namespace fleetpower;
using namespace fleetpower::plugin;

namespace {

std::string all(const std::vector<Diagnostic>& d) {
  std::string s;
  for (auto& x : d) s += x.str() + "\n";
  return s;
}

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    char tmpl[] = "/tmp/fp-plugins-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
  std::string write(const std::string& name, const std::string& text) const {
    auto p = path / name;
    std::filesystem::create_directories(p.parent_path());
    std::ofstream(p) << text;
    return p.string();
  }
};

const char* kMinimal = R"(name: site-dell
version: "2.1"
api_version: 1
transports: [redfish, ipmi]
priority: 60
match:
  - redfish_vendor: "Dell*"
  - redfish_oem: Dell
  - ipmi_manufacturer: 674
    ipmi_product: 0x100-0x1ff
redfish:
  system_path: /redfish/v1/Systems/System.Embedded.1
  reset:
    reset: [ForceRestart]
    cycle: [PowerCycle]
  avoid_reset_types: [GracefulRestart]
  cycle: off-wait-on
  graceful_restart: shutdown-wait-on
  poll_interval: 2s
  boot:
    echo_mode: true
    settings: always
    continuous: false
    avoid_targets: [UefiHttp]
ipmi:
  workarounds: [opensesspriv, integritycheckvalue]
  cipher_suite: 17
  privilege: admin
)";

}  // namespace

TEST_CASE("plugins: a full profile parses into descriptor and profile") {
  Plugin p;
  std::vector<Diagnostic> d;
  REQUIRE(parse_profile(kMinimal, "site.yaml", nullptr, &p, &d));
  INFO(all(d));
  CHECK(d.empty());
  CHECK(p.desc.name == "site-dell");
  CHECK(p.desc.version == "2.1");
  CHECK(p.desc.api_version == 1);
  CHECK(p.desc.priority == 60);
  CHECK(p.desc.applies_to(Transport::Redfish));
  CHECK(p.desc.applies_to(Transport::Ipmi));
  CHECK_FALSE(p.desc.applies_to(Transport::Ssh));
  REQUIRE(p.desc.match.size() == 3);
  CHECK(p.desc.match[2].ipmi_manufacturer == std::vector<std::uint32_t>{674});
  CHECK(p.desc.match[2].ipmi_product.at(0) == std::make_pair(0x100u, 0x1ffu));
  const auto& rf = p.profile.redfish;
  CHECK(rf.system_path == "/redfish/v1/Systems/System.Embedded.1");
  CHECK(rf.reset.at(Action::Reset) == std::vector<std::string>{"ForceRestart"});
  CHECK(rf.reset.count(Action::On) == 0);
  CHECK(rf.avoid_reset_types == std::vector<std::string>{"GracefulRestart"});
  CHECK(rf.cycle == CycleMode::OffWaitOn);
  CHECK(rf.graceful_restart == GracefulRestartMode::ShutdownWaitOn);
  CHECK(rf.poll_interval == Millis(2000));
  CHECK(rf.boot.echo_mode);
  CHECK(rf.boot.settings == SettingsMode::Always);
  CHECK_FALSE(rf.boot.continuous);
  CHECK(rf.boot.avoid_targets == std::vector<std::string>{"UefiHttp"});
  CHECK(p.profile.ipmi.has("opensesspriv"));
  CHECK(p.profile.ipmi.has("integritycheckvalue"));
  CHECK(p.profile.ipmi.cipher_suite == 17);
  CHECK(p.profile.ipmi.privilege == "admin");
}

TEST_CASE("plugins: schema errors name the file, line and key") {
  auto bad = [](const std::string& text) {
    Plugin p;
    std::vector<Diagnostic> d;
    CHECK_FALSE(parse_profile(text, "/etc/x/bad.yaml", nullptr, &p, &d));
    REQUIRE_FALSE(d.empty());
    return d;
  };
  const std::string head = "name: x\napi_version: 1\ntransports: [redfish]\n";
  {
    auto d = bad(head + "redfish:\n  reset:\n    off: [ForcOff]\n");
    CHECK(d[0].file == "/etc/x/bad.yaml");
    CHECK(d[0].line == 6);
    CHECK(d[0].key == "redfish.reset.off");
    CHECK_THAT(d[0].str(), Catch::Contains("did you mean 'ForceOff'"));
    CHECK_THAT(d[0].str(), Catch::StartsWith("/etc/x/bad.yaml:6:"));
  }
  {
    auto d = bad(head + "redfish:\n  poll_intervall: 1s\n");
    CHECK(d[0].line == 5);
    CHECK(d[0].key == "redfish.poll_intervall");
    CHECK_THAT(d[0].message, Catch::Contains("did you mean 'poll_interval'"));
  }
  {
    auto d = bad(head + "ipmi:\n  workarounds: [opensespriv]\n");
    CHECK(d[0].key == "ipmi.workarounds");
    CHECK_THAT(d[0].message, Catch::Contains("opensesspriv"));
  }
  {
    auto d = bad("name: x\napi_version: 2\ntransports: [redfish]\n");
    CHECK(d[0].key == "api_version");
    CHECK(d[0].line == 2);
    CHECK_THAT(d[0].message, Catch::Contains("version 2") && Catch::Contains("speaks version 1"));
  }
  {
    auto d = bad(head + "redfish:\n  cycle: sometimes\n");
    CHECK(d[0].key == "redfish.cycle");
    CHECK_THAT(d[0].message, Catch::Contains("off-wait-on"));
  }
  {
    auto d = bad(head + "match:\n  - redfish_vendor: Dell\n    ipmi_manufacturer: 674\n");
    CHECK(d[0].key == "match[0]");
  }
  {
    auto d = bad("name: x\ntransports: [redfish]\n");
    CHECK(d[0].key == "api_version");
  }
  {
    auto d = bad(head + "redfish: [1, 2\n");
    CHECK_THAT(d[0].message, Catch::Contains("YAML syntax error"));
    CHECK(d[0].line > 0);
  }
  {
    auto d = bad("name: Bad Name\napi_version: 1\ntransports: [redfish]\n");
    CHECK(d[0].key == "name");
  }
}

TEST_CASE("plugins: non-standard reset types must be declared") {
  Plugin p;
  std::vector<Diagnostic> d;
  const std::string head = "name: cray\napi_version: 1\ntransports: [redfish]\n";
  CHECK_FALSE(parse_profile(head + "redfish:\n  reset:\n    off: [Off]\n", "c.yaml", nullptr, &p, &d));
  d.clear();
  REQUIRE(parse_profile(head + "redfish:\n  extra_reset_types: [Off]\n  reset:\n    off: [Off, ForceOff]\n", "c.yaml",
                        nullptr, &p, &d));
  CHECK(p.profile.redfish.reset.at(Action::Off) == std::vector<std::string>{"Off", "ForceOff"});
}

TEST_CASE("plugins: built-in table has the generic plugins") {
  Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_builtin(&d));
  INFO(all(d));
  auto* gr = r.find("generic-redfish");
  auto* gi = r.find("generic-ipmi");
  REQUIRE(gr);
  REQUIRE(gi);
  CHECK(gr->source == Source::BuiltIn);
  CHECK(gr->origin == "built-in");
  // The generic profile encodes the generic behaviour.
  CHECK(gr->profile.redfish.reset.at(Action::On) == std::vector<std::string>{"On", "ForceOn"});
  CHECK(gr->profile.redfish.reset.at(Action::Reset) == std::vector<std::string>{"ForceRestart", "GracefulRestart"});
  CHECK(gr->profile.redfish.cycle == CycleMode::Auto);
  CHECK(r.fallback(Transport::Redfish) == gr);
  CHECK(r.fallback(Transport::Ipmi) == gi);
  // Every built-in plugin parses (the vendors' too) and speaks this API version.
  for (auto& p : r.plugins()) CHECK(p->desc.api_version == kApiVersion);
}

TEST_CASE("plugins: deferred built-ins are parsed when first needed, with the same result") {
  Registry eager, lazy;
  std::vector<Diagnostic> d;
  REQUIRE(eager.load_builtin(&d));
  REQUIRE(lazy.load_builtin(&d, true));
  INFO(all(d));
  const std::size_t n = builtin_table().size();
  REQUIRE(n >= 3);
  CHECK(lazy.unparsed() == n);
  // An IPMI run with vendor auto: only the generic IPMI plugin.
  auto* gi = lazy.fallback(Transport::Ipmi);
  REQUIRE(gi);
  CHECK(gi->desc.name == "generic-ipmi");
  CHECK(gi->profile.ipmi.workarounds == eager.find("generic-ipmi")->profile.ipmi.workarounds);
  CHECK(lazy.unparsed() == n - 1);
  // A named vendor: that one (and what it extends) only.
  std::string err;
  auto* dell = lazy.select("dell-idrac", Transport::Redfish, &err);
  REQUIRE(dell);
  CHECK(err.empty());
  CHECK(dell->profile.redfish.system_path == "/redfish/v1/Systems/System.Embedded.1");
  CHECK(lazy.unparsed() == n - 2);  // no built-in uses `extends`
  // An unknown name still suggests from every name without parsing anything.
  std::size_t before = lazy.unparsed();
  CHECK(lazy.select("dell", Transport::Redfish, &err) == nullptr);
  CHECK(err.find("dell-idrac") != std::string::npos);
  CHECK(lazy.unparsed() == before);
  // Detection looks at every rule: everything is parsed, and it picks what the eager one picks.
  IpmiIdentity dell_ipmi{674, 256};
  REQUIRE(lazy.detect(dell_ipmi));
  CHECK(lazy.unparsed() == 0);
  CHECK(lazy.detect(dell_ipmi)->desc.name == eager.detect(dell_ipmi)->desc.name);
  CHECK(lazy.detect(dell_ipmi)->desc.name == "dell-idrac");
  // Same plugins, same order, same contents where it shows.
  REQUIRE(lazy.plugins().size() == eager.plugins().size());
  for (std::size_t i = 0; i < n; ++i) {
    const auto& a = *lazy.plugins()[i];
    const auto& b = *eager.plugins()[i];
    CHECK(a.desc.name == b.desc.name);
    CHECK(a.desc.version == b.desc.version);
    CHECK(a.desc.priority == b.desc.priority);
    CHECK(a.desc.match.size() == b.desc.match.size());
    CHECK(a.source == Source::BuiltIn);
    CHECK(static_cast<bool>(a.hooks) == static_cast<bool>(b.hooks));
  }
}

TEST_CASE("plugins: a site profile overrides or extends a deferred built-in") {
  Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_builtin(&d, true));
  TempDir dir;
  // Extends a deferred built-in (parsed for it), and replaces another one never parsed.
  dir.write("10-generic.yaml", "name: generic-redfish\nversion: site\napi_version: 1\nextends: generic-redfish\n"
                               "redfish:\n  reset:\n    off: [GracefulShutdown, ForceOff]\n");
  dir.write("20-ipmi.yaml", "name: generic-ipmi\nversion: site2\napi_version: 1\ntransports: [ipmi]\n");
  REQUIRE(r.load_dir(dir.path.string(), true, &d));
  INFO(all(d));
  auto* g = r.find("generic-redfish");
  REQUIRE(g);
  CHECK(g->overrides == "built-in");
  CHECK(g->profile.redfish.reset.at(Action::Off) == std::vector<std::string>{"GracefulShutdown", "ForceOff"});
  CHECK(g->profile.redfish.reset.at(Action::On) == std::vector<std::string>{"On", "ForceOn"});
  auto* gi = r.find("generic-ipmi");
  REQUIRE(gi);
  CHECK(gi->desc.version == "site2");
  CHECK(gi->overrides == "built-in");
  CHECK(gi->source == Source::Profile);
  std::size_t names = 0;
  for (auto& p : r.plugins()) names += (p->desc.name == "generic-ipmi");
  CHECK(names == 1);
}

TEST_CASE("plugins: site profiles override built-in ones and can extend them") {
  Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_builtin(&d));
  TempDir dir;
  dir.write("10-generic.yaml", "name: generic-redfish\nversion: site\napi_version: 1\nextends: generic-redfish\n"
                               "redfish:\n  reset:\n    off: [GracefulShutdown, ForceOff]\n");
  dir.write("mysite/profile.yaml", kMinimal);
  dir.write("README.txt", "not a plugin");
  REQUIRE(r.load_dir(dir.path.string(), true, &d));
  INFO(all(d));
  auto* g = r.find("generic-redfish");
  REQUIRE(g);
  CHECK(g->source == Source::Profile);
  CHECK(g->origin == (dir.path / "10-generic.yaml").string());
  CHECK(g->overrides == "built-in");
  CHECK(g->desc.version == "site");
  // extends: inherits the rest of the built-in profile.
  CHECK(g->profile.redfish.reset.at(Action::Off) == std::vector<std::string>{"GracefulShutdown", "ForceOff"});
  CHECK(g->profile.redfish.reset.at(Action::On) == std::vector<std::string>{"On", "ForceOn"});
  CHECK(g->desc.applies_to(Transport::Redfish));
  REQUIRE(r.find("site-dell"));
  CHECK(r.find("site-dell")->origin == (dir.path / "mysite/profile.yaml").string());
}

TEST_CASE("plugins: a bad file is refused, the others still load") {
  Registry r;
  std::vector<Diagnostic> d;
  TempDir dir;
  auto bad = dir.write("a.yaml", "name: a\napi_version: 1\ntransports: [redfish]\nredfish:\n  boot:\n    echo: yes\n");
  dir.write("b.yaml", "name: b\napi_version: 1\ntransports: [ipmi]\n");
  CHECK_FALSE(r.load_dir(dir.path.string(), true, &d));
  REQUIRE(d.size() == 1);
  CHECK(d[0].file == bad);
  CHECK(d[0].line == 6);
  CHECK(d[0].key == "redfish.boot.echo");
  CHECK_FALSE(r.find("a"));
  CHECK(r.find("b"));
  d.clear();
  CHECK_FALSE(r.load_dir((dir.path / "missing").string(), true, &d));
  CHECK(d.size() == 1);
  d.clear();
  CHECK(r.load_dir((dir.path / "missing").string(), false, &d));
  CHECK(d.empty());
}

TEST_CASE("plugins: glob matching") {
  CHECK(glob_match("Dell*", "Dell Inc."));
  CHECK(glob_match("dell*", "DELL"));
  CHECK(glob_match("*iLO 5*", "HPE iLO 5 v2.1"));
  CHECK(glob_match("?MI", "AMI"));
  CHECK_FALSE(glob_match("AMI", "AMIx"));
  CHECK_FALSE(glob_match("Dell", "Dell Inc."));
  CHECK(glob_match("*", ""));
  CHECK(glob_match("a*b*c", "aXXbYYc"));
  CHECK_FALSE(glob_match("a*b*c", "aXXbYY"));
}

TEST_CASE("plugins: auto-detection by priority and specificity, generic fallback") {
  Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_builtin(&d));
  Plugin a, b, c;
  REQUIRE(parse_profile("name: vend-a\napi_version: 1\ntransports: [redfish, ipmi]\npriority: 10\nmatch:\n"
                        "  - redfish_vendor: Acme\n  - ipmi_manufacturer: 4242\n",
                        "a", nullptr, &a, &d));
  REQUIRE(parse_profile("name: vend-a-special\napi_version: 1\ntransports: [redfish]\npriority: 10\nmatch:\n"
                        "  - redfish_vendor: Acme\n    manager_model: \"*Blade*\"\n",
                        "b", nullptr, &b, &d));
  REQUIRE(parse_profile("name: vend-c\napi_version: 1\ntransports: [ipmi]\npriority: 20\nmatch:\n"
                        "  - ipmi_manufacturer: 4242\n    ipmi_product: 7-9\n",
                        "c", nullptr, &c, &d));
  r.add(a);
  r.add(b);
  r.add(c);
  RedfishIdentity id;
  id.vendor = "Acme";
  CHECK(r.detect(id)->desc.name == "vend-a");
  id.manager_model = "Acme Blade 3";
  CHECK(r.detect(id)->desc.name == "vend-a-special");  // same priority, more specific rule
  id.vendor = "Other";
  CHECK(r.detect(id)->desc.name == "generic-redfish");
  IpmiIdentity ii{4242, 3};
  CHECK(r.detect(ii)->desc.name == "vend-a");
  ii.product = 8;
  CHECK(r.detect(ii)->desc.name == "vend-c");  // higher priority
  ii.manufacturer = 1;
  CHECK(r.detect(ii)->desc.name == "generic-ipmi");

  std::string err;
  CHECK(r.select("auto", Transport::Redfish, &err) == nullptr);
  CHECK(err.empty());
  CHECK(r.select("vend-c", Transport::Ipmi, &err)->desc.name == "vend-c");
  CHECK(r.select("vend-c", Transport::Redfish, &err) == nullptr);
  CHECK_THAT(err, Catch::Contains("does not apply to redfish"));
  CHECK(r.select("vend-x", Transport::Ipmi, &err) == nullptr);
  CHECK_THAT(err, Catch::Contains("no vendor plugin named 'vend-x'"));
  // A short vendor name suggests the plugins that begin with it.
  CHECK(r.select("vend", Transport::Ipmi, &err) == nullptr);
  CHECK_THAT(err, Catch::Contains("did you mean") && Catch::Contains("'vend-a-special'") && Catch::Contains("'vend-c'"));
}

TEST_CASE("plugins: shared objects: the right API version loads, a wrong one is refused") {
  Registry r;
  std::vector<Diagnostic> d;
  REQUIRE(r.load_shared_object(FP_TEST_PLUGIN_OK, &d));
  INFO(all(d));
  auto* p = r.find("test-so");
  REQUIRE(p);
  CHECK(p->source == Source::SharedObject);
  CHECK(p->origin == FP_TEST_PLUGIN_OK);
  CHECK(p->desc.version == "0.3");
  CHECK(p->profile.redfish.reset.at(Action::Off) == std::vector<std::string>{"GracefulShutdown", "ForceOff"});

  d.clear();
  CHECK_FALSE(r.load_shared_object(FP_TEST_PLUGIN_BADAPI, &d));
  REQUIRE(d.size() == 1);
  CHECK(d[0].file == FP_TEST_PLUGIN_BADAPI);
  CHECK_THAT(d[0].message, Catch::Contains("API version 99") && Catch::Contains("speaks version 1"));
  CHECK_FALSE(r.find("test-badapi"));

  d.clear();
  TempDir dir;
  auto junk = dir.write("junk.so", "not an ELF file");
  CHECK_FALSE(r.load_shared_object(junk, &d));
  REQUIRE(d.size() == 1);
  CHECK(d[0].file == junk);
}
