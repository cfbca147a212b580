// The profile's JSON line (profile_report.h), written with nlohmann::json: layer names come from
// configs and "how" from libraries (oneDNN's kernel names), so they are escaped by the library.
#include "profile_report.h"

#include <nlohmann/json.hpp>

namespace umbra::bench {

void WriteProfileJson(std::FILE* f, const std::string& net, index_t batch, const nn::StepProfile& p) {
  nlohmann::ordered_json j = {{"net", net},          {"batch", batch},         {"steps", p.steps},
                              {"wall_ms", p.wall_ms}, {"device_ms", p.device_ms}, {"update_ms", p.update_ms}};
  j["layers"] = nlohmann::ordered_json::array();
  for (const auto& l : p.layers)
    j["layers"].push_back({{"name", l.name},           {"type", l.type},           {"fwd_ms", l.fwd_ms},
                           {"bwd_ms", l.bwd_ms},       {"fwd_bytes", l.fwd_bytes}, {"bwd_bytes", l.bwd_bytes},
                           {"how", l.how}});
  std::fprintf(f, "%s\n", j.dump().c_str());
}

}  // namespace umbra::bench
