// SPDX-License-Identifier: GPL-3.0-or-later
// fleetpower-sim: the fault knob language.
//
//   SPEC   := RULE ("," RULE)*
//   RULE   := SEL ":" KNOB ("+" KNOB)*
//   SEL    := N | N-M | "*"                (1-based BMC indexes: BMC 3 serves host rf0003)
//   KNOB   := hang | blackhole | down | latency=DUR[-DUR] | httpNNN | busy[=SECS] | unauth |
//   garbage
//           | reset | reset-after | headers-hang | truncate | huge[=BYTES] | trickle[=INTERVAL[/BYTES]] | tasks | stuck | ignore-reset | nobasic
//           | nosession | settings | badlist | strict-state | on-delay=DUR | off-delay=DUR |
//           etag=exact|strong|none|required | session-limit=K | times=K |
//           cert=expired|selfsigned|wrongname | none
#include <charconv>

#include "sim.hpp"

namespace fleetpower::sim {

namespace {

bool parse_uint(std::string_view s, long* out) {
  if (s.empty()) return false;
  long v = 0;
  auto r = std::from_chars(s.data(), s.data() + s.size(), v);
  if (r.ec != std::errc() || r.ptr != s.data() + s.size() || v < 0) return false;
  *out = v;
  return true;
}

std::vector<std::string_view> split(std::string_view s, char sep) {
  std::vector<std::string_view> out;
  std::size_t start = 0;
  while (true) {
    auto p = s.find(sep, start);
    out.push_back(
        s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
    if (p == std::string_view::npos) break;
    start = p + 1;
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() &&
         (s.back() == ' ' || s.back() == '\t' || s.back() == '\n' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

bool apply_knob(std::string_view knob, FaultRule* r, std::string* err) {
  Faults& f = r->faults;
  std::string_view name = knob, val;
  bool has_val = false;
  if (auto eq = knob.find('='); eq != std::string_view::npos) {
    name = knob.substr(0, eq);
    val = knob.substr(eq + 1);
    has_val = true;
  }
  auto need_val = [&]() {
    if (!has_val || val.empty()) {
      *err = "fault knob '" + std::string(name) + "' needs a value";
      return false;
    }
    return true;
  };
  long n = 0;
  if (name == "none" || name == "clear")
    r->clear = true;
  else if (name == "hang")
    f.hang = true;
  else if (name == "blackhole")
    f.blackhole = true;
  else if (name == "down")
    f.down = true;
  else if (name == "unauth" || name == "http401")
    f.unauth = true;
  else if (name == "garbage" || name == "malformed")
    f.garbage = true;
  else if (name == "reset")
    f.reset = true;
  else if (name == "headers-hang")
    f.headers_hang = true;
  else if (name == "truncate")
    f.truncate = true;
  else if (name == "reset-after")
    f.reset_after = true;
  else if (name == "huge") {
    f.huge = 8u << 20;
    if (has_val) {
      if (!parse_uint(val, &n) || n < 1 || n > (64l << 20)) {
        *err = "huge=BYTES (1..67108864)";
        return false;
      }
      f.huge = static_cast<std::size_t>(n);
    }
  } else if (name == "tasks")
    f.tasks = true;
  else if (name == "stuck")
    f.stuck = true;
  else if (name == "ignore-reset")
    f.ignore_reset = true;
  else if (name == "nobasic")
    f.nobasic = true;
  else if (name == "nosession")
    f.nosession = true;
  else if (name == "settings")
    f.settings = true;
  else if (name == "badlist")
    f.badlist = true;
  else if (name == "strict-state")
    f.strict_state = true;
  else if (name == "latency") {
    auto dash = val.find('-');
    bool ok = need_val();
    if (ok && dash == std::string_view::npos) {
      ok = parse_duration(val, &f.latency);
      f.latency_max = f.latency;
    } else if (ok) {
      ok = parse_duration(val.substr(0, dash), &f.latency) &&
           parse_duration(val.substr(dash + 1), &f.latency_max) && f.latency_max >= f.latency;
    }
    if (!ok) {
      *err = "latency needs a duration or a range (latency=2s, latency=50ms-300ms)";
      return false;
    }
  } else if (name == "on-delay" || name == "off-delay") {
    Millis d{0};
    if (!need_val() || !parse_duration(val, &d)) {
      *err = std::string(name) + "=DURATION";
      return false;
    }
    (name == "on-delay" ? f.on_delay : f.off_delay) = d;
  } else if (name == "busy") {
    f.busy_retry_after = 1;
    if (has_val) {
      if (!parse_uint(val, &n) || n > 3600) {
        *err = "busy=SECONDS (0..3600)";
        return false;
      }
      f.busy_retry_after = static_cast<int>(n);
    }
  } else if (name.size() == 7 && name.substr(0, 4) == "http") {
    if (!parse_uint(name.substr(4), &n) || n < 400 || n > 599) {
      *err = "httpNNN needs a 4xx/5xx status (http500)";
      return false;
    }
    f.http_status = static_cast<int>(n);
  } else if (name == "trickle") {
    f.trickle = Millis(100);
    if (has_val) {
      auto parts = split(val, '/');
      if (!parse_duration(parts[0], &f.trickle) || f.trickle.count() <= 0) {
        *err = "trickle=INTERVAL[/BYTES] (trickle=100ms/8)";
        return false;
      }
      if (parts.size() > 1) {
        if (!parse_uint(parts[1], &n) || n < 1 || n > 65536) {
          *err = "trickle bytes must be 1..65536";
          return false;
        }
        f.trickle_chunk = static_cast<std::size_t>(n);
      }
    }
  } else if (name == "etag") {
    if (val != "exact" && val != "strong" && val != "none" && val != "required") {
      *err = "etag=exact|strong|none|required";
      return false;
    }
    f.etag_mode = std::string(val);
  } else if (name == "session-limit") {
    if (!need_val() || !parse_uint(val, &n) || n > 100000) {
      *err = "session-limit=K";
      return false;
    }
    f.session_limit = static_cast<int>(n);
  } else if (name == "times") {
    if (!need_val() || !parse_uint(val, &n)) {
      *err = "times=K";
      return false;
    }
    f.times = n;
  } else if (name == "cert") {
    if (val != "expired" && val != "selfsigned" && val != "wrongname") {
      *err = "cert=expired|selfsigned|wrongname";
      return false;
    }
    f.cert = std::string(val);
  } else {
    *err = "unknown fault knob '" + std::string(name) + "'";
    return false;
  }
  return true;
}

}  // namespace

std::string Faults::describe() const {
  std::string s;
  auto add = [&](const std::string& k) {
    if (!s.empty()) s += "+";
    s += k;
  };
  if (hang) add("hang");
  if (blackhole) add("blackhole");
  if (down) add("down");
  if (latency_max.count())
    add("latency=" + std::to_string(latency.count()) + "ms" +
        (latency_max != latency ? "-" + std::to_string(latency_max.count()) + "ms" : ""));
  if (http_status) add("http" + std::to_string(http_status));
  if (busy_retry_after >= 0) add("busy=" + std::to_string(busy_retry_after));
  if (unauth) add("unauth");
  if (garbage) add("garbage");
  if (reset) add("reset");
  if (trickle.count())
    add("trickle=" + std::to_string(trickle.count()) + "ms/" + std::to_string(trickle_chunk));
  if (headers_hang) add("headers-hang");
  if (truncate) add("truncate");
  if (huge) add("huge=" + std::to_string(huge));
  if (reset_after) add("reset-after");
  if (tasks) add("tasks");
  if (stuck) add("stuck");
  if (ignore_reset) add("ignore-reset");
  if (nobasic) add("nobasic");
  if (nosession) add("nosession");
  if (settings) add("settings");
  if (badlist) add("badlist");
  if (strict_state) add("strict-state");
  if (on_delay.count() >= 0) add("on-delay=" + std::to_string(on_delay.count()) + "ms");
  if (off_delay.count() >= 0) add("off-delay=" + std::to_string(off_delay.count()) + "ms");
  if (etag_mode != "exact") add("etag=" + etag_mode);
  if (session_limit >= 0) add("session-limit=" + std::to_string(session_limit));
  if (times >= 0) add("times=" + std::to_string(times));
  if (!cert.empty()) add("cert=" + cert);
  return s.empty() ? "none" : s;
}

bool parse_faults(std::string_view spec, std::vector<FaultRule>* out, std::string* err) {
  spec = trim(spec);
  if (spec.empty()) return true;
  if (spec.size() > 65536) {
    *err = "fault spec too long";
    return false;
  }
  for (auto rule_sv : split(spec, ',')) {
    rule_sv = trim(rule_sv);
    if (rule_sv.empty()) continue;
    auto colon = rule_sv.find(':');
    if (colon == std::string_view::npos) {
      *err = "fault rule '" + std::string(rule_sv) + "' lacks 'INDEX:' (e.g. 3:hang)";
      return false;
    }
    FaultRule r;
    std::string_view sel = trim(rule_sv.substr(0, colon));
    long a = 0, b = 0;
    if (sel == "*") {
      r.first = 1;
      r.last = 0;
    } else if (auto dash = sel.find('-'); dash != std::string_view::npos) {
      if (!parse_uint(sel.substr(0, dash), &a) || !parse_uint(sel.substr(dash + 1), &b) || a < 1 ||
          b < a) {
        *err = "bad BMC range '" + std::string(sel) + "' (1-based, N-M)";
        return false;
      }
      r.first = static_cast<std::size_t>(a);
      r.last = static_cast<std::size_t>(b);
    } else {
      if (!parse_uint(sel, &a) || a < 1) {
        *err = "bad BMC index '" + std::string(sel) + "' (1-based)";
        return false;
      }
      r.first = r.last = static_cast<std::size_t>(a);
    }
    for (auto knob : split(rule_sv.substr(colon + 1), '+')) {
      knob = trim(knob);
      if (knob.empty()) continue;
      if (!apply_knob(knob, &r, err)) return false;
    }
    out->push_back(std::move(r));
  }
  return true;
}

}  // namespace fleetpower::sim
