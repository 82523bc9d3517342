// SPDX-License-Identifier: GPL-3.0-or-later
#include "core/scheduler.hpp"

#include <boost/asio/post.hpp>
#include <fmt/format.h>

#include <algorithm>

#include "core/duration.hpp"

namespace fleetpower {

namespace {
// Slow start ends when even the fastest of the last eight clean completions spent more than
// twice the run's fastest plus this on the wire: the BMCs (or what they share) are queueing.
constexpr Millis kQueueingMargin{50};
}  // namespace

struct Scheduler::Slot {
  explicit Slot(asio::io_context& io) : timer(std::in_place, io) {}
  asio::cancellation_signal signal;
  /// One timer for the slot's three times (stall threshold, deadline, the grace after a
  /// cancellation), armed for the earliest still due: three timers with a wait pending on two
  /// of them were a quarter of the memory per target of a large run.  Released, with the
  /// job's context, once the job has its outcome; the signal stays (see run()).
  std::optional<asio::steady_timer> timer;
  Clock::time_point stall_at, deadline_at;
  std::optional<Clock::time_point> grace_at;
  bool deadline_due = true;  ///< (the stall threshold is due while !stalled)
  bool stalled = false;
  bool waiting = false;
  /// The backend has called its completion (the outcome is posted): it may have freed what a
  /// cancellation handler it left in the slot points to, so nothing is emitted any more.
  bool backend_done = false;
  std::shared_ptr<JobContext> ctx;
  Clock::time_point started;
  /// Time spent between operations (set_waiting), so far and since when the current wait began.
  Clock::duration waited{};
  Clock::time_point waiting_since;
  asio::cancellation_type cancel_type = asio::cancellation_type::none;
  std::string cancel_reason;
};

Scheduler::Scheduler(asio::io_context& io, const BackendRegistry& backends, SchedulerOptions opts)
    : io_(io), backends_(backends), opts_(opts) {
  opts_.fanout = std::clamp<std::size_t>(opts_.fanout, 1, SchedulerOptions::kMaxFanout);
  runner_ = [](std::shared_ptr<JobContext> ctx, CompletionFn done) {
    ctx->backend->start(OpContext{ctx->target, *ctx->credential, ctx->request, ctx->deadline, ctx->cancel},
                        std::move(done));
  };
}

Scheduler::~Scheduler() = default;

std::vector<Outcome> Scheduler::run(std::vector<Job> jobs) {
  jobs_ = std::move(jobs);
  results_.assign(jobs_.size(), std::nullopt);
  // A backend that was completed by force may still hold its cancellation slot: keep the
  // signals of earlier runs alive until the scheduler goes away.
  for (auto& sl : slots_)
    if (sl) retired_.push_back(std::move(sl));
  slots_.clear();
  slots_.resize(jobs_.size());
  started_.assign(jobs_.size(), 0);
  pending_.clear();
  resuming_.clear();
  waiting_on_bmc_.clear();
  bmc_busy_.clear();
  in_flight_ = completed_ = stalled_ = waiting_ = 0;
  stopped_ = interrupted_;
  stop_reason_ = interrupted_ ? "interrupted before it started" : "";
  run_start_ = Clock::now();
  ready_.assign(jobs_.size(), run_start_);
  for (std::size_t i = 0; i < jobs_.size(); ++i) ready_[i] = run_start_ + jobs_[i].not_before;
  cwnd_ = static_cast<double>(opts_.adaptive ? std::min(opts_.initial_window, opts_.fanout) : opts_.fanout);
  ssthresh_ = static_cast<double>(opts_.fanout);
  last_decrease_ = {};
  congested_ = false;
  unclean_before_base_ = 0;
  clean_seen_ = 0;
  base_latency_.reset();
  base_active_.reset();
  window_min_ = window_max_ = window();
  overdue_at_ = {};
  if (io_.stopped()) io_.restart();

  std::vector<std::size_t> order;
  for (std::size_t i = 0; i < jobs_.size(); ++i) {
    if (jobs_[i].preset) {
      finish(i, *jobs_[i].preset);
      continue;
    }
    order.push_back(i);
  }
  std::stable_sort(order.begin(), order.end(),
                   [&](auto a, auto b) { return jobs_[a].not_before < jobs_[b].not_before; });
  pending_.assign(order.begin(), order.end());
  if (stopped_) end_pending(ErrorKind::NotAttempted, stop_reason_);

  if (opts_.deadline) {
    run_timer_ = std::make_unique<asio::steady_timer>(io_, run_start_ + *opts_.deadline);
    run_timer_->async_wait([this](boost::system::error_code ec) {
      if (!ec) on_run_deadline();
    });
  }
  start_timer_ = std::make_unique<asio::steady_timer>(io_);
  overdue_timer_ = std::make_unique<asio::steady_timer>(io_);
  pump();
  while (completed_ < jobs_.size()) {
    if (io_.run_one() == 0) break;  // no work left: cannot happen while jobs are open
  }
  if (run_timer_) run_timer_->cancel();
  start_timer_->cancel();
  overdue_timer_->cancel();
  // Let the cancelled timers' handlers run so nothing refers to this run afterwards.
  io_.poll();

  std::vector<Outcome> out;
  out.reserve(jobs_.size());
  for (std::size_t i = 0; i < jobs_.size(); ++i)
    out.push_back(results_[i] ? std::move(*results_[i])
                              : Outcome::failure(ErrorKind::Internal, "the scheduler lost this target"));
  return out;
}

std::string Scheduler::bmc_of(std::size_t i) const {
  const Target& t = *jobs_[i].target;
  return t.bmc.empty() ? "host:" + t.name : t.bmc_key();
}

Millis Scheduler::median_latency() const {
  if (latencies_.size() < 8) return Millis(0);
  auto v = latencies_;
  std::nth_element(v.begin(), v.begin() + v.size() / 2, v.end());
  return v[v.size() / 2];
}

Millis Scheduler::stall_threshold(Millis timeout) {
  Millis base{1000};
  if (auto m = median_latency(); m.count() > 0) base = 4 * m;
  return std::clamp(base, opts_.min_stall, std::max(opts_.min_stall, timeout / 4));
}

std::size_t Scheduler::window() const {
  if (!opts_.adaptive) return opts_.fanout;
  auto w = static_cast<std::size_t>(cwnd_);
  return std::clamp<std::size_t>(w, std::min(opts_.min_window, opts_.fanout), opts_.fanout);
}

// AIMD on what the BMCs show.  Congestion: a BMC that did answer but needed retransmissions,
// or timed out mid-exchange, while the median latency has grown well above the best seen (an
// overloaded BMC or network answers late, then drops).  Loss without growing latency (a lossy
// but uncongested network) and dead addresses (no answer at all) do not shrink the window:
// waiting longer would not help them.
void Scheduler::adapt(const Outcome& o, bool retransmitted, Millis active) {
  if (!opts_.adaptive) return;
  const bool answered = o.error != ErrorKind::NoResponse && o.error != ErrorKind::Interrupted &&
                        o.error != ErrorKind::NotAttempted && o.error != ErrorKind::Config &&
                        o.error != ErrorKind::Connection;
  if (!answered) return;
  const bool clean = !retransmitted && (o.error == ErrorKind::None || o.error == ErrorKind::BmcError);
  const auto now = Clock::now();
  if (clean) {
    if (!base_latency_ || o.elapsed < *base_latency_) base_latency_ = o.elapsed;
    if (!base_active_ || active < *base_active_) base_active_ = active;
    recent_clean_[clean_seen_++ % recent_clean_.size()] = active;
    if (cwnd_ < ssthresh_ && clean_seen_ >= recent_clean_.size()) {
      const Millis fastest = *std::min_element(recent_clean_.begin(), recent_clean_.end());
      if (fastest > 2 * *base_active_ + kQueueingMargin) ssthresh_ = cwnd_;
    }
    if (cwnd_ < ssthresh_) cwnd_ += 1;
    else cwnd_ += 1.0 / std::max(1.0, cwnd_);
    cwnd_ = std::min(cwnd_, static_cast<double>(opts_.fanout));
  } else if (retransmitted || o.error == ErrorKind::Timeout || o.error == ErrorKind::Busy) {
    const Millis med = median_latency();
    // No clean completion yet to compare with, but eight BMCs that did answer all needed
    // retransmissions: the first window overloaded them (slow BMCs answering late).
    if (!base_latency_) ++unclean_before_base_;
    const bool delayed = base_latency_ ? med.count() > 0 && med > 3 * *base_latency_ + Millis(20)
                                       : unclean_before_base_ >= 8;
    if (delayed) congested_ = true;
    if (delayed && now - last_decrease_ >= std::max(med, Millis(50))) {
      ssthresh_ = std::max(cwnd_ / 2, static_cast<double>(opts_.min_window));
      cwnd_ = ssthresh_;
      last_decrease_ = now;
    }
  }
  window_min_ = std::min(window_min_, window());
  window_max_ = std::max(window_max_, window());
}

// 40%: the job then has at least half its timeout on the wire even when a busy loop starts it
// late (a start later than half the timeout lengthens the job, and the run, by the delay).
Millis Scheduler::queue_wait_limit(std::size_t) const { return opts_.max_queue_wait.value_or(opts_.timeout * 2 / 5); }

void Scheduler::arm_overdue() {
  if (pending_.empty() || !jobs_[pending_.front()].timeout_from_ready) return;
  auto at = ready_[pending_.front()] + queue_wait_limit(pending_.front());
  if (at == overdue_at_) return;
  overdue_at_ = at;
  overdue_timer_->expires_at(at);
  overdue_timer_->async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    overdue_at_ = {};
    pump();
  });
}

