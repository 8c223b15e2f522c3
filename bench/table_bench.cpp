// Session table micro-benchmark: the plugin's ShardedMap (as SessionTable's by-handle index,
// shards = 32, and shards = 1) against one std::shared_mutex over a std::unordered_map and
// against tbb::concurrent_hash_map, at 1, 2, 4 and 8 threads, with 90/5/5 and 50/25/25
// lookup/insert/erase mixes.
//
// Keys are handle addresses (the table is keyed by janus_plugin_session*), values are
// shared_ptrs (a lookup hands out a reference, as SessionTable::find does). The key space has
// 2 x kPresent handles and the table starts with every other one present; inserts and erases
// draw from the whole key space with equal probability, so the table stays near kPresent
// entries and about half the lookups hit. items_per_second is operations per second over
// all threads (wall clock).
//
// Also: <table>/page10, the cost of one page of the plugin's `list` request (10 sessions after
// a random cursor) from SessionTable's by-id index (ordered shards of kPresent ids) with 32
// shards and with 1.
#include <benchmark/benchmark.h>
#include <tbb/concurrent_hash_map.h>

#include <cstddef>
#include <cstdio>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "session_table.h"
#include "sharded_map.h"

namespace {

constexpr std::size_t kPresent = 10000;          // entries at start
constexpr std::size_t kKeySpace = 2 * kPresent;  // keys the operations draw from

// Stand-ins for janus_plugin_session (the key is its address) and MediaSession (the value).
struct alignas(64) Handle {
  std::uint64_t id = 0;
};
struct Session {
  std::uint64_t id = 0;
  char state[120] = {};
};

using Key = const Handle*;
using Value = std::shared_ptr<Session>;

// The handles and the session of each, made once and shared by every benchmark.
struct Population {
  std::vector<Handle> handles = std::vector<Handle>(kKeySpace);
  std::vector<Value> sessions;
  Population() {
    sessions.reserve(kKeySpace);
    for (std::size_t i = 0; i < kKeySpace; ++i) {
      handles[i].id = i;
      sessions.push_back(std::make_shared<Session>());
      sessions.back()->id = i;
    }
  }
};
const Population& population() {
  static const Population p;
  return p;
}

// The finalizer of MurmurHash3, as ShardedMap mixes its shard index. TBB's default
// tbb_hash_compare<T*> is std::hash (the address) masked to a power of two buckets: with
// 64-byte aligned keys that would leave 63 of 64 buckets empty, so the reference gets a
// mixed hash too, as any TBB user keying by pointer would give it.
struct MixedPointerHash {
  static std::size_t mix(std::size_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
  }
  std::size_t hash(Key key) const { return mix(reinterpret_cast<std::uintptr_t>(key)); }
  bool equal(Key a, Key b) const { return a == b; }
};

// --- the tables under test, behind one interface --------------------------------------------

// The plugin's own map, configured like SessionTable's by-handle index.
class Sharded {
 public:
  explicit Sharded(std::size_t shards) : map_(shards) {}
  bool insert(Key key, const Value& value) { return map_.insert(key, value); }
  Value find(Key key) const {
    auto found = map_.find(key);
    return found ? std::move(*found) : nullptr;
  }
  bool erase(Key key) { return map_.erase(key).has_value(); }
  std::size_t size() const { return map_.size(); }

 private:
  jmedia::ShardedMap<Key, Value> map_;
};

// The textbook single lock: one reader-writer mutex over one hash map.
class SingleLock {
 public:
  explicit SingleLock(std::size_t /*shards*/) {}
  bool insert(Key key, const Value& value) {
    std::unique_lock lock(mutex_);
    return map_.emplace(key, value).second;
  }
  Value find(Key key) const {
    std::shared_lock lock(mutex_);
    auto it = map_.find(key);
    return it == map_.end() ? nullptr : it->second;
  }
  bool erase(Key key) {
    Value erased;  // released after the lock, as ShardedMap::erase does
    std::unique_lock lock(mutex_);
    auto it = map_.find(key);
    if (it == map_.end()) return false;
    erased = std::move(it->second);
    map_.erase(it);
    return true;
  }
  std::size_t size() const {
    std::shared_lock lock(mutex_);
    return map_.size();
  }

