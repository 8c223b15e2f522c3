// A consumer that is a relay to another node (README, "Scale-out"): this node is the origin of
// the device, the other node's viewers watch it through one relay per (device, node). Wraps
// the origin's end of the relay (cluster::RelaySender: SRTP, the retransmission history, the
// peer's feedback) and keeps the relay's stream continuous as LocalViewer does a viewer's: one
// SSRC per kind, sequence numbers and timestamps carried on across publishers, the payload
// types of the media it last announced. Data channels are not relayed.
//
// Ownership: Device -> OutboundRelay -> RelaySender. What the sender hears from the other node
// goes up to the plugin's origin side (OutboundRelayListener), never to the device.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>

#include "../cluster/relay_sender.h"
#include "consumer.h"
#include "rtp_rewriter.h"

namespace jmedia {

class OutboundRelay;

// The plugin's origin side. Called on the relay thread (RelayLoop) with the relay thread's
// dispatch lock held: must not destroy or close() any relay, nor wait for a thread that does.
class OutboundRelayListener {
 public:
  // The other node's viewers need a keyframe (a PLI or FIR on the relay).
  // full_intra: for a viewer there that starts decoding now (an FIR), never held back.
  virtual void relay_keyframe_requested(OutboundRelay& relay, bool full_intra) = 0;
  // The other node has sent no RTCP for the sender's peer_timeout (told once).
  virtual void relay_peer_lost(OutboundRelay& relay, std::chrono::milliseconds silent) = 0;

 protected:
  ~OutboundRelayListener() = default;
};

class OutboundRelay final : public Consumer, private cluster::RelaySenderListener {
 public:
  // Opens the relay's socket (a port of options.socket's range) towards options.peer. null
  // with error set when the sender cannot be made. Not on the relay thread.
  static std::shared_ptr<OutboundRelay> create(cluster::RelayLoop& loop,
                                               cluster::RelaySenderOptions options,
                                               std::string node_id, std::string device_id,
                                               OutboundRelayListener& listener, std::string& error);
  // Closes the sender if close() has not: any thread but the relay thread.
  ~OutboundRelay() override;

  // Media path (the producer's thread): rewrite and protect-and-send; no allocation.
  void send_rtp(janus_plugin_rtp& packet) override;
  void send_data(janus_plugin_data& /*packet*/) override {}  // never wanted: kinds say no data
  void use_media(const PublisherMedia& media) override;
  // The publisher's RTCP (its loop thread): each sender report of the sources the relay
  // carries goes on, in the relay's SSRC and RTP time, without its report blocks (those are
  // about what the publisher receives). No allocation.
  void send_sender_reports(const char* rtcp, std::size_t length);

  // Stops the relay for good: no more media, and the sender (its socket, its place on the
  // relay thread) is destroyed here, after the relay thread is out of it. Any thread but the
  // relay thread, holding no lock the listener's callbacks take. Idempotent. Returns the
  // sender's last counters (zeros when it was closed already).
  cluster::RelaySenderStats close();

  // The media it carries now (what use_media last gave it: the device's offer to it), which
  // is what its node is told: a new publisher with the same codecs under other payload
  // types is rewritten to these.
  PublisherMedia announced();

  const std::string& relay_id() const { return relay_id_; }
  const std::string& node_id() const { return node_id_; }  // the viewers' node
  const std::string& device_id() const { return device_id_; }
  int local_port() const { return local_port_; }
  // Counters of the sender (zeros once closed). Any thread.
  cluster::RelaySenderStats stats();
  std::chrono::milliseconds peer_silent_for();

 private:
  OutboundRelay(std::string relay_id, std::string node_id, std::string device_id,
                OutboundRelayListener& listener);
  void keyframe_requested(std::uint32_t media_ssrc, bool full_intra) override;
  void peer_lost(std::chrono::milliseconds silent) override;

  const std::string relay_id_;
  const std::string node_id_;
  const std::string device_id_;
  OutboundRelayListener& listener_;
  int local_port_ = 0;
  // Held while a packet is rewritten and sent, and while the sender is taken out by close():
  // only two producers overlapping in a hand-over, or close(), ever contend for it. Lock
  // order: relay_mutex_ before the sender's own mutex; the relay thread never takes it.
  std::mutex relay_mutex_;
  std::unique_ptr<cluster::RelaySender> sender_;
  RtpRewriter audio_;
  RtpRewriter video_;
  PublisherMedia announced_;
};

}  // namespace jmedia
