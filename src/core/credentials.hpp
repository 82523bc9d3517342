// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/inventory.hpp"
#include "core/target.hpp"

namespace fleetpower {

/// Where a credentials entry gets its password from.  The secret is fetched lazily, once.
struct CredentialSource {
  std::string name;
  std::string username;
  std::string password;  ///< inline (the file is 0600)
  std::string password_file;
  std::string password_env;
  std::string password_command;
  std::string kg_env;  ///< optional IPMI K_g from an environment variable
  std::string kg_file;
  std::string identity_file;  ///< SSH private key: may replace the password for SSH devices
  int line = 0;
};

class CredentialStore {
 public:
  /// Load a credentials file.  Refused unless owned by the caller (or root) and not readable
  /// or writable by group or others (mode 0600 or stricter), like ssh does for keys.
  bool load(const std::string& path, std::vector<Diagnostic>* diags);
  bool load_text(const std::string& text, const std::string& name, std::vector<Diagnostic>* diags);

  /// Adds the `env` entry from $FLEETPOWER_USER / $FLEETPOWER_PASSWORD when both are set.
  void add_environment();

  bool has(const std::string& name) const { return sources_.count(name) > 0; }
  std::vector<std::string> names() const;
  const std::string& path() const { return path_; }

  /// Resolve an entry into a Credential (reads files, env, runs password_command once).
  /// On failure *err explains without revealing any secret.  Blocking: call before the loop.
  const Credential* resolve(const std::string& name, std::string* err);

 private:
  std::string path_;
  std::map<std::string, CredentialSource> sources_;
  std::map<std::string, Credential> resolved_;
};

/// Default credentials path: ~/.config/fleetpower/credentials.yaml, then
/// /etc/fleetpower/credentials.yaml (first that exists, else empty).
std::string default_credentials_path();

}  // namespace fleetpower
