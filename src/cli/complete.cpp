// SPDX-License-Identifier: GPL-3.0-or-later
// Shell completion: the hidden `fleetpower __complete` subcommand.  The shell scripts in
// contrib/completion/ are thin: they hand the words of the line to this and show what it
// prints.  Commands, options and their values come from the CLI11 tables themselves, so a new
// command or option completes without touching the scripts; host and group names come from the
// inventory the command line (or the configuration) would use, through a cache keyed by the
// inventory's path, inode, size and mtime so a 10,000-node inventory completes without parsing
// its YAML on every Tab.
//
//   fleetpower __complete line CWORD WORD0 WORD1 ...   what to offer for WORDS[CWORD]
//   fleetpower __complete hosts  [-i FILE] [PREFIX]     host names starting with PREFIX
//   fleetpower __complete groups [-i FILE] [PREFIX]     group names (without '@')
//
// `line` prints a directive line (":words", ":files", ":dirs" or ":none"), then one candidate
// per line, optionally followed by a tab and a short description (zsh shows it).  Candidates
// replace the shell's current word as it is (bash splits `--opt=value` at '=': handled).
// Nothing here prints to stderr: a broken inventory or configuration just completes less.
#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>
#include <algorithm>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/common.hpp"

namespace fleetpower::cli {

namespace {

constexpr const char* kCacheMagic = "fleetpower-complete-cache 1 " FLEETPOWER_VERSION;

struct Names {
  std::vector<std::string> groups;
  std::vector<std::string> hosts;
};

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

/// A word as the shell passed it: `~/x` and simple quotes are not expanded by the shell yet.
std::string unquote(std::string w) {
  if (w.size() >= 2 && (w.front() == '\'' || w.front() == '"') && w.back() == w.front())
    w = w.substr(1, w.size() - 2);
  else if (!w.empty() && (w.front() == '\'' || w.front() == '"'))
    w = w.substr(1);
  if (starts_with(w, "~/") && !env("HOME").empty()) w = env("HOME") + w.substr(1);
  return w;
}

std::string cache_dir() {
  std::string base = env("XDG_CACHE_HOME");
  if (base.empty() || base[0] != '/') {
    std::string home = env("HOME");
    if (home.empty()) return "";
    base = home + "/.cache";
  }
  return base + "/fleetpower";
}

std::uint64_t fnv1a(std::string_view s) {
  std::uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : s) {
    h ^= c;
    h *= 1099511628211ULL;
  }
  return h;
}

std::string stat_key(const std::string& abs, const struct stat& st) {
  return fmt::format("{}\n{} {} {} {}.{:09}", abs, st.st_dev, st.st_ino, st.st_size,
                     static_cast<long long>(st.st_mtim.tv_sec), st.st_mtim.tv_nsec);
}

bool read_cache(const std::string& file, const std::string& key, Names* out) {
  std::ifstream f(file);
  if (!f) return false;
  std::string line, k1, k2;
  if (!std::getline(f, line) || line != kCacheMagic) return false;
  if (!std::getline(f, k1) || !std::getline(f, k2) || k1 + "\n" + k2 != key) return false;
  while (std::getline(f, line)) {
    if (line.size() < 2 || line[1] != ' ') return false;
    if (line[0] == 'g')
      out->groups.push_back(line.substr(2));
    else if (line[0] == 'h')
      out->hosts.push_back(line.substr(2));
    else if (line[0] == '.')
      return true;  // complete file
    else
      return false;
  }
  return false;  // truncated
}

void write_cache(const std::string& dir, const std::string& file, const std::string& key,
                 const Names& n) {
  ::mkdir(dir.substr(0, dir.rfind('/')).c_str(), 0700);
  ::mkdir(dir.c_str(), 0700);
  std::string tmp = file + ".XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0) return;
  std::string s = std::string(kCacheMagic) + "\n" + key + "\n";
  for (auto& g : n.groups) s += "g " + g + "\n";
  for (auto& h : n.hosts) s += "h " + h + "\n";
  s += ". end\n";
  bool ok = true;
  for (std::size_t off = 0; ok && off < s.size();) {
    ssize_t w = ::write(fd, s.data() + off, s.size() - off);
    if (w <= 0)
      ok = false;
    else
      off += static_cast<std::size_t>(w);
  }
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), file.c_str()) != 0) ::unlink(tmp.c_str());
}

