#include "event_shapes.h"

namespace jmedia::events {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n";

// Next whitespace-separated token of text starting at pos; empty at the end.
std::string_view next_token(std::string_view text, std::size_t& pos) {
  const std::size_t start = text.find_first_not_of(kWhitespace, pos);
  if (start == std::string_view::npos) {
    pos = text.size();
    return {};
  }
  std::size_t end = text.find_first_of(kWhitespace, start);
  if (end == std::string_view::npos) end = text.size();
  pos = end;
  return text.substr(start, end - start);
}

// "[host,udp]" in one half of a selected-pair text -> {type, transport}.
std::optional<std::pair<std::string_view, std::string_view>> bracketed_types(
    std::string_view half) {
  const std::size_t open = half.rfind('[');
  const std::size_t close = half.rfind(']');
  if (open == std::string_view::npos || close == std::string_view::npos || close < open) {
    return std::nullopt;
  }
  const std::string_view inside = half.substr(open + 1, close - open - 1);
  const std::size_t comma = inside.find(',');
  if (comma == std::string_view::npos) return std::nullopt;
  return std::make_pair(inside.substr(0, comma), inside.substr(comma + 1));
}

}  // namespace

std::size_t hangup_reason_index(std::string_view janus_reason) {
  for (std::size_t i = 0; i < kHangupReasons.size(); ++i) {
    if (kHangupReasons[i].janus == janus_reason) return i;
  }
  return kHangupReasons.size();
}

std::size_t event_type_index(std::int64_t type) {
  for (std::size_t i = 0; i < kTypeLabels.size(); ++i) {
    if (type == (std::int64_t{1} << i)) return i;
  }
  return kTypeLabels.size();
}

std::optional<std::string_view> candidate_type(std::string_view candidate) {
  std::size_t pos = 0;
  // Fields: foundation component transport priority address port "typ" type [...]
  for (int field = 0; field < 16; ++field) {
    const std::string_view token = next_token(candidate, pos);
    if (token.empty()) break;
    if (token == "typ") {
      const std::string_view type = next_token(candidate, pos);
      if (type.empty()) break;
      return type;
    }
  }
  return std::nullopt;
}

std::optional<SelectedPair> selected_pair(const json_t* body) {
  const json_t* candidates = member(body, "candidates");
  if (json_is_object(candidates)) {
    const json_t* local = json_object_get(candidates, "local");
    const json_t* remote = json_object_get(candidates, "remote");
    auto local_type = string_member(local, "type");
    auto remote_type = string_member(remote, "type");
    auto transport = string_member(local, "transport");
    if (local_type && remote_type && transport) {
      return SelectedPair{*local_type, *remote_type, *transport};
    }
  }
  auto text = string_member(body, "selected-pair");
  if (!text) return std::nullopt;
  constexpr std::string_view kArrow = " <-> ";
  const std::size_t arrow = text->find(kArrow);
  if (arrow == std::string_view::npos) return std::nullopt;
  auto local = bracketed_types(text->substr(0, arrow));
  auto remote = bracketed_types(text->substr(arrow + kArrow.size()));
  if (!local || !remote) return std::nullopt;
  return SelectedPair{local->first, remote->first, local->second};
}

std::optional<std::size_t> media_kind(std::string_view media) {
  if (media == "audio") return 0;
  if (media == "video" || media == "video-sim1" || media == "video-sim2") return 1;
  return std::nullopt;
}

int substream(std::string_view media) {
  if (media == "video-sim1") return 1;
  if (media == "video-sim2") return 2;
  return 0;
}

}  // namespace jmedia::events
