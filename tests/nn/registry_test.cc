// Every registered layer type must have a harness case (UMBRA_COVERS_LAYER in its test file),
// so a layer cannot be added without its gradient check. Unknown types list the known ones.
#include "harness/layer_check.h"

namespace umbra {
namespace {

TEST(LayerRegistry, EveryLayerHasAHarnessCase) {
  const auto names = nn::LayerRegistry<cpu, double>::Get().Names();
  EXPECT_FALSE(names.empty());
  for (const auto& n : names)
    EXPECT_TRUE(test::CoveredLayers().count(n)) << "layer '" << n << "' has no harness case";
  EXPECT_EQ((nn::LayerRegistry<cpu, float>::Get().Names()), names)
      << "float and double registrations differ";
}

TEST(LayerRegistry, UnknownTypeListsKnownOnes) {
  const std::string m = test::ErrorOf([] { nn::LayerRegistry<cpu>::Get().Create("fulc"); });
  EXPECT_NE(m.find("unknown layer type 'fulc'"), std::string::npos) << m;
  EXPECT_NE(m.find("fullc"), std::string::npos) << m;
}

}  // namespace
}  // namespace umbra
