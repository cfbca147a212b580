// The trainer: weights + updater state + update counter are enough to resume exactly (what
// model files save), and update_period averages gradients over its steps.
#include "harness/layer_check.h"
#include "harness/tiny_net.h"
#include "umbra/nn/trainer.h"

namespace umbra {
namespace {

using Batch = test::TinyBatch;

std::map<std::string, TensorContainer<cpu, 2>> Snapshot(nn::Trainer<cpu>& t) {
  std::map<std::string, TensorContainer<cpu, 2>> s;
  t.net().VisitWeights([&](const std::string& n, Tensor<cpu, 2> w, Tensor<cpu, 2>) { s.emplace(n, TensorContainer<cpu, 2>(w)); });
  t.VisitUpdaterState([&](const std::string& n, Tensor<cpu, 2> m) { s.emplace(n, TensorContainer<cpu, 2>(m)); });
  return s;
}
void Restore(nn::Trainer<cpu>& t, const std::map<std::string, TensorContainer<cpu, 2>>& s) {
  t.net().VisitWeights([&](const std::string& n, Tensor<cpu, 2> w, Tensor<cpu, 2>) { Copy(w, s.at(n).view()); });
  t.VisitUpdaterState([&](const std::string& n, Tensor<cpu, 2> m) { Copy(m, s.at(n).view()); });
}

TEST(Trainer, ResumeFromWeightsStateAndCounterIsExact) {
  for (const char* rule : {"sgd", "nag", "adam"}) {
    SCOPED_TRACE(rule);
    nn::UpdaterSettings us;
    us.Set("updater", rule);
    us.Set("lr", "0.1");
    us.Set("lr:schedule", "expdecay");
    us.Set("lr:step", "2");
    nn::Trainer<cpu> a(test::TinySpec(), us);
    for (uint64_t i = 0; i < 3; ++i) a.Step(Batch(i).x.view(), Batch(i).y.view());
    const auto snap = Snapshot(a);
    const long counter = a.updates();
    for (uint64_t i = 3; i < 6; ++i) a.Step(Batch(i).x.view(), Batch(i).y.view());

    nn::NetSpec other = test::TinySpec();
    other.seed = 99;  // different initial weights: everything must come from the snapshot
    nn::Trainer<cpu> b(other, us);
    Restore(b, snap);
    b.set_updates(counter);
    for (uint64_t i = 3; i < 6; ++i) b.Step(Batch(i).x.view(), Batch(i).y.view());
    const auto wa = Snapshot(a), wb = Snapshot(b);
    for (auto& [n, t] : wa) EXPECT_TRUE(test::AllNear(t.view(), wb.at(n).view(), 0)) << n;
  }
}

TEST(Trainer, UpdatePeriodAveragesGradients) {
  // Two steps of period 2 on the same batch move the weights like one step of period 1.
  nn::UpdaterSettings us;
  us.Set("lr", "0.1");
  us.Set("momentum", "0");
  nn::Trainer<cpu> one(test::TinySpec(), us), two(test::TinySpec(), us, 2);
  Batch b(7);
  one.Step(b.x.view(), b.y.view());
  two.Step(b.x.view(), b.y.view());
  EXPECT_EQ(two.updates(), 0);
  two.Step(b.x.view(), b.y.view());
  EXPECT_EQ(two.updates(), 1);
  const auto w1 = Snapshot(one), w2 = Snapshot(two);
  for (auto& [n, t] : w1)
    if (n.find(':') == std::string::npos) EXPECT_TRUE(test::AllNear(t.view(), w2.at(n).view(), 1e-6)) << n;
  EXPECT_NE(test::ErrorOf([&] { nn::Trainer<cpu> bad(test::TinySpec(), us, 0); }).find("update_period"), std::string::npos);
}

// A key scoped to a layer, tag or weight the net lacks changed nothing, unsaid; keys scoped to
// what it has (fc1, bias, fc2.wmat) are fine. Said at the first step.
TEST(Trainer, SettingsScopedToNothingInTheNetAreAnError) {
  Batch b(7);
  for (const char* key : {"fc9:lr", "t:lr", "fc1:wmatt:lr", "wmatt:lr"}) {
    SCOPED_TRACE(key);
    nn::UpdaterSettings us;
    ASSERT_TRUE(us.Set(key, "0"));
    nn::Trainer<cpu> t(test::TinySpec(), us);
    const std::string err = test::ErrorOf([&] { t.Step(b.x.view(), b.y.view()); });
    EXPECT_NE(err.find("the net has no layer with weights, weight tag or weight of that name; its weights: "),
              std::string::npos) << err;
    EXPECT_NE(err.find("fc2.bias"), std::string::npos) << err;
  }
  nn::UpdaterSettings us;
  for (const char* key : {"fc1:lr", "bias:lr", "fc2:wmat:lr"}) ASSERT_TRUE(us.Set(key, "0"));
  nn::Trainer<cpu> t(test::TinySpec(), us);
  EXPECT_NO_THROW(t.Step(b.x.view(), b.y.view()));
}

}  // namespace
}  // namespace umbra

namespace umbra {
namespace {
// Memory for the updater's state that the machine has not: the error names the weight and the
// state ("out of host memory: asked for 3136000000 bytes" named neither). The machine's memory
// is played by counting fake live bytes, so that the net fits and its momentum does not.
TEST(Trainer, OutOfMemoryForTheUpdaterStateNamesTheWeight) {
  const nn::NetSpec spec = test::TinySpec(500000);  // fc1.wmat: 12 MB
  const size_t before = detail::HostTensorBytes().load();
  size_t net_bytes = 0;
  {
    nn::Net<cpu> net(spec);
    net_bytes = detail::HostTensorBytes().load() - before;
  }
  const size_t total = detail::HostMemoryBytes();
  ASSERT_GT(total, before + net_bytes + (size_t(4) << 20));
  const size_t fake = total - before - net_bytes - (size_t(1) << 20);
  detail::HostTensorBytes() += fake;
  const std::string err = test::ErrorOf([&] { nn::Trainer<cpu> t(spec, nn::UpdaterSettings{}); });
  detail::HostTensorBytes() -= fake;
  EXPECT_HAS(err, "the updater's state of weight '");
  EXPECT_HAS(err, "' (momentum, ");
  EXPECT_HAS(err, " GiB): out of host memory");
}
}  // namespace
}  // namespace umbra
