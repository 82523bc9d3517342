// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/credentials.hpp"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <yaml-cpp/yaml.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace fleetpower {

namespace {
std::string trim_newline(std::string s) {
  while (!s.empty() && (s.back() == '\n' || s.back() == '\r')) s.pop_back();
  return s;
}

bool read_secret_file(const std::string& path, std::string* out, std::string* err) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    *err = fmt::format("cannot read password file {}", path);
    return false;
  }
  if (st.st_mode & 077) {
    *err = fmt::format("password file {} is accessible by group or others (mode {:o}); chmod 600 it",
                       path, st.st_mode & 0777);
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  if (!f) {
    *err = fmt::format("cannot read password file {}", path);
    return false;
  }
  std::ostringstream ss;
  ss << f.rdbuf();
  *out = trim_newline(ss.str());
  return true;
}

bool run_command(const std::string& cmd, std::string* out, std::string* err) {
  // The command comes from a 0600 file the admin wrote; it runs through the shell once.
  FILE* p = ::popen(cmd.c_str(), "r");
  if (!p) {
    *err = "cannot start password_command";
    return false;
  }
  std::string data;
  char buf[512];
  std::size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, p)) > 0 && data.size() < 65536) data.append(buf, n);
  int rc = ::pclose(p);
  if (rc != 0) {
    *err = fmt::format("password_command exited with status {}", WIFEXITED(rc) ? WEXITSTATUS(rc) : rc);
    return false;
  }
  // first line only
  auto nl = data.find('\n');
  if (nl != std::string::npos) data.resize(nl);
  *out = trim_newline(data);
  return true;
}
}  // namespace

bool CredentialStore::load(const std::string& path, std::vector<Diagnostic>* diags) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) {
    diags->push_back({path, 0, 0, "", "cannot open the credentials file", false});
    return false;
  }
  if ((st.st_mode & 077) != 0) {
    diags->push_back({path, 0, 0, "",
                      fmt::format("credentials file is accessible by group or others (mode {:o}); "
                                  "refusing it: chmod 600 {}",
                                  st.st_mode & 0777, path),
                      false});
    return false;
  }
  if (st.st_uid != ::geteuid() && st.st_uid != 0) {
    diags->push_back({path, 0, 0, "", "credentials file is owned by another user; refusing it", false});
    return false;
  }
  std::ifstream f(path, std::ios::binary);
  std::ostringstream ss;
  ss << f.rdbuf();
  return load_text(ss.str(), path, diags);
}

bool CredentialStore::load_text(const std::string& text, const std::string& name,
                                std::vector<Diagnostic>* diags) {
  path_ = name;
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::ParserException& e) {
    // Never echo the offending text: it may hold a password.
    diags->push_back({name, e.mark.line + 1, e.mark.column + 1, "", "YAML syntax error in credentials file", false});
    return false;
  } catch (const std::exception&) {
    diags->push_back({name, 0, 0, "", "cannot parse the credentials file", false});
    return false;
  }
  if (root.IsNull()) return true;
  if (!root.IsMap()) {
    diags->push_back({name, 1, 1, "", "expected a mapping of entry names to {username, password...}", false});
    return false;
  }
  bool ok = true;
  for (auto it = root.begin(); it != root.end(); ++it) {
    CredentialSource s;
    s.name = it->first.Scalar();
    s.line = it->first.Mark().line + 1;
    const YAML::Node body = it->second;  // a copy: the iterator yields a temporary
    if (!body.IsMap()) {
      diags->push_back({name, s.line, 0, s.name, "expected a mapping {username, password|password_file|password_env|password_command}", false});
      ok = false;
      continue;
    }
    int sources = 0;
    for (auto f = body.begin(); f != body.end(); ++f) {
      std::string k = f->first.Scalar();
      int line = f->first.Mark().line + 1, col = f->first.Mark().column + 1;
      if (!f->second.IsScalar()) {
        diags->push_back({name, line, col, s.name + "." + k, "expected a string", false});
        ok = false;
        continue;
      }
      std::string v = f->second.Scalar();
      if (k == "username") s.username = v;
      else if (k == "password") { s.password = v; ++sources; }
      else if (k == "password_file") { s.password_file = v; ++sources; }
      else if (k == "password_env") { s.password_env = v; ++sources; }
      else if (k == "password_command") { s.password_command = v; ++sources; }
      else if (k == "kg_env") s.kg_env = v;
      else if (k == "kg_file") s.kg_file = v;
      else if (k == "identity_file") s.identity_file = v;
      else {
        auto dym = did_you_mean(k, {"username", "password", "password_file", "password_env", "password_command", "kg_env", "kg_file", "identity_file"}, 1);
        diags->push_back({name, line, col, s.name + "." + k,
                          fmt::format("unknown key '{}'{}", k, dym.empty() ? "" : fmt::format(" (did you mean '{}'?)", dym[0])), false});
        ok = false;
      }
    }
    if (s.username.empty()) {
      diags->push_back({name, s.line, 0, s.name + ".username", "missing username", false});
      ok = false;
    }
    if (sources != 1 && !(sources == 0 && !s.identity_file.empty())) {
      diags->push_back({name, s.line, 0, s.name,
                        sources == 0 ? "needs one of password, password_file, password_env, password_command (or an SSH identity_file)"
                                     : "give only one of password, password_file, password_env, password_command",
                        false});
      ok = false;
    }
    sources_[s.name] = std::move(s);
  }
  return ok;
}

