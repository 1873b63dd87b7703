// The command-line tool's parts: the CSV reader (every delimiter, headers, quotes, malformed
// rows with their line numbers), strict numbers, the metrics against hand-checked cases, and
// the detector options. The end-to-end runs of `streamix detect` are ctest entries
// (tests/CMakeLists.txt).
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>
#include <vector>

#include "csv.h"
#include "detector_options.h"
#include "metrics.h"

namespace {

using namespace streamix::host;

std::vector<std::string> split(const std::string& line, char delimiter) {
  std::vector<std::string> fields;
  std::string error;
  EXPECT_TRUE(split_fields(line, delimiter, fields, error)) << error;
  return fields;
}

TEST(Csv, SplitsOnEveryDelimiter) {
  const std::vector<std::string> expected = {"a", "1.5", "", "x y"};
  EXPECT_EQ(split("a,1.5,,x y", ','), expected);
  EXPECT_EQ(split("a;1.5;;x y", ';'), expected);
  EXPECT_EQ(split("a\t1.5\t\tx y", '\t'), expected);
  EXPECT_EQ(split("", ','), std::vector<std::string>{""});
}

TEST(Csv, Quotes) {
  EXPECT_EQ(split("\"a,b\",2", ','), (std::vector<std::string>{"a,b", "2"}));
  EXPECT_EQ(split("\"say \"\"hi\"\"\";3", ';'), (std::vector<std::string>{"say \"hi\"", "3"}));
  std::vector<std::string> fields;
  std::string error;
  EXPECT_FALSE(split_fields("\"open,1", ',', fields, error));
  EXPECT_EQ(error, "unterminated quote");
  EXPECT_FALSE(split_fields("\"a\"b,1", ',', fields, error));
  EXPECT_EQ(error, "text after a closing quote");
}

TEST(Csv, DetectsTheDelimiter) {
  EXPECT_EQ(detect_delimiter("datetime;Current;Voltage"), ';');
  EXPECT_EQ(detect_delimiter("timestamp,value"), ',');
  EXPECT_EQ(detect_delimiter("a\tb\tc"), '\t');
  EXPECT_EQ(detect_delimiter("\"x;y;z\",1,2"), ',');  // delimiters inside quotes do not count
  EXPECT_EQ(detect_delimiter("single"), ',');
}

TEST(Csv, StrictNumbers) {
  float v = 0.0f;
  EXPECT_TRUE(parse_number("1.25", v));
  EXPECT_EQ(v, 1.25f);
  EXPECT_TRUE(parse_number(" -3e2 ", v));
  EXPECT_EQ(v, -300.0f);
  for (const char* bad : {"", " ", "abc", "1.5x", "nan", "inf", "-inf", "1e40", "1,5", "0x",
                          "0x10", "0x1p3", ".", "e5", "1e", "1e+", "--1", "+-1", "1 2"})
    EXPECT_FALSE(parse_number(bad, v)) << bad;
  // A field is a number only if all of it is: a NUL byte inside does not end it.
  EXPECT_FALSE(parse_number(std::string("3\0" "9", 3), v));
  EXPECT_FALSE(parse_number(std::string("5\0garbage", 9), v));
  EXPECT_FALSE(parse_number(std::string("5\0", 2), v));
  // Below the smallest normal float: 0, with the sign; above the largest: said so.
  EXPECT_TRUE(parse_number("1e-40", v));
  EXPECT_EQ(v, 0.0f);
  EXPECT_TRUE(parse_number("-1e-45", v));
  EXPECT_TRUE(v == 0.0f && std::signbit(v));
  const char* why = nullptr;
  EXPECT_FALSE(parse_number("1e39", v, &why));
  EXPECT_STREQ(why, "beyond the float range (|x| > 3.4e38)");
  EXPECT_FALSE(parse_number("0x10", v, &why));
  EXPECT_STREQ(why, "not a number");
  for (const char* good : {".5", "5.", "+1", "1E3", "1e-3", "\t7\t"}) EXPECT_TRUE(parse_number(good, v)) << good;
}

TEST(Csv, LineEndingsAndLimits) {
  // LF, CRLF and a lone CR all end a line.
  std::istringstream cr_only("a,b\r1,2\r3,4\r\n5,6\n7,8");
  CsvReader r(cr_only);
  ASSERT_TRUE(r.start());
  EXPECT_EQ(r.column_names(), (std::vector<std::string>{"a", "b"}));
  int rows = 0;
  while (r.next()) ++rows;
  EXPECT_TRUE(r.at_end());
  EXPECT_EQ(rows, 4);
  // A line over kMaxLineBytes is read to its end, reported with a short message, and the
  // reader goes on with the next line.
  std::string long_line(kMaxLineBytes + 10, '1');
  std::istringstream big("a\n1\n" + long_line + "\n2\n");
  CsvReader b(big);
  ASSERT_TRUE(b.start());
  ASSERT_TRUE(b.next());
  EXPECT_FALSE(b.next());
  EXPECT_EQ(b.error(), "line 3: longer than 1048576 bytes");
  ASSERT_TRUE(b.next());
  EXPECT_EQ(b.fields()[0], "2");
  // More than kMaxFields fields.
  std::istringstream wide("a\n" + std::string(kMaxFields + 5, ',') + "\n");
  CsvReader w(wide);
  ASSERT_TRUE(w.start());
  EXPECT_FALSE(w.next());
  EXPECT_EQ(w.error(), "line 2: more than 65536 fields");
}

TEST(Csv, HeaderDetectionAndColumns) {
  std::istringstream with_header("time;a;b\r\n2020-01-01;1;2\r\n");
  CsvReader r(with_header);
  ASSERT_TRUE(r.start());
  EXPECT_TRUE(r.has_header());
  EXPECT_EQ(r.delimiter(), ';');
  EXPECT_EQ(r.column("b"), 2);
  EXPECT_EQ(r.column("2"), 1);  // 1-based index
  EXPECT_EQ(r.column("c"), -1);
  EXPECT_EQ(r.error(), "no column 'c'; the columns are 'time', 'a', 'b'");
  EXPECT_EQ(r.column("0"), -1);
  EXPECT_EQ(r.column("4"), -1);
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.fields(), (std::vector<std::string>{"2020-01-01", "1", "2"}));  // CR removed
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.at_end());

  std::istringstream numbers("\xEF\xBB\xBF" "1\t2\n3\t4\n");  // a BOM, then data only
  CsvReader n(numbers);
  ASSERT_TRUE(n.start());
  EXPECT_FALSE(n.has_header());
  EXPECT_EQ(n.column_names(), (std::vector<std::string>{"1", "2"}));
  ASSERT_TRUE(n.next());
  EXPECT_EQ(n.fields(), (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(n.line(), 1u);
  ASSERT_TRUE(n.next());
  EXPECT_EQ(n.line(), 2u);

  std::istringstream forced("1,2\n3,4\n");
  CsvReader f(forced, 0, 1);  // --header: the first line names the columns
  ASSERT_TRUE(f.start());
  EXPECT_EQ(f.column("2"), 1);  // "2" is a name here, found before the index rule
  ASSERT_TRUE(f.next());
  EXPECT_EQ(f.line(), 2u);

  std::istringstream empty("\n  \n");
  CsvReader e(empty);
  EXPECT_FALSE(e.start());
  EXPECT_EQ(e.error(), "no data");
}

TEST(Csv, MalformedRowsReportTheirLineAndTheReaderContinues) {
  std::istringstream in("a,b\n1,2\n\n3\n\"4,5\n6,7,8\n9,10\n");
  CsvReader r(in);
  ASSERT_TRUE(r.start());
  ASSERT_TRUE(r.next());  // line 2
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), "line 4: 1 fields, expected 2");  // blank line 3 skipped
  EXPECT_FALSE(r.at_end());
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), "line 5: unterminated quote");
  EXPECT_FALSE(r.next());
  EXPECT_EQ(r.error(), "line 6: 3 fields, expected 2");
  ASSERT_TRUE(r.next());
  EXPECT_EQ(r.fields(), (std::vector<std::string>{"9", "10"}));
  EXPECT_FALSE(r.next());
  EXPECT_TRUE(r.at_end());
  EXPECT_TRUE(r.error().empty());
}

