// SPDX-License-Identifier: GPL-3.0-or-later
// A small reader that turns fuzz bytes into choices (like clang's FuzzedDataProvider, which
// the g++ replay build does not have).  Reading past the end yields zeros and empty strings.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace fpfuzz {

class Input {
 public:
  Input(const std::uint8_t* d, std::size_t n) : d_(d), n_(n) {}
  bool empty() const { return pos_ >= n_; }
  std::size_t left() const { return n_ - pos_; }
  std::uint8_t u8() { return pos_ < n_ ? d_[pos_++] : 0; }
  std::uint16_t u16() {  // little-endian; two statements fix the order of the reads
    std::uint16_t lo = u8();
    return static_cast<std::uint16_t>(lo | (u8() << 8));
  }
  std::uint32_t u32() {
    std::uint32_t lo = u16();
    return lo | (static_cast<std::uint32_t>(u16()) << 16);
  }
  /// A string of up to `max` bytes (its length comes from the input).
  std::string str(std::size_t max) {
    std::size_t len = std::min<std::size_t>(max <= 255 ? u8() : u16(), max);
    return bytes_str(len);
  }
  std::string bytes_str(std::size_t len) {
    len = std::min(len, left());
    std::string s(reinterpret_cast<const char*>(d_ + pos_), len);
    pos_ += len;
    return s;
  }
  std::vector<std::uint8_t> rest() {
    std::vector<std::uint8_t> v(d_ + pos_, d_ + n_);
    pos_ = n_;
    return v;
  }

 private:
  const std::uint8_t* d_;
  std::size_t n_;
  std::size_t pos_ = 0;
};

}  // namespace fpfuzz
