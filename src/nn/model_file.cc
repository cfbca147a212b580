// Model file container (model_file.h): encode/decode and the atomic write.
#include "umbra/nn/model_file.h"

#include <zlib.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>

#include "umbra/atomic_output.h"
#include "umbra/logging.h"
#include "umbra/regular_file.h"

namespace umbra::nn {
namespace {

// Tensors are copied to and from the file as the host holds them.
static_assert(std::endian::native == std::endian::little,
              "model files are little-endian and copied as the host holds them: a big-endian host needs byte swaps");

constexpr char kMagic[8] = {'U', 'M', 'B', 'R', 'A', 'M', 'D', 'L'};
constexpr char kEnd[4] = {'U', 'E', 'N', 'D'};
constexpr size_t kPrefix = 24, kTrailer = 8, kAlign = 64;

size_t AlignUp(size_t n) { return (n + kAlign - 1) / kAlign * kAlign; }
void PutU32(std::string* s, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*s)[at + i] = char(v >> (8 * i) & 0xff);
}
void PutU64(std::string* s, size_t at, uint64_t v) {
  for (int i = 0; i < 8; ++i) (*s)[at + i] = char(v >> (8 * i) & 0xff);
}
uint64_t GetLE(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v |= uint64_t(uint8_t(s[at + i])) << (8 * i);
  return v;
}
uint32_t Crc(const std::string& s, size_t n) {
  // zlib's crc32 takes uInt lengths: feed large files in pieces.
  uLong c = crc32(0L, Z_NULL, 0);
  for (size_t at = 0; at < n; at += 1u << 30)
    c = crc32(c, reinterpret_cast<const Bytef*>(s.data() + at), uInt(std::min<size_t>(n - at, 1u << 30)));
  return uint32_t(c);
}

}  // namespace

const ModelTensor* ModelFile::Find(const std::string& name) const {
  for (auto& t : tensors)
    if (t.name == name) return &t;
  return nullptr;
}

std::string EncodeModelFile(const ModelFile& m) {
  nlohmann::json tensors = nlohmann::json::array();
  size_t offset = 0;
  // The reader's rules, so that no file is written that cannot be read back (a ModelFile built
  // in code with a name twice, a NaN or a negative dimension was written, then refused).
  std::set<std::string> names;
  for (auto& t : m.tensors) {
    UMBRA_CHECK(names.insert(t.name).second, "model tensor '", t.name, "' appears twice");
    UMBRA_CHECK(t.shape.size() <= 32 && std::ranges::all_of(t.shape, [](int64_t d) { return d >= 0; }),
                "model tensor '", t.name, "' has a bad shape (a negative dimension, or more than 32)");
    int64_t count = 1;
    for (int64_t d : t.shape) count *= d;
    UMBRA_CHECK(count == int64_t(t.data.size()), "model tensor '", t.name, "': shape holds ", count,
                " values but ", t.data.size(), " are given");
    const auto bad = std::ranges::find_if(t.data, [](float v) { return !std::isfinite(v); });
    UMBRA_CHECK(bad == t.data.end(), "model tensor '", t.name, "' holds ", *bad, " at element ", bad - t.data.begin(),
                "; a model's values are finite");
    tensors.push_back({{"name", t.name}, {"dtype", "float32"}, {"shape", t.shape}, {"offset", offset},
                       {"nbytes", t.data.size() * sizeof(float)}});
    offset = AlignUp(offset + t.data.size() * sizeof(float));
  }
  // data_offset depends on the header's own length: fix it by iterating until it is stable.
  nlohmann::json head = {{"version", ModelFile::kVersion}, {"net", m.net}, {"meta", m.meta},
                         {"tensors", tensors}, {"data_offset", 0}};
  size_t data_offset = 0;
  std::string text;
  for (;;) {
    head["data_offset"] = data_offset;
    text = head.dump();
    const size_t want = AlignUp(kPrefix + text.size());
    if (want == data_offset) break;
    data_offset = want;
  }
  std::string out(data_offset + offset + kTrailer, '\0');
  std::memcpy(out.data(), kMagic, 8);
  PutU32(&out, 8, ModelFile::kVersion);
  PutU64(&out, 16, text.size());
  std::memcpy(out.data() + kPrefix, text.data(), text.size());
  for (size_t i = 0; i < m.tensors.size(); ++i) {
    const auto& t = m.tensors[i];
    // float32 little-endian on disk, copied as the host holds it. An empty
    // tensor's data() may be null, which memcpy may not be given even for 0 bytes (UBSan).
    if (!t.data.empty())
      std::memcpy(out.data() + data_offset + tensors[i]["offset"].get<size_t>(), t.data.data(),
                  t.data.size() * sizeof(float));
  }
  const size_t body = out.size() - kTrailer;
  PutU32(&out, body, Crc(out, body));
  std::memcpy(out.data() + body + 4, kEnd, 4);
  return out;
}