void CredentialStore::add_environment() {
  const char* u = std::getenv("FLEETPOWER_USER");
  const char* p = std::getenv("FLEETPOWER_PASSWORD");
  if (u && *u && p) {
    CredentialSource s;
    s.name = "env";
    s.username = u;
    s.password_env = "FLEETPOWER_PASSWORD";
    sources_["env"] = s;
  }
}

std::vector<std::string> CredentialStore::names() const {
  std::vector<std::string> out;
  for (auto& [k, _] : sources_) out.push_back(k);
  return out;
}

const Credential* CredentialStore::resolve(const std::string& name, std::string* err) {
  if (auto it = resolved_.find(name); it != resolved_.end()) return &it->second;
  auto it = sources_.find(name);
  if (it == sources_.end()) {
    *err = fmt::format("credentials '{}' are not defined", name);
    auto dym = did_you_mean(name, names(), 1);
    if (!dym.empty()) *err += fmt::format(" (did you mean '{}'?)", dym[0]);
    if (path_.empty()) *err += " (no credentials file was loaded; see --credentials)";
    else *err += fmt::format(" in {}", path_);
    return nullptr;
  }
  const auto& s = it->second;
  std::string pw;
  if (!s.password.empty()) {
    pw = s.password;
  } else if (!s.password_env.empty()) {
    const char* v = std::getenv(s.password_env.c_str());
    if (!v) {
      *err = fmt::format("credentials '{}': environment variable {} is not set", name, s.password_env);
      return nullptr;
    }
    pw = v;
  } else if (!s.password_file.empty()) {
    if (!read_secret_file(s.password_file, &pw, err)) {
      *err = fmt::format("credentials '{}': {}", name, *err);
      return nullptr;
    }
  } else if (!s.password_command.empty()) {
    if (!run_command(s.password_command, &pw, err)) {
      *err = fmt::format("credentials '{}': {}", name, *err);
      return nullptr;
    }
  }
  Credential c;
  c.name = name;
  c.username = s.username;
  c.password = Secret(std::move(pw));
  c.identity_file = s.identity_file;
  if (!s.kg_env.empty()) {
    const char* v = std::getenv(s.kg_env.c_str());
    if (!v) {
      *err = fmt::format("credentials '{}': environment variable {} is not set", name, s.kg_env);
      return nullptr;
    }
    c.kg_key = Secret(v);
  } else if (!s.kg_file.empty()) {
    std::string kg;
    if (!read_secret_file(s.kg_file, &kg, err)) {
      *err = fmt::format("credentials '{}': {}", name, *err);
      return nullptr;
    }
    c.kg_key = Secret(std::move(kg));
  }
  return &(resolved_[name] = std::move(c));
}

std::string default_credentials_path() {
  if (const char* e = std::getenv("FLEETPOWER_CREDENTIALS"); e && *e) return e;
  std::string home;
  if (const char* xdg = std::getenv("XDG_CONFIG_HOME"); xdg && *xdg) home = std::string(xdg) + "/fleetpower/credentials.yaml";
  else if (const char* h = std::getenv("HOME"); h && *h) home = std::string(h) + "/.config/fleetpower/credentials.yaml";
  if (!home.empty() && ::access(home.c_str(), F_OK) == 0) return home;
  if (::access("/etc/fleetpower/credentials.yaml", F_OK) == 0) return "/etc/fleetpower/credentials.yaml";
  return "";
}

}  // namespace fleetpower
