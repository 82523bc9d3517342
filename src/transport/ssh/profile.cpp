// SPDX-License-Identifier: GPL-3.0-or-later
#include "transport/ssh/profile.hpp"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <set>
#include <sstream>

namespace fleetpower::ssh {

namespace {

constexpr std::size_t kMaxProfileBytes = 256 * 1024;
constexpr std::size_t kMaxValueLength = 64;
constexpr std::size_t kMaxReplyLines = 4096;

bool valid_name(std::string_view s) {
  if (s.empty() || s.size() > 64) return false;
  for (char c : s)
    if (!(std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.')) return false;
  return true;
}

/// Placeholders "{name}" used in a template, in order.
std::vector<std::string> placeholders(const std::string& t) {
  std::vector<std::string> out;
  std::size_t i = 0;
  while ((i = t.find('{', i)) != std::string::npos) {
    auto j = t.find('}', i + 1);
    if (j == std::string::npos) break;
    std::string name = t.substr(i + 1, j - i - 1);
    // Only identifiers are placeholders: "{1,3}" is a regex quantifier.
    bool ident = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
    for (char c : name) ident = ident && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
    if (ident) out.push_back(name);
    i = ident ? j + 1 : i + 1;
  }
  return out;
}

std::string regex_escape(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (std::string_view("\\^$.|?*+()[]{}/-").find(c) != std::string_view::npos) out += '\\';
    out += c;
  }
  return out;
}

bool compile(const std::string& src, bool icase, std::regex* re, std::string* err) {
  try {
    auto flags = std::regex::ECMAScript;
    if (icase) flags |= std::regex::icase;
    *re = std::regex(src, flags);
    return true;
  } catch (const std::regex_error& e) {
    *err = fmt::format("bad regular expression '{}': {}", sanitize(src, 80), e.what());
    return false;
  }
}

bool make_pattern(const std::string& text, Pattern* p, std::string* err) {
  p->source = text;
  std::string body = text;
  if (body.rfind("(?i)", 0) == 0) {
    p->icase = true;
    body = body.substr(4);
  }
  p->templated = !placeholders(body).empty();
  if (p->templated) {
    // Check the syntax with a harmless value in each placeholder.
    std::string probe = body;
    for (auto& ph : placeholders(body)) {
      auto at = probe.find("{" + ph + "}");
      if (at != std::string::npos) probe.replace(at, ph.size() + 2, "x");
    }
    std::regex tmp;
    return compile(probe, p->icase, &tmp, err);
  }
  return compile(body, p->icase, &p->re, err);
}

/// The compiled regex of a pattern, with {param} values substituted (escaped).
bool instantiate(const Pattern& p, const Bound& b, std::regex* re, std::string* err) {
  std::string body = p.icase ? p.source.substr(4) : p.source;
  if (!p.templated) {
    *re = p.re;
    return true;
  }
  std::string out;
  std::size_t i = 0;
  while (i < body.size()) {
    auto open = body.find('{', i);
    if (open == std::string::npos) {
      out += body.substr(i);
      break;
    }
    auto close = body.find('}', open + 1);
    if (close == std::string::npos) {
      out += body.substr(i);
      break;
    }
    std::string name = body.substr(open + 1, close - open - 1);
    auto v = b.values.find(name);
    out += body.substr(i, open - i);
    if (v == b.values.end()) {
      out += body.substr(open, close - open + 1);  // e.g. a{1,3} quantifier: leave as is
    } else {
      out += regex_escape(v->second);
    }
    i = close + 1;
  }
  return compile(out, p.icase, re, err);
}

std::optional<Action> action_key(const std::string& k) {
  if (k == "status") return Action::Status;
  if (k == "on") return Action::On;
  if (k == "off") return Action::Off;
  if (k == "cycle") return Action::Cycle;
  if (k == "reset") return Action::Reset;
  if (k == "soft") return Action::Soft;
  return std::nullopt;
}

std::vector<std::string> split_lines(std::string_view s) {
  std::vector<std::string> lines;
  std::string cur;
  for (char c : s) {
    if (c == '\n') {
      lines.push_back(cur);
      cur.clear();
      if (lines.size() >= kMaxReplyLines) return lines;
    } else if (c != '\r') {
      cur += c;
    }
  }
  if (!cur.empty()) lines.push_back(cur);
  return lines;
}

/// The first line matching `re` (its index), or -1.  Never throws (a regex that blows the
/// stack on a pathological line counts as no match).
int first_match(const std::regex& re, const std::vector<std::string>& lines) {
  for (std::size_t i = 0; i < lines.size(); ++i) {
    try {
      if (std::regex_search(lines[i], re)) return static_cast<int>(i);
    } catch (const std::regex_error&) {
    }
  }
  return -1;
}

class Parser {
 public:
  Parser(const std::string& origin, std::string* err) : origin_(origin), err_(err) {}

  bool fail(const std::string& key, const std::string& why) {
    *err_ = key.empty() ? why : key + ": " + why;
    return false;
  }

  bool scalar(const YAML::Node& n, const std::string& key, std::string* out) {
    if (!n.IsScalar()) return fail(key, "expected a string");
    *out = n.Scalar();
    return true;
  }

  bool pattern(const YAML::Node& n, const std::string& key, Pattern* p) {
    std::string s, err;
    if (!scalar(n, key, &s)) return false;
    if (!make_pattern(s, p, &err)) return fail(key, err);
    return true;
  }

  bool run(const YAML::Node& root, Profile* p) {
    if (!root.IsMap()) return fail("", "a profile is a mapping (name, mode, params, actions, ...)");
    static const std::set<std::string> keys{"name", "description", "kind", "mode", "pty", "prompt", "exit",
                                            "newline", "error", "params", "actions"};
    for (auto it = root.begin(); it != root.end(); ++it) {
      std::string k = it->first.Scalar();
      const YAML::Node v = it->second;
      if (!keys.count(k)) return fail(k, "unknown key");
      if (k == "name") {
        if (!scalar(v, k, &p->name)) return false;
        if (!valid_name(p->name)) return fail(k, "letters, digits, '-', '_', '.' only");
      } else if (k == "description") {
        if (!scalar(v, k, &p->description)) return false;
      } else if (k == "kind") {
        if (!scalar(v, k, &p->kind)) return false;
        if (p->kind != "pdu" && p->kind != "bmc") return fail(k, "pdu or bmc");
      } else if (k == "mode") {
        std::string m;
        if (!scalar(v, k, &m)) return false;
        if (m == "exec") p->mode = Mode::Exec;
        else if (m == "shell") p->mode = Mode::Shell;
        else return fail(k, "exec or shell");
      } else if (k == "pty") {
        std::string b;
        if (!scalar(v, k, &b)) return false;
        if (b == "true" || b == "yes") p->pty = true;
        else if (b == "false" || b == "no") p->pty = false;
        else return fail(k, "true or false");
      } else if (k == "prompt") {
        if (!pattern(v, k, &p->prompt)) return false;
      } else if (k == "exit") {
        if (!scalar(v, k, &p->exit_command)) return false;
      } else if (k == "newline") {
        if (!scalar(v, k, &p->newline)) return false;
        if (p->newline != "\n" && p->newline != "\r" && p->newline != "\r\n") return fail(k, "\"\\n\", \"\\r\" or \"\\r\\n\"");
      } else if (k == "error") {
        if (!pattern(v, k, &p->error)) return false;
      } else if (k == "params") {
        if (!params(v, p)) return false;
      } else if (k == "actions") {
        if (!actions(v, p)) return false;
      }
    }
    if (p->name.empty()) return fail("name", "missing");
    if (!p->action(Action::Status)) return fail("actions.status", "missing (every profile must read the power state)");
    if (p->mode == Mode::Shell && p->prompt.empty()) return fail("prompt", "a shell-mode profile needs its prompt");
    if (p->mode == Mode::Shell && p->prompt.templated) return fail("prompt", "no {parameters} in the prompt");
    // Every placeholder must be a declared parameter.
    for (auto& [a, spec] : p->actions) {
      std::vector<std::string> used;
      for (auto& s : spec.send) {
        auto ph = placeholders(s);
        used.insert(used.end(), ph.begin(), ph.end());
      }
      for (auto& ph : used)
        if (!p->params.count(ph))
          return fail(fmt::format("actions.{}", action_name(a)), fmt::format("{{{}}} is not declared under params", ph));
    }
    return true;
  }

  bool params(const YAML::Node& n, Profile* p) {
    if (!n.IsMap()) return fail("params", "expected a mapping name -> {pattern, help, default}");
    for (auto it = n.begin(); it != n.end(); ++it) {
      ParamSpec ps;
      ps.name = it->first.Scalar();
      std::string key = "params." + ps.name;
      if (!valid_name(ps.name)) return fail(key, "not a valid parameter name");
      const YAML::Node v = it->second;
      if (v.IsScalar()) {
        ps.pattern_source = v.Scalar();
      } else if (v.IsMap()) {
        for (auto f = v.begin(); f != v.end(); ++f) {
          std::string fk = f->first.Scalar();
          std::string val;
          if (!scalar(f->second, key + "." + fk, &val)) return false;
          if (fk == "pattern") ps.pattern_source = val;
          else if (fk == "help") ps.help = val;
          else if (fk == "default") ps.default_value = val;
          else return fail(key + "." + fk, "unknown key (pattern, help, default)");
        }
      } else {
        return fail(key, "expected a pattern or {pattern, help, default}");
      }
      if (ps.pattern_source.empty()) return fail(key, "needs a pattern");
      std::string err;
      if (!compile("^(?:" + ps.pattern_source + ")$", false, &ps.re, &err)) return fail(key, err);
      if (ps.default_value && !value_is_safe(*ps.default_value))
        return fail(key + ".default", "unsafe characters in the default value");
      p->params[ps.name] = std::move(ps);
    }
    return true;
  }

  bool actions(const YAML::Node& n, Profile* p) {
    if (!n.IsMap()) return fail("actions", "expected a mapping status|on|off|cycle|reset|soft -> {send, ...}");
    for (auto it = n.begin(); it != n.end(); ++it) {
      std::string an = it->first.Scalar();
      std::string key = "actions." + an;
      auto a = action_key(an);
      if (!a) return fail(key, "not an action (status, on, off, cycle, reset, soft)");
      const YAML::Node v = it->second;
      if (!v.IsMap()) return fail(key, "expected {send, success|on|off, error}");
      ActionSpec spec;
      for (auto f = v.begin(); f != v.end(); ++f) {
        std::string fk = f->first.Scalar();
        const YAML::Node fv = f->second;
        std::string k2 = key + "." + fk;
        if (fk == "send") {
          if (fv.IsScalar()) {
            spec.send.push_back(fv.Scalar());
          } else if (fv.IsSequence()) {
            for (const auto& e : fv) {
              std::string s;
              if (!scalar(e, k2, &s)) return false;
              spec.send.push_back(s);
            }
          } else {
            return fail(k2, "expected a command or a list of commands");
          }
        } else if (fk == "success") {
          if (!pattern(fv, k2, &spec.success)) return false;
        } else if (fk == "on") {
          if (!pattern(fv, k2, &spec.on)) return false;
        } else if (fk == "off") {
          if (!pattern(fv, k2, &spec.off)) return false;
        } else if (fk == "error") {
          if (!pattern(fv, k2, &spec.error)) return false;
        } else {
          return fail(k2, "unknown key (send, success, on, off, error)");
        }
      }
      if (spec.send.empty()) return fail(key + ".send", "missing");
      for (auto& s : spec.send) {
        if (s.empty() || s.size() > 512) return fail(key + ".send", "a command is 1 to 512 characters");
        for (char c : s)
          if (c == '\n' || c == '\r' || c == '\0') return fail(key + ".send", "a command is one line");
      }
      if (*a == Action::Status && (spec.on.empty() || spec.off.empty()))
        return fail(key, "status needs both 'on' and 'off' patterns");
      p->actions[*a] = std::move(spec);
    }
    return true;
  }

 private:
  std::string origin_;
  std::string* err_;
};

}  // namespace

std::string escape_value(std::string_view s) {
  std::string out;
  for (char c : s) {
    if (out.size() >= 80) return out + "...";
    unsigned char u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  return out;
}

std::string sanitize(std::string_view s, std::size_t max) {
  std::string out;
  for (char c : s) {
    if (out.size() >= max) {
      out += "...";
      break;
    }
    unsigned char u = static_cast<unsigned char>(c);
    if (c == '\n' || c == '\r' || c == '\t') out += ' ';
    else if (u < 0x20 || u >= 0x7f) out += fmt::format("\\x{:02x}", u);
    else out += c;
  }
  while (!out.empty() && out.back() == ' ') out.pop_back();
  return out;
}

bool value_is_safe(std::string_view v) {
  if (v.empty() || v.size() > kMaxValueLength) return false;
  if (v.front() == '-') return false;  // never an option to the device's command
  for (char c : v) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '_' || c == '/' || c == ':' ||
              c == '@' || c == '+' || c == ',' || c == '=' || c == '-';
    if (!ok) return false;
  }
  return true;
}

bool host_is_safe(std::string_view h) {
  if (h.empty() || h.size() > 253 || h.front() == '-' || h.front() == '.') return false;
  for (char c : h) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':';
    if (!ok) return false;
  }
  return true;
}

bool parse_profile(std::string_view yaml, const std::string& origin, Profile* out, std::string* err) {
  if (yaml.size() > kMaxProfileBytes) {
    *err = "larger than 256 KiB";
    return false;
  }
  YAML::Node root;
  try {
    root = YAML::Load(std::string(yaml));
  } catch (const YAML::ParserException& e) {
    *err = fmt::format("line {}: YAML syntax error: {}", e.mark.line + 1, e.msg);
    return false;
  } catch (const std::exception& e) {
    *err = std::string("cannot parse: ") + e.what();
    return false;
  }
  Profile p;
  p.origin = origin;
  try {
    Parser parser(origin, err);
    if (!parser.run(root, &p)) return false;
  } catch (const std::exception& e) {  // yaml-cpp conversions
    *err = std::string("cannot read: ") + e.what();
    return false;
  }
  *out = std::move(p);
  return true;
}

ProfileSet::ProfileSet() {
  for (auto& [name, text] : builtin_profile_texts()) {
    std::string err;
    add_text(text, "built-in", &err);  // covered by unit tests
  }
}

bool ProfileSet::add_text(std::string_view yaml, const std::string& origin, std::string* err) {
  Profile p;
  if (!parse_profile(yaml, origin, &p, err)) return false;
  std::string name = p.name;
  profiles_[name] = std::move(p);
  return true;
}

void ProfileSet::load_dir(const std::string& dir, bool optional, std::vector<std::string>* errors) {
  DIR* d = ::opendir(dir.c_str());
  if (!d) {
    if (!optional) errors->push_back(fmt::format("{}: cannot open the SSH profile directory", dir));
    return;
  }
  std::vector<std::string> files;
  while (auto* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.substr(n.size() - 5) == ".yaml") files.push_back(dir + "/" + n);
  }
  ::closedir(d);
  std::sort(files.begin(), files.end());
  for (auto& f : files) {
    std::ifstream in(f, std::ios::binary);
    if (!in) {
      errors->push_back(fmt::format("{}: cannot read", f));
      continue;
    }
    std::ostringstream ss;
    ss << in.rdbuf();
    std::string err;
    if (!add_text(ss.str(), f, &err)) errors->push_back(fmt::format("{}: {}", f, err));
  }
}