 private:
  mutable std::shared_mutex mutex_;
  std::unordered_map<Key, Value> map_;
};

// Intel's concurrent hash map (fine-grained bucket and element locks).
class Tbb {
 public:
  explicit Tbb(std::size_t /*shards*/) : map_(kKeySpace) {}
  bool insert(Key key, const Value& value) { return map_.insert({key, value}); }
  Value find(Key key) const {
    Map::const_accessor accessor;
    if (!map_.find(accessor, key)) return nullptr;
    return accessor->second;
  }
  bool erase(Key key) { return map_.erase(key); }
  std::size_t size() const { return map_.size(); }

 private:
  using Map = tbb::concurrent_hash_map<Key, Value, MixedPointerHash>;
  Map map_;
};

// --- the workload ---------------------------------------------------------------------------

struct Mix {
  const char* name;
  unsigned lookup;  // percent
  unsigned insert;  // percent; erase is the rest
};

class Random {  // xorshift64*: cheap enough not to be what is measured
 public:
  explicit Random(std::uint64_t seed) : state_(seed * 0x9e3779b97f4a7c15ULL + 1) {}
  std::uint64_t next() {
    state_ ^= state_ >> 12;
    state_ ^= state_ << 25;
    state_ ^= state_ >> 27;
    return state_ * 0x2545f4914f6cdd1dULL;
  }

 private:
  std::uint64_t state_;
};

// One operation of the mix on a random key; true when it found, added or removed an entry.
template <typename Table>
inline bool one_operation(Table& table, const Population& pop, Random& random, Mix mix) {
  const std::uint64_t r = random.next();
  const std::size_t index = static_cast<std::size_t>(r % kKeySpace);
  const unsigned dice = static_cast<unsigned>((r >> 40) % 100);
  Key key = &pop.handles[index];
  if (dice < mix.lookup) {
    Value found = table.find(key);
    benchmark::DoNotOptimize(found);
    return found != nullptr;
  }
  if (dice < mix.lookup + mix.insert) return table.insert(key, pop.sessions[index]);
  return table.erase(key);
}

template <typename Table>
void prefill(Table& table, const Population& pop) {
  for (std::size_t i = 0; i < kKeySpace; i += 2) table.insert(&pop.handles[i], pop.sessions[i]);
}

template <typename Table>
struct Shared {
  std::unique_ptr<Table> table;
};

template <typename Table>
void run(benchmark::State& state, Shared<Table>* shared, std::size_t shards, Mix mix) {
  const Population& pop = population();
  if (state.thread_index() == 0) {
    // Every thread waits at the start of the loop below until this is done.
    shared->table = std::make_unique<Table>(shards);
    prefill(*shared->table, pop);
  }
  Random random(static_cast<std::uint64_t>(state.thread_index()) + 1);
  std::uint64_t hits = 0;
  for (auto _ : state) hits += one_operation(*shared->table, pop, random, mix);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["hit_ratio"] =
      benchmark::Counter(static_cast<double>(hits), benchmark::Counter::kAvgIterations);
  if (state.thread_index() == 0) {
    // Every thread has left the loop by now.
    state.counters["final_size"] = static_cast<double>(shared->table->size());
    shared->table.reset();
  }
}

template <typename Table>
void add(const std::string& table_name, std::size_t shards, Mix mix) {
  auto* shared = new Shared<Table>();  // lives as long as the registered benchmark
  const std::string name = table_name + "/" + mix.name;
  benchmark::RegisterBenchmark(
      name.c_str(),
      [shared, shards, mix](benchmark::State& state) { run<Table>(state, shared, shards, mix); })
      ->Threads(1)
      ->Threads(2)
      ->Threads(4)
      ->Threads(8)
      ->UseRealTime();
}

// --- one page of `list`: SessionTable's by-id index ------------------------------------------

// Placed by id value as SessionTable's (SessionIdOrder): a page reads consecutive shards.
using OrderedIndex =
    jmedia::ShardedMap<std::string, Value, jmedia::SessionIdOrder, std::map<std::string, Value>>;

struct Ids {
  std::vector<std::string> ids;  // 16 hex digits, like media_session ids
  Ids() {
    Random random(42);
    char text[17];
    for (std::size_t i = 0; i < kPresent; ++i) {
      std::snprintf(text, sizeof text, "%016llx", static_cast<unsigned long long>(random.next()));
      ids.emplace_back(text);
    }
  }
};
const Ids& ids() {
  static const Ids i;
  return i;
}

void run_page(benchmark::State& state, Shared<OrderedIndex>* shared, std::size_t shards) {
  const Population& pop = population();
  const std::vector<std::string>& keys = ids().ids;
  if (state.thread_index() == 0) {
    shared->table = std::make_unique<OrderedIndex>(shards);
    for (std::size_t i = 0; i < keys.size(); ++i) shared->table->insert(keys[i], pop.sessions[i]);
  }
  Random random(static_cast<std::uint64_t>(state.thread_index()) + 7);
  std::size_t returned = 0;
  for (auto _ : state) {
    const std::string& cursor = keys[random.next() % keys.size()];
    auto page = shared->table->page(cursor, 10);
    returned += page.first.size();
    benchmark::DoNotOptimize(page);
  }
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()));
  state.counters["sessions_per_page"] =
      benchmark::Counter(static_cast<double>(returned), benchmark::Counter::kAvgIterations);
  if (state.thread_index() == 0) shared->table.reset();
}