TEST(Metrics, HandCheckedConfusion) {
  // predicted: 1 1 1 0 0 0 0 1 ; actual: 1 1 0 1 0 0 0 0
  // TP 2, FP 2, FN 1, TN 3: precision 1/2, recall 2/3, F1 = 4/7, FAR 2/5, MAR 1/3.
  const bool predicted[] = {1, 1, 1, 0, 0, 0, 0, 1}, actual[] = {1, 1, 0, 1, 0, 0, 0, 0};
  Confusion c;
  for (int i = 0; i < 8; ++i) c.add(predicted[i], actual[i]);
  EXPECT_EQ(c.tp, 2u);
  EXPECT_EQ(c.fp, 2u);
  EXPECT_EQ(c.fn, 1u);
  EXPECT_EQ(c.tn, 3u);
  EXPECT_DOUBLE_EQ(c.precision(), 0.5);
  EXPECT_DOUBLE_EQ(c.recall(), 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(c.f1(), 4.0 / 7.0);
  EXPECT_DOUBLE_EQ(c.false_alarm_rate(), 0.4);
  EXPECT_DOUBLE_EQ(c.missed_alarm_rate(), 1.0 / 3.0);
  EXPECT_TRUE(std::isnan(Confusion{}.f1()));
}

TEST(Metrics, RocAucHandChecked) {
  // Perfect and reversed separation.
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.2f, 0.8f, 0.9f}, {false, false, true, true}), 1.0);
  EXPECT_DOUBLE_EQ(roc_auc({0.1f, 0.2f, 0.8f, 0.9f}, {true, true, false, false}), 0.0);
  // Positives {0.4, 0.8}, negatives {0.1, 0.5, 0.8}: pairs won 0.4>0.1; 0.8>0.1, 0.8>0.5,
  // 0.8=0.8 (half): (1 + 2.5) / 6.
  EXPECT_DOUBLE_EQ(roc_auc({0.4f, 0.8f, 0.1f, 0.5f, 0.8f}, {true, true, false, false, false}),
                   3.5 / 6.0);
  // All tied: 1/2. NaN ranks lowest. One class only: NaN.
  EXPECT_DOUBLE_EQ(roc_auc({1.0f, 1.0f, 1.0f}, {true, false, false}), 0.5);
  EXPECT_DOUBLE_EQ(roc_auc({NAN, 0.5f}, {false, true}), 1.0);
  EXPECT_TRUE(std::isnan(roc_auc({0.1f, 0.2f}, {true, true})));
}

