// One WebSocket message from the pieces libwebsockets hands over (its LWS_CALLBACK_RECEIVE
// chunks, of at most its rx buffer each, with what is left of the current frame and whether the
// frame is the message's last). The cap holds before anything past it is buffered: a piece whose
// frame, counted to its end, would take the message over max_bytes is refused at once, so a
// 200 MB message costs at most max_bytes. A message that arrives in one piece is never copied.
// Pure code (fuzzed); one connection's, used by its service thread only.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace jmedia::edge {

class MessageAssembler {
 public:
  enum class Result : std::uint8_t { kMore, kComplete, kTooBig };

  explicit MessageAssembler(std::size_t max_bytes) : max_bytes_(max_bytes) {}

  // piece: the bytes received; frame_remaining: bytes of the current frame still to come;
  // final_frame: whether that frame ends the message. After kComplete, message() is valid
  // until the next add(); after kTooBig the assembler is empty again.
  Result add(std::string_view piece, std::size_t frame_remaining, bool final_frame);
  std::string_view message() const { return complete_; }

  // Bytes held for a message still incomplete.
  std::size_t buffered() const { return buffer_.size(); }

 private:
  const std::size_t max_bytes_;
  std::string buffer_;
  std::string_view complete_;
  bool from_buffer_ = false;  // complete_ points into buffer_ (cleared on the next add)
};

}  // namespace jmedia::edge
