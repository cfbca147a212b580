// The cxxnet config parser and netconfig: every syntax form cxxnet's configs use, on small
// texts, and every error with file:line (shape errors: with the layer's name). Whole networks
// from real config files are built in netbuild_test.cc.

#include "harness/tensor_util.h"
#include "umbra/config/netconfig.h"
#include "umbra/nn/updater.h"
#include "umbra/parse.h"

namespace umbra {
namespace {
using config::ParseConfig;

TEST(Config, SyntaxForms) {
  const auto e = ParseConfig(
      "# comment\n"
      "a = 1\n"
      "b=2 c =3   # trailing comment\n"
      "path = \"./data/x y.gz\"\n"
      "netconfig=start\n",
      "t.conf");
  ASSERT_EQ(e.size(), 5u);
  EXPECT_EQ(e[0].key, "a");
  EXPECT_EQ(e[1].value, "2");
  EXPECT_EQ(e[2].key, "c");
  EXPECT_EQ(e[2].line, 3);
  EXPECT_EQ(e[3].value, "./data/x y.gz");
  EXPECT_EQ(e[4].Where(), "t.conf:5");
}

// A UTF-8 byte-order mark at the start is skipped: the first key is the key written, and lines
// count as they do without it.
TEST(Config, ByteOrderMarkIsSkipped) {
  const auto e = ParseConfig("\xEF\xBB\xBFnum_round = 1\ndata = train\n", "bom.conf");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].key, "num_round");
  EXPECT_EQ(e[1].line, 2);
}

// One past the start (two files, each with one, joined) is said where it is: it made its key
// unknown, shown unchanged since the mark is invisible.
TEST(Config, ByteOrderMarkPastTheStartIsAnError) {
  try {
    ParseConfig("\xEF\xBB\xBFnum_round = 1\n\xEF\xBB\xBF" "eta = 0.1\n", "bom2.conf");
    FAIL() << "no error";
  } catch (const Error& err) {
    EXPECT_NE(std::string(err.message()).find("bom2.conf:2: a UTF-8 byte-order mark (the invisible U+FEFF) in 'eta', "
                                              "past the start of the file"), std::string::npos) << err.message();
  }
  // Alone on its line (a joined file that starts with a comment), or in a quoted name.
  for (const char* text : {"a = 1\n\xEF\xBB\xBF# notes\n", "a = 1\n\"\xEF\xBB\xBF" "eta\" = 1\n"}) {
    try {
      ParseConfig(text, "bom4.conf");
      ADD_FAILURE() << "no error: " << text;
    } catch (const Error& err) {
      EXPECT_NE(std::string(err.message()).find("bom4.conf:2: a UTF-8 byte-order mark (the invisible U+FEFF)"),
                std::string::npos) << err.message();
      EXPECT_EQ(std::string(err.message()).find("''"), std::string::npos) << err.message();
    }
  }
  // In a comment or a quoted value it is text.
  EXPECT_EQ(ParseConfig("# a \xEF\xBB\xBF note\nname = \"a\xEF\xBB\xBF" "b\"\n", "bom3.conf").size(), 1u);
}

// Lines ending in a lone CR (classic Mac OS) are lines: the first comment ran to the end of the
// file and dropped every key after it, and each error named line 1. CRLF is read as before.
TEST(Config, LoneCarriageReturnsEndLines) {
  for (const char* text : {"a = 1\r# note\rb = 2\r", "a = 1\r\n# note\r\nb = 2\r\n"}) {
    const auto e = ParseConfig(text, "cr.conf");
    ASSERT_EQ(e.size(), 2u) << text;
    EXPECT_EQ(e[1].key, "b");
    EXPECT_EQ(e[1].value, "2");
    EXPECT_EQ(e[1].line, 3);
  }
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\rb\r", "cr.conf"); }).find("cr.conf:2: expected '=' after 'b'"),
            std::string::npos);
  // A CR in a file of LFs ends a line too, as in cxxnet's reader: the comment ran on and swallowed
  // b = 2. CRs not before an LF are a line end each.
  const auto mixed = ParseConfig("a = 1\n# old note\rb = 2\r\rc = 3\n", "mixed.conf");
  ASSERT_EQ(mixed.size(), 3u);
  EXPECT_EQ(mixed[1].key, "b");
  EXPECT_EQ(mixed[1].line, 3);
  EXPECT_EQ(mixed[2].line, 5);
  // CR CR LF (CRLF converted twice) is one line end, as before: line 3 is line 3.
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\r\r\nb = 2\r\r\nc\r\r\n", "crcr.conf"); })
                .find("crcr.conf:3: expected '=' after 'c'"),
            std::string::npos);
}