void Scheduler::pump() {
  // Jobs between operations go first: they hold their BMC and have work under way.
  while (!resuming_.empty() && in_flight_ < window()) {
    auto [i, next] = std::move(resuming_.front());
    resuming_.pop_front();
    Slot* s = slots_[i].get();
    if (!s || results_[i] || !s->waiting) continue;
    resume_now(i);
    asio::post(io_, std::move(next));
  }
  while (!stopped_ && in_flight_ + stalled_ + waiting_ < SchedulerOptions::kMaxFanout && !pending_.empty()) {
    std::size_t i = pending_.front();
    auto at = run_start_ + jobs_[i].not_before;
    const auto now = Clock::now();
    if (at > now) {
      start_timer_->expires_at(at);
      start_timer_->async_wait([this](boost::system::error_code ec) {
        if (!ec) pump();
      });
      return;
    }
    // The window limits work on the wire; a job that has waited too long for a slot starts
    // anyway, so that its timeout (counted from ready) still leaves it time to run.  Not once
    // live BMCs have shown congestion: the window then holds back work that slow BMCs could
    // not take (more at once only adds retransmissions that each cost them again), and a job
    // it held back gets its whole timeout from its start.
    if (in_flight_ >= window() &&
        (!jobs_[i].timeout_from_ready || congested_ || now - ready_[i] < queue_wait_limit(i))) {
      arm_overdue();
      return;
    }
    pending_.pop_front();
    // Two targets behind one BMC address (blades) run one after the other.
    std::string bmc = bmc_of(i);
    if (bmc_busy_[bmc]) {
      waiting_on_bmc_[bmc].push_back(i);
      continue;
    }
    if (admit_) {
      std::string why;
      if (!admit_(&why)) {
        pending_.push_front(i);
        stopped_ = true;
        stop_reason_ = why;
        end_pending(ErrorKind::NotAttempted, why);
        return;
      }
    }
    bmc_busy_[bmc] = true;
    started_[i] = 1;
    ++in_flight_;
    start(i);
  }
}

