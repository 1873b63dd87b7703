#include "detector_options.h"

#include "csv.h"
#include "io.h"

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <sstream>

namespace streamix::host {

namespace {

// One number grammar for the whole tool: the CSV fields' (csv.h).
bool parse_float(const std::string& s, float& v) { return parse_number(s, v); }

bool parse_u32(const std::string& s, uint32_t& v) {
  if (s.empty() || s[0] == '-' || s[0] == '+') return false;
  char* end = nullptr;
  errno = 0;
  const unsigned long long x = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE || x > UINT32_MAX) return false;
  v = static_cast<uint32_t>(x);
  return true;
}

bool parse_float_list(const std::string& s, std::vector<float>& out) {
  out.clear();
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    float v;
    if (!parse_float(item, v)) return false;
    out.push_back(v);
  }
  return !out.empty();
}

bool parse_views(const std::string& s, uint32_t& mask) {
  mask = 0;
  std::stringstream in(s);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "level") mask |= SMX_VIEW_LEVEL;
    else if (item == "delta") mask |= SMX_VIEW_DELTA;
    else if (item == "residual") mask |= SMX_VIEW_RESIDUAL;
    else return false;
  }
  return mask != 0;
}

using Apply = bool (*)(const std::string&, smx_detector_config&, DetectorSettings&);

struct Option {
  const char* name;
  const char* value;
  const char* help;
  Apply apply;
  std::string (*show_default)(const smx_detector_config&);
};