// cxxnet's quoting: a backslash in quotes takes the next character as it is, '...' may run over
// lines (the lines after it count on), "..." ends on its line. Escapes were kept as written: a
// model_dir = "m\\x" trained into a directory named m\\x, and "a\"b" was an error.
TEST(Config, QuotesAsCxxnetReadThem) {
  const auto e = ParseConfig("a = \"x\\\"y\"\nb = \"c:\\\\d\" c = \"a\\b\"\n"
                             "s = 'one\ntwo # not a comment'\nn = 'it\\'s'\nlast = 1\n",
                             "q.conf");
  ASSERT_EQ(e.size(), 6u);
  EXPECT_EQ(e[0].value, "x\"y");
  EXPECT_EQ(e[1].value, "c:\\d");
  EXPECT_EQ(e[2].value, "ab");
  EXPECT_EQ(e[3].value, "one\ntwo # not a comment");
  EXPECT_EQ(e[3].line, 3);
  EXPECT_EQ(e[4].value, "it's");
  EXPECT_EQ(e[4].line, 5);
  EXPECT_EQ(e[5].line, 6);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\nb = 'open\n\nc = 2\n", "q.conf"); })
                .find("q.conf:2: unterminated quoted string ('...' runs to its closing ')"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = \"ends\\\"\n", "q.conf"); })
                .find("q.conf:1: unterminated quoted string (\"...\" ends on its line)"),
            std::string::npos);
}

// A NUL byte ended a value (nhidden = 16<NUL>zz was 16); UTF-16 text is said to be UTF-16.
TEST(Config, NulBytesAndUtf16AreRefused) {
  EXPECT_NE(test::ErrorOf([] { ParseConfig(std::string("a = 1\nb = 16\0zz\n", 16), "z.conf"); })
                .find("z.conf:2: a NUL byte (a config is text; is this a binary file?)"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig(std::string("\xFF\xFE" "a\0 \0=\0", 8), "u16.conf"); })
                .find("u16.conf: the file is UTF-16 text"),
            std::string::npos);
  EXPECT_FALSE(ParseInteger(std::string("16\0zz", 5)).has_value());
  EXPECT_FALSE(ParseReal(std::string("1.5\0", 4)).has_value());
  EXPECT_EQ(ParseInteger("16"), 16);
  EXPECT_EQ(ParseReal(" 1.5"), 1.5);
}

// A byte that is no UTF-8 (a Latin-1 é in a comment or a layer name) let a run train a round
// and then fail to save it; it is named with its line. UTF-8, é and € included, reads.
TEST(Config, BytesThatAreNotUtf8AreRefused) {
  for (const std::string& bad : {std::string("# caf\xE9\n"), std::string("x = \xC0\xAF\n"),
                                 std::string("x = \xED\xA0\x80\n"), std::string("x = a\xE2\x82")}) {
    SCOPED_TRACE(bad);
    const std::string err = test::ErrorOf([&] { ParseConfig("a = 1\n" + bad, "l1.conf"); });
    EXPECT_NE(err.find("l1.conf:2: byte 0x"), std::string::npos) << err;
    EXPECT_NE(err.find("is not UTF-8"), std::string::npos) << err;
  }
  const auto e = ParseConfig("name = caf\xC3\xA9  # \xE2\x82\xAC \xF0\x9F\x98\x80\n", "u8.conf");
  ASSERT_EQ(e.size(), 1u);
  EXPECT_EQ(e[0].value, "caf\xC3\xA9");
}

TEST(Config, EverySpaceCharacterSeparates) {
  // A vertical tab or form feed once made the tokenizer loop forever (found by config_fuzz).
  const auto e = ParseConfig("a\v=\f1\vb = 2\n", "t.conf");
  ASSERT_EQ(e.size(), 2u);
  EXPECT_EQ(e[0].value, "1");
  EXPECT_EQ(e[1].key, "b");
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\n'' = 2\n", "t.conf"); }).find("t.conf:2: an empty name"),
            std::string::npos);
}