/// Host and group names of an inventory, from the cache when it is current.
Names inventory_names(const std::string& path) {
  Names n;
  struct stat st {};
  if (path.empty() || ::stat(path.c_str(), &st) != 0 || !S_ISREG(st.st_mode)) return n;
  char buf[PATH_MAX];
  std::string abs = ::realpath(path.c_str(), buf) ? buf : path;
  std::string key = stat_key(abs, st);
  std::string dir = cache_dir();
  std::string file = dir.empty() ? "" : fmt::format("{}/complete-{:016x}.cache", dir, fnv1a(abs));
  if (!file.empty() && read_cache(file, key, &n)) return n;
  n = {};
  Inventory inv;
  std::vector<Diagnostic> diags;
  load_inventory(path, &inv, &diags);  // a broken inventory still offers what it could read
  for (auto& [name, members] : inv.groups)
    if (name != "all") n.groups.push_back(name);
  n.hosts.reserve(inv.targets.size());
  for (auto& t : inv.targets) n.hosts.push_back(t.name);
  if (!file.empty()) write_cache(dir, file, key, n);
  return n;
}

struct Candidate {
  std::string word;
  std::string help;
};
enum class Directive { Words, Files, Dirs, None };

struct Result {
  Directive directive = Directive::Words;
  std::vector<Candidate> words;
};

int print(const Result& r) {
  static const char* names[] = {":words", ":files", ":dirs", ":none"};
  std::string out = names[static_cast<int>(r.directive)];
  out += '\n';
  for (auto& c : r.words) {
    out += c.word;
    if (!c.help.empty()) out += '\t' + c.help;
    out += '\n';
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

/// The inventory the command would use: -i on the line, the configuration, the defaults.
std::string inventory_for(const Globals& g, const std::string& on_line) {
  if (!on_line.empty()) return on_line;
  return g.inventory.empty() ? default_inventory_path() : g.inventory;
}

/// Values of a CLI11 IsMember validator ("{text,json,jsonl}").
std::vector<std::string> member_values(const CLI::Option* opt) {
  std::vector<std::string> out;
  auto* o = const_cast<CLI::Option*>(opt);
  for (int i = 0;; ++i) {
    const CLI::Validator* v = nullptr;
    try {
      v = o->get_validator(i);
    } catch (const CLI::OptionNotFound&) {
      break;
    }
    std::string d = v->get_description();
    if (d.size() < 2 || d.front() != '{' || d.back() != '}') continue;
    std::stringstream ss(d.substr(1, d.size() - 2));
    for (std::string w; std::getline(ss, w, ',');) out.push_back(w);
  }
  return out;
}

bool is_flag(const CLI::Option* o) { return o->get_type_size() == 0; }

/// The option named `name` (-i, --inventory) in the app chain, innermost first.
const CLI::Option* find_option(const std::vector<const CLI::App*>& chain, const std::string& name) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    for (const CLI::Option* o : (*it)->get_options()) {
      if (!o->nonpositional()) continue;
      for (auto& l : o->get_lnames())
        if (name == "--" + l) return o;
      for (auto& s : o->get_snames())
        if (name == "-" + s) return o;
    }
  }
  return nullptr;
}

std::vector<const CLI::App*> subcommands_of(const CLI::App* app) {
  return app->get_subcommands([](const CLI::App* a) { return !a->get_group().empty(); });
}

class LineCompleter {
 public:
  LineCompleter(const CLI::App& app, const Globals& g) : root_(app), g_(g) {}