template <class T>
std::string show(T v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// An option that parses one field of the config with PARSE (METAVAR in --help).
#define SMX_FIELD_OPTION(NAME, METAVAR, PARSE, FIELD, HELP)                            \
  Option {                                                                             \
    NAME, METAVAR, HELP,                                                               \
        [](const std::string& v, smx_detector_config& c, DetectorSettings&) {          \
          return PARSE(v, c.FIELD);                                                    \
        },                                                                             \
        [](const smx_detector_config& c) { return show(c.FIELD); }                     \
  }
#define SMX_FLOAT_OPTION(NAME, FIELD, HELP) SMX_FIELD_OPTION(NAME, "X", parse_float, FIELD, HELP)
#define SMX_U32_OPTION(NAME, FIELD, HELP) SMX_FIELD_OPTION(NAME, "N", parse_u32, FIELD, HELP)

// --components is applied first (it re-initializes the defaults that depend on K).
const Option kOptions[] = {
    {"components", "K", "mixture components",
     [](const std::string& v, smx_detector_config&, DetectorSettings&) {
       uint32_t k;
       return parse_u32(v, k);
     },
     [](const smx_detector_config& c) { return show(c.model.components); }},
    {"views", "LIST", "what the model sees, any of level,delta,residual",
     [](const std::string& v, smx_detector_config& c, DetectorSettings&) {
       if (!parse_views(v, c.views)) return false;
       c.model.features = c.features * SMX_VIEW_COUNT(c.views);
       return true;
     },
     [](const smx_detector_config& c) { return view_names(c.views); }},
    {"rows", "MODE",
     "series: readings in time order (the level view smooths them); independent: unordered "
     "records, each scored alone (--smoothing 1)",
     [](const std::string& v, smx_detector_config& c, DetectorSettings&) {
       smx_detector_config defaults;
       smx_detector_config_init(&defaults, 1, 1);
       if (v == "series") c.smoothing = defaults.smoothing;
       else if (v == "independent") c.smoothing = 1.0f;
       else return false;
       return true;
     },
     [](const smx_detector_config& c) { return std::string(c.smoothing < 1.0f ? "series" : "independent"); }},
    SMX_FLOAT_OPTION("smoothing", smoothing, "level view: weight of the newest reading, (0,1]"),
    SMX_FLOAT_OPTION("residual-rate", residual_rate,
                     "residual view: weight of the newest level in the slow average, (0,1)"),
    {"scaling", "MODE", "per-feature scaling: none, warmup (mean and deviation of the warm-up), fixed",
     [](const std::string& v, smx_detector_config& c, DetectorSettings&) {
       if (v == "none") c.scaling = SMX_SCALING_NONE;
       else if (v == "warmup") c.scaling = SMX_SCALING_WARMUP;
       else if (v == "fixed") c.scaling = SMX_SCALING_FIXED;
       else return false;
       return true;
     },
     [](const smx_detector_config& c) {
       return std::string(c.scaling == SMX_SCALING_NONE ? "none"
                          : c.scaling == SMX_SCALING_WARMUP ? "warmup" : "fixed");
     }},
    {"offsets", "LIST", "fixed scaling: one offset per feature column (implies --scaling fixed)",
     [](const std::string& v, smx_detector_config& c, DetectorSettings& s) {
       c.scaling = SMX_SCALING_FIXED;
       return parse_float_list(v, s.offsets);
     },
     [](const smx_detector_config&) { return std::string("0,...") ; }},
    {"scales", "LIST", "fixed scaling: one scale (> 0) per feature column (implies --scaling fixed)",
     [](const std::string& v, smx_detector_config& c, DetectorSettings& s) {
       c.scaling = SMX_SCALING_FIXED;
       return parse_float_list(v, s.scales);
     },
     [](const smx_detector_config&) { return std::string("1,..."); }},
    SMX_U32_OPTION("calibration", calibration_samples,
                   "scored readings after the warm-up before the first alarm"),
    SMX_FLOAT_OPTION("tail-rate", tail_rate,
                     "forgetting of the score distribution, (0,1] (~1 / readings remembered)"),
    SMX_FLOAT_OPTION("alarm-rate", alarm_rate,
                     "alarm when the score's tail probability is below this: the expected "
                     "false-alarm rate of an unchanging stream, (0,0.1]"),
    SMX_FLOAT_OPTION("anomaly-weight", anomaly_weight,
                     "learning gate: weight of flagged readings, 1 learn all, 0 skip them"),
    SMX_FLOAT_OPTION("step-exponent", model.step_exponent, "step size (t + t0)^-alpha: alpha, (0.5,1]"),
    SMX_FLOAT_OPTION("step-offset", model.step_offset, "step size: t0 >= 1"),
    SMX_FLOAT_OPTION("step-floor", model.step_floor,
                     "smallest step size, [0,1); > 0 keeps forgetting (drifting streams)"),
    SMX_U32_OPTION("hold", model.hold_samples, "readings after initialization before the first M-step"),
    SMX_U32_OPTION("init-samples", model.init_samples,
                   "warm-up readings the model initializes from (k-means++)"),
    SMX_FLOAT_OPTION("variance-floor", model.variance_floor,
                     "smallest variance, in squared scaled units"),
    SMX_FLOAT_OPTION("weight-floor", model.weight_floor, "smallest component weight, [FLT_MIN,1/K)"),
    SMX_U32_OPTION("seed", model.seed, "k-means++ seed"),
    SMX_U32_OPTION("average-from", model.average_from,
                   "Polyak-Ruppert averaging from this M-step on (0 = off)"),
    SMX_U32_OPTION("batch", model.batch_size,
                   "learn in mini-batches of N readings, 1..4096 (back-fills): each reading is "
                   "scored and flagged before its mini-batch is learned"),
    {"kernels", "NAME", "kernels: highway, xsimd, scalar or highway:<TARGET>",
     [](const std::string& v, smx_detector_config&, DetectorSettings& s) {
       s.kernels = v;
       return !v.empty();
     },
     [](const smx_detector_config&) { return std::string(smx_backend()); }},
};

#undef SMX_FLOAT_OPTION
#undef SMX_U32_OPTION
#undef SMX_FIELD_OPTION

const Option* find(const std::string& name) {
  for (const Option& o : kOptions) {
    if (name == o.name) return &o;
  }
  return nullptr;
}

}  // namespace

std::string view_names(uint32_t views) {
  std::string s;
  const char* names[] = {"level", "delta", "residual"};
  for (int i = 0; i < 3; ++i) {
    if (views & (1u << i)) s += (s.empty() ? "" : ",") + std::string(names[i]);
  }
  return s;
}

bool option_value(int argc, char** argv, int& i, std::string& value) {
  const std::string arg = argv[i];
  const size_t eq = arg.find('=');
  if (eq != std::string::npos) {
    value = arg.substr(eq + 1);
    return true;
  }
  if (i + 1 >= argc) return false;
  value = argv[++i];
  return true;
}

// A whole decimal number of at most 19 digits (no sign, no blanks).
bool parse_count(const std::string& s, uint64_t& v) {
  if (s.empty() || s.size() > 19) return false;
  v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    v = v * 10 + static_cast<uint64_t>(c - '0');
  }
  return true;
}

