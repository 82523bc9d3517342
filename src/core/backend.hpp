// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include "core/target.hpp"
#include "core/types.hpp"

namespace fleetpower {

namespace asio = boost::asio;

using CompletionFn = std::function<void(Outcome)>;

/// Everything one operation needs.  The references stay valid until `done` has been called.
struct OpContext {
  const Target& target;
  const Credential& credential;
  Request request;
  Clock::time_point deadline;  ///< per-target deadline; the backend must finish by then
  /// Emitted by the scheduler at the deadline (cancellation_type::total) or on Ctrl-C
  /// (cancellation_type::terminal).  On it the backend stops, best-effort closes its session,
  /// and completes promptly with a reason naming the step it was waiting for.
  asio::cancellation_slot cancel;
  /// Request::read_first only: the power state must have been read by then (a BMC that does not
  /// answer fails at the same time as a plain read would); the action and the read-back after
  /// it may use the rest of `deadline`.  Unset: `deadline` for everything.
  Clock::time_point read_deadline{};
};

/// A transport (IPMI, Redfish, SSH, test).  All operations run on one io_context thread.
/// Contract: start() never blocks; `done` is called exactly once, never from inside start()
/// itself (post it), on the executor given at construction.
class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string_view name() const = 0;
  virtual void start(OpContext ctx, CompletionFn done) = 0;
  /// True when this backend handles Request::read_first for the target: the power state read,
  /// the decision and the action in one exchange (IPMI: one RMCP+ session instead of two).
  virtual bool reads_first(const Target&) const { return false; }
  /// Best-effort graceful shutdown (close idle sessions/connections).  Called once at the end;
  /// the caller then runs the loop until it has no work left or a short grace expires, so once
  /// its closing exchanges are done a backend must leave nothing pending (close its sockets,
  /// cancel its timers).
  virtual void shutdown() {}
};

/// Protocol name -> backend.  Owned by the caller of the scheduler.  A backend added with
/// add_lazy() is built on the first find() of its protocol: a run without SSH targets does not
/// parse SSH device profiles, one without Redfish targets sets up no TLS context.  Used on the
/// loop's thread only.
class BackendRegistry {
 public:
  using Factory = std::function<std::unique_ptr<Backend>()>;
  void add(std::string protocol, std::unique_ptr<Backend> b) {
    Entry e;
    e.backend = std::move(b);
    map_[std::move(protocol)] = std::move(e);
  }
  void add_lazy(std::string protocol, Factory make) {
    Entry e;
    e.make = std::move(make);
    map_[std::move(protocol)] = std::move(e);
  }
  /// The backend of a protocol, built now if it was added lazily; nullptr when none.
  Backend* find(const std::string& protocol) const {
    auto it = map_.find(protocol);
    if (it == map_.end()) return nullptr;
    auto& e = it->second;
    if (!e.backend && e.make) {
      auto make = std::move(e.make);
      e.make = nullptr;
      e.backend = make();
    }
    return e.backend.get();
  }
  /// Every backend, building the lazy ones.
  template <class F>
  void for_each(F&& f) {
    for (auto& [k, v] : map_)
      if (Backend* b = find(k)) f(k, *b);
  }
  /// Only the backends built so far (shutdown: nothing to close in one never used).
  template <class F>
  void for_each_built(F&& f) {
    for (auto& [k, v] : map_)
      if (v.backend) f(k, *v.backend);
  }

 private:
  struct Entry {
    std::unique_ptr<Backend> backend;
    Factory make;
  };
  mutable std::map<std::string, Entry, std::less<>> map_;
};

}  // namespace fleetpower
