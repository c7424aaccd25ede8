// The distinct-address layout of the probe-capacity benchmark: endpoint I
// of a set at its own loopback address, so that no two endpoints share a
// connection (as a fleet with a host per endpoint). bench/probe_target
// listens on them, bench/probe_capacity_bench checks them, and
// bench/run_probe_capacity.sh writes the same addresses into HAProxy's
// config (its `distinct_address` function must stay in step with this one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace orasi::bench {

/// The sets of addresses: the second octet of 127.S.x.y.
enum class address_set : uint8_t {
  answering = 1, // endpoints that answer 200
  hanging = 2,   // endpoints that read the request and never answer
};

/// Host parts 1..254 of each 127.S.x.* block: .0 and .255 are skipped.
constexpr size_t hosts_per_block = 254;

/// 256 blocks of 254 addresses per set.
constexpr size_t max_distinct_addresses = 256 * hosts_per_block;

/// Endpoint `index` of `set` as a host-order IPv4 address:
/// 127.S.(index / 254).(1 + index % 254). Never leaves 127.0.0.0/8.
constexpr uint32_t distinct_address(address_set set, size_t index) {
  return (uint32_t{127} << 24) | (uint32_t{static_cast<uint8_t>(set)} << 16) |
         (static_cast<uint32_t>((index / hosts_per_block) % 256) << 8) |
         static_cast<uint32_t>(1 + index % hosts_per_block);
}

/// "127.1.0.1" for a host-order address.
inline std::string dotted(uint32_t address) {
  return std::to_string(address >> 24) + "." +
         std::to_string((address >> 16) & 0xff) + "." +
         std::to_string((address >> 8) & 0xff) + "." +
         std::to_string(address & 0xff);
}

} // namespace orasi::bench
