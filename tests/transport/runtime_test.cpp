#include <gtest/gtest.h>

#include <dlfcn.h>

#include <prometheus/counter.h>

#include <memory>
#include <string>

#include "runtime.h"

namespace jmedia::runtime {
namespace {

struct Flags : ::testing::Test {
  void TearDown() override {
    set_plugin_draining(false);
    set_core_accepting(true);
  }
};

TEST_F(Flags, DefaultToReadyAndToggle) {
  EXPECT_FALSE(plugin_draining());
  EXPECT_TRUE(core_accepting());
  set_plugin_draining(true);
  set_core_accepting(false);
  EXPECT_TRUE(plugin_draining());
  EXPECT_FALSE(core_accepting());
}

TEST(Runtime, RegistryIsOneInstance) {
  EXPECT_EQ(&registry(), &registry());
}

TEST(Runtime, LivesInModulesLib) {
  Dl_info info{};
  ASSERT_NE(dladdr(reinterpret_cast<void*>(&registry), &info), 0);
  const std::string path = info.dli_fname;
  EXPECT_NE(path.find("/modules/lib/libjmedia_runtime.so"), std::string::npos) << path;
}

class Constant final : public prometheus::Collectable {
 public:
  explicit Constant(std::string name) : name_(std::move(name)) {}
  std::vector<prometheus::MetricFamily> Collect() const override {
    prometheus::ClientMetric metric;
    metric.gauge.value = 1;
    return {{name_, "A test gauge.", prometheus::MetricType::Gauge, {metric}}};
  }

 private:
  std::string name_;
};

bool has_family(const std::vector<prometheus::MetricFamily>& families, const std::string& name) {
  for (const auto& family : families) {
    if (family.name == name) return true;
  }
  return false;
}

TEST(Runtime, CollectsTheRegistryAndLiveCollectables) {
  auto& family = prometheus::BuildCounter()
                     .Name("runtime_test_total")
                     .Help("A counter in the shared registry.")
                     .Register(registry());
  family.Add({}).Increment();
  auto kept = std::make_shared<Constant>("runtime_test_kept");
  auto removed = std::make_shared<Constant>("runtime_test_removed");
  auto dropped = std::make_shared<Constant>("runtime_test_dropped");
  add_collectable(kept);
  add_collectable(removed);
  add_collectable(dropped);

  auto families = collect();
  EXPECT_TRUE(has_family(families, "runtime_test_total"));
  EXPECT_TRUE(has_family(families, "runtime_test_kept"));
  EXPECT_TRUE(has_family(families, "runtime_test_removed"));
  EXPECT_TRUE(has_family(families, "runtime_test_dropped"));

  remove_collectable(removed.get());
  dropped.reset();  // its owner went away without removing it: only a weak reference was kept
  families = collect();
  EXPECT_TRUE(has_family(families, "runtime_test_kept"));
  EXPECT_FALSE(has_family(families, "runtime_test_removed"));
  EXPECT_FALSE(has_family(families, "runtime_test_dropped"));

  remove_collectable(kept.get());
  registry().Remove(family);
  families = collect();
  EXPECT_FALSE(has_family(families, "runtime_test_kept"));
  EXPECT_FALSE(has_family(families, "runtime_test_total"));
}

struct Library {
  void* handle;
  explicit Library(const char* path) : handle(dlopen(path, RTLD_NOW | RTLD_LOCAL)) {}
  ~Library() {
    if (handle != nullptr) dlclose(handle);
  }
  template <typename F>
  F* get(const char* name) {
    return reinterpret_cast<F*>(dlsym(handle, name));
  }
};

struct SharedAcrossModules : Flags {};

// Two separately linked modules (like our plugin and transport inside janus) see one registry
// and one set of flags: the reason the runtime is a shared library.
TEST_F(SharedAcrossModules, TwoDlopenedModulesShareTheRuntime) {
  Library a(JMEDIA_PROBE_A);
  Library b(JMEDIA_PROBE_B);
  ASSERT_NE(a.handle, nullptr) << dlerror();
  ASSERT_NE(b.handle, nullptr) << dlerror();
  auto* registry_a = a.get<void*()>("jmedia_probe_registry");
  auto* registry_b = b.get<void*()>("jmedia_probe_registry");
  auto* set_draining_a = a.get<void(bool)>("jmedia_probe_set_draining");
  auto* draining_b = b.get<bool()>("jmedia_probe_draining");
  ASSERT_TRUE(registry_a && registry_b && set_draining_a && draining_b);

  EXPECT_EQ(registry_a(), registry_b());
  EXPECT_EQ(registry_a(), static_cast<void*>(&registry()));
  EXPECT_FALSE(draining_b());
  set_draining_a(true);
  EXPECT_TRUE(draining_b());
  EXPECT_TRUE(plugin_draining());
}

}  // namespace
}  // namespace jmedia::runtime