const Profile* ProfileSet::find(const std::string& name) const {
  auto it = profiles_.find(name);
  return it == profiles_.end() ? nullptr : &it->second;
}

std::vector<std::string> ProfileSet::names() const {
  std::vector<std::string> out;
  for (auto& [k, _] : profiles_) out.push_back(k);
  return out;
}

bool bind_params_map(const Profile& p, const ActionSpec& a, const std::map<std::string, std::string>& vars,
                     Bound* out, std::string* err) {
  std::set<std::string> used;
  for (auto& s : a.send)
    for (auto& ph : placeholders(s)) used.insert(ph);
  for (const Pattern* pat : {&a.success, &a.on, &a.off, &a.error})
    for (auto& ph : placeholders(pat->source))
      if (p.params.count(ph)) used.insert(ph);
  for (auto& name : used) {
    auto spec = p.params.find(name);
    if (spec == p.params.end()) {
      *err = fmt::format("profile {} uses {{{}}} without declaring it", p.name, name);
      return false;
    }
    std::string v;
    auto it = vars.find(name);
    if (it != vars.end()) v = it->second;
    else if (spec->second.default_value) v = *spec->second.default_value;
    else {
      *err = fmt::format("inventory key '{}' is required by SSH profile {}{}", name, p.name,
                         spec->second.help.empty() ? "" : " (" + spec->second.help + ")");
      return false;
    }
    bool matches = false;
    try {
      matches = std::regex_match(v, spec->second.re);
    } catch (const std::regex_error&) {
    }
    if (!matches || !value_is_safe(v)) {
      *err = fmt::format("refused {} '{}' for SSH profile {}: {}; nothing was sent", name, escape_value(v), p.name,
                         spec->second.help.empty() ? fmt::format("it must match {}", spec->second.pattern_source)
                                                   : "it must be " + spec->second.help);
      return false;
    }
    out->values[name] = v;
  }
  return true;
}

