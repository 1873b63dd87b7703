// The model and detector settings as command-line options, shared by `streamix detect` and
// the SKAB evaluation so that both take one configuration the same way. The feature count
// is known only once the input's columns are, so options are recorded first and applied to
// smx_detector_config_init(K, D) later.
#ifndef STREAMIX_HOST_DETECTOR_OPTIONS_H
#define STREAMIX_HOST_DETECTOR_OPTIONS_H

#include <cstdint>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "streamix/streamix.h"

namespace streamix::host {

struct DetectorSettings {
  std::vector<std::pair<std::string, std::string>> options;  // in command-line order
  std::vector<float> offsets, scales;                        // fixed scaling, if given
  std::string kernels;                                       // smx_select_kernels name
};

// Default number of mixture components of the tools.
inline constexpr uint32_t kDefaultComponents = 2;

// True if name (without "--") is a model or detector option.
bool is_detector_option(const std::string& name);
// Records option name=value after checking its value's syntax; false with error otherwise.
bool record_detector_option(const std::string& name, const std::string& value,
                            DetectorSettings& settings, std::string& error);
// The config for `features` input columns with every recorded option applied; false with
// error when the combination is invalid (e.g. a step exponent out of range).
bool build_detector_config(const DetectorSettings& settings, uint32_t features,
                           smx_detector_config& cfg, std::string& error);
// The value of command-line option argv[i] ("--name=value", or "--name value": then i moves
// past the value). false if there is none.
bool option_value(int argc, char** argv, int& i, std::string& value);
// The name of option argv[i] ("--name" or "--name=value" gives "name").
std::string option_name(const std::string& arg);
// A whole decimal number of at most 19 digits; false for anything else.
bool parse_count(const std::string& s, uint64_t& v);
// The items of a comma-separated list (blanks around items dropped); false (with error naming
// --option) for an empty item.
bool split_list(const std::string& option, const std::string& list,
                std::vector<std::string>& items, std::string& error);

// One line per option: name, value, meaning, default.
void print_detector_options(std::ostream& out);
// "level,delta" for a view mask.
std::string view_names(uint32_t views);

}  // namespace streamix::host

#endif  // STREAMIX_HOST_DETECTOR_OPTIONS_H