void Scheduler::start(std::size_t i) {
  const Job& job = jobs_[i];
  Backend* backend = backends_.find(job.target->protocol);
  if (!backend) {
    finish(i, Outcome::failure(ErrorKind::Config,
                               fmt::format("protocol '{}' is not available in this build", job.target->protocol)));
    return;
  }
  if (!job.credential) {
    finish(i, Outcome::failure(ErrorKind::Config, "no credentials for this target"));
    return;
  }
  auto slot = std::make_unique<Slot>(io_);
  slot->started = Clock::now();
  auto timeout = job.timeout.value_or(opts_.timeout);
  // The timeout counts from when the job was ready, not from when the window let it in.
  // Unless the window held it back because live BMCs were congested: it then gets its whole
  // timeout from its start, as a job without timeout_from_ready does.
  const bool held_back = congested_ && slot->started - ready_[i] > Millis(50);
  auto deadline = job.timeout_from_ready && !held_back
                      ? std::max(ready_[i] + timeout, slot->started + timeout / 2)
                      : slot->started + timeout;
  if (opts_.deadline) deadline = std::min(deadline, run_start_ + *opts_.deadline);
  slot->ctx = std::make_shared<JobContext>(JobContext{*job.target, job.credential, job.request, deadline,
                                                      slot->signal.slot(), asio::cancellation_type::none,
                                                      backend, io_.get_executor()});
  slot->ctx->ready = job.timeout_from_ready && !held_back ? std::min(ready_[i], slot->started) : slot->started;
  slot->deadline_at = deadline;
  slot->stall_at = slot->started + stall_threshold(timeout);
  slot->ctx->set_waiting = [this, i](bool w) {
    auto* sl = slots_[i].get();
    if (!sl || results_[i] || sl->waiting == w) return;
    if (w) {
      // Between operations: out of the window, and no stall clock (a wait is not a stall).
      if (sl->stalled) {
        sl->stalled = false;
        --stalled_;
      } else {
        --in_flight_;
      }
      sl->waiting = true;
      sl->waiting_since = Clock::now();
      ++waiting_;
      arm_slot(i);
      asio::post(io_, [this] { pump(); });
    } else {
      resume_now(i);
    }
  };
  slot->ctx->resume = [this, i](std::function<void()> next) { resume(i, std::move(next)); };
  auto ctx = slot->ctx;
  slots_[i] = std::move(slot);
  arm_slot(i);
  // The guard makes completion exactly-once even if a backend misbehaves.
  runner_(ctx, [this, i, ctx](Outcome o) {
    if (auto* s = slots_[i].get(); s && s->ctx == ctx) s->backend_done = true;
    asio::post(io_, [this, i, o = std::move(o)]() mutable { finish(i, std::move(o)); });
  });
}

