#include "json.h"

#include <cstdlib>

namespace jmedia {

std::string dump(const json_t* value) {
  if (value == nullptr) return "null";
  char* text = json_dumps(value, JSON_COMPACT | JSON_ENCODE_ANY);
  if (text == nullptr) return "null";
  std::string out(text);
  std::free(text);
  return out;
}

}  // namespace jmedia