TEST(Config, ErrorsNameFileAndLine) {
  // Blanks that split a value or a name: said so, the line joined (it was "expected '=' after '1,'").
  EXPECT_HAS(test::ErrorOf([] { ParseConfig("a = 1\ninput_shape = 1, 1, 784\n", "s.conf"); }),
             "s.conf:2: the value of input_shape is followed by '1,' on its line: a value holds no blanks; write "
             "input_shape = 1,1,784 (or quote it)");
  EXPECT_HAS(test::ErrorOf([] { ParseConfig("layer[ 1 -> 2 ] = relu\n", "n.conf"); }),
             "n.conf:1: the name 'layer[' is followed by '1' before its '=': a name holds no blanks; write "
             "layer[1->2] = ...");
  EXPECT_HAS(test::ErrorOf([] { ParseConfig("eta 0.1\n", "e.conf"); }), "e.conf:1: expected '=' after 'eta'");
  // With a pair to come on the line, the stray words may be the value's or the next name's.
  EXPECT_HAS(test::ErrorOf([] { ParseConfig("eta = 0.1 num round = 3\n", "p.conf"); }),
             "p.conf:1: 'num' stands between eta = 0.1 and the next '=' on its line: a value or a name holds no "
             "blanks");
  EXPECT_EQ(ParseConfig("eta = 0.1 momentum = 0.9\n", "two.conf").size(), 2u);  // two pairs on a line
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\nb\n", "x.conf"); }).find("x.conf:2: expected '=' after 'b'"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = \"open\n", "x.conf"); }).find("x.conf:1: unterminated"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("= 3\n", "x.conf"); }).find("x.conf:1"), std::string::npos);
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a =\n", "x.conf"); }).find("expected a value"), std::string::npos);
  // A value left out mid-file names its own line and key (the next line's key was its value).
  EXPECT_NE(test::ErrorOf([] { ParseConfig("a = 1\neta =\nmomentum = 0.9\n", "x.conf"); })
                .find("x.conf:2: expected a value after 'eta =' on its line"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { config::ParseConfigFile("/tmp"); }).find("cannot open config file '/tmp': not a regular file"),
            std::string::npos);
  EXPECT_NE(test::ErrorOf([] { config::ParseConfigFile("/no/such.conf"); }).find("/no/such.conf"),
            std::string::npos);
}

