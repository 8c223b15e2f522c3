#include "message_assembler.h"

#include <algorithm>

namespace jmedia::edge {
namespace {

// Above this, a buffer that held a long message is given back rather than kept for the next.
constexpr std::size_t kKeptCapacity = 16 * 1024;

}  // namespace

MessageAssembler::Result MessageAssembler::add(std::string_view piece, std::size_t frame_remaining,
                                               bool final_frame) {
  if (from_buffer_) {
    buffer_.clear();
    if (buffer_.capacity() > kKeptCapacity) std::string().swap(buffer_);
    from_buffer_ = false;
  }
  complete_ = {};
  const std::size_t held = buffer_.size();
  if (piece.size() > max_bytes_ - std::min(held, max_bytes_) ||
      frame_remaining > max_bytes_ - held - piece.size()) {
    std::string().swap(buffer_);
    return Result::kTooBig;
  }
  const bool last = frame_remaining == 0 && final_frame;
  if (last && held == 0) {
    complete_ = piece;  // the whole message in one piece: no copy
    return Result::kComplete;
  }
  buffer_.append(piece);
  if (!last) return Result::kMore;
  complete_ = buffer_;
  from_buffer_ = true;
  return Result::kComplete;
}

}  // namespace jmedia::edge