bool render(const std::string& tmpl, const Bound& b, std::string* out, std::string* err) {
  out->clear();
  std::size_t i = 0;
  while (i < tmpl.size()) {
    auto open = tmpl.find('{', i);
    if (open == std::string::npos) {
      *out += tmpl.substr(i);
      break;
    }
    auto close = tmpl.find('}', open + 1);
    if (close == std::string::npos) {
      *out += tmpl.substr(i);
      break;
    }
    std::string name = tmpl.substr(open + 1, close - open - 1);
    auto v = b.values.find(name);
    if (v == b.values.end()) {
      *err = fmt::format("no value for {{{}}}", name);
      return false;
    }
    *out += tmpl.substr(i, open - i);
    *out += v->second;
    i = close + 1;
  }
  return true;
}

bool ends_with_prompt(const Profile& p, std::string_view text) {
  if (p.prompt.empty()) return false;
  // The prompt is on the last line (no newline after it); ignore trailing spaces.
  auto nl = text.find_last_of('\n');
  std::string last(nl == std::string_view::npos ? text : text.substr(nl + 1));
  if (last.size() > 512) return false;
  last.erase(std::remove(last.begin(), last.end(), '\r'), last.end());
  try {
    return std::regex_search(last, p.prompt.re);
  } catch (const std::regex_error&) {
    return false;
  }
}