ModelFile DecodeModelFile(const std::string& b, const std::string& what) {
  UMBRA_CHECK(b.size() >= 8 && std::memcmp(b.data(), kMagic, 8) == 0, "'", what,
              "' is not an umbra model file (bad magic)");
  UMBRA_CHECK(b.size() >= kPrefix + kTrailer, "model file '", what, "' is truncated (", b.size(), " bytes)");
  const uint64_t version = GetLE(b, 8, 4);
  UMBRA_CHECK(version == ModelFile::kVersion, "model file '", what, "' has format version ", version,
              "; this umbra reads version ", ModelFile::kVersion);
  // The reserved word is 0 in every file this version writes: another value is a later format's
  // (or damage), not something to read past.
  UMBRA_CHECK(GetLE(b, 12, 4) == 0, "model file '", what, "' is corrupt (reserved word ", GetLE(b, 12, 4), ")");
  const size_t body = b.size() - kTrailer;
  UMBRA_CHECK(std::memcmp(b.data() + body + 4, kEnd, 4) == 0, "model file '", what,
              "' is truncated or has bytes past its end (no end marker in its last 4 bytes; ", b.size(), " bytes)");
  const uint32_t crc = uint32_t(GetLE(b, body, 4));
  UMBRA_CHECK(crc == Crc(b, body), "model file '", what, "' is corrupt (checksum mismatch)");
  const uint64_t hlen = GetLE(b, 16, 8);
  UMBRA_CHECK(hlen <= body - kPrefix, "model file '", what, "' is corrupt (header length ", hlen, ")");
  // nlohmann skips a byte-order mark; the writer puts none and Python's json refuses one, so
  // both readers take the same files.
  UMBRA_CHECK(hlen < 3 || b.compare(kPrefix, 3, "\xEF\xBB\xBF") != 0, "model file '", what,
              "' has a malformed header: it begins with a byte-order mark");
  // nlohmann's reader ends its input at a NUL byte, so JSON, a NUL and any junk passed (Python's
  // json refuses it). JSON has no raw NUL: one inside a string is written \u0000.
  const void* nul = std::memchr(b.data() + kPrefix, 0, hlen);
  UMBRA_CHECK(!nul, "model file '", what, "' has a malformed header: a NUL byte at offset ",
              static_cast<const char*>(nul) - b.data());
  ModelFile m;
  try {
    // A key given twice in one object: nlohmann and Python's json both keep the last, so a
    // doubled "tensors" or "shape" was read as its second value without a word.
    std::vector<std::set<std::string>> keys;  // of each object open at this point
    std::string twice;
    const nlohmann::json::parser_callback_t no_twice = [&](int, nlohmann::json::parse_event_t e, nlohmann::json& j) {
      using E = nlohmann::json::parse_event_t;
      if (e == E::object_start) keys.emplace_back();
      else if (e == E::object_end) keys.pop_back();
      else if (e == E::key && !keys.back().insert(j.get<std::string>()).second && twice.empty()) twice = j.get<std::string>();
      return true;
    };
    const auto head = nlohmann::json::parse(b.begin() + kPrefix, b.begin() + kPrefix + hlen, no_twice);
    UMBRA_CHECK(twice.empty(), "model file '", what, "' has a malformed header: the key \"", twice,
                "\" appears twice in one object");
    // Integers as integers (nlohmann casts 32.7 to 32), a list of tensors (null iterated as
    // none), and each tensor's bytes its own (two tensors read from one place were taken).
    // A value shown as itself, a list or object by its kind: dump() recursed through a shape
    // entry nested 100,000 lists deep until the stack ran out (SIGSEGV).
    const auto shown = [](const nlohmann::json& j) {
      const std::string v = j.is_structured() ? std::string("a JSON ") + j.type_name() : j.dump();
      return v.size() > 60 ? v.substr(0, 60) + "..." : v;
    };
    // Text fields named where they are not text (nlohmann's "type must be string, but is
    // number" named no field).
    const auto text = [&](const nlohmann::json& j, const std::string& field) {
      UMBRA_CHECK(j.is_string(), "model file '", what, "' has a malformed header: ", field, " is ", shown(j),
                  ", not text");
      return j.get<std::string>();
    };
    m.net = text(head.at("net"), "net");
    UMBRA_CHECK(head.at("meta").is_object(), "model file '", what, "' has a malformed header: meta is ",
                shown(head.at("meta")), ", not an object");
    for (const auto& [k, v] : head.at("meta").items())
      m.meta[k] = text(v, "meta's '" + (k.size() > 60 ? k.substr(0, 60) + "..." : k) + "'");
    const auto integer = [&](const nlohmann::json& j, const std::string& field, const std::string& tensor) {
      // nlohmann reads a whole number past 64 bits as a double: named as out of range, not as a fraction.
      const bool huge = j.is_number_float() && std::isfinite(j.get<double>()) &&
                        (j.get<double>() >= 0x1p64 || j.get<double>() < -0x1p63) &&
                        j.get<double>() == std::floor(j.get<double>());
      UMBRA_CHECK(j.is_number_integer() || j.is_number_unsigned(), "model file '", what, "': ",
                  tensor.empty() ? "its header" : "tensor '" + tensor + "'", " has ", field,
                  huge ? " past a 64-bit integer's range: " : " that is no whole number: ", shown(j));
    };
    integer(head.at("version"), "a version", "");
    UMBRA_CHECK(head.at("version").get<uint64_t>() == version, "model file '", what, "' is corrupt (header version ",
                head.at("version").dump(), ", file version ", version, ")");
    integer(head.at("data_offset"), "a data_offset", "");
    // Aligned, as the writer puts them (the layout's promise to readers that map the data).
    const uint64_t data_offset = head.at("data_offset").get<uint64_t>();
    UMBRA_CHECK(data_offset >= kPrefix + hlen && data_offset <= body && data_offset % kAlign == 0, "model file '",
                what, "' is corrupt (data offset ", data_offset, ")");
    UMBRA_CHECK(head.at("tensors").is_array(), "model file '", what, "' has a malformed header: tensors is no list");
    std::vector<std::pair<uint64_t, uint64_t>> spans;  // [offset, offset + nbytes) of each tensor
    for (auto& t : head.at("tensors")) {
      ModelTensor mt;
      mt.name = text(t.at("name"), "a tensor's name");
      // (A string or an object iterated as its entries.)
      UMBRA_CHECK(t.at("shape").is_array(), "model file '", what, "': tensor '", mt.name, "' has a shape that is no list: ",
                  shown(t.at("shape")));
      for (const auto& d : t.at("shape")) integer(d, "a shape entry", mt.name);
      integer(t.at("offset"), "an offset", mt.name);
      integer(t.at("nbytes"), "a byte count", mt.name);
      UMBRA_CHECK(text(t.at("dtype"), "the dtype of tensor '" + mt.name + "'") == "float32", "model file '", what,
                  "': tensor '", mt.name, "' has dtype ", t.at("dtype").dump(), "; only float32 is read");
      mt.shape = t.at("shape").get<std::vector<int64_t>>();
      // numpy's bound (and far past any weight's): the Python reader refuses such a shape, and
      // the two readers take the same files.
      UMBRA_CHECK(mt.shape.size() <= 32, "model file '", what, "': tensor '", mt.name, "' has a bad shape (",
                  mt.shape.size(), " dimensions, more than 32)");
      // Each dimension within the file's size whatever the others ([2^40, 0] and [0, 2^40] alike),
      // the product without a wrap.
      uint64_t count = 1;
      bool over = false;
      for (int64_t d : mt.shape) {
        UMBRA_CHECK(d >= 0 && uint64_t(d) <= body, "model file '", what, "': tensor '", mt.name, "' has a bad shape");
        over |= __builtin_mul_overflow(count, uint64_t(d), &count);
      }
      UMBRA_CHECK(!over && count <= body / sizeof(float), "model file '", what, "': tensor '", mt.name,
                  "' has a bad shape");
      const uint64_t off = t.at("offset").get<uint64_t>(), nbytes = t.at("nbytes").get<uint64_t>();
      UMBRA_CHECK(off % kAlign == 0, "model file '", what, "': tensor '", mt.name, "' has offset ", off,
                  ", not a multiple of ", kAlign);
      UMBRA_CHECK(nbytes == count * sizeof(float) && off <= body - data_offset &&
                      nbytes <= body - data_offset - off,
                  "model file '", what, "': tensor '", mt.name, "' does not fit the data section");
      if (nbytes > 0) spans.push_back({off, off + nbytes});
      mt.data.resize(count);
      if (nbytes > 0) std::memcpy(mt.data.data(), b.data() + data_offset + off, nbytes);  // data() may be null
      // A NaN weight need not reach a loss (batch norm's moving statistics are read only in
      // test mode): it would give wrong answers quietly, or surface a round into finetuning as
      // if training had diverged.
      const auto bad = std::ranges::find_if(mt.data, [](float v) { return !std::isfinite(v); });
      UMBRA_CHECK(bad == mt.data.end(), "model file '", what, "': tensor '", mt.name, "' holds ", *bad, " at element ",
                  bad - mt.data.begin(), "; a model's values are finite");
      UMBRA_CHECK(!m.Find(mt.name), "model file '", what, "': tensor '", mt.name, "' appears twice");
      m.tensors.push_back(std::move(mt));
    }
    std::ranges::sort(spans);
    for (size_t i = 1; i < spans.size(); ++i)
      UMBRA_CHECK(spans[i].first >= spans[i - 1].second, "model file '", what, "' is corrupt: two tensors share the "
                  "bytes at data offset ", spans[i].first);
  } catch (const nlohmann::json::exception& e) {
    // Cut: nlohmann quotes what it failed on, a number of thousands of digits whole.
    const std::string said = e.what();
    UMBRA_THROW("model file '", what, "' has a malformed header: ", said.size() > 200 ? said.substr(0, 200) + "..." : said);
  }
  return m;
}

