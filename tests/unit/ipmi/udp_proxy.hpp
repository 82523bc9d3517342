// SPDX-License-Identifier: GPL-3.0-or-later
// A loopback UDP relay between the backend and a real ipmi_sim that can drop chosen replies
// (and, with set_drop_request, chosen requests): used to lose exactly the packets a case is
// about (e.g. the Chassis Control answer, or every copy of RAKP 3) in a controlled way.
#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace fptest {

class UdpProxy {
 public:
  /// Listen on listen_addr:623, forward to bmc_addr:623.  drop_reply(i) is asked for the i-th
  /// reply (1-based) from the BMC; true drops it.
  UdpProxy(const std::string& listen_addr, const std::string& bmc_addr,
           std::function<bool(int)> drop_reply)
      : drop_(std::move(drop_reply)) {
    front_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    back_ = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(623);
    ::inet_pton(AF_INET, listen_addr.c_str(), &a.sin_addr);
    ok_ = ::bind(front_, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
    bmc_.sin_family = AF_INET;
    bmc_.sin_port = htons(623);
    ::inet_pton(AF_INET, bmc_addr.c_str(), &bmc_.sin_addr);
    thr_ = std::thread([this] { loop(); });
  }
  ~UdpProxy() {
    stop_ = true;
    thr_.join();
    ::close(front_);
    ::close(back_);
  }
  /// drop(i, payload_type) is asked for the i-th request (1-based) from the client with its
  /// RMCP+ payload type (0x10 Open Session, 0x12 RAKP 1, 0x14 RAKP 3, 0 for IPMI and
  /// pre-session packets); true drops it.  Set before the first request.
  void set_drop_request(std::function<bool(int, int)> drop) {
    std::lock_guard<std::mutex> l(mu_);
    drop_rq_ = std::move(drop);
  }
  /// Requests seen (dropped or not) of one RMCP+ payload type.
  int requests_of(int payload_type) const {
    std::lock_guard<std::mutex> l(mu_);
    return payload_type >= 0 && payload_type < 64 ? by_type_[payload_type] : 0;
  }
  bool ok() const { return ok_; }
  int replies() const { return replies_; }
  int requests() const { return requests_; }
  int dropped() const { return dropped_; }

 private:
  void loop() {
    char buf[2048];
    sockaddr_in client{};
    bool have_client = false;
    while (!stop_) {
      pollfd p[2] = {{front_, POLLIN, 0}, {back_, POLLIN, 0}};
      if (::poll(p, 2, 50) <= 0) continue;
      if (p[0].revents & POLLIN) {
        socklen_t l = sizeof client;
        ssize_t n =
            ::recvfrom(front_, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&client), &l);
        if (n > 0) {
          have_client = true;
          int idx = ++requests_;
          // RMCP+ (auth type 0x06 at byte 4): the payload type is byte 5, without its
          // encrypted/authenticated bits.
          int type = n > 5 && static_cast<unsigned char>(buf[4]) == 0x06 ? (buf[5] & 0x3f) : 0;
          std::function<bool(int, int)> drop_rq;
          {
            std::lock_guard<std::mutex> lk(mu_);
            ++by_type_[type];
            drop_rq = drop_rq_;
          }
          if (drop_rq && drop_rq(idx, type)) {
            ++dropped_;
            continue;
          }
          ::sendto(back_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&bmc_),
                   sizeof bmc_);
        }
      }
      if (p[1].revents & POLLIN) {
        ssize_t n = ::recv(back_, buf, sizeof buf, 0);
        if (n > 0 && have_client) {
          int idx = ++replies_;
          if (drop_ && drop_(idx)) {
            ++dropped_;
            continue;
          }
          ::sendto(front_, buf, static_cast<size_t>(n), 0, reinterpret_cast<sockaddr*>(&client),
                   sizeof client);
        }
      }
    }
  }
  int front_ = -1, back_ = -1;
  bool ok_ = false;
  sockaddr_in bmc_{};
  std::function<bool(int)> drop_;
  mutable std::mutex mu_;
  std::function<bool(int, int)> drop_rq_;
  int by_type_[64] = {};
  std::atomic<bool> stop_{false};
  std::atomic<int> replies_{0}, requests_{0}, dropped_{0};
  std::thread thr_;
};

}  // namespace fptest