Verdict judge(const Profile& p, Action action, const ActionSpec& a, const Bound& b, std::string_view reply,
              int exit_status) {
  Verdict v;
  auto lines = split_lines(reply);
  std::string err;
  auto first_line = [&] {
    for (auto& l : lines)
      if (l.find_first_not_of(" \t") != std::string::npos) return sanitize(l);
    return std::string("(no output)");
  };
  const Pattern& error = a.error.empty() ? p.error : a.error;
  if (!error.empty()) {
    std::regex re;
    if (!instantiate(error, b, &re, &err)) return {ErrorKind::Internal, PowerState::Unknown, err};
    int i = first_match(re, lines);
    if (i >= 0) return {ErrorKind::BmcError, PowerState::Unknown, sanitize(lines[static_cast<std::size_t>(i)])};
  }
  if (action == Action::Status) {
    std::regex on, off;
    if (!instantiate(a.on, b, &on, &err) || !instantiate(a.off, b, &off, &err))
      return {ErrorKind::Internal, PowerState::Unknown, err};
    int ion = first_match(on, lines), ioff = first_match(off, lines);
    if (ion >= 0 && ioff < 0) return {ErrorKind::None, PowerState::On, sanitize(lines[static_cast<std::size_t>(ion)])};
    if (ioff >= 0 && ion < 0) return {ErrorKind::None, PowerState::Off, sanitize(lines[static_cast<std::size_t>(ioff)])};
    if (ion >= 0) return {ErrorKind::Protocol, PowerState::Unknown, "the reply says both on and off: " + first_line()};
    if (exit_status > 0)
      return {ErrorKind::BmcError, PowerState::Unknown, fmt::format("exit status {}: {}", exit_status, first_line())};
    return {ErrorKind::Protocol, PowerState::Unknown, "unrecognised reply: " + first_line()};
  }
  if (!a.success.empty()) {
    std::regex ok;
    if (!instantiate(a.success, b, &ok, &err)) return {ErrorKind::Internal, PowerState::Unknown, err};
    int i = first_match(ok, lines);
    if (i >= 0) return {ErrorKind::None, PowerState::Unknown, sanitize(lines[static_cast<std::size_t>(i)])};
    if (exit_status > 0)
      return {ErrorKind::BmcError, PowerState::Unknown, fmt::format("exit status {}: {}", exit_status, first_line())};
    return {ErrorKind::Protocol, PowerState::Unknown, "no success reply: " + first_line()};
  }
  if (exit_status > 0)
    return {ErrorKind::BmcError, PowerState::Unknown, fmt::format("exit status {}: {}", exit_status, first_line())};
  v.detail = first_line();
  return v;
}

}  // namespace fleetpower::ssh