TEST(NetConfig, LayerFormsAndErrors) {
  const char* text =
      "input_shape = 1,1,8\nbatch_size = 4\neta = 0.2\n"
      "netconfig = start\n"
      "layer[0->1] = fullc:fc1\n  nhidden = 6\n  lr = 0.5\n"
      "layer[+0] = relu\n"
      "layer[+1:h2] = fullc:fc2\n  nhidden = 3\n"
      "layer[h2->h2] = softmax\n"
      "netconfig = end\n";
  const auto nc = config::NetFromConfig(ParseConfig(text, "n.conf"));
  EXPECT_EQ(nc.spec.input_shape, Shape4(4, 1, 1, 8));
  ASSERT_EQ(nc.spec.layers.size(), 4u);
  EXPECT_EQ(nc.spec.layers[0].in, std::vector<std::string>{"in"});
  EXPECT_EQ(nc.spec.layers[1].out, std::vector<std::string>{"1"});  // in place
  EXPECT_EQ(nc.spec.layers[2].out, std::vector<std::string>{"h2"});
  EXPECT_EQ(nc.spec.layers[3].out, std::vector<std::string>{"h2'"});  // softmax cannot run in place
  EXPECT_EQ(nc.updater, (std::vector<std::pair<std::string, std::string>>{{"lr", "0.2"}, {"fc1:lr", "0.5"}}));
  nn::Net<cpu> net(nc.spec);
  EXPECT_EQ(net.Output().shape, Shape4(4, 1, 1, 3));
  // The input rewritten by a layer that cannot run in place: later layers read its output (they
  // read the input itself, and the net was refused with a node name the config never wrote).
  const auto on_input = config::NetFromConfig(ParseConfig(
      "input_shape = 1,6,6\nnetconfig = start\nlayer[0->0] = conv:c\n  nchannel = 2\n  kernel_size = 3\n"
      "layer[0->0] = flatten\nlayer[0->1] = fullc:f\n  nhidden = 3\nnetconfig = end\n",
      "in.conf"));
  ASSERT_EQ(on_input.spec.layers.size(), 3u);
  EXPECT_EQ(on_input.spec.layers[0].out, std::vector<std::string>{"in'"});
  EXPECT_EQ(on_input.spec.layers[1].in, std::vector<std::string>{"in'"});
  EXPECT_EQ(on_input.spec.layers[2].in, on_input.spec.layers[1].out);
  nn::Net<cpu> net_on_input(on_input.spec);
  EXPECT_EQ(net_on_input.Output().shape, Shape4(100, 1, 1, 3));
  // The input is 0 or in: either spelling, before and after the rewrite, means the same node.
  const auto spelt = config::NetFromConfig(ParseConfig(
      "input_shape = 1,6,6\nnetconfig = start\nlayer[in->in] = conv:c\n  nchannel = 2\n  kernel_size = 3\n"
      "layer[0->1] = flatten\nnetconfig = end\n",
      "in.conf"));
  EXPECT_EQ(spelt.spec.layers[1].in, std::vector<std::string>{"in'"});

  auto err = [](const std::string& t) {
    return test::ErrorOf([&] { config::NetFromConfig(ParseConfig(t, "e.conf")); });
  };
  EXPECT_NE(err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = fullc\n  nhiden = 3\nnetconfig = end\n")
                .find("e.conf:4: unknown key 'nhiden' for layer 'fullc_0' (fullc); did you mean 'nhidden'?"),
            std::string::npos);
  // An updater key in a layer is suggested too; nothing where no key is near.
  EXPECT_HAS(err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = fullc\n  nhidden = 3\n  momentun = 0.9\n"
                 "netconfig = end\n"),
             "e.conf:5: unknown key 'momentun' for layer 'fullc_0' (fullc); did you mean 'momentum'?");
  const std::string far =
      err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = fullc\n  nhidden = 3\n  colour = 2\nnetconfig = end\n");
  EXPECT_HAS(far, "e.conf:5: unknown key 'colour' for layer");
  EXPECT_EQ(far.find("did you mean"), std::string::npos) << far;
  EXPECT_HAS(err("netconfig = start\nlayer[0->1] = fulc\nnetconfig = end\n"),
             "e.conf:2: unknown layer type 'fulc'; known types: ");
  EXPECT_HAS(err("netconfig = start\nlayer[0->1] = fulc\nnetconfig = end\n"), "xelu; did you mean 'fullc'? (and relu_max_pooling: cxxnet's max_pooling with a relu)");
  EXPECT_NE(err("input_shape = 1,1,8\nnetconfig = start\nlayer[0->1] = relu\n").find("e.conf:2: netconfig = start is never closed"),
            std::string::npos);
  // Keys before the section's first layer are globals (cxxnet's rule): a section of keys alone is empty.
  EXPECT_HAS(err("netconfig = start\n nhidden = 3\nnetconfig = end\n"), "e.conf:1: the netconfig section (to e.conf:3) has no layer");
  EXPECT_NE(err("netconfig = start\nlayer[0] = relu\nnetconfig = end\n").find("e.conf:2"), std::string::npos);
  EXPECT_NE(err("input_shape = 1,8\n").find("e.conf:1: input_shape must be c,h,w"), std::string::npos);
  EXPECT_HAS(err("input_shape = 1,8,2147483648\n"),
             "e.conf:1: input_shape = 1,8,2147483648: each of c, h and w must be at most 999999999");
  // An input_shape only inside an iterator block is the iterator's (cxxnet's net read it too).
  EXPECT_HAS(err("data = train\niter = csv\n  input_shape = 1,1,4\niter = end\nnetconfig = start\n"
                 "layer[0->1] = fullc\n  nhidden = 3\nnetconfig = end\n"),
             "e.conf:3: the config sets no input_shape (c,h,w) outside its iterator blocks; this one is the data "
             "block's iterator's alone (cxxnet's net read it too): write input_shape = 1,1,4 outside the blocks");
}

// Builds the net of a config text (batch 2); `*out` receives the NetConfig.
index_t Params(const std::string& text, Shape<4>* out_shape = nullptr) {
  auto nc = config::NetFromConfig(ParseConfig(text, "n.conf"), 2);
  nn::Net<cpu> net(nc.spec);
  if (out_shape) *out_shape = net.Output().shape;
  return net.NumParams();
}
std::string NetError(const std::string& text) {
  return test::ErrorOf([&] { Params(text); });
}
bool Has(const std::string& msg, const std::string& part) {
  if (msg.find(part) != std::string::npos) return true;
  ADD_FAILURE() << "'" << part << "' not in: " << msg;
  return false;
}

// cxxnet's share[name]: the layer applied again with the same weights, counted once.
TEST(NetConfig, ShareLayers) {
  const std::string text =
      "input_shape = 1,1,4\nnetconfig = start\n"
      "layer[0->1] = fullc:fc1\n  nhidden = 4\n"
      "layer[1->2] = share[fc1]\n"
      "layer[2->3] = share[fc1]:again\n"
      "layer[3->3] = softmax\nnetconfig = end\n";
  const auto nc = config::NetFromConfig(ParseConfig(text, "s.conf"));
  ASSERT_EQ(nc.spec.layers.size(), 4u);
  EXPECT_EQ(nc.spec.layers[1].type, "share");
  EXPECT_EQ(nc.spec.layers[1].params, (std::vector<std::pair<std::string, std::string>>{{"source", "fc1"}}));
  EXPECT_EQ(nc.spec.layers[2].name, "again");
  Shape<4> out;
  EXPECT_EQ(Params(text, &out), 4 * 4 + 4);
  EXPECT_EQ(out, Shape4(2, 1, 1, 4));

  const std::string head = "input_shape = 1,1,4\nnetconfig = start\nlayer[0->1] = fullc:fc1\n  nhidden = 4\n";
  Has(NetError(head + "layer[1->2] = share[fc2]\nnetconfig = end\n"), "n.conf:5: share[fc2]: no earlier layer is named 'fc2'");
  Has(NetError(head + "layer[1->2] = share\nnetconfig = end\n"), "n.conf:5: a share layer names the layer");
  Has(NetError(head + "layer[1->2] = share[fc1]\n  nhidden = 3\nnetconfig = end\n"),
      "n.conf:6: key 'nhidden' on share layer 'share_1': a share layer uses the keys of the layer it shares ('fc1')");
}

