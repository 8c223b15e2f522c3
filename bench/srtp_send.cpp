// The floor of a fan-out on this machine: what one viewer's copy of a packet costs at the least
// on Janus's send path, SRTP protect (libsrtp2, the library Janus uses) and one UDP sendmsg of a
// 1,200-byte RTP packet on loopback to a socket that a thread drains (a viewer is there).
//
//   protect/<profile>          srtp_protect of the packet (a fresh copy each time, as a relay
//                              makes one per viewer), profile 0 AES_CM_128_HMAC_SHA1_80,
//                              1 AEAD_AES_128_GCM, 2 AEAD_AES_256_GCM
//   sendmsg                    one sendmsg of the 1,200 + 10 bytes
//   protect_and_send/<profile> both, the per-viewer floor
//
// Each reports its CPU time per packet (the sending thread's) and packets/s.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <srtp2/srtp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>

namespace {

constexpr int kPayload = 1200;
constexpr int kRtpHeader = 12;
constexpr int kTrailer = 16 + 4;  // room for a tag (GCM 16, HMAC-SHA1-80 10) and an MKI

[[noreturn]] void die(const char* what) {
  std::fprintf(stderr, "srtp_send: %s\n", what);
  std::exit(2);  // NOLINT(concurrency-mt-unsafe): the benchmark cannot go on
}

class Sender {
 public:
  explicit Sender(int profile) {
    static const bool initialised = srtp_init() == srtp_err_status_ok;
    if (!initialised) die("srtp_init failed");
    srtp_policy_t policy{};
    if (profile == 0) {
      srtp_crypto_policy_set_aes_cm_128_hmac_sha1_80(&policy.rtp);
    } else if (profile == 1) {
      srtp_crypto_policy_set_aes_gcm_128_16_auth(&policy.rtp);
    } else {
      srtp_crypto_policy_set_aes_gcm_256_16_auth(&policy.rtp);
    }
    srtp_crypto_policy_set_rtp_default(&policy.rtcp);
    policy.ssrc.type = ssrc_any_outbound;
    for (std::size_t i = 0; i < key_.size(); ++i) key_[i] = static_cast<unsigned char>(i * 7 + 1);
    policy.key = key_.data();
    policy.window_size = 1024;
    policy.allow_repeat_tx = 0;
    if (srtp_create(&session_, &policy) != srtp_err_status_ok) die("srtp_create failed");
    // An RTP packet: V=2, PT 96, SSRC 0x1234; the payload is noise-like.
    packet_[0] = static_cast<char>(0x80);
    packet_[1] = 96;
    packet_[8] = 0x00;
    packet_[9] = 0x00;
    packet_[10] = 0x12;
    packet_[11] = 0x34;
    for (int i = kRtpHeader; i < kRtpHeader + kPayload; ++i) {
      packet_[static_cast<std::size_t>(i)] = static_cast<char>(i * 31);
    }
  }
  ~Sender() { srtp_dealloc(session_); }
  Sender(const Sender&) = delete;
  Sender& operator=(const Sender&) = delete;

  // A fresh copy of the packet with the next sequence number, protected; its length.
  int protect(char* out) {
    std::memcpy(out, packet_.data(), kRtpHeader + kPayload);
    ++sequence_;
    out[2] = static_cast<char>(sequence_ >> 8);
    out[3] = static_cast<char>(sequence_ & 0xff);
    int length = kRtpHeader + kPayload;
    if (srtp_protect(session_, out, &length) != srtp_err_status_ok) die("srtp_protect failed");
    return length;
  }

 private:
  srtp_t session_ = nullptr;
  std::array<unsigned char, 46> key_{};  // key + salt, long enough for every profile here
  std::array<char, kRtpHeader + kPayload> packet_{};
  std::uint16_t sequence_ = 0;
};

// A UDP socket connected to a loopback socket that a thread drains.
class Loopback {
 public:
  Loopback() {
    receiver_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sender_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (receiver_ < 0 || sender_ < 0) die("socket failed");
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (bind(receiver_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      die("bind failed");
    }
    socklen_t length = sizeof address;
    getsockname(receiver_, reinterpret_cast<sockaddr*>(&address), &length);
    if (connect(sender_, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      die("connect failed");
    }
    timeval timeout{0, 100'000};
    setsockopt(receiver_, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    drain_ = std::thread([this] {
      char sink[2048];
      while (!stop_.load(std::memory_order_relaxed)) {
        (void)recv(receiver_, sink, sizeof sink, 0);
      }
    });
  }
  ~Loopback() {
    stop_.store(true);
    drain_.join();
    close(sender_);
    close(receiver_);
  }
  Loopback(const Loopback&) = delete;
  Loopback& operator=(const Loopback&) = delete;

  void send(const char* data, int length) {
    iovec piece{const_cast<char*>(data), static_cast<std::size_t>(length)};
    msghdr message{};
    message.msg_iov = &piece;
    message.msg_iovlen = 1;
    // A full receive queue drops the datagram, as a slow viewer's would: sendmsg still ran.
    if (sendmsg(sender_, &message, 0) < 0 && errno != ENOBUFS && errno != EAGAIN) {
      die("sendmsg failed");
    }
  }

 private:
  int receiver_ = -1;
  int sender_ = -1;
  std::atomic<bool> stop_{false};
  std::thread drain_;
};

void BM_Protect(benchmark::State& state) {
  Sender sender(static_cast<int>(state.range(0)));
  alignas(16) char buffer[kRtpHeader + kPayload + kTrailer];
  for (auto _ : state) {
    benchmark::DoNotOptimize(sender.protect(buffer));
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations());
}

void BM_Sendmsg(benchmark::State& state) {
  Loopback loopback;
  Sender sender(0);
  alignas(16) char buffer[kRtpHeader + kPayload + kTrailer];
  const int length = sender.protect(buffer);
  for (auto _ : state) loopback.send(buffer, length);
  state.SetItemsProcessed(state.iterations());
}

void BM_ProtectAndSend(benchmark::State& state) {
  Loopback loopback;
  Sender sender(static_cast<int>(state.range(0)));
  alignas(16) char buffer[kRtpHeader + kPayload + kTrailer];
  for (auto _ : state) loopback.send(buffer, sender.protect(buffer));
  state.SetItemsProcessed(state.iterations());
}

BENCHMARK(BM_Protect)->Name("protect")->Arg(0)->Arg(1)->Arg(2);
BENCHMARK(BM_Sendmsg)->Name("sendmsg");
BENCHMARK(BM_ProtectAndSend)->Name("protect_and_send")->Arg(0)->Arg(1)->Arg(2);

}  // namespace

BENCHMARK_MAIN();
