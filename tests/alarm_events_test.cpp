// Alarm events (smx_alarm_events_*): runs of flagged readings joined across gaps shorter
// than min_gap, their peaks, and arguments that must change nothing.
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "streamix/streamix.h"

namespace {

smx_detection flagged(float score, int32_t feature) {
  return smx_detection{score, 5.0f, 1.0f, score / 3.0f, 0.9f, feature, 1};
}
const smx_detection kQuiet{1.0f, 5.0f, 0.5f, 0.3f, 0.1f, 0, 0};

// Feeds flags[i] at index first + i, then flushes; returns every event.
std::vector<smx_alarm_event> events_of(const std::vector<int>& flags, uint32_t gap) {
  smx_alarm_events t;
  EXPECT_EQ(smx_alarm_events_init(&t, gap), SMX_OK);
  std::vector<smx_alarm_event> out;
  smx_alarm_event e;
  int ended = 0;
  for (size_t i = 0; i < flags.size(); ++i) {
    const smx_detection d = flags[i] ? flagged(10.0f + static_cast<float>(i), static_cast<int32_t>(i)) : kQuiet;
    EXPECT_EQ(smx_alarm_events_feed(&t, i, &d, &e, &ended), SMX_OK);
    if (ended) out.push_back(e);
  }
  EXPECT_EQ(smx_alarm_events_flush(&t, &e, &ended), SMX_OK);
  if (ended) out.push_back(e);
  return out;
}

TEST(AlarmEvents, RunsJoinAcrossShortGapsAndCloseAfterLongOnes) {
  //                                  0  1  2  3  4  5  6  7  8  9 10
  const std::vector<int> flags = {0, 0, 1, 1, 0, 1, 0, 0, 0, 1, 0};
  const std::vector<smx_alarm_event> gap3 = events_of(flags, 3);
  ASSERT_EQ(gap3.size(), 2u);
  EXPECT_EQ(gap3[0].first, 2u);
  EXPECT_EQ(gap3[0].last, 5u);
  EXPECT_EQ(gap3[0].flagged, 3u);
  EXPECT_EQ(gap3[0].peak_surprise, 5.0f);  // reading 5 is the most surprising in it
  EXPECT_EQ(gap3[0].peak_score, 15.0f);
  EXPECT_EQ(gap3[0].top_feature, 5);
  EXPECT_EQ(gap3[1].first, 9u);  // closed by the flush
  EXPECT_EQ(gap3[1].last, 9u);
  // A gap of 1 splits at every unflagged reading; a gap of 4 joins everything.
  EXPECT_EQ(events_of(flags, 1).size(), 3u);
  EXPECT_EQ(events_of(flags, 4).size(), 1u);
  EXPECT_TRUE(events_of({0, 0, 0}, 2).empty());
}

TEST(AlarmEvents, ThePeakIsTheMostSurprisingReading) {
  // A spike scores low under the model but is the most surprising reading of its event.
  smx_alarm_events t;
  ASSERT_EQ(smx_alarm_events_init(&t, 2), SMX_OK);
  smx_alarm_event e;
  int ended = 0;
  const smx_detection model_alarm{100.0f, 5.0f, 1.0f, 3.0f, 0.6f, 0, 1};
  const smx_detection spike{1.0f, 5.0f, 0.4f, 50.0f, 0.96f, 1, 1};
  ASSERT_EQ(smx_alarm_events_feed(&t, 0, &model_alarm, &e, &ended), SMX_OK);
  ASSERT_EQ(smx_alarm_events_feed(&t, 1, &spike, &e, &ended), SMX_OK);
  ASSERT_EQ(smx_alarm_events_flush(&t, &e, &ended), SMX_OK);
  ASSERT_EQ(ended, 1);
  EXPECT_EQ(e.peak_surprise, 50.0f);
  EXPECT_EQ(e.peak_score, 1.0f);
  EXPECT_EQ(e.top_feature, 1);
}

TEST(AlarmEvents, SkippedIndicesCountAsUnflaggedReadings) {
  smx_alarm_events t;
  ASSERT_EQ(smx_alarm_events_init(&t, 5), SMX_OK);
  smx_alarm_event e;
  int ended = 1;
  const smx_detection d = flagged(9.0f, 2);
  ASSERT_EQ(smx_alarm_events_feed(&t, 100, &d, &e, &ended), SMX_OK);
  EXPECT_EQ(ended, 0);
  ASSERT_EQ(smx_alarm_events_feed(&t, 104, &d, &e, &ended), SMX_OK);  // 3 between: joined
  EXPECT_EQ(ended, 0);
  ASSERT_EQ(smx_alarm_events_feed(&t, 120, &d, &e, &ended), SMX_OK);  // 15 between: a new one
  ASSERT_EQ(ended, 1);
  EXPECT_EQ(e.first, 100u);
  EXPECT_EQ(e.last, 104u);
  EXPECT_EQ(e.flagged, 2u);
  EXPECT_EQ(t.event.first, 120u);
}

TEST(AlarmEvents, BadArgumentsChangeNothing) {
  smx_alarm_events t;
  EXPECT_EQ(smx_alarm_events_init(nullptr, 3), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_init(&t, 0), SMX_ERR_ARGUMENT);
  ASSERT_EQ(smx_alarm_events_init(&t, 3), SMX_OK);
  smx_alarm_event e;
  int ended = 0;
  const smx_detection d = flagged(9.0f, 1);
  ASSERT_EQ(smx_alarm_events_feed(&t, 7, &d, &e, &ended), SMX_OK);
  smx_alarm_events before;
  std::memcpy(&before, &t, sizeof t);
  EXPECT_EQ(smx_alarm_events_feed(&t, 7, &d, &e, &ended), SMX_ERR_ARGUMENT);  // not past 7
  EXPECT_EQ(smx_alarm_events_feed(&t, 3, &d, &e, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_feed(&t, UINT64_MAX, &d, &e, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_feed(nullptr, 8, &d, &e, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_feed(&t, 8, nullptr, &e, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_feed(&t, 8, &d, nullptr, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_feed(&t, 8, &d, &e, nullptr), SMX_ERR_ARGUMENT);
  EXPECT_EQ(smx_alarm_events_flush(&t, nullptr, &ended), SMX_ERR_ARGUMENT);
  EXPECT_EQ(std::memcmp(&before, &t, sizeof t), 0);
  // A tracker whose fields were overwritten is refused, not trusted.
  smx_alarm_events broken = t;
  broken.min_gap = 0;
  EXPECT_EQ(smx_alarm_events_feed(&broken, 8, &d, &e, &ended), SMX_ERR_ARGUMENT);
  broken = t;
  broken.open = 2;
  EXPECT_EQ(smx_alarm_events_flush(&broken, &e, &ended), SMX_ERR_ARGUMENT);
  broken = t;
  broken.event.last = broken.next;  // the open event ends after the next allowed index
  EXPECT_EQ(smx_alarm_events_feed(&broken, 9, &d, &e, &ended), SMX_ERR_ARGUMENT);
}

}  // namespace
