// The RTCP parser of the cluster relays (cluster/relay_rtcp.h) on arbitrary bytes: what a
// relay's peer (or anyone who can reach its port with the key) could send once SRTCP is
// removed. The first byte picks the check:
//   even: parse_rtcp on the rest; an accepted compound's packets must tile the input exactly
//         and every NACK entry must lie inside it; a refused one visits nothing.
//   odd:  the rest, two bytes each, is a set of sequence number offsets: write_nack of them
//         (ascending, deduplicated) parsed again must name exactly that set.
#include <algorithm>
#include <cstdint>
#include <set>
#include <vector>

#include "../cluster/relay_rtcp.h"
#include "fuzz_util.h"

namespace {

using namespace jmedia::cluster;

class Collect final : public RtcpVisitor {
 public:
  void on_nack(std::uint32_t, std::uint32_t, std::uint16_t pid, std::uint16_t blp) override {
    ++visits;
    seqs.insert(pid);
    for (unsigned bit = 0; bit < 16; ++bit) {
      if ((blp >> bit) & 1u) seqs.insert(static_cast<std::uint16_t>(pid + bit + 1));
    }
  }
  void on_keyframe_request(std::uint32_t, std::uint32_t, bool) override { ++visits; }
  void on_sender_report(std::uint32_t, std::uint64_t, std::uint32_t) override { ++visits; }
  void on_receiver_report(std::uint32_t) override { ++visits; }
  std::size_t visits = 0;
  std::set<std::uint16_t> seqs;
};

void check_parse(const std::uint8_t* data, std::size_t size) {
  Collect collect;
  const bool ok = parse_rtcp(data, size, collect);
  if (!ok) {
    FUZZ_CHECK(collect.visits == 0, "a refused compound was visited (%zu calls)", collect.visits);
    return;
  }
  std::size_t at = 0;
  while (at < size) {
    FUZZ_CHECK(size - at >= 4, "accepted compound with a %zu-byte tail", size - at);
    at += (static_cast<std::size_t>((data[at + 2] << 8) | data[at + 3]) + 1) * 4;
  }
  FUZZ_CHECK(at == size, "accepted compound's packets end at %zu of %zu", at, size);
}

void check_nack_round_trip(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint64_t> seqs;
  const std::uint64_t base = 1u << 20;
  for (std::size_t i = 0; i + 1 < size; i += 2) {
    seqs.push_back(base + ((data[i] << 8) | data[i + 1]) % 4096);
  }
  std::sort(seqs.begin(), seqs.end());
  seqs.erase(std::unique(seqs.begin(), seqs.end()), seqs.end());
  if (seqs.empty()) return;
  std::vector<std::uint8_t> out(1500);
  std::size_t done = 0;
  while (done < seqs.size()) {
    std::size_t covered = 0;
    const std::size_t len = write_nack(out.data(), out.size(), 1, 2, seqs.data() + done,
                                       seqs.size() - done, 64, covered);
    FUZZ_CHECK(len > 0 && covered > 0, "write_nack wrote nothing for %zu seqs", seqs.size() - done);
    Collect collect;
    FUZZ_CHECK(parse_rtcp(out.data(), len, collect), "our own NACK does not parse");
    for (std::size_t i = done; i < done + covered; ++i) {
      const auto seq = static_cast<std::uint16_t>(seqs[i] & 0xffff);
      FUZZ_CHECK(collect.seqs.count(seq) == 1, "NACK lost seq %u", seq);
    }
    FUZZ_CHECK(collect.seqs.size() == covered, "NACK names %zu seqs, %zu given",
               collect.seqs.size(), covered);
    done += covered;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  if ((data[0] & 1) == 0) {
    check_parse(data + 1, size - 1);
  } else {
    check_nack_round_trip(data + 1, size - 1);
  }
  return 0;
}