// The items of a comma-separated list; false (with error) for an empty item.
bool split_list(const std::string& option, const std::string& list,
                std::vector<std::string>& items, std::string& error) {
  items.clear();
  size_t start = 0;
  while (true) {
    const size_t comma = list.find(',', start);
    std::string item = list.substr(start, comma == std::string::npos ? comma : comma - start);
    // (blanks around an item are the list's, not the name's: "temp, press")
    const size_t first = item.find_first_not_of(" \t"), last = item.find_last_not_of(" \t");
    item = first == std::string::npos ? std::string() : item.substr(first, last - first + 1);
    if (item.empty()) {
      error = "--" + option + ": empty item in '" + printable(list) + "'";
      return false;
    }
    items.push_back(item);
    if (comma == std::string::npos) return true;
    start = comma + 1;
  }
}

std::string option_name(const std::string& arg) { return arg.substr(2, arg.find('=') - 2); }

bool is_detector_option(const std::string& name) { return find(name) != nullptr; }

bool record_detector_option(const std::string& name, const std::string& value,
                            DetectorSettings& settings, std::string& error) {
  const Option* o = find(name);
  smx_detector_config scratch;
  smx_detector_config_init(&scratch, kDefaultComponents, 1);
  DetectorSettings trial = settings;
  if (o == nullptr || !o->apply(value, scratch, trial)) {
    error = "invalid value '" + value + "' for --" + name;
    // (what the option takes: its metavariable and help, which states the range)
    if (o != nullptr) error += " (" + std::string(o->value) + ": " + o->help + ")";
    return false;
  }
  settings = trial;
  settings.options.emplace_back(name, value);
  return true;
}

bool build_detector_config(const DetectorSettings& settings, uint32_t features,
                           smx_detector_config& cfg, std::string& error) {
  uint32_t components = kDefaultComponents;
  for (const auto& [name, value] : settings.options) {
    if (name == "components") parse_u32(value, components);
  }
  smx_detector_config_init(&cfg, components, features);
  DetectorSettings scratch;
  for (const auto& [name, value] : settings.options) find(name)->apply(value, cfg, scratch);
  // The limits a user meets first, by name; the rest of the rules below.
  if (components < 1 || components > SMX_MAX_COMPONENTS) {
    error = "--components " + std::to_string(components) + ": must be 1 to " +
            std::to_string(SMX_MAX_COMPONENTS);
    return false;
  }
  const uint32_t views = SMX_VIEW_COUNT(cfg.views);
  if (features > SMX_MAX_FEATURES / (views > 0 ? views : 1)) {
    error = std::to_string(features) + " feature columns with " + std::to_string(views) +
            " view(s): at most " + std::to_string(SMX_MAX_FEATURES / (views > 0 ? views : 1)) +
            " (the model takes at most " + std::to_string(SMX_MAX_FEATURES) +
            " features; choose some with --columns)";
    return false;
  }
  if (const char* problem = smx_detector_config_problem(&cfg)) {
    // The rule names its field; the option of that name (with '-' for '_'), if given, is
    // named with its value.
    const std::string text = problem;
    std::string option = text.substr(0, text.find(' '));
    for (char& ch : option) ch = ch == '_' ? '-' : ch;
    if (option == "batch-size") option = "batch";  // (the one option named apart from its field)
    error = text;
    for (const auto& [name, value] : settings.options) {
      if (name == option) error = "--" + name + " " + value + ": " + text;
    }
    return false;
  }
  if (cfg.scaling == SMX_SCALING_FIXED &&
      (settings.offsets.size() != features || settings.scales.size() != features)) {
    error = "fixed scaling needs --offsets and --scales with one value per feature column (" +
            std::to_string(features) + ")";
    return false;
  }
  return true;
}

void print_detector_options(std::ostream& out) {
  smx_detector_config defaults;
  smx_detector_config_init(&defaults, kDefaultComponents, 1);
  for (const Option& o : kOptions) {
    std::string head = std::string("  --") + o.name + " " + o.value;
    out << std::left << std::setw(28) << head << o.help << " [" << o.show_default(defaults)
        << "]\n";
  }
  out << "  (defaults of init-samples and weight-floor depend on K: max(10 K, 200) and 0.01 / K)\n";
}

}  // namespace streamix::host
