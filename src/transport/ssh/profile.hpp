// SPDX-License-Identifier: GPL-3.0-or-later
// SSH device profiles: data that says how to drive a device's command line (a switched PDU,
// a BMC's SMASH-CLP, racadm), in the spirit of LLNL powerman's device scripts.  For every
// action: the command(s) to send and the reply patterns that mean success, on, off or error.
#pragma once

#include <map>
#include <optional>
#include <regex>
#include <string>
#include <string_view>
#include <vector>

#include "core/types.hpp"

namespace fleetpower::ssh {

/// How commands reach the device.
enum class Mode : std::uint8_t {
  Exec,   ///< one SSH "exec" channel request per command (ssh host 'command')
  Shell,  ///< an interactive shell: wait for the prompt, type the command, read to the prompt
};

/// A reply pattern: an ECMAScript regular expression tried against each line of the reply.
/// A leading "(?i)" makes it case-insensitive.  "{param}" inside it is replaced by the
/// (validated, regex-escaped) parameter value.
struct Pattern {
  std::string source;
  bool icase = false;
  bool templated = false;
  std::regex re;  ///< compiled when not templated
  bool empty() const { return source.empty(); }
};

/// A template parameter ({outlet}, {system}) and what its value must look like.
struct ParamSpec {
  std::string name;
  std::string pattern_source;  ///< anchored: the whole value must match
  std::regex re;
  std::string help;  ///< shown when a value is refused ("an outlet number, 1-999")
  std::optional<std::string> default_value;
};

struct ActionSpec {
  std::vector<std::string> send;  ///< command templates, sent in order
  Pattern success;                ///< action: a line matching it means done
  Pattern on;                     ///< status: the device reports on
  Pattern off;                    ///< status: off
  Pattern error;                  ///< overrides the profile-wide error pattern when set
};

struct Profile {
  std::string name;
  std::string description;
  std::string kind = "bmc";  ///< pdu (acts on one outlet) or bmc (acts on the system)
  std::string origin;        ///< "built-in" or the file it came from
  Mode mode = Mode::Exec;
  bool pty = false;
  Pattern prompt;              ///< shell mode: the reply is complete when the text ends with it
  std::string exit_command;    ///< shell mode: sent before closing ("exit")
  std::string newline = "\n";  ///< shell mode: what ends a typed command
  Pattern error;               ///< any reply line matching it is a device error
  std::map<std::string, ParamSpec> params;
  std::map<Action, ActionSpec> actions;

  const ActionSpec* action(Action a) const {
    auto it = actions.find(a);
    return it == actions.end() ? nullptr : &it->second;
  }
};

/// Parses one profile document (YAML).  Never throws; false with *err ("key: why") on error.
bool parse_profile(std::string_view yaml, const std::string& origin, Profile* out, std::string* err);

/// The profiles compiled into fleetpower: apc, raritan, servertech, smash-clp, racadm.
const std::vector<std::pair<std::string_view, std::string_view>>& builtin_profile_texts();

/// Every known profile by name: the built-in ones, then site ones from directories
/// (*.yaml; a site profile with a built-in's name replaces it).
class ProfileSet {
 public:
  /// Loads the built-in profiles (they are tested; an error there is a bug).
  ProfileSet();
  /// Loads every *.yaml of `dir` (a missing directory is not an error when `optional`).
  /// Problems are appended to *errors ("file: why"); the good profiles are kept.
  void load_dir(const std::string& dir, bool optional, std::vector<std::string>* errors);
  bool add_text(std::string_view yaml, const std::string& origin, std::string* err);
  const Profile* find(const std::string& name) const;
  std::vector<std::string> names() const;

 private:
  std::map<std::string, Profile> profiles_;
};

/// Values for a profile's parameters, from the target's inventory keys (or the defaults).
struct Bound {
  std::map<std::string, std::string> values;
};

/// Characters that may never appear in a value sent to a device, whatever a (site) profile's
/// pattern says: shell and CLI metacharacters, quotes, whitespace, control characters.
bool value_is_safe(std::string_view v);

/// A host name or address that may be given to the resolver: letters, digits, '.', '-',
/// ':' (IPv6), at most 253 characters, not starting with '-'.
bool host_is_safe(std::string_view host);

/// Binds and validates every parameter that the action's commands and patterns use.
/// `lookup` returns the inventory value of a key (or nullptr).  On a refused value, *err
/// names the key, shows the value (escaped) and what is allowed.  Nothing is sent before.
template <class Lookup>
bool bind_params(const Profile& p, const ActionSpec& a, Lookup&& lookup, Bound* out, std::string* err);

/// Non-template form used by bind_params.
bool bind_params_map(const Profile& p, const ActionSpec& a,
                     const std::map<std::string, std::string>& vars, Bound* out, std::string* err);

/// Replaces {name} by its bound value.  false when a placeholder has no value.
bool render(const std::string& tmpl, const Bound& b, std::string* out, std::string* err);

/// What a reply means.
struct Verdict {
  ErrorKind error = ErrorKind::None;
  PowerState state = PowerState::Unknown;
  std::string detail;  ///< the line that decided it (sanitised), or why nothing matched
};

/// Judges the reply to an action's last command: error first, then success (actions) or
/// on/off (status).  `exit_status` is the exec exit status (-1 when unknown or in a shell).
Verdict judge(const Profile& p, Action action, const ActionSpec& a, const Bound& b,
              std::string_view reply, int exit_status);

/// True when `text` ends with the prompt (shell mode).  `text` is the accumulated output.
bool ends_with_prompt(const Profile& p, std::string_view text);

/// A value as shown when it is refused: control characters as \xNN (a newline stays visible).
std::string escape_value(std::string_view s);

/// Printable, one line, at most `max` characters: for reasons and logs.
std::string sanitize(std::string_view s, std::size_t max = 120);

template <class Lookup>
bool bind_params(const Profile& p, const ActionSpec& a, Lookup&& lookup, Bound* out, std::string* err) {
  std::map<std::string, std::string> vars;
  for (auto& [name, spec] : p.params)
    if (const std::string* v = lookup(name)) vars[name] = *v;
  return bind_params_map(p, a, vars, out, err);
}

}  // namespace fleetpower::ssh