// Outside netconfig: updater keys (with wmat:/bias:/lr: prefixes) go to the updater, keys a layer
// declares become defaults of every layer, iterator blocks and the trainer's keys
// (metric[label,node], dev, task...) are skipped without complaint.
TEST(NetConfig, GlobalKeys) {
  const std::string text =
      "data = train\niter = mnist\n  nhidden = 7\n  shuffle = 1\niter = threadbuffer\niter = end\n"
      "pred = out.txt\niter = imgbin\n  image_bin = x.bin\niter = end\n"
      "metric[label,fc1] = error\nmetric[label] = rec@1\ndev = gpu:0-3\ntask = pred_raw\n"
      "wmat:lr = 0.1\nbias:wd = 0\nlr:schedule = expdecay\neta = 0.5\n"
      "random_type = xavier\ninit_sigma = 0.5\ndev = cpu\n"
      "netconfig = start\nlayer[0->1] = fullc:fc1\n  nhidden = 3\nnetconfig = end\n"
      "input_shape = 1,1,4\nbatch_size = 8\n";
  const auto nc = config::NetFromConfig(ParseConfig(text, "g.conf"));
  using KV = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(nc.updater, (KV{{"wmat:lr", "0.1"}, {"bias:wd", "0"}, {"lr:schedule", "expdecay"}, {"lr", "0.5"}}));
  EXPECT_EQ(nc.spec.defaults, (KV{{"random_type", "xavier"}, {"init_sigma", "0.5"}}));
  EXPECT_EQ(nc.spec.input_shape, Shape4(8, 1, 1, 4));  // globals after netconfig count too
  Has(test::ErrorOf([] { config::NetFromConfig(ParseConfig("init_sigma = -1\n", "g.conf")); }), "g.conf:1: ");
  // batch_size read as the job reads it: "+50" is 50 (it was "outside [1, 999999999]").
  EXPECT_EQ(config::NetFromConfig(ParseConfig("netconfig = start\nlayer[0->1] = fullc:fc1\n  nhidden = 3\n"
                                              "netconfig = end\ninput_shape = 1,1,4\nbatch_size = +50\n", "g.conf"))
                .spec.input_shape[0],
            50);
  Has(test::ErrorOf([] { config::NetFromConfig(ParseConfig("batch_size = 5x\n", "g.conf")); }),
      "g.conf:1: batch_size = '5x' is not an integer");
  // eta is lr's other name: an error names the key as written (it named lr), and a weight's
  // own rate takes it as cxxnet did (wmat:eta).
  Has(test::ErrorOf([] { config::NetFromConfig(ParseConfig("eta = abc\n", "g.conf")); }),
      "g.conf:1: bad value 'abc' for key 'eta': expected a finite number");
  Has(test::ErrorOf([] { config::NetFromConfig(ParseConfig("eta = -1\n", "g.conf")); }),
      "g.conf:1: value -1 for key 'eta' must be >= 0");
  const auto eta = config::NetFromConfig(ParseConfig(
      "netconfig = start\nlayer[0->1] = fullc:fc1\n  nhidden = 3\n  wmat:eta = 0.25\nnetconfig = end\n"
      "input_shape = 1,1,4\n", "g.conf"));
  nn::UpdaterSettings us;
  for (const auto& [k, v] : eta.updater) us.Set(k, v);
  EXPECT_EQ(us.For("fc1.wmat").lr, 0.25f);
  EXPECT_EQ(us.For("fc1.bias").lr, nn::UpdaterParam{}.lr);
  // Keys after netconfig = start and before its first layer are globals, as in cxxnet: they
  // were an error ("before the first layer of netconfig").
  const auto early = config::NetFromConfig(ParseConfig(
      "netconfig = start\n  init_sigma = 0.5\n  eta = 0.2\nlayer[0->1] = fullc:fc1\n  nhidden = 3\n"
      "netconfig = end\ninput_shape = 1,1,4\n", "g.conf"));
  EXPECT_EQ(early.spec.defaults, (KV{{"init_sigma", "0.5"}}));
  EXPECT_EQ(early.updater, (KV{{"lr", "0.2"}}));
  Has(test::ErrorOf([] {
        config::NetFromConfig(ParseConfig("data = train\niter = mnist\nnetconfig = start\n", "g.conf"));
      }),
      "g.conf:3: netconfig inside the iterator block opened at g.conf:1 (missing 'iter = end')");
}

