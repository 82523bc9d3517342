// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/waves.hpp"

#include <boost/asio/steady_timer.hpp>
#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <iterator>

namespace fleetpower {

bool WavePolicy::parse_count(const std::string& s, std::size_t* n, double* pct) {
  if (s.empty()) return false;
  char* end = nullptr;
  if (s.back() == '%') {
    double p = std::strtod(s.c_str(), &end);
    if (end != s.c_str() + s.size() - 1 || p <= 0 || p > 100) return false;
    *pct = p;
    return true;
  }
  long v = std::strtol(s.c_str(), &end, 10);
  if (*end || v < 0) return false;
  *n = static_cast<std::size_t>(v);
  return true;
}

std::vector<Outcome> run_waves(asio::io_context& io, Scheduler& sched, std::vector<Job> jobs, const WavePolicy& p,
                               const std::function<void(std::size_t, const Outcome&)>& on_result,
                               const std::function<void(std::size_t, std::size_t)>& on_wave) {
  const std::size_t n = jobs.size();
  std::vector<std::optional<Outcome>> results;

  std::size_t batch = p.batch;
  if (p.batch_percent > 0) batch = std::max<std::size_t>(1, static_cast<std::size_t>(std::ceil(n * p.batch_percent / 100.0)));
  if (batch == 0) batch = n;
  std::optional<std::size_t> max_fail = p.max_fail;
  if (p.max_fail_percent >= 0) max_fail = static_cast<std::size_t>(std::floor(n * p.max_fail_percent / 100.0));

  // Wave boundaries: the canary first, then fixed-size batches.
  std::vector<std::pair<std::size_t, std::size_t>> waves;
  std::size_t pos = 0;
  if (p.canary > 0) {
    waves.emplace_back(0, std::min(p.canary, n));
    pos = waves.back().second;
  }
  while (pos < n) {
    waves.emplace_back(pos, std::min(n, pos + batch));
    pos = waves.back().second;
  }

  // Filled wave by wave (sized when first needed: a run of one wave returns the scheduler's
  // outcomes directly, without a second vector of them beside the run).
  std::size_t failures = 0;
  std::string stop_reason;
  for (std::size_t w = 0; w < waves.size(); ++w) {
    auto [from, to] = waves[w];
    if (!stop_reason.empty() || sched.interrupted()) {
      std::string why = sched.interrupted() ? "interrupted before it started" : stop_reason;
      results.resize(n);
      for (std::size_t i = from; i < to; ++i) {
        results[i] = Outcome::failure(ErrorKind::NotAttempted, why);
        if (on_result) on_result(i, *results[i]);
      }
      continue;
    }
    if (w > 0 && p.batch_delay.count() > 0) {
      asio::steady_timer t(io, p.batch_delay);
      bool done = false;
      t.async_wait([&](boost::system::error_code) { done = true; });
      if (io.stopped()) io.restart();
      while (!done && !sched.interrupted() && io.run_one() > 0) {
      }
      t.cancel();
      io.poll();
      if (sched.interrupted()) {
        results.resize(n);
        for (std::size_t i = from; i < to; ++i) {
          results[i] = Outcome::failure(ErrorKind::NotAttempted, "interrupted before it started");
          if (on_result) on_result(i, *results[i]);
        }
        continue;
      }
    }
    if (on_wave) on_wave(w, to - from);
    // Each job runs in exactly one wave: move it there instead of copying the wave (a single
    // wave takes the whole vector: no second one of moved-from jobs beside it).
    std::vector<Job> wave;
    if (from == 0 && to == n)
      wave = std::move(jobs);
    else
      wave.assign(std::make_move_iterator(jobs.begin() + static_cast<std::ptrdiff_t>(from)),
                  std::make_move_iterator(jobs.begin() + static_cast<std::ptrdiff_t>(to)));
    sched.on_result([&, from = from](std::size_t i, const Outcome& o) {
      if (!o.ok() && o.error != ErrorKind::NotAttempted && o.error != ErrorKind::Interrupted) ++failures;
      if (on_result) on_result(from + i, o);
    });
    if (max_fail) {
      sched.set_admission([&](std::string* why) {
        if (failures <= *max_fail) return true;
        *why = fmt::format("not started: more than {} target{} failed (--max-fail)", *max_fail, *max_fail == 1 ? "" : "s");
        return false;
      });
    }
    auto out = sched.run(std::move(wave));
    if (results.empty()) {
      if (waves.size() == 1 && out.size() == n) return out;  // one wave: the run's outcomes
      results.resize(n);
    }
    if (p.canary > 0 && w == 0) {
      std::size_t bad = 0;
      for (auto& o : out) bad += !o.ok();
      if (bad) stop_reason = fmt::format("not started: {} of {} canary target{} failed", bad, out.size(), out.size() == 1 ? "" : "s");
    }
    for (std::size_t i = 0; i < out.size(); ++i) results[from + i] = std::move(out[i]);
    if (max_fail && failures > *max_fail && stop_reason.empty())
      stop_reason = fmt::format("not started: more than {} target{} failed (--max-fail)", *max_fail, *max_fail == 1 ? "" : "s");
  }
  std::vector<Outcome> final;
  final.reserve(n);
  for (auto& r : results) final.push_back(r ? std::move(*r) : Outcome::failure(ErrorKind::Internal, "lost"));
  return final;
}

}  // namespace fleetpower