void add_page(const std::string& table_name, std::size_t shards) {
  auto* shared = new Shared<OrderedIndex>();
  const std::string name = table_name + "/page10";
  benchmark::RegisterBenchmark(
      name.c_str(), [shared, shards](benchmark::State& state) { run_page(state, shared, shards); })
      ->Threads(1)
      ->Threads(2)
      ->UseRealTime();
}

// --- fixed work, for callgrind ------------------------------------------------------------
//
// table_bench --fixed=<table>/<mix>/<operations>: one table, one thread, a fixed number of
// operations, outside Google Benchmark. Only fixed_work() is meant to be counted
// (valgrind --tool=callgrind --toggle-collect='*fixed_work*'): instructions and cache misses
// per operation, the same on a busy machine as on an idle one.

template <typename Table>
__attribute__((noinline)) std::uint64_t fixed_work(Table& table, Mix mix, std::size_t operations) {
  const Population& pop = population();
  Random random(1);
  std::uint64_t hits = 0;
  for (std::size_t i = 0; i < operations; ++i) hits += one_operation(table, pop, random, mix);
  return hits;
}

template <typename Table>
int run_fixed(std::size_t shards, Mix mix, std::size_t operations) {
  Table table(shards);
  prefill(table, population());
  fixed_work(table, mix, operations / 10);  // warm the caches and the allocator
  const std::uint64_t hits = fixed_work(table, mix, operations);
  // Both calls are counted by callgrind: operations + operations / 10 in all.
  std::printf("{\"counted_operations\": %zu, \"hits\": %llu}\n", operations + operations / 10,
              static_cast<unsigned long long>(hits));
  return 0;
}

int fixed_mode(const std::string& spec) {
  const std::size_t a = spec.find('/'), b = spec.rfind('/');
  if (a == std::string::npos || a == b) return 2;
  const std::string table = spec.substr(0, a), mix_name = spec.substr(a + 1, b - a - 1);
  const std::size_t operations = std::stoul(spec.substr(b + 1));
  Mix mix{"90-5-5", 90, 5};
  if (mix_name == "50-25-25") {
    mix = Mix{"50-25-25", 50, 25};
  } else if (mix_name != "90-5-5") {
    return 2;
  }
  if (table == "sharded32") return run_fixed<Sharded>(32, mix, operations);
  if (table == "sharded1") return run_fixed<Sharded>(1, mix, operations);
  if (table == "shared_mutex") return run_fixed<SingleLock>(1, mix, operations);
  if (table == "tbb") return run_fixed<Tbb>(1, mix, operations);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]).rfind("--fixed=", 0) == 0) {
    const int rc = fixed_mode(std::string(argv[1]).substr(8));
    if (rc == 2) std::fprintf(stderr, "usage: table_bench --fixed=<table>/<mix>/<operations>\n");
    return rc;
  }
  population();
  for (Mix mix : {Mix{"90-5-5", 90, 5}, Mix{"50-25-25", 50, 25}}) {
    add<Sharded>("sharded32", 32, mix);
    add<Sharded>("sharded1", 1, mix);
    add<SingleLock>("shared_mutex", 1, mix);
    add<Tbb>("tbb", 1, mix);
  }
  add_page("sharded32", 32);
  add_page("sharded1", 1);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::AddCustomContext("keys_present", std::to_string(kPresent));
  benchmark::AddCustomContext("key_space", std::to_string(kKeySpace));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