void Scheduler::resume_now(std::size_t i) {
  Slot* s = slots_[i].get();
  s->waiting = false;
  s->waited += Clock::now() - s->waiting_since;
  --waiting_;
  ++in_flight_;  // may exceed the window (uncongested runs): it already holds its BMC
  s->stall_at = Clock::now() + stall_threshold(jobs_[i].timeout.value_or(opts_.timeout));
  arm_slot(i);
}

void Scheduler::resume(std::size_t i, std::function<void()> next) {
  Slot* s = slots_[i].get();
  if (!s || results_[i] || !s->waiting || s->cancel_type != asio::cancellation_type::none) return next();
  // Slow BMCs that already answer late take no more work at once than the window allows;
  // polls beyond it would only add retransmissions, each of which costs them again.
  if (congested_ && in_flight_ >= window()) {
    resuming_.emplace_back(i, std::move(next));
    return;
  }
  resume_now(i);
  next();
}

void Scheduler::drop_resume(std::size_t i) {
  auto it = std::find_if(resuming_.begin(), resuming_.end(), [i](const auto& r) { return r.first == i; });
  if (it == resuming_.end()) return;
  auto next = std::move(it->second);
  resuming_.erase(it);
  if (!results_[i]) asio::post(io_, std::move(next));  // sees the cancellation and ends
}

void Scheduler::arm_slot(std::size_t i) {
  Slot* s = slots_[i].get();
  if (!s || results_[i] || !s->timer) return;
  std::optional<Clock::time_point> next = s->grace_at;
  auto earliest = [&](Clock::time_point t) { next = next ? std::min(*next, t) : t; };
  if (!s->stalled && !s->waiting) earliest(s->stall_at);
  if (s->deadline_due) earliest(s->deadline_at);
  if (!next) return;
  // Re-arming replaces a pending wait; a wait that had already fired runs on_slot_timer too,
  // which acts only on the times that are due and not yet handled.
  s->timer->expires_at(*next);
  s->timer->async_wait([this, i](boost::system::error_code ec) {
    if (!ec) on_slot_timer(i);
  });
}

void Scheduler::on_slot_timer(std::size_t i) {
  Slot* s = slots_[i].get();
  if (!s || results_[i]) return;
  const auto now = Clock::now();
  if (!s->stalled && !s->waiting && now >= s->stall_at) {
    s->stalled = true;
    --in_flight_;
    ++stalled_;
    pump();
    if (results_[i]) return;
  }
  if (s->deadline_due && now >= s->deadline_at) {
    s->deadline_due = false;
    cancel_job(i, asio::cancellation_type::total);  // arms the grace
    return;
  }
  if (s->grace_at && now >= *s->grace_at) {
    // A backend that ignores cancellation is completed by the scheduler after the grace.
    s->grace_at.reset();
    if (s->cancel_type == asio::cancellation_type::terminal)
      finish(i, Outcome::failure(ErrorKind::Interrupted, "interrupted while waiting for the BMC"));
    else
      finish(i, Outcome::failure(ErrorKind::Timeout,
                                 fmt::format("no result within {}", format_duration(jobs_[i].timeout.value_or(opts_.timeout)))));
    return;
  }
  arm_slot(i);
}