// Keys of a layer: declared ones (ngroup, random_type, ...), repeated ones (the last wins),
// per-layer updater keys; bad values and unsupported forms name file:line.
TEST(NetConfig, LayerKeys) {
  const std::string text =
      "input_shape = 4,5,5\nnetconfig = start\n"
      "layer[0->1] = conv:cv\n  nchannel = 6\n  kernel_size = 3\n  ngroup = 2\n  random_type = xavier\n"
      "  no_bias = 1\n  lr = 0.3\n  lr:schedule = constant\n"
      "layer[1->2] = flatten\n"
      "layer[2->3] = fullc:fc\n  nhidden = 3\n  nhidden = 5\n"
      "netconfig = end\n";
  const auto nc = config::NetFromConfig(ParseConfig(text, "k.conf"));
  EXPECT_EQ(nc.updater, (std::vector<std::pair<std::string, std::string>>{{"cv:lr", "0.3"},
                                                                          {"cv:lr:schedule", "constant"}}));
  Shape<4> out;
  // conv: 6 outputs x (4 / 2 groups) inputs x 3x3, no bias; 3x3 output; fullc 6*3*3 -> 5.
  EXPECT_EQ(Params(text, &out), 6 * 2 * 9 + (6 * 9 * 5 + 5));
  EXPECT_EQ(out, Shape4(2, 1, 1, 5));

  const std::string head = "input_shape = 1,1,4\nnetconfig = start\nlayer[0->1] = fullc:fc1\n  nhidden = 4\n";
  // wmat:lr inside a layer scopes one weight of that layer (updater_test checks the resolution).
  EXPECT_EQ(config::NetFromConfig(config::ParseConfig(head + "  wmat:lr = 0.1\nnetconfig = end\n", "n.conf")).updater,
            (std::vector<std::pair<std::string, std::string>>{{"fc1:wmat:lr", "0.1"}}));
  Has(NetError(head + "  nhidden = -2\nnetconfig = end\n"), "n.conf:5: ");
  Has(NetError(head + "  nhidden = -2\nnetconfig = end\n"), "nhidden");
  Has(NetError(head + "layer[1->1] = dropout\n  threshold = 2\nnetconfig = end\n"), "n.conf:6: ");
  // target = label is cxxnet's default field, what a loss reads here: taken.
  EXPECT_EQ(config::NetFromConfig(config::ParseConfig(head + "layer[1->1] = softmax\n  target = label\nnetconfig = end\n",
                                                      "n.conf")).spec.layers[1].params.size(), 0u);
  Has(NetError(head + "layer[1->1] = softmax\n  target = class\nnetconfig = end\n"),
      "n.conf:6: target = class (layer 'softmax_1'): cxxnet's named label fields (label_vec, a loss's target) are not "
      "in umbra");
  // updater in a layer's block: that layer's updater, with a note (cxxnet ignored it there).
  testing::internal::CaptureStderr();
  EXPECT_EQ(config::NetFromConfig(config::ParseConfig(head + "  updater = adam\nnetconfig = end\n", "n.conf")).updater,
            (std::vector<std::pair<std::string, std::string>>{{"fc1:updater", "adam"}}));
  Has(testing::internal::GetCapturedStderr(),
      "note: n.conf:5: updater = adam in layer 'fc1''s block gives its weights that updater (cxxnet read updater "
      "only outside netconfig");
}