  Result run(std::vector<std::string> words, std::size_t cword) {
    if (words.size() <= cword) words.resize(cword + 1);
    const std::string cur = words[cword];
    chain_ = {&root_};
    std::size_t positional = 0;
    // Walk the words before the one being completed.
    for (std::size_t i = 1; i < cword; ++i) {
      const std::string& w = words[i];
      if (w == "--") {
        after_dashdash_ = true;
        continue;
      }
      if (!after_dashdash_ && starts_with(w, "-") && w.size() > 1) {
        std::string name = w, value;
        bool has_value = false;
        if (auto eq = w.find('='); starts_with(w, "--") && eq != std::string::npos) {
          name = w.substr(0, eq);
          value = w.substr(eq + 1);
          has_value = true;
        }
        const CLI::Option* o = find_option(chain_, name);
        if (!o || is_flag(o)) continue;
        if (!has_value && i + 1 < cword && words[i + 1] == "=") {  // bash: --opt = value
          has_value = true;
          if (i + 2 < cword) value = words[i + 2];
          i += i + 2 < cword ? 2 : 1;
        } else if (!has_value && i + 1 < cword) {
          value = words[++i];
        }
        remember(name, value);
        continue;
      }
      // A word that is not an option: a subcommand of the innermost app, or a positional.
      if (positional == 0) {
        const CLI::App* sub = nullptr;
        for (auto* s : subcommands_of(chain_.back()))
          if (s->get_name() == w) sub = s;
        if (sub) {
          chain_.push_back(sub);
          continue;
        }
      }
      ++positional;
    }

    // Completing the value of an option?
    if (cword >= 2 && words[cword - 1] == "=" && takes_value(words[cword - 2]))
      return option_value(words[cword - 2], "", cur);
    if (cur == "=" && cword >= 1 && takes_value(words[cword - 1]))
      return option_value(words[cword - 1], "=", "");
    if (starts_with(cur, "--") && cur.find('=') != std::string::npos) {
      auto eq = cur.find('=');
      return option_value(cur.substr(0, eq), cur.substr(0, eq + 1), cur.substr(eq + 1));
    }
    if (cword >= 1 && !after_dashdash_ && takes_value(words[cword - 1]) &&
        !(cword >= 2 && words[cword - 2] == "="))
      return option_value(words[cword - 1], "", cur);
    if (!after_dashdash_ && starts_with(cur, "-")) return options(cur);
    return positional_value(positional, cur);
  }

 private:
  void remember(const std::string& name, const std::string& value) {
    if (name == "-i" || name == "--inventory") inventory_ = unquote(value);
    if (name == "--journal-dir") journal_dir_ = unquote(value);
  }

  bool takes_value(const std::string& w) const {
    if (!starts_with(w, "-") || w.find('=') != std::string::npos) return false;
    const CLI::Option* o = find_option(chain_, w);
    return o && !is_flag(o);
  }

  Result options(const std::string& cur) const {
    Result r;
    for (auto it = chain_.rbegin(); it != chain_.rend(); ++it) {
      for (const CLI::Option* o : (*it)->get_options()) {
        if (!o->nonpositional() || o->get_group().empty()) continue;
        for (auto& l : o->get_lnames())
          if (starts_with("--" + l, cur)) r.words.push_back({"--" + l, o->get_description()});
        // Short names only once the user asked for them ("-" or "-x").
        if (!starts_with(cur, "--"))
          for (auto& s : o->get_snames())
            if (starts_with("-" + s, cur)) r.words.push_back({"-" + s, o->get_description()});
      }
    }
    return r;
  }

  Result option_value(const std::string& name, const std::string& emit, const std::string& prefix) {
    const CLI::Option* o = find_option(chain_, name);
    Result r;
    if (!o || is_flag(o)) {
      r.directive = Directive::None;
      return r;
    }
    auto values = member_values(o);
    if (!values.empty()) {
      for (auto& v : values)
        if (starts_with(v, prefix)) r.words.push_back({emit + v, ""});
      return r;
    }
    const std::string& l = o->get_lnames().empty() ? std::string() : o->get_lnames().front();
    if (l == "exclude") return hostlist(emit, prefix);
    if (l.size() > 4 && l.substr(l.size() - 4) == "-dir")
      r.directive = emit.empty() ? Directive::Dirs : Directive::None;
    else if (l == "inventory" || l == "credentials" || l.find("file") != std::string::npos ||
             l.find("log") != std::string::npos)
      r.directive = emit.empty() ? Directive::Files : Directive::None;
    else
      r.directive = Directive::None;  // a number or a duration: nothing to offer
    return r;
  }

  Result positional_value(std::size_t index, const std::string& cur) {
    Result r;
    const CLI::App* app = chain_.back();
    if (index == 0) {
      auto subs = subcommands_of(app);
      if (!subs.empty()) {
        for (auto* s : subs)
          if (starts_with(s->get_name(), cur))
            r.words.push_back({s->get_name(), s->get_description()});
        return r;
      }
    }
    std::vector<const CLI::Option*> pos;
    for (const CLI::Option* o : app->get_options())
      if (!o->nonpositional() && o->get_positional()) pos.push_back(o);
    if (pos.empty()) {
      r.directive = Directive::None;
      return r;
    }
    // Positionals in order; one that takes many values absorbs the rest.
    const CLI::Option* o = nullptr;
    std::size_t k = index;
    for (auto* p : pos) {
      int max = p->get_expected_max();
      if (max > 1 || max < 0 || k == 0) {  // vector positionals report a large or negative max
        o = p;
        break;
      }
      --k;
    }
    if (!o) {
      r.directive = Directive::None;
      return r;
    }
    const std::string& name = o->get_name(true);
    auto values = member_values(o);
    if (!values.empty()) {
      for (auto& v : values)
        if (starts_with(v, cur)) r.words.push_back({v, ""});
      return r;
    }
    if (name == "run") return run_ids(cur);
    if (name == "args" && app->get_name() == "identify" &&
        index == 0) {  // identify [on|off] SELECTION
      r = hostlist("", cur);
      for (const char* v : {"on", "off"})
        if (starts_with(v, cur)) r.words.insert(r.words.begin(), {v, "turn the light on/off"});
      return r;
    }
    return hostlist("", cur);
  }