void WriteModelFile(const std::string& path, const ModelFile& m) {
  const std::string bytes = EncodeModelFile(m);
  AtomicOutput file(path, /*binary=*/true, "model file");
  file.out().write(bytes.data(), std::streamsize(bytes.size()));
  file.Commit(/*sync=*/true);  // a model is a training run's result: on the disk before the rename
}

ModelFile ReadModelFile(const std::string& path) {
  // Only a regular file, and only after its magic: a directory, a device such as /dev/zero or
  // any large file that is no model would otherwise be read whole first (or forever).
  CheckRegularFile(path, "model file");
  std::ifstream in(path, std::ios::binary);
  UMBRA_CHECK(in, "cannot open model file '", path, "'");
  char magic[8] = {};
  in.read(magic, 8);
  UMBRA_CHECK(!in.bad(), "cannot read model file '", path, "'");
  UMBRA_CHECK(in.gcount() == 8, "model file '", path, "' is truncated (", in.gcount(), " bytes)");
  UMBRA_CHECK(std::memcmp(magic, kMagic, 8) == 0, "'", path, "' is not an umbra model file (bad magic)");
  // Read into one buffer of the file's size: a stringstream's growing buffer and its str() copy
  // held three times the file at the peak, beside the decoded tensors.
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  UMBRA_CHECK(size >= 8 && in.seekg(8), "cannot read model file '", path, "'");
  std::string bytes;
  try {
    bytes.resize(size_t(size));
  } catch (const std::bad_alloc&) {
    UMBRA_THROW("model file '", path, "' (", size, " bytes) does not fit in memory");
  }
  std::memcpy(bytes.data(), magic, 8);
  in.read(bytes.data() + 8, size - 8);
  UMBRA_CHECK(!in.bad(), "cannot read model file '", path, "'");
  // Shorter than its size said: cut by another writer while read (the checks then call it truncated).
  bytes.resize(size_t(8 + in.gcount()));
  return DecodeModelFile(bytes, path);
}

bool IsModelFile(const std::string& path) { return RegularFileStartsWith(path, std::string_view(kMagic, 8)); }

}  // namespace umbra::nn