TEST(DetectorOptions, RecordsAndBuilds) {
  DetectorSettings s;
  std::string error;
  ASSERT_TRUE(record_detector_option("components", "3", s, error));
  ASSERT_TRUE(record_detector_option("views", "level,residual", s, error));
  ASSERT_TRUE(record_detector_option("smoothing", "0.5", s, error));
  ASSERT_TRUE(record_detector_option("alarm-rate", "1e-3", s, error));
  ASSERT_TRUE(record_detector_option("step-floor", "0.01", s, error));
  smx_detector_config c;
  ASSERT_TRUE(build_detector_config(s, 4, c, error)) << error;
  EXPECT_EQ(c.model.components, 3u);
  EXPECT_EQ(c.features, 4u);
  EXPECT_EQ(c.views, SMX_VIEW_LEVEL | SMX_VIEW_RESIDUAL);
  EXPECT_EQ(c.model.features, 8u);
  EXPECT_EQ(c.smoothing, 0.5f);
  EXPECT_EQ(c.alarm_rate, 1e-3f);
  EXPECT_EQ(c.model.step_floor, 0.01f);
  EXPECT_EQ(c.model.init_samples, 200u);  // the detector's default for K = 3

  for (const auto& [name, value] :
       std::vector<std::pair<std::string, std::string>>{{"components", "-1"},
                                                        {"components", "x"},
                                                        {"views", "level,colour"},
                                                        {"smoothing", "nan"},
                                                        {"scaling", "log"},
                                                        {"offsets", "1,,2"},
                                                        {"seed", "4294967296"},
                                                        {"no-such-option", "1"}}) {
    EXPECT_FALSE(record_detector_option(name, value, s, error)) << name << "=" << value;
    EXPECT_NE(error.find(name), std::string::npos);
  }
  // Syntactically fine, invalid together: reported when the config is built.
  DetectorSettings bad;
  ASSERT_TRUE(record_detector_option("step-exponent", "0.2", bad, error));
  EXPECT_FALSE(build_detector_config(bad, 2, c, error));
  DetectorSettings fixed;
  ASSERT_TRUE(record_detector_option("offsets", "1,2", fixed, error));
  EXPECT_FALSE(build_detector_config(fixed, 2, c, error));  // scales missing
  ASSERT_TRUE(record_detector_option("scales", "1,2", fixed, error));
  EXPECT_TRUE(build_detector_config(fixed, 2, c, error));
  EXPECT_FALSE(build_detector_config(fixed, 3, c, error));  // one per column
}

}  // namespace
