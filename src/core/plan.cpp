// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/plan.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <limits>
#include <optional>

#include "core/duration.hpp"

namespace fleetpower {

namespace {
double num(const std::string* s, double def) {
  if (!s) return def;
  char* end = nullptr;
  double v = std::strtod(s->c_str(), &end);
  return (*end || s->empty()) ? def : v;
}
double power_setting(const Inventory& inv, const std::string& key, double def) {
  auto it = inv.power.find(key);
  return it == inv.power.end() ? def : num(&it->second, def);
}
}  // namespace

double nominal_watts_of(const Target& t, bool* known) {
  const std::string* w = t.var("watts");
  *known = w != nullptr;
  return num(w, 0);
}

double start_watts_of(const Target& t, const Inventory& inv) {
  if (auto* s = t.var("start_watts")) return num(s, 0);
  if (auto* w = t.var("watts")) return num(w, 0) * power_setting(inv, "start_watts_factor", 1.0);
  return power_setting(inv, "default_watts", 0);
}

PowerPlan make_power_plan(const Inventory& inv, const std::vector<const Target*>& targets) {
  PowerPlan plan;
  plan.start_duration = Millis(10'000);
  if (auto it = inv.power.find("start_duration"); it != inv.power.end())
    if (auto d = parse_duration(it->second)) plan.start_duration = *d;
  const long long dur = plan.start_duration.count();

  struct Active {
    long long until;
    double watts;
  };
  struct CircuitState {
    Circuit def;
    std::deque<std::size_t> queue;  // indices into targets, inventory order
    std::vector<Active> active;     // starts still counting at the current time
    long long last_start = std::numeric_limits<long long>::min() / 2;
    bool started = false;
  };
  std::map<std::string, CircuitState> cs;
  for (std::size_t i = 0; i < targets.size(); ++i) {
    std::string c = targets[i]->var_or("circuit", "");
    auto& st = cs[c];
    if (st.queue.empty() && st.def.name.empty()) {
      auto it = inv.circuits.find(c);
      if (it != inv.circuits.end()) st.def = it->second;
      st.def.name = c;
      if (st.def.phase.empty()) st.def.phase = targets[i]->var_or("phase", "");
      if (st.def.feed.empty()) st.def.feed = targets[i]->var_or("feed", "");
    }
    st.queue.push_back(i);
  }
  for (auto& [n, st] : cs)
    plan.constrained = plan.constrained || st.def.max_concurrent_starts > 0 || st.def.max_watts > 0 || st.def.min_spacing_ms > 0;

  // Earliest time >= t at which circuit `st` can start a node drawing `w` watts.
  auto earliest = [&](CircuitState& st, long long t, double w) {
    t = std::max(t, st.last_start + st.def.min_spacing_ms);
    for (int guard = 0; guard < 1'000'000; ++guard) {
      std::size_t count = 0;
      double load = 0;
      long long next_free = std::numeric_limits<long long>::max();
      for (auto& a : st.active)
        if (a.until > t) {
          ++count;
          load += a.watts;
          next_free = std::min(next_free, a.until);
        }
      bool ok_count = st.def.max_concurrent_starts <= 0 || count < static_cast<std::size_t>(st.def.max_concurrent_starts);
      bool ok_watts = st.def.max_watts <= 0 || load + w <= st.def.max_watts + 1e-9 || count == 0;
      if (ok_count && ok_watts) return t;
      t = next_free;
    }
    return t;
  };

  std::map<std::string, std::map<std::string, double>> feed_phase_load;  // feed -> phase -> started watts
  long long now = 0;
  std::size_t remaining = targets.size();
  while (remaining > 0) {
    // Pick the circuit whose next node can start first; among equals, the phase with the least
    // load started so far within its feed, so the phases stay balanced.
    CircuitState* best = nullptr;
    long long best_t = 0;
    double best_phase_load = 0;
    for (auto& [name, st] : cs) {
      if (st.queue.empty()) continue;
      double w = start_watts_of(*targets[st.queue.front()], inv);
      long long t = earliest(st, now, w);
      double pl = feed_phase_load[st.def.feed][st.def.phase];
      if (!best || t < best_t || (t == best_t && pl < best_phase_load)) {
        best = &st;
        best_t = t;
        best_phase_load = pl;
      }
    }
    std::size_t i = best->queue.front();
    best->queue.pop_front();
    double w = start_watts_of(*targets[i], inv);
    if (best->def.max_watts > 0 && w > best->def.max_watts)
      plan.problems.push_back(fmt::format("{} starts at {} W, more than circuit {}'s budget of {} W: it starts alone",
                                          targets[i]->name, w, best->def.name, best->def.max_watts));
    best->active.erase(std::remove_if(best->active.begin(), best->active.end(),
                                      [&](const Active& a) { return a.until <= best_t; }),
                       best->active.end());
    best->active.push_back({best_t + dur, w});
    best->last_start = best_t;
    feed_phase_load[best->def.feed][best->def.phase] += w;
    plan.starts.push_back({targets[i], Millis(best_t), w});
    auto& sum = plan.circuits[best->def.name];
    if (!best->started) {
      sum.circuit = best->def.name;
      sum.feed = best->def.feed;
      sum.phase = best->def.phase;
      sum.first = Millis(best_t);
      sum.max_concurrent = best->def.max_concurrent_starts;
      sum.max_watts = best->def.max_watts;
      sum.min_spacing = Millis(best->def.min_spacing_ms);
      best->started = true;
    }
    sum.nodes++;
    sum.last = Millis(best_t);
    double load = 0;
    for (auto& a : best->active) load += a.watts;
    sum.peak_starting = std::max(sum.peak_starting, best->active.size());
    sum.peak_watts = std::max(sum.peak_watts, load);
    plan.duration = std::max(plan.duration, Millis(best_t + dur));
    // Unconstrained circuits start everything at once; time only moves when nothing can start.
    now = std::max(now, std::min(best_t, now));
    --remaining;
  }
  return plan;
}

PhaseReport make_phase_report(const Inventory& inv, const std::vector<const Target*>& targets) {
  PhaseReport r;
  for (auto* t : targets) {
    std::string circuit = t->var_or("circuit", "");
    std::string phase = t->var_or("phase", "");
    std::string feed = t->var_or("feed", "");
    if (auto it = inv.circuits.find(circuit); it != inv.circuits.end()) {
      if (phase.empty()) phase = it->second.phase;
      if (feed.empty()) feed = it->second.feed;
    }
    bool known = false;
    double w = nominal_watts_of(*t, &known);
    if (!known) {
      r.unknown_watts.push_back(t->name);
      continue;
    }
    if (phase.empty()) {
      r.unplaced.push_back(t->name);
      continue;
    }
    auto& p = r.feeds[feed].phases[phase];
    p.watts += w;
    p.nodes++;
    p.circuits[circuit.empty() ? "-" : circuit] += w;
  }
  for (auto& [name, f] : r.feeds) {
    double mx = 0, mn = std::numeric_limits<double>::max(), sum = 0;
    for (auto& [ph, p] : f.phases) {
      mx = std::max(mx, p.watts);
      mn = std::min(mn, p.watts);
      sum += p.watts;
    }
    double mean = f.phases.empty() ? 0 : sum / static_cast<double>(f.phases.size());
    f.imbalance = mean > 0 ? (mx - mn) / mean : 0;
  }
  return r;
}

}  // namespace fleetpower

namespace fleetpower {

namespace asio = boost::asio;

struct PowerGovernor::Ticket {
  std::string circuit;
  double watts = 0;
  Clock::time_point granted;
  std::optional<Clock::time_point> ends;  ///< reply + start_duration; unset: still counting
};

PowerGovernor::PowerGovernor(asio::any_io_executor ex, const Inventory& inv, const PowerPlan& plan)
    : ex_(std::move(ex)), inv_(inv), start_duration_(plan.start_duration) {
  for (std::size_t i = 0; i < plan.starts.size(); ++i) order_[plan.starts[i].target->name] = i;
  for (auto& [name, c] : inv.circuits) circuits_[name].def = c;
}

void PowerGovernor::acquire(const Target& t, asio::cancellation_slot slot,
                            std::function<void(std::shared_ptr<Ticket>)> go) {
  std::string c = t.var_or("circuit", "");
  auto it = circuits_.find(c);
  if (it == circuits_.end()) {
    // No budget on this circuit.
    auto ticket = std::make_shared<Ticket>();
    ticket->circuit = c;
    ticket->granted = Clock::now();
    grants_.push_back({t.name, c, ticket->granted, start_watts_of(t, inv_)});
    asio::post(ex_, [go = std::move(go), ticket] { go(ticket); });
    return;
  }
  auto w = std::make_shared<Waiter>();
  auto o = order_.find(t.name);
  w->order = o == order_.end() ? order_.size() : o->second;
  w->target = &t;
  w->watts = start_watts_of(t, inv_);
  w->go = std::move(go);
  it->second.waiting.push_back(w);
  if (slot.is_connected()) {
    slot.assign([self = shared_from_this(), w, c](asio::cancellation_type) {
      if (w->done) return;
      w->done = true;
      auto& v = self->circuits_[c].waiting;
      v.erase(std::remove(v.begin(), v.end(), w), v.end());
      asio::post(self->ex_, [w] { w->go(nullptr); });
    });
  }
  pump(c);
}

void PowerGovernor::replied(const std::shared_ptr<Ticket>& ticket, bool happened) {
  if (!ticket || ticket->ends) return;
  auto now = Clock::now();
  ticket->ends = happened ? now + start_duration_ : now;
  auto it = circuits_.find(ticket->circuit);
  if (it == circuits_.end()) return;
  if (happened) it->second.next_allowed = std::max(it->second.next_allowed, now + Millis(it->second.def.min_spacing_ms));
  pump(ticket->circuit);
}

void PowerGovernor::pump(const std::string& circuit) {
  auto& cs = circuits_[circuit];
  const auto& def = cs.def;
  for (;;) {
    if (cs.waiting.empty()) return;
    auto head = std::min_element(cs.waiting.begin(), cs.waiting.end(),
                                 [](auto& a, auto& b) { return a->order < b->order; });
    auto now = Clock::now();
    cs.active.erase(std::remove_if(cs.active.begin(), cs.active.end(),
                                   [&](auto& a) { return a->ends && *a->ends <= now; }),
                    cs.active.end());
    double load = 0;
    bool unreplied = false;
    Clock::time_point first_free = Clock::time_point::max();
    for (auto& a : cs.active) {
      load += a->watts;
      if (!a->ends) unreplied = true;
      else first_free = std::min(first_free, *a->ends);
    }
    // Spacing is measured from the previous start's reply: wait for it when spacing is set.
    bool spacing_ok = def.min_spacing_ms <= 0 || (!unreplied && now >= cs.next_allowed);
    bool count_ok = def.max_concurrent_starts <= 0 || cs.active.size() < static_cast<std::size_t>(def.max_concurrent_starts);
    bool watts_ok = def.max_watts <= 0 || cs.active.empty() || load + (*head)->watts <= def.max_watts + 1e-9;
    if (spacing_ok && count_ok && watts_ok) {
      auto w = *head;
      cs.waiting.erase(head);
      w->done = true;
      auto ticket = std::make_shared<Ticket>();
      ticket->circuit = circuit;
      ticket->watts = w->watts;
      ticket->granted = now;
      cs.active.push_back(ticket);
      grants_.push_back({w->target->name, circuit, now, w->watts});
      asio::post(ex_, [w, ticket] { w->go(ticket); });
      continue;
    }
    // Otherwise a reply (replied() pumps) or the end of a start's window makes room.
    // A condition that only a reply can clear is handled by replied(); the others by a timer
    // at the latest moment any of them clears.
    Clock::time_point wake = now;
    bool timed = false;
    if (!spacing_ok && !unreplied) {
      wake = std::max(wake, cs.next_allowed);
      timed = true;
    }
    if ((!count_ok || !watts_ok) && first_free != Clock::time_point::max()) {
      wake = std::max(wake, first_free);
      timed = true;
    }
    if (!timed) return;
    if (!cs.timer) cs.timer = std::make_unique<asio::steady_timer>(ex_);
    cs.timer->expires_at(wake);
    cs.timer->async_wait([self = shared_from_this(), circuit](boost::system::error_code ec) {
      if (!ec) self->pump(circuit);
    });
    return;
  }
}

}  // namespace fleetpower
