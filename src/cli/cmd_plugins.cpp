// SPDX-License-Identifier: GPL-3.0-or-later
#include <boost/asio/io_context.hpp>
#include <boost/json.hpp>
#include <fmt/format.h>

#include <iostream>

#include "cli/common.hpp"
#if FLEETPOWER_HAVE_SSH
#include "transport/ssh/profile.hpp"
#include "transport/ssh/ssh_backend.hpp"
#endif

namespace fleetpower::cli {

bool load_plugins(const Globals& g, plugin::Registry* reg, bool defer_builtin) {
  std::vector<Diagnostic> diags;
  bool ok = reg->load_builtin(&diags, defer_builtin);
  ok = reg->load_dir(plugin::kSitePluginDir, false, &diags) && ok;
  if (!g.config_plugin_dir.empty()) ok = reg->load_dir(g.config_plugin_dir, true, &diags) && ok;
  for (auto& d : g.plugin_dirs) ok = reg->load_dir(d, true, &diags) && ok;
  for (auto& d : diags) std::cerr << d.str() << "\n";
  return ok;
}

namespace {

std::string transports_text(const plugin::Descriptor& d) {
  std::string s;
  for (auto t : d.transports) s += (s.empty() ? "" : ",") + std::string(plugin::transport_name(t));
  return s;
}

std::string origin_text(const plugin::Plugin& p) {
  std::string s = p.source == plugin::Source::BuiltIn ? std::string("built-in") : p.origin;
  if (!p.overrides.empty()) s += " (overrides " + p.overrides + ")";
  return s;
}

/// SSH device profiles (built-in, /etc/fleetpower/ssh-profiles.d, --ssh-profile-dir).
struct SshProfileRow {
  std::string name, kind, mode, origin, description;
};
std::vector<SshProfileRow> ssh_profile_rows(const Globals& g, bool* ok) {
  std::vector<SshProfileRow> rows;
#if FLEETPOWER_HAVE_SSH
  ssh::ProfileSet set;
  std::vector<std::string> errors;
  set.load_dir(ssh::kSystemProfileDir, true, &errors);
  for (auto& d : g.ssh_profile_dirs) set.load_dir(d, false, &errors);
  for (auto& e : errors) std::cerr << "SSH profile: " << e << "\n";
  if (!errors.empty()) *ok = false;
  for (auto& n : set.names()) {
    auto* p = set.find(n);
    rows.push_back({p->name, p->kind, p->mode == ssh::Mode::Shell ? "shell" : "exec", p->origin, p->description});
  }
#else
  (void)g;
  (void)ok;
#endif
  return rows;
}

}  // namespace

void setup_plugins(CLI::App& app, Globals& g, CommandFn* run) {
  app.add_subcommand("plugins", "List the protocol backends and the vendor plugins loaded (built-in and site)")
      ->callback([&g, run] {
        *run = [&g] {
          asio::io_context io;
          BackendRegistry reg;
          auto loaded = std::make_shared<plugin::Registry>();
          bool ok = load_plugins(g, loaded.get(), false);  // every built-in checked and listed
          register_backends(reg, io.get_executor(), g, loaded);
          const plugin::Registry& plugins = *loaded;
          auto ssh_rows = ssh_profile_rows(g, &ok);
          if (g.output == "json" || g.output == "jsonl") {
            boost::json::array backends, list;
            reg.for_each([&](const std::string& name, Backend&) { backends.emplace_back(name); });
            for (auto& p : plugins.plugins()) {
              boost::json::object o;
              o["name"] = p->desc.name;
              o["version"] = p->desc.version;
              o["api_version"] = p->desc.api_version;
              boost::json::array ts;
              for (auto t : p->desc.transports) ts.emplace_back(std::string(plugin::transport_name(t)));
              o["transports"] = std::move(ts);
              o["priority"] = p->desc.priority;
              o["source"] = std::string(plugin::source_name(p->source));
              o["origin"] = p->origin;
              if (!p->overrides.empty()) o["overrides"] = p->overrides;
              o["hooks"] = p->hooks != nullptr;
              o["description"] = p->desc.description;
              list.emplace_back(std::move(o));
            }
            boost::json::object root;
            root["api_version"] = plugin::kApiVersion;
            root["backends"] = std::move(backends);
            root["plugins"] = std::move(list);
            boost::json::array sp;
            for (auto& r : ssh_rows)
              sp.emplace_back(boost::json::object{{"name", r.name}, {"kind", r.kind}, {"mode", r.mode},
                                                  {"origin", r.origin}, {"description", r.description}});
            root["ssh_profiles"] = std::move(sp);
            std::cout << boost::json::serialize(root) << "\n";
          } else {
            std::cout << "protocol backends (built in):\n";
            reg.for_each([](const std::string& name, Backend&) { std::cout << "  " << name << "\n"; });
            std::cout << fmt::format("vendor plugins (API version {}):\n", plugin::kApiVersion);
            std::size_t wn = 4, wv = 7, wt = 10;
            for (auto& p : plugins.plugins()) {
              wn = std::max(wn, p->desc.name.size());
              wv = std::max(wv, p->desc.version.size());
              wt = std::max(wt, transports_text(p->desc).size());
            }
            std::cout << fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}\n", "NAME", wn, "VERSION", wv, "TRANSPORTS", wt,
                                     "FROM");
            for (auto& p : plugins.plugins())
              std::cout << fmt::format("  {:<{}}  {:<{}}  {:<{}}  {}{}\n", p->desc.name, wn, p->desc.version, wv,
                                       transports_text(p->desc), wt, origin_text(*p),
                                       p->hooks ? " [code hooks]" : "");
            if (!ssh_rows.empty()) {
              std::size_t w = 4;
              for (auto& r : ssh_rows) w = std::max(w, r.name.size());
              std::cout << "SSH device profiles:\n";
              std::cout << fmt::format("  {:<{}}  {:<4}  {:<5}  {}\n", "NAME", w, "KIND", "MODE", "FROM");
              for (auto& r : ssh_rows)
                std::cout << fmt::format("  {:<{}}  {:<4}  {:<5}  {}\n", r.name, w, r.kind, r.mode, r.origin);
            }
          }
          return ok ? 0 : static_cast<int>(ExitCode::SomeFailed);
        };
      });
}

}  // namespace fleetpower::cli