// layer[+1] chains, 1 -> 4 split, several pooling scales, 4-input concat (kaiming.conf's form),
// ch_concat (Inception-BN's), dotted node names, extra data nodes.
TEST(NetConfig, GraphForms) {
  const std::string text =
      "input_shape = 2,6,6\nnetconfig = start\n"
      "layer[+1] = relu\n"
      "layer[+1:a] = conv\n  nchannel = 3\n  kernel_size = 1\n"
      "layer[a->b.1,b.2,b.3,b.4] = split\n"
      "layer[b.1->p1] = max_pooling\n  kernel_size = 1\n"
      "layer[b.2->p2] = max_pooling\n  kernel_size = 2\n  stride = 2\n"
      "layer[b.3->p3] = max_pooling\n  kernel_size = 3\n  stride = 3\n"
      "layer[b.4->p4] = max_pooling\n  kernel_size = 6\n  stride = 6\n"
      "layer[p1->f1] = flatten\nlayer[p2->f2] = flatten\nlayer[p3->f3] = flatten\nlayer[p4->f4] = flatten\n"
      "layer[f1,f2,f3,f4->c] = concat\n"
      "layer[+1] = fullc\n  nhidden = 2\n"
      "layer[+0] = softmax\n"
      "netconfig = end\n";
  Shape<4> out;
  // conv 2 -> 3 channels 1x1 with bias; concat of 3 x (36 + 9 + 4 + 1) = 150 -> fullc 2.
  EXPECT_EQ(Params(text, &out), (2 * 3 + 3) + (150 * 2 + 2));
  EXPECT_EQ(out, Shape4(2, 1, 1, 2));
  const auto nc = config::NetFromConfig(ParseConfig(text, "g.conf"));
  EXPECT_EQ(nc.spec.layers[0].out, std::vector<std::string>{"1"});
  EXPECT_EQ(nc.spec.layers.back().out, std::vector<std::string>{"2'"});  // [+0] softmax: a fresh node

  // layer[+1] numbers around the nodes later layer[a->b] lines make (cxxnet named its output
  // apart, "!node-after-3"): layer[2->4] was "node '4' is already produced". Its own node may
  // still be named by number, and rewritten in place.
  const auto mixed = config::NetFromConfig(ParseConfig(
      "input_shape = 1,1,4\nnetconfig = start\nlayer[0->1,2] = split\nlayer[1->3] = fullc\n  nhidden = 2\n"
      "layer[+1] = relu\nlayer[2->4] = fullc\n  nhidden = 2\nlayer[5->5] = sigmoid\nlayer[5,4->6] = concat\n"
      "netconfig = end\n", "m.conf"));
  EXPECT_EQ(mixed.spec.layers[2].out, std::vector<std::string>{"5"});
  EXPECT_EQ(mixed.spec.layers[3].out, std::vector<std::string>{"4"});

  // cxxnet's relu_max_pooling (max pooling of the relu'd input): a max_pooling with the keys
  // after it and an in-place relu; insanity_max_pooling is refused by name.
  const auto rmp = config::NetFromConfig(ParseConfig(
      "input_shape = 1,4,4\nnetconfig = start\nlayer[0->1] = relu_max_pooling:p\n  kernel_size = 2\n  stride = 2\n"
      "layer[+1] = flatten\nlayer[0->3] = share[p]:q\nnetconfig = end\n", "r.conf"));
  ASSERT_EQ(rmp.spec.layers.size(), 5u);
  EXPECT_EQ(rmp.spec.layers[0].type, "max_pooling");
  EXPECT_EQ(rmp.spec.layers[0].params.size(), 2u);
  EXPECT_EQ(rmp.spec.layers[1].type, "relu");
  EXPECT_EQ(rmp.spec.layers[1].name, "p@relu");
  EXPECT_EQ(rmp.spec.layers[1].in, rmp.spec.layers[0].out);
  EXPECT_EQ(rmp.spec.layers[1].out, rmp.spec.layers[0].out);
  EXPECT_EQ(rmp.spec.layers[2].in, rmp.spec.layers[0].out);
  // A share of it pools and rectifies too (the share alone took the max_pooling without its relu).
  EXPECT_EQ(rmp.spec.layers[3].type, "share");
  EXPECT_EQ(rmp.spec.layers[4].type, "relu");
  EXPECT_EQ(rmp.spec.layers[4].name, "q@relu");
  EXPECT_EQ(rmp.spec.layers[4].in, std::vector<std::string>{"3"});
  Has(test::ErrorOf([] {
        config::NetFromConfig(ParseConfig("netconfig = start\nlayer[0->1] = insanity_max_pooling\nnetconfig = end\n",
                                          "r.conf"));
      }),
      "r.conf:2: cxxnet's insanity_max_pooling");

  EXPECT_EQ(Params("input_shape = 2,3,3\nnetconfig = start\n"
                   "layer[0->x.0,x.1] = split\nlayer[x.0->y] = relu\n"
                   "layer[y,x.1->z] = ch_concat\nnetconfig = end\n",
                   &out),
            0);
  EXPECT_EQ(out, Shape4(2, 4, 3, 3));

  // cxxnet's extra data nodes in_1, in_2, ... (declared anywhere in the file).
  EXPECT_EQ(Params("netconfig = start\nlayer[0,in_1->c] = concat\nnetconfig = end\n"
                   "input_shape = 1,1,4\nextra_data_num = 1\nextra_data_shape[0] = 1,1,3\n",
                   &out),
            0);
  EXPECT_EQ(out, Shape4(2, 1, 1, 7));

  const std::string split = "input_shape = 1,1,4\nnetconfig = start\nlayer[0->a,b] = split\n";
  Has(NetError(split + "layer[+1] = relu\nnetconfig = end\n"),
      "n.conf:4: layer[+1] follows a layer with several outputs; name the input: layer[in->out]");
  Has(NetError(split + "layer[c->d] = relu\nnetconfig = end\n"),
      "n.conf:4: layer[c->d]: input node 'c' is not the output of an earlier layer");
  Has(NetError(split + "layer[a->b] = relu\nnetconfig = end\n"), "n.conf:4: layer[a->b]: node 'b' is already produced");
  // A prime names a rewritten node's versions: a node the config named b' clashed with the one a
  // softmax rewriting b in place makes.
  Has(NetError(split + "layer[a->b'] = relu\nlayer[b->b] = softmax\nnetconfig = end\n"),
      "n.conf:5: layer[b->b]: softmax cannot rewrite node 'b' in place, and the name its output takes, 'b'', is "
      "already a node of this net; rename that node");
  Has(NetError(split + "layer[b->b] = softmax\nlayer[a->b'] = relu\nnetconfig = end\n"),
      "n.conf:5: layer[a->b']: node 'b'' is the name umbra gave the output of a layer that rewrote node 'b' but could "
      "not run in place; rename this node");
  Has(NetError(split + "layer[a->c] = relu:r\nlayer[b->d] = relu:r\nnetconfig = end\n"),
      "n.conf:5: layer name 'r' is already used at n.conf:4");
  Has(NetError(split + "layer[+1:] = relu\nnetconfig = end\n"), "n.conf:4: malformed layer[+1:]");
  Has(NetError(split + "layer[] = relu\nnetconfig = end\n"), "n.conf:4: malformed layer declaration");
  // A stray ']' or a comma made a node no later layer could name ("1]", "a,b"); the error came
  // at the next layer. An empty name after the ':' named the layer relu_4 unsaid.
  Has(NetError(split + "layer[a->c]] = relu\nnetconfig = end\n"),
      "n.conf:4: malformed layer[a->c]]: node name 'c]' holds a ']'");
  Has(NetError(split + "layer[a->c][x] = relu\nnetconfig = end\n"), "n.conf:4: malformed layer[a->c][x]: node name");
  Has(NetError("input_shape = 1,1,4\nnetconfig = start\nlayer[+1:a,b] = relu\nnetconfig = end\n"),
      "n.conf:3: malformed layer[+1:a,b]: node name 'a,b' holds a ',' (+1:node takes one node)");
  Has(NetError(split + "layer[a->c] = relu:\nnetconfig = end\n"),
      "n.conf:4: layer[a->c] = relu:: no name after the ':'; write type:name, or the type alone");
  // Shapes are checked by the net and the message names the layer.
  Has(NetError("input_shape = 1,2,2\nnetconfig = start\nlayer[0->a,b] = split\nlayer[a->c] = flatten\n"
               "layer[b,c->d] = eltwise_sum:sum\nnetconfig = end\n"),
      "layer 'sum' (eltwise_sum): input 1 has shape");
  Has(NetError("netconfig = start\nlayer[0->1] = relu\nnetconfig = end\ninput_shape = 1,1,1\n"
               "extra_data_num = 2\nextra_data_shape[0] = 1,1,1\n"),
      "n.conf:5: extra_data_num = 2 but 1 extra_data_shape");
  // An empty section names its lines (the net's own "the network has no layers" named none).
  Has(NetError("input_shape = 1,1,4\nnetconfig = start\nnetconfig = end\n"),
      "n.conf:2: the netconfig section (to n.conf:3) has no layer");
  Has(NetError("input_shape = 1,1,4\nnetconfig = start\nlayer[0->1] = relu\nnetconfig = end\nnetconfig = start\n"
               "netconfig = end\n"),
      "n.conf:5: the netconfig section (to n.conf:6) has no layer");
  Has(NetError("input_shape = 1,1,4\nnetconfig = start\nlayer[0->1] = fullc:f1\n  nhidden = 2\nlayer[1->a,b] = split\n"
               "layer[a->2] = fullc:f2\n  nhidden = 2\nlayer[b->3] = softmax\nnetconfig = end\n"),
      "n.conf:6: layer 'f2' (fullc) has weights, but no loss layer depends on its output");
}

}  // namespace
}  // namespace umbra