void Scheduler::cancel_job(std::size_t i, asio::cancellation_type t) {
  auto* s = slots_[i].get();
  if (!s || results_[i] || s->backend_done) return;
  if (s->cancel_type == asio::cancellation_type::none || t == asio::cancellation_type::terminal) {
    s->cancel_type = t;
    s->ctx->cancelled = t;
    s->signal.emit(t);
  }
  // A backend that ignores cancellation is completed by the scheduler after the grace.
  s->grace_at = Clock::now() + opts_.grace;
  arm_slot(i);
  drop_resume(i);
}

void Scheduler::finish(std::size_t i, Outcome o) {
  if (results_[i]) return;  // late completion after a forced one: ignored
  auto* s = slots_[i].get();
  if (s) {
    o.elapsed = std::chrono::duration_cast<Millis>(Clock::now() - s->started);
    if (!o.ok() && s->cancel_type == asio::cancellation_type::terminal) {
      o.error = ErrorKind::Interrupted;
      // "timed out waiting for RAKP 2" -> "waiting for RAKP 2": it did not time out.
      if (o.reason.rfind("timed out ", 0) == 0) o.reason.erase(0, 10);
    } else if (!o.ok() && s->cancel_type == asio::cancellation_type::total && !s->cancel_reason.empty()) {
      o.reason = s->cancel_reason + ": " + o.reason;
    }
    s->timer.reset();  // cancels its wait
    if (o.error == ErrorKind::None || o.error == ErrorKind::BmcError) {
      if (latencies_.size() < 64) latencies_.push_back(o.elapsed);
      else latencies_[latency_next_++ % 64] = o.elapsed;
    }
    if (s->cancel_type != asio::cancellation_type::terminal) {
      // The time on the wire, without the waits between operations (a verification's pause).
      auto waited = s->waited + (s->waiting ? Clock::now() - s->waiting_since : Clock::duration{});
      adapt(o, o.retransmits > 0, std::chrono::duration_cast<Millis>(Clock::now() - s->started - waited));
    }
  }
  results_[i] = std::move(o);
  ++completed_;
  drop_resume(i);
  if (started_[i]) {
    if (s && s->stalled) --stalled_;
    else if (s && s->waiting) --waiting_;
    else --in_flight_;
    std::string bmc = bmc_of(i);
    bmc_busy_[bmc] = false;
    auto w = waiting_on_bmc_.find(bmc);
    if (w != waiting_on_bmc_.end() && !w->second.empty()) {
      ready_[w->second.front()] = Clock::now();  // its timeout starts when its BMC is free
      pending_.push_front(w->second.front());
      w->second.pop_front();
    }
  }
  if (s) {
    s->ctx.reset();  // the backend may hold it a little longer (a forced completion)
    std::string().swap(s->cancel_reason);
  }
  if (on_result_) on_result_(i, *results_[i]);
  pump();
}

void Scheduler::end_pending(ErrorKind k, const std::string& reason) {
  std::vector<std::size_t> left(pending_.begin(), pending_.end());
  pending_.clear();
  for (auto& [bmc, q] : waiting_on_bmc_) {
    left.insert(left.end(), q.begin(), q.end());
    q.clear();
  }
  for (auto i : left) {
    if (results_[i]) continue;
    results_[i] = Outcome::failure(k, reason);
    ++completed_;
    if (on_result_) on_result_(i, *results_[i]);
  }
}

void Scheduler::on_run_deadline() {
  stopped_ = true;
  stop_reason_ = "the run deadline passed before it started";
  end_pending(ErrorKind::NotAttempted, stop_reason_);
  for (std::size_t i = 0; i < jobs_.size(); ++i)
    if (slots_[i] && !results_[i]) {
      slots_[i]->cancel_reason = "run deadline reached";
      cancel_job(i, asio::cancellation_type::total);
    }
}

void Scheduler::interrupt() {
  if (interrupted_) return;
  interrupted_ = true;
  stopped_ = true;
  if (start_timer_) start_timer_->cancel();
  end_pending(ErrorKind::NotAttempted, "interrupted before it started");
  for (std::size_t i = 0; i < slots_.size(); ++i)
    if (slots_[i] && !results_[i]) cancel_job(i, asio::cancellation_type::terminal);
}

}  // namespace fleetpower
