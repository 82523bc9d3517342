// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

namespace fleetpower {

/// A secret string: never formatted, logged or serialized by accident.  Access is explicit.
class Secret {
 public:
  Secret() = default;
  explicit Secret(std::string v) : value_(std::move(v)) {}
  Secret(const Secret&) = default;
  Secret& operator=(const Secret&) = default;
  ~Secret();  // wipes the buffer
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }

 private:
  std::string value_;
};

struct Credential {
  std::string name;  ///< the credentials entry name ("lab"), or "env" for $FLEETPOWER_USER
  std::string username;
  Secret password;
  Secret kg_key;  ///< IPMI K_g (BMC key), optional
  std::string identity_file;  ///< SSH private key file, optional (not a secret itself)
};

/// One node to act on, with everything resolved from the inventory.
struct Target {
  std::string name;      ///< node name, e.g. node001
  std::string bmc;       ///< BMC address (hostname or IP)
  std::uint16_t port = 0;  ///< 0: protocol default (623 IPMI, 443 Redfish, 22 SSH)
  std::string protocol;  ///< ipmi | redfish | ssh | test | auto
  std::string vendor = "auto";
  std::string credentials;  ///< name of the credentials entry
  /// Every other inventory key after inheritance (pdu, circuit, phase, watts, cipher_suite,
  /// privilege, system, auth, ca_file, tls_fingerprint, ...).  Never holds secrets.
  std::map<std::string, std::string> vars;
  /// Where this target was defined (file:line), for messages.
  std::string origin;

  const std::string* var(const std::string& key) const {
    auto it = vars.find(key);
    return it == vars.end() ? nullptr : &it->second;
  }
  std::string var_or(const std::string& key, std::string def) const {
    auto* v = var(key);
    return v ? *v : std::move(def);
  }
  /// Key used to serialise operations on one BMC (two blades behind one address).
  std::string bmc_key() const { return bmc + ":" + std::to_string(port); }
};

}  // namespace fleetpower