  /// Hosts and @groups; after a comma, the next element of a list (node001,node0<Tab>).
  Result hostlist(const std::string& emit, const std::string& word) {
    Result r;
    std::string head = emit, part = word;
    if (auto c = word.rfind(','); c != std::string::npos) {
      head += word.substr(0, c + 1);
      part = word.substr(c + 1);
    }
    if (part.find('[') != std::string::npos) {  // inside a range: nothing sensible to offer
      r.directive = Directive::None;
      return r;
    }
    Names n = inventory_names(inventory_for(g_, inventory_));
    bool group_only = starts_with(part, "@");
    std::string gp = group_only ? part.substr(1) : part;
    if (group_only || part.empty())
      for (auto& gname : n.groups)
        if (starts_with(gname, gp)) r.words.push_back({head + "@" + gname, "group"});
    if (!group_only)
      for (auto& h : n.hosts)
        if (starts_with(h, part)) r.words.push_back({head + h, ""});
    return r;
  }

  Result run_ids(const std::string& cur) {
    Result r;
    std::string dir = journal_dir_.empty() ? g_.journal_dir : journal_dir_;
    if (dir.empty()) {
      std::string state = env("XDG_STATE_HOME");
      if (state.empty() || state[0] != '/')
        state = env("HOME").empty() ? "" : env("HOME") + "/.local/state";
      if (!state.empty()) dir = state + "/fleetpower/runs";
    }
    if (DIR* d = dir.empty() ? nullptr : ::opendir(dir.c_str())) {
      while (dirent* e = ::readdir(d)) {
        std::string f = e->d_name;
        if (f.size() > 6 && f.substr(f.size() - 6) == ".jsonl" && starts_with(f, cur))
          r.words.push_back({f.substr(0, f.size() - 6), ""});
      }
      ::closedir(d);
    }
    std::sort(r.words.begin(), r.words.end(),
              [](auto& a, auto& b) { return a.word > b.word; });  // newest first
    return r;
  }

  const CLI::App& root_;
  const Globals& g_;
  std::vector<const CLI::App*> chain_;
  std::string inventory_;
  std::string journal_dir_;
  bool after_dashdash_ = false;
};

int names_command(const Globals& g, bool groups, int argc, char** argv) {
  std::string inventory, prefix;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if ((a == "-i" || a == "--inventory") && i + 1 < argc)
      inventory = argv[++i];
    else if (starts_with(a, "--inventory="))
      inventory = a.substr(12);
    else
      prefix = a;
  }
  Names n = inventory_names(inventory_for(g, inventory));
  std::string out;
  for (auto& s : groups ? n.groups : n.hosts)
    if (starts_with(s, prefix)) out += s + '\n';
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

}  // namespace

int run_complete(const CLI::App& app, const Globals& g, int argc, char** argv) {
  std::string what = argc > 0 ? argv[0] : "";
  if (what == "hosts" || what == "groups")
    return names_command(g, what == "groups", argc - 1, argv + 1);
  if (what == "line" && argc >= 2) {
    char* end = nullptr;
    long cword = std::strtol(argv[1], &end, 10);
    if (*end || cword < 1 || cword > 4096) return static_cast<int>(ExitCode::Usage);
    std::vector<std::string> words(argv + 2, argv + argc);
    LineCompleter c(app, g);
    return print(c.run(std::move(words), static_cast<std::size_t>(cword)));
  }
  std::cerr
      << "usage: fleetpower __complete line CWORD WORDS... | hosts|groups [-i FILE] [PREFIX]\n";
  return static_cast<int>(ExitCode::Usage);
}

}  // namespace fleetpower::cli
